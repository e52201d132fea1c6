-- Scheduled runs (issue 14): one row per attempt of a job for a business day, written by `uhnw schedule run` and
-- `uhnw job backfill`, read by `uhnw schedule status` and by backfill (a day with a succeeded run is done).
create table if not exists job_runs (
    run_id       bigserial primary key,
    job          text not null,
    run_date     date not null,
    attempt      integer not null default 1,
    trigger      text not null check (trigger in ('schedule', 'backfill', 'manual')),
    parameters   jsonb not null default '{}',
    status       text not null check (status in ('running', 'succeeded', 'failed', 'skipped')),
    started_at   timestamptz not null default clock_timestamp(),
    finished_at  timestamptz,
    output       text,          -- the executed notebook (or the command's output)
    error        text           -- why it failed, or why it was skipped
);
create index if not exists job_runs_job_date on job_runs (job, run_date, run_id desc);
comment on table job_runs is 'Attempts of scheduled jobs per business day: what ran, when, how it ended, where its output is.';
