-- The audit writer of analysts' queries (issue 16): SageMaker Studio reaches PostgreSQL for nothing but appending the
-- audit row of each query, as this login. It may insert into audit_log (and read back the id it got) and nothing else:
-- no client, alert or position is readable by it. On RDS/Aurora it signs in with an IAM token (rds_iam, granted
-- `rds-db:connect` to the Studio role only); locally it has no password and cannot sign in unless a test gives it one.
-- Roles are cluster-wide: several databases of one server share it.
do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'uhnw_query_audit') then
        create role uhnw_query_audit login;
    end if;
    if exists (select 1 from pg_roles where rolname = 'rds_iam') then
        grant rds_iam to uhnw_query_audit;
    end if;
end
$$;
grant insert on audit_log to uhnw_query_audit;
grant select (id) on audit_log to uhnw_query_audit;  -- insert ... returning id
grant usage on sequence audit_log_id_seq to uhnw_query_audit;
