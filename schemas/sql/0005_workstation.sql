-- 0005_workstation (issue 12): the RM workstation's identities, one coverage table, the audit of every client read,
-- the feedback verdicts, position-level P&L and the reporting-currency figures the API serves.

-- Who may log in, and in which role. An RM's user_id is their RM id (the `sub` of their tokens).
create table if not exists users (
    user_id        text primary key,
    display_name   text not null,
    role           text not null check (role in ('rm', 'compliance')),
    email          text,
    password_hash  text,  -- argon2id (uhnw.access.hash_password); null: no local login, identity provider only
    created_at     timestamptz not null default now(),
    disabled_at    timestamptz
);
comment on table users is 'Workstation users: relationship managers (see their coverage) and compliance (read every client, every read audited).';

-- Coverage is rm_coverage and nothing else: a client's primary RM is always in it (backfilled here, kept by the trigger).
insert into rm_coverage (rm_id, client_id) select rm_id, client_id from clients where rm_id is not null on conflict do nothing;
create or replace function clients_primary_rm_covers() returns trigger language plpgsql as $$
begin
    if new.rm_id is not null then
        insert into rm_coverage (rm_id, client_id) values (new.rm_id, new.client_id) on conflict do nothing;
    end if;
    return new;
end $$;
drop trigger if exists clients_primary_rm_coverage on clients;
create trigger clients_primary_rm_coverage after insert or update of rm_id on clients
    for each row execute function clients_primary_rm_covers();
create index if not exists rm_coverage_rm_idx on rm_coverage (rm_id, client_id);

-- One audit row per request that reads client data: who, when, which surface and operation, which clients it returned.
alter table audit_log add column if not exists role text;
alter table audit_log add column if not exists surface text;
alter table audit_log add column if not exists operation text;
alter table audit_log add column if not exists client_ids text[] not null default '{}';
create index if not exists audit_log_actor_idx on audit_log (actor, id);
create index if not exists audit_log_clients_idx on audit_log using gin (client_ids);

-- Feedback becomes a verdict. useful / not useful are relevance labels (the generated `useful` column keeps the
-- relevance reader's query); "wrong person" is an entity-resolution label and never a relevance one (useful is null).
alter table alert_feedback add column if not exists verdict text check (verdict in ('useful', 'not_useful', 'wrong_person'));
update alert_feedback set verdict = case when useful then 'useful' when not useful then 'not_useful' end where verdict is null;
alter table alert_feedback drop column useful;
alter table alert_feedback add column useful boolean generated always as
    (case verdict when 'useful' then true when 'not_useful' then false end) stored;
alter table alert_feedback add column if not exists updated_at timestamptz not null default now();
comment on column alert_feedback.verdict is 'useful | not_useful (relevance labels) | wrong_person (entity-resolution label)';

-- Cross-client views use one reporting currency (settings.reporting_currency); each client's base figures stay beside it.
alter table client_metrics add column if not exists reporting_currency char(3);
alter table client_metrics add column if not exists market_value_reporting numeric(28, 8);
alter table client_metrics add column if not exists daily_pnl_reporting numeric(28, 8);
create index if not exists client_metrics_date_idx on client_metrics (date);

-- Position-level P&L of gold.position_pnl, synced by rds_sync so the API never reads the lake.
create table if not exists position_pnl (
    client_id               text not null,
    date                    date not null,
    account_id              text not null,
    instrument_id           text not null,
    base_currency           char(3),
    currency                char(3),
    prev_date               date,
    quantity                double precision,
    prev_quantity           double precision,
    close                   double precision,
    prev_close              double precision,
    fx_to_base              double precision,
    market_value            numeric(28, 8),
    pnl                     numeric(28, 8),
    unpriced_reason         text,
    reporting_currency      char(3),
    market_value_reporting  numeric(28, 8),
    pnl_reporting           numeric(28, 8),
    loaded_at               timestamptz not null default now(),
    primary key (client_id, date, account_id, instrument_id)
);
create index if not exists position_pnl_date_idx on position_pnl (date);
comment on table position_pnl is 'Per-position market value and daily P&L terms (gold.position_pnl), loaded by rds_sync.';
