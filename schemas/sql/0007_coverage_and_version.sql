-- 0007_coverage_and_version (issue 12, review): two corrections to 0005 and 0006.
--
-- A client whose primary RM changes leaves the old RM's book at once, on every surface, whoever changed clients.rm_id
-- (until now only the RDS sync removed the old row; a direct update left the old RM covering the client).
create or replace function clients_primary_rm_covers() returns trigger language plpgsql as $$
begin
    if tg_op = 'UPDATE' and old.rm_id is not null and old.rm_id is distinct from new.rm_id then
        delete from rm_coverage where rm_id = old.rm_id and client_id = old.client_id;
    end if;
    if new.rm_id is not null then
        insert into rm_coverage (rm_id, client_id) values (new.rm_id, new.client_id) on conflict do nothing;
    end if;
    return new;
end $$;

-- The serving version moves once per transaction, not once per statement: a sync's executemany ran the statement
-- trigger per row and updated the one version row N times in one transaction, each update scanning the dead versions
-- left by the ones before (quadratic). The transaction id in a transaction-local setting marks "already bumped".
create or replace function bump_serving_version() returns trigger language plpgsql as $$
begin
    if current_setting('uhnw.serving_version_bumped_in', true) is distinct from txid_current()::text then
        perform set_config('uhnw.serving_version_bumped_in', txid_current()::text, true);
        update serving_version set version = version + 1;
    end if;
    return null;
end $$;
