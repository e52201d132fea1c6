-- 0001_core: the serving tables behind the RM API, the alert feed and the dashboards.
-- Applied once by `uhnw stack up` (uhnw.db.migrate); never edit it after it was applied: add 0002_... instead.

create table clients (
    client_id      text primary key,
    full_name      text not null,
    aliases        text[] not null default '{}',
    organizations  text[] not null default '{}',
    city           text,
    country        text,
    rm_id          text,
    base_currency  char(3),
    updated_at     timestamptz not null default now()
);
comment on table clients is 'UHNW clients as mastered in the CRM (CDC-fed): names, aliases and organizations feed entity resolution.';
comment on column clients.rm_id is 'Primary relationship manager; full coverage is in rm_coverage.';

create table rm_coverage (
    rm_id      text not null,
    client_id  text not null references clients (client_id) on delete cascade,
    primary key (rm_id, client_id)
);
create index rm_coverage_client_idx on rm_coverage (client_id);
comment on table rm_coverage is 'Which RM covers which client: an RM sees only these clients, in every API, socket and query.';

create table client_metrics (
    client_id           text not null,
    date                date not null,
    base_currency       char(3),
    market_value        numeric(28, 8),
    daily_pnl           numeric(28, 8),
    positions_count     integer,
    unpriced_positions  integer,
    loaded_at           timestamptz,
    primary key (client_id, date)
);
comment on table client_metrics is 'Daily portfolio health per client, loaded from the gold layer by the cold path (daily_pnl is null on a client''s first day).';

create table alerts (
    alert_id          bigserial primary key,
    article_id        text not null,
    client_id         text not null,
    rm_id             text,
    headline          text,
    summary           text,
    relevance         double precision,
    resolution_score  double precision,
    source            text,
    url               text,
    published_at      timestamptz,
    processed_at      timestamptz,
    model_version     text,
    created_at        timestamptz not null default now(),
    unique (article_id, client_id)
);
create index alerts_rm_alert_idx on alerts (rm_id, alert_id);
comment on table alerts is 'Enriched news alerts from the hot path, one per (article, client); unique so a replayed event does not duplicate.';

create table alert_feedback (
    alert_id    bigint not null references alerts (alert_id) on delete cascade,
    rm_id       text not null,
    useful      boolean,
    note        text,
    created_at  timestamptz not null default now(),
    primary key (alert_id, rm_id)
);
comment on table alert_feedback is 'An RM''s verdict on an alert (useful or not), the label for relevance model retraining.';

create table audit_log (
    id       bigserial primary key,
    at       timestamptz not null default now(),
    actor    text,
    action   text not null,
    subject  text,
    detail   jsonb
);
comment on table audit_log is 'Append-only record of who did what to which subject (logins, alert views, feedback, admin actions).';
