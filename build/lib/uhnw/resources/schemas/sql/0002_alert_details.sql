-- 0002_alert_details: the EnrichedAlert fields an RM's alert frame shows beyond 0001's columns,
-- and the indexes of the alert feed's coverage and replay queries (uhnw.alerts).
alter table alerts add column if not exists event_type text;
alter table alerts add column if not exists mention text;
alter table alerts add column if not exists matched_name text;
comment on column alerts.event_type is 'EnrichedAlert.event_type: liquidity_event, litigation, succession, m_and_a, other, ...';

create index if not exists alerts_client_alert_idx on alerts (client_id, alert_id);
create index if not exists clients_rm_idx on clients (rm_id);
