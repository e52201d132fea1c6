"""`uhnw serve crm`: the applier of `crm-cdc-events` to PostgreSQL `clients`, `crm_coverage` and `rm_coverage`.

A consumer group (`uhnw.bus.run_consumer`, batch mode): each batch's events are applied in Salesforce's commit order
(`uhnw.crm.position`) in one PostgreSQL transaction, each inside a savepoint and for the record its key names (an
event of several records comes once per record, `uhnw.ingest.crm.publish_event`), and the Kafka offsets are committed after
it. A crash between the two delivers the batch again, which changes nothing (`uhnw.crm.merge_columns`: a replayed
event is a no-op), so the effect is exactly once. An event that can never be applied (`CrmRejected`, or data
PostgreSQL refuses) is rolled back to its savepoint and dead-lettered with the reason; a lost connection is transient
(the batch is not committed and comes again).
"""
from __future__ import annotations

import logging
import threading
from collections import Counter

import psycopg

from uhnw.bus import ConsumerStats, Event, run_consumer, topic_name
from uhnw.config import Settings
from uhnw.crm import CrmRejected, apply_event, position
from uhnw.ops import db
from uhnw.schemas import CRM_TOPIC

__all__ = ["GROUP", "group_id", "CrmApplier", "serve_crm"]

log = logging.getLogger("uhnw.serve.crm")
GROUP = "uhnw-crm-applier"


def group_id(settings: Settings) -> str:
    "The applier's consumer group (per topic prefix, so sandboxes and tests do not meet)."
    return f"{settings.topic_prefix}{GROUP}"


class CrmApplier:
    "The batch handler: applies a batch's events in commit order in one transaction; counts what it did."

    def __init__(self, settings: Settings):
        self.settings, self.conn = settings, None
        self.actions: Counter = Counter()

    def _connection(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed or self.conn.broken:
            self.conn = db.connect(self.settings, autocommit=True)
        return self.conn

    def __call__(self, events: list[Event]) -> dict[int, str]:
        "Apply `events`; position -> reason of each poison event (dead-lettered by the consumer loop)."
        conn, poison = self._connection(), {}
        order = sorted(range(len(events)), key=lambda i: position(events[i].value["ChangeEventHeader"]))
        done: Counter = Counter()
        with conn.transaction():
            for i in order:
                try:
                    with conn.transaction():  # a savepoint: a refused event leaves the others applied
                        for report in apply_event(conn, events[i].value, events[i].key): done[report["action"]] += 1
                except CrmRejected as e:
                    poison[i] = str(e)
                except (psycopg.DataError, psycopg.IntegrityError) as e:
                    poison[i] = f"PostgreSQL refused the change: {type(e).__name__}: {str(e).splitlines()[0]}"
        self.actions.update(done)
        return poison

    def close(self) -> None:
        if self.conn is not None: self.conn.close()


def serve_crm(settings: Settings,
              until_idle: bool = False,  # stop once the topic has been idle for `idle_seconds`
              idle_seconds: float = 3.0,
              stop: threading.Event | None = None,
              max_messages: int | None = None) -> tuple[ConsumerStats, Counter]:
    "Apply `crm-cdc-events` until SIGTERM/SIGINT (or idle, or `stop`); the consumer's counts and the applied actions."
    applier = CrmApplier(settings)
    try:
        stats = run_consumer(settings, topic_name(settings, CRM_TOPIC), group_id(settings), batch_handler=applier,
                             idle_timeout=idle_seconds if until_idle else None, stop=stop, max_messages=max_messages,
                             consumer_conf={"auto.offset.reset": "earliest"}, linger=0.05)
    finally:
        applier.close()
    log.info("crm applier stopped (%s): %s", stats.stopped_by, dict(applier.actions))
    return stats, applier.actions
