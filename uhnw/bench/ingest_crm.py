"""The CRM source of `uhnw bench ingest`: Salesforce CDC events applied to PostgreSQL per second, end to end from the topic.

A synthetic stream on a topic prefix of its own (a fifth creates of person accounts, a tenth Coverage__c creates, the
rest updates of one to three fields, a few of them naming several records) is published first; then the applier of
`uhnw serve crm` consumes it in its consumer group, and the rate is events over the time from its first batch to its
last (the group join before it is reported apart; an event of several records is one message per record). The bench's
rows are deleted afterwards.
"""
from __future__ import annotations

import dataclasses
import random
import time
import uuid
from typing import Any

from uhnw.config import Settings

__all__ = ["synthetic_events", "measure_crm"]


def synthetic_events(run: str, n_events: int, seed: int = 13) -> list[dict]:
    "`n_events` CDC payloads in commit order: creates first for each client, then coverage and updates."
    rnd = random.Random(seed)
    n_clients = max(1, n_events // 5)
    acc = lambda i: f"001{run}{i:07d}"
    header = lambda entity, kind, ids, k, changed=(): {
        "entityName": entity, "recordIds": ids, "changeType": kind, "changeOrigin": "", "transactionKey": f"bench-{run}-{k}",
        "sequenceNumber": 1, "commitTimestamp": 1_780_000_000_000 + k, "commitNumber": k, "commitUser": "005000000000000AAA",
        "changedFields": list(changed), "nulledFields": [], "diffFields": []}
    events = [{"ChangeEventHeader": header("Account", "CREATE", [acc(i)], i), "Client_Id__c": f"BCRM{run}-{i}",
               "Name": f"Bench Client {run} {i}", "Aliases__c": f"BC {i}", "Primary_RM__c": f"RM-B{i % 40:02d}", "CurrencyIsoCode": "USD",
               "PersonMailingAddress": {"City": "Zurich", "Country": "Switzerland"}} for i in range(min(n_clients, n_events))]
    for k in range(len(events), n_events):
        i = rnd.randrange(n_clients)
        if rnd.random() < 0.125:
            events.append({"ChangeEventHeader": header("Coverage__c", "CREATE", [f"a0C{run}{k:07d}"], k), "Client_Id__c": f"BCRM{run}-{i}",
                           "RM_Id__c": f"RM-B{rnd.randrange(40):02d}"})
            continue
        ids = [acc(i)] + ([acc(rnd.randrange(n_clients))] if rnd.random() < 0.05 else [])
        fields = rnd.sample([("Name", f"Bench Client {run} {i} v{k}"), ("PersonMailingAddress.City", "Geneva"),
                             ("CurrencyIsoCode", "CHF"), ("Aliases__c", f"BC {i};v{k}")], rnd.randint(1, 3))
        body: dict[str, Any] = {}
        for name, value in fields:
            if name.startswith("PersonMailingAddress."): body["PersonMailingAddress"] = {"City": value}
            else: body[name] = value
        events.append({"ChangeEventHeader": header("Account", "UPDATE", list(dict.fromkeys(ids)), k, [f for f, _ in fields]), **body})
    return events


def _cleanup(settings: Settings, run: str) -> None:
    from uhnw.ops.db import connect
    with connect(settings) as conn:
        conn.execute("delete from clients where client_id like %s", (f"BCRM{run}-%",))
        conn.execute("delete from crm_coverage where client_id like %s", (f"BCRM{run}-%",))
        conn.execute("delete from crm_stale where sf_id like %s", (f"%{run}%",))


def measure_crm(settings: Settings, n_events: int) -> dict:
    "Publish `n_events` synthetic CDC events and apply them from the topic; events/s from the applier's first batch to its last."
    from confluent_kafka.admin import AdminClient

    from uhnw.bus import EventProducer, client_config, ensure_topics, run_consumer, topic_name, topic_specs
    from uhnw.crm import change_event, crm_schema
    from uhnw.ingest.crm import publish_event
    from uhnw.ops.db import migrate
    from uhnw.schemas import CRM_TOPIC
    from uhnw.serve.crm import CrmApplier, group_id
    run = uuid.uuid4().hex[:8].upper()
    settings = dataclasses.replace(settings, topic_prefix=f"{settings.topic_prefix}bench-crm-{run.lower()}.")
    ensure_topics(AdminClient(client_config(settings)), topic_specs(settings))
    migrate(settings)
    schema, topic = crm_schema(settings.schemas_dir), topic_name(settings, CRM_TOPIC)
    records = [change_event(e, schema) for e in synthetic_events(run, n_events)]
    t0 = time.perf_counter()
    with EventProducer(settings) as producer:
        messages = sum(publish_event(producer, topic, r) for r in records)
        producer.flush()
    published_s = time.perf_counter() - t0
    applier, span = CrmApplier(settings), []

    def timed(events):
        start = time.perf_counter()
        poison = applier(events)
        span.append((start, time.perf_counter(), len(events)))
        return poison
    t1 = time.perf_counter()
    try:
        stats = run_consumer(settings, topic, group_id(settings), batch_handler=timed, max_messages=messages, idle_timeout=60)
    finally:
        applier.close()
        _cleanup(settings, run)
    seconds = span[-1][1] - span[0][0] if span else float("nan")
    return {"rate_per_s": round(n_events / seconds, 1) if span else 0.0, "unit": "CDC events/s applied (from the topic)",
            "events": n_events, "messages": stats.consumed, "seconds": round(seconds, 3),
            "group_join_s": round(span[0][0] - t1, 2) if span else None,
            "batches": len(span), "dead_lettered": stats.dead_lettered, "publish_s": round(published_s, 2),
            "actions": dict(sorted(applier.actions.items()))}
