-- 0003_alert_reasons: why entity resolution believed the mention is the client (EnrichedAlert.match_reasons,
-- joined with "; "), shown in the RM's alert frame.
alter table alerts add column if not exists match_reasons text;
comment on column alerts.match_reasons is 'EnrichedAlert.match_reasons joined with "; ": the client''s organisation or city named, another city or company next to the name, ...';
