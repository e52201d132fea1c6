-- The analysts' audit row goes through one function (issue 16 review): uhnw_query_audit could insert any audit_log
-- row (a forged RM login or alert view in the compliance trail) and read every row id. It may now only call
-- record_analyst_query, which writes the analyst-query row and nothing else: role 'analyst', action 'query', surface
-- 'sql', the time of the server. The function runs as its owner (the migrating user), with a fixed search_path.
create or replace function record_analyst_query(p_actor text, p_operation text, p_detail jsonb) returns bigint
language sql security definer set search_path = public, pg_temp as $$
    insert into audit_log (actor, role, action, surface, operation, detail)
    values (p_actor, 'analyst', 'query', 'sql', p_operation, p_detail)
    returning id
$$;
revoke all on function record_analyst_query(text, text, jsonb) from public;
grant execute on function record_analyst_query(text, text, jsonb) to uhnw_query_audit;
revoke insert on audit_log from uhnw_query_audit;
revoke select (id) on audit_log from uhnw_query_audit;
revoke usage on sequence audit_log_id_seq from uhnw_query_audit;
comment on function record_analyst_query(text, text, jsonb) is 'Append the audit row of one analyst query (uhnw.query.record_query); the only write uhnw_query_audit may make.';
