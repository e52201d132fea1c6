-- The position of the last resync that reconciled a whole object (every record of an extract): a GAP_OVERFLOW older
-- than it, replayed from the topic (a consumer group reset, a restore), is already covered and marks nothing stale.
create table if not exists crm_resyncs (
    entity      text primary key,
    position    jsonb not null,                        -- [epoch ms, commitNumber, transactionKey, sequenceNumber] of the extract
    resynced_at timestamptz not null default now()
);
comment on table crm_resyncs is 'Per CRM object, the commit position up to which a whole-object resync reconciled it.';
