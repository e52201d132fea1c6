-- 0008_crm (issue 13): the client master fed by Salesforce Change Data Capture (`uhnw serve crm`, `uhnw.crm`).
--
-- UPDATE and DELETE events carry only Salesforce record ids, so each client keeps its Account id. A deleted client
-- stays (history is kept for audit) with deleted_at set, and vanishes from resolution, routing and every API.
alter table clients add column if not exists sf_id text unique;
alter table clients add column if not exists deleted_at timestamptz;
-- column -> [commitTimestamp, commitNumber, transactionKey, sequenceNumber] of the newest change applied to it
-- ('_deleted' for the delete/undelete state): an older event never overwrites a newer value, a replay changes nothing.
alter table clients add column if not exists crm_versions jsonb not null default '{}';
comment on column clients.sf_id is 'Salesforce Account id (18 characters) of the client, set by the CRM change stream.';
comment on column clients.deleted_at is 'When the Account was deleted in Salesforce; such a client is kept for audit but read by no surface.';

-- Coverage__c records (an RM assigned to a client), one row per Salesforce record, kept after deletion for audit.
-- rm_coverage stays the one table every surface reads: a pair is in it while the client exists and the RM is its
-- primary RM (clients.rm_id) or an undeleted Coverage__c names the pair (`uhnw.crm` keeps it so).
create table if not exists crm_coverage (
    sf_id         text primary key,
    client_id     text,
    rm_id         text,
    deleted_at    timestamptz,
    crm_versions  jsonb not null default '{}',
    updated_at    timestamptz not null default now()
);
create index if not exists crm_coverage_pair_idx on crm_coverage (client_id, rm_id);
comment on table crm_coverage is 'Salesforce Coverage__c records: which RM covers which client, as the CRM says (feeds rm_coverage).';

-- Records the change stream could not follow (GAP_* events, GAP_OVERFLOW with sf_id '*' for a whole object, an
-- update of a record never created here): `uhnw crm resync --file EXTRACT` reconciles and clears them.
create table if not exists crm_stale (
    entity  text not null,
    sf_id   text not null,
    reason  text not null,
    since   timestamptz not null default now(),
    primary key (entity, sf_id)
);
comment on table crm_stale is 'CRM records whose stored state may differ from Salesforce until the next resync, and why.';

-- 0007's trigger, coherent with Coverage__c: a client moved to another primary RM leaves the old RM's book unless a
-- Coverage__c record still assigns that RM to the client.
create or replace function clients_primary_rm_covers() returns trigger language plpgsql as $$
begin
    if tg_op = 'UPDATE' and old.rm_id is not null and old.rm_id is distinct from new.rm_id
       and not exists (select 1 from crm_coverage k where k.client_id = old.client_id and k.rm_id = old.rm_id and k.deleted_at is null) then
        delete from rm_coverage where rm_id = old.rm_id and client_id = old.client_id;
    end if;
    if new.rm_id is not null then
        insert into rm_coverage (rm_id, client_id) values (new.rm_id, new.client_id) on conflict do nothing;
    end if;
    return new;
end $$;

-- Every change of the client master wakes the hot path's refresh at once (it also polls, in case a notice is missed).
create or replace function notify_clients_changed() returns trigger language plpgsql as $$
begin
    perform pg_notify('uhnw_clients_changed', '');
    return null;
end $$;
drop trigger if exists clients_changed_notify on clients;
create trigger clients_changed_notify after insert or update or delete or truncate on clients
    for each statement execute function notify_clients_changed();
