-- 0006_serving_version (issue 12): one number that changes whenever the data behind an RM's book changes, so the API
-- may keep a book it has built until then. Transactional (a row, not a sequence): a reader sees the new number only
-- with the data that moved it.
create table if not exists serving_version (
    one      boolean primary key default true check (one),
    version  bigint not null
);
insert into serving_version (one, version) values (true, 0) on conflict do nothing;
comment on table serving_version is 'Bumped by every statement that changes clients or client_metrics: the API''s book cache key.';

create or replace function bump_serving_version() returns trigger language plpgsql as $$
begin
    update serving_version set version = version + 1;
    return null;
end $$;
drop trigger if exists clients_serving_version on clients;
create trigger clients_serving_version after insert or update or delete or truncate on clients
    for each statement execute function bump_serving_version();
drop trigger if exists client_metrics_serving_version on client_metrics;
create trigger client_metrics_serving_version after insert or update or delete or truncate on client_metrics
    for each statement execute function bump_serving_version();
