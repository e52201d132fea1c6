"""Wiring of `uhnw serve hotpath`: the exactly-once consume–enrich–produce loop over Kafka transactions, the client
master's refresh thread, and the /health and /metrics HTTP server.

The decisions (what a batch becomes, what to do when a transactional call fails, when the master is rebuilt, what
/health says) are `uhnw.hotpath`; this module only opens the consumer, the transactional producer, the PostgreSQL
connection and the HTTP server, and moves records between them. Exit codes: 0 after a clean stop (SIGTERM/SIGINT),
1 when it cannot start (no model, no clients), 2 when fenced by another instance with the same transactional id.

`TransactionCycle` owns the Kafka side, as quix-streams' `Checkpoint` does: the consumer (its assignment callbacks
are methods), the transactional producer, and one batch's transaction (begin, produce, send offsets, commit). When a
call fails it acts as `uhnw.hotpath.recovery` decides, each step logged at WARNING with the error: abort the
transaction and rewind the consumer to the committed offsets; or re-create the producer with the same transactional
id (whose `init_transactions` fences the stuck one and aborts its open transaction) and the consumer (which resumes
from the committed offsets), e.g. after a fatal error or a transactional call that does not return within its
deadline (librdkafka 2.16 can block `send_offsets_to_transaction` for ever after a broker restart:
confluentinc/librdkafka#5456, #5511); or stop when fenced. Nothing is lost and, for `read_committed` readers,
nothing is duplicated. `serve_hotpath` is then a short loop: poll a batch, plan it, commit it, count it.
"""
from __future__ import annotations

import functools
import gc
import json
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from uhnw.bus import client_config, consumer_config, on_sigterm, producer_config, topic_name
from uhnw.config import Settings
from uhnw.enrich import enrich
from uhnw.hotpath import (
    CLIENTS_SQL,
    RECREATE,
    RETRY,
    STOP,
    VERSION_SQL,
    ClientMaster,
    LatencyBook,
    MasterRef,
    ProducerStuck,
    TxnError,
    build_master,
    clients_frame,
    health_doc,
    master_version,
    next_offsets,
    plan_batch,
    recovery,
    refresh_master,
    txn_error,
)
from uhnw.ops import db
from uhnw.schemas import ALERTS_TOPIC, NEWS_TOPIC

__all__ = ["GROUP", "HotpathError", "HotpathMetrics", "default_instance", "transactional_id", "group_id",
           "load_master", "TransactionCycle", "serve_hotpath"]

log = logging.getLogger("uhnw.serve.hotpath")
GROUP = "uhnw-hotpath"
LATENCY_BUCKETS = (.005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60)


class HotpathError(RuntimeError):
    "The service cannot start; the message says what to do."


def default_instance() -> str:
    "The instance name when `--instance` is not given: the host name."
    return socket.gethostname().split(".")[0] or "0"


def transactional_id(settings: Settings, instance: str) -> str:
    "Stable per instance, so that a restarted instance fences its predecessor and aborts what it left open."
    return f"{settings.topic_prefix}{GROUP}-{instance}"


def group_id(settings: Settings) -> str:
    "The consumer group the instances share (per topic prefix, so sandboxes and tests do not meet)."
    return f"{settings.topic_prefix}{GROUP}"


@dataclass
class HotpathMetrics:
    "The service's Prometheus metrics, in a registry of their own."
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self):
        r = self.registry
        self.events_in = Counter("uhnw_hotpath_events_in", "raw-news-events messages consumed and committed", registry=r)
        self.alerts_out = Counter("uhnw_hotpath_alerts_out", "EnrichedAlerts committed to enriched-alerts", registry=r)
        self.dead_letters = Counter("uhnw_hotpath_dead_letters", "Messages committed to raw-news-events.dlq", ["stage"], registry=r)
        self.committed = Counter("uhnw_hotpath_transactions_committed", "Kafka transactions committed", registry=r)
        self.aborted = Counter("uhnw_hotpath_transactions_aborted", "Kafka transactions aborted (batch consumed again)", registry=r)
        self.latency = Histogram("uhnw_hotpath_end_to_end_seconds", "NewsEvent received_at to the commit of its transaction",
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.enrich_time = Histogram("uhnw_hotpath_enrich_seconds", "Time to enrich one event (resolve, score, summarize, encode)",
                                     buckets=(.0005, .001, .002, .005, .01, .02, .05, .1, .25, 1), registry=r)
        self.batch_size = Histogram("uhnw_hotpath_batch_messages", "Messages per transaction",
                                    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500), registry=r)
        self.txn_phase = Histogram("uhnw_hotpath_transaction_phase_seconds", "Time of each phase of a batch's transaction",
                                   ["phase"], buckets=(.001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 5), registry=r)
        self.clients = Gauge("uhnw_hotpath_clients", "Clients in the gazetteer being served", registry=r)
        self.refreshes = Counter("uhnw_hotpath_master_refreshes", "Client master rebuilds swapped in", registry=r)
        self.lag = Gauge("uhnw_hotpath_consumer_lag", "Messages left to consume per partition", ["partition"], registry=r)
        self.recreated = Counter("uhnw_hotpath_clients_recreated", "Producer and consumer re-created after a fatal error "
                                 "or a stuck transactional call", registry=r)


# --- client master ------------------------------------------------------------------------------------------------

def _pg_version(conn) -> str:
    with conn.cursor() as cur:
        return master_version(*cur.execute(VERSION_SQL).fetchone())


def _pg_snapshot(conn):
    "(version, clients) read in one repeatable-read snapshot."
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("set transaction isolation level repeatable read")
        version = master_version(*cur.execute(VERSION_SQL).fetchone())
        return version, clients_frame(cur.execute(CLIENTS_SQL).fetchall())


def load_master(settings: Settings, conn) -> ClientMaster:
    "The client master from PostgreSQL `clients`, else the CSV of `settings.clients_file`, else a HotpathError."
    version, clients = _pg_snapshot(conn) if conn is not None else ("", None)
    if clients is not None and not clients.empty:
        return build_master(clients, version, "postgres")
    if settings.clients_file:
        from uhnw.enrich import _read_clients
        clients = _read_clients(settings, settings.clients_file)
        return build_master(clients, f"csv:{settings.clients_file}+{len(clients)}", f"csv:{settings.clients_file}")
    where = "is empty" if conn is not None else "is unreachable"
    raise HotpathError(f"PostgreSQL `clients` {where} and UHNW_CLIENTS_FILE is not set: load the client master first "
                       "(`uhnw cold-path --date D` syncs it) or set UHNW_CLIENTS_FILE to a clients CSV")


CLIENTS_CHANNEL = "uhnw_clients_changed"  # notified by every change of `clients` (migration 0008)
MIN_REBUILD_GAP = 1.0  # seconds between two rebuilds: a burst of CRM changes is one rebuild, not one per change


def _await_change(conn, every: float, stop: threading.Event) -> None:
    "Return when PostgreSQL notifies a change of `clients`, after `every` seconds, or soon after `stop` is set."
    deadline = time.monotonic() + every
    while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
        if any(True for _ in conn.notifies(timeout=min(left, 0.5), stop_after=1)):
            stop.wait(MIN_REBUILD_GAP)
            for _ in conn.notifies(timeout=0.01): pass  # the notices of that gap: one rebuild covers them
            return


def _refresh_loop(settings: Settings, ref: MasterRef, every: float, stop: threading.Event, metrics: HotpathMetrics) -> None:
    "Rebuild and swap the master off the hot thread when the table's version changed: at once on a change notice, else every `every` s."
    conn = None
    while not stop.is_set():
        try:
            if conn is None or conn.closed or conn.broken:
                conn = db.connect(settings, autocommit=True, connect_timeout=5)
                conn.execute(f"listen {CLIENTS_CHANNEL}")
            c = conn
            new = refresh_master(ref, lambda c=c: _pg_version(c), lambda c=c: _pg_snapshot(c), "postgres")
            if new is not None:
                metrics.clients.set(new.count); metrics.refreshes.inc()
                gc.freeze()  # the new master lives until the next change: out of the collector's reach, as at start
                log.info("client master refreshed: %d clients, version %s", new.count, new.version)
            _await_change(conn, every, stop)
        except Exception as e:  # keep serving the current master; try again next tick
            log.warning("client master refresh failed (%s: %s); keeping version %s", type(e).__name__, e, ref.current.version)
            if conn is not None:
                try: conn.close()
                except Exception: pass
                conn = None
            stop.wait(every)
    if conn is not None: conn.close()


# --- health and metrics server ------------------------------------------------------------------------------------

@dataclass
class _State:
    "What the HTTP thread reads: written by the loop thread (plain assignments of immutable values)."
    assignment: tuple = ()
    positions: dict = field(default_factory=dict)
    last_commit: datetime | None = None
    counters: dict = field(default_factory=lambda: {"events_in": 0, "alerts_out": 0, "dead_letters": 0,
                                                    "transactions_committed": 0, "transactions_aborted": 0})


def _http_server(host: str, port: int, health, metrics: HotpathMetrics) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?")[0]
            if path == "/health":
                try: body, ctype, code = json.dumps(health()).encode(), "application/json", 200
                except Exception as e:
                    body, ctype, code = json.dumps({"status": "error", "error": str(e)}).encode(), "application/json", 503
            elif path == "/metrics":
                body, ctype, code = generate_latest(metrics.registry), CONTENT_TYPE_LATEST, 200
            else:
                body, ctype, code = b'{"error": "not found"}', "application/json", 404
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args): pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="hotpath-http", daemon=True).start()
    return server


# --- the transaction cycle ----------------------------------------------------------------------------------------

TXN_TIMEOUT = 10.0  # seconds each transactional call may block: a batch commits in milliseconds, and a call that hangs
# (send_offsets_to_transaction after a broker restart, seen for >30 s) is cheaper to abandon than to wait out: re-creating
# the producer fences it, and the batch is consumed again from the committed offsets
# A transaction begun right after the previous one committed finds its coordinator still writing that one's markers:
# AddOffsetsToTxn/AddPartitionsToTxn answer CONCURRENT_TRANSACTIONS and librdkafka retries after `retry.backoff.ms`
# (100 ms by default), which made `send_offsets_to_transaction` take 107 ms at p50 at 200 messages/s
# (confluentinc/confluent-kafka-python#967). The markers take a millisecond or two: retry after 1 ms, backing off to 20.
TXN_RETRY_BACKOFF = {"retry.backoff.ms": 1, "retry.backoff.max.ms": 20}
STUCK_GRACE = 5.0  # past its own timeout a transactional call is deemed stuck and its producer abandoned


def _reason(e: BaseException):
    "The KafkaError of a KafkaException (what the logs show), else the exception."
    from confluent_kafka import KafkaException
    return e.args[0] if isinstance(e, KafkaException) and e.args else e


def _txn_call(producer, method: str, *args, timeout: float = TXN_TIMEOUT):
    """`producer.<method>(*args, timeout)` with a deadline of our own: run in a helper thread (the call releases the
    GIL), and ProducerStuck if it has not returned `STUCK_GRACE` seconds after its timeout. The helper thread keeps
    the stuck producer until librdkafka lets go of it."""
    box, done = {}, threading.Event()

    def call():
        try: box["result"] = getattr(producer, method)(*args, timeout)
        except BaseException as e: box["error"] = e
        finally: done.set()

    threading.Thread(target=call, name=f"hotpath-{method}", daemon=True).start()
    if not done.wait(timeout + STUCK_GRACE):
        raise ProducerStuck(f"{method} has not returned {timeout + STUCK_GRACE:.0f} s after it was called "
                            f"(timeout {timeout:.0f} s)")
    if "error" in box: raise box["error"]
    return box.get("result")


def _rewind(consumer) -> None:
    "Seek every assigned partition back to its committed offset, so an aborted batch is consumed again."
    from confluent_kafka import OFFSET_BEGINNING
    assigned = consumer.assignment()
    if not assigned: return
    for tp in consumer.committed(assigned, timeout=10):
        if tp.offset < 0: tp.offset = OFFSET_BEGINNING
        try: consumer.seek(tp)
        except Exception as e: log.warning("cannot rewind %s[%d] to %d: %s", tp.topic, tp.partition, tp.offset, e)


def _produce(producer, records) -> None:
    for r in records:
        while True:
            try:
                producer.produce(r.topic, value=r.value, key=r.key, headers=r.headers)
                break
            except BufferError:
                producer.poll(0.05)
    producer.poll(0)


class TransactionCycle:
    """The consumer and the transactional producer of one instance, and the cycle of one batch's transaction over
    them: begin, produce, send the batch's offsets, commit. A failed call is recovered from as `uhnw.hotpath.recovery`
    decides (abort and rewind, re-create both clients with the same transactional id, or re-raise to stop)."""

    def __init__(self, settings: Settings, instance: str, topic: str, state: _State, metrics: HotpathMetrics,
                 stop: threading.Event, commit_attempts: int = 3):
        self.settings, self.instance, self.topic, self.state, self.metrics, self.stop = settings, instance, topic, state, metrics, stop
        self.group, self.txn_id, self.commit_attempts = group_id(settings), transactional_id(settings, instance), commit_attempts
        self.rebalances = 0  # assignment changes so far: a batch collected across one is not committed
        self.began = 0.0  # time.monotonic() when the last transaction began
        self.consumer = None
        self.producer = self._new_producer()

    # --- the clients

    def _new_producer(self):
        "A transactional producer; its `init_transactions` fences an older incarnation of this id and aborts its open transaction."
        from confluent_kafka import Producer
        p = Producer(producer_config(self.settings, **{"transactional.id": self.txn_id, "linger.ms": 0,
                                                       "transaction.timeout.ms": 60000, **TXN_RETRY_BACKOFF}))
        _txn_call(p, "init_transactions", timeout=60)
        return p

    def subscribe(self) -> None:
        "Open the consumer; once assigned, it starts from the group's committed offsets."
        from confluent_kafka import Consumer
        # A fetch returns as soon as a message arrives, whatever `fetch.wait.max.ms` says: the wait only bounds an
        # empty fetch. 10 ms made an idle instance send 100 fetches a second (the broker at 10 % of a core, idle; 4 % at 100 ms).
        self.consumer = Consumer(consumer_config(self.settings, self.group, **{
            "client.id": f"uhnw-hotpath-{self.instance}", "fetch.wait.max.ms": 100,
            "session.timeout.ms": self.settings.hotpath_session_timeout_ms}))
        self.consumer.subscribe([self.topic], on_assign=self.on_assign, on_revoke=self.on_revoke, on_lost=self.on_revoke)

    def on_assign(self, consumer, parts) -> None:
        self.rebalances += 1
        self.state.assignment = tuple(sorted(p.partition for p in parts))
        log.info("instance %s assigned partitions %s", self.instance, list(self.state.assignment))

    def on_revoke(self, consumer, parts) -> None:
        self.rebalances += 1
        self.state.assignment, self.state.positions = (), {}

    def close(self) -> None:
        "Leave the group and flush the producer (a fenced producer refuses even that)."
        if self.consumer is not None:
            try: self.consumer.close()
            except Exception as e: log.warning("consumer close: %s", e)
        if self.producer is not None:
            try: self.producer.flush(10)
            except Exception as e: log.warning("producer flush: %s", e)

    # --- one batch

    def poll(self, max_batch: int, max_wait_ms: int, min_interval_ms: float = 0) -> list:
        """The next batch of messages: [] when there is none yet, or when partitions moved while it was collected (then
        rewound). After the first message it waits `max_wait_ms` for more, and at least until `min_interval_ms` after
        the previous transaction began."""
        from confluent_kafka import KafkaError, KafkaException
        seen = self.rebalances
        first = self.consumer.poll(0.25)
        if first is None: return []
        wait = max(max_wait_ms / 1000, self.began + min_interval_ms / 1000 - time.monotonic())
        msgs = [first, *self.consumer.consume(max_batch - 1, timeout=wait)] if max_batch > 1 else [first]
        if self.rebalances != seen:  # the new owner (maybe us) starts at the committed offsets
            try: _rewind(self.consumer)
            except KafkaException as e: self.recover(e, "rewind")
            return []
        good = []
        for m in msgs:
            if m.error() is None: good.append(m)
            elif m.error().code() != KafkaError._PARTITION_EOF: log.warning("consumer error: %s", m.error())
        return good

    def commit(self, records: list, offsets: dict[int, int]) -> list | None:
        """Produce `records` and commit `offsets` (partition -> next offset) in one transaction. Returns the committed
        positions, or None when the transaction failed and was recovered from: the batch will be consumed again."""
        from confluent_kafka import KafkaException, TopicPartition
        try:
            t0, self.began = time.perf_counter(), time.monotonic()
            self.producer.begin_transaction()
            _produce(self.producer, records)
            t1 = time.perf_counter()
            positions = [tp for tp in self.consumer.position([TopicPartition(self.topic, p) for p in offsets]) if tp.offset >= 0]
            for tp in positions: tp.offset = max(tp.offset, offsets[tp.partition])
            _txn_call(self.producer, "send_offsets_to_transaction", positions, self.consumer.consumer_group_metadata())
            t2 = time.perf_counter()
            self._commit_transaction()
            t3 = time.perf_counter()
        except (KafkaException, ProducerStuck) as e:
            self.metrics.aborted.inc(); self.state.counters["transactions_aborted"] += 1
            self.recover(e, "transaction", len(records))
            return None
        for phase, secs in (("produce", t1 - t0), ("send_offsets", t2 - t1), ("commit", t3 - t2)):
            self.metrics.txn_phase.labels(phase).observe(secs)
        return positions

    def _commit_transaction(self) -> None:
        "commit_transaction, re-issued while `recovery` says RETRY (a retriable failure); anything else propagates."
        from confluent_kafka import KafkaException
        for attempt in range(1, self.commit_attempts + 1):
            try:
                _txn_call(self.producer, "commit_transaction")
                return
            except (KafkaException, ProducerStuck) as e:
                if recovery(txn_error(e), "commit", attempt, self.commit_attempts) != RETRY: raise
                log.warning("commit_transaction retriable failure (%s), retrying", _reason(e))

    # --- recovery

    def recover(self, e: BaseException, phase: str, records: int = 0) -> None:
        "Act on a failed call of `phase` as `uhnw.hotpath.recovery` decides; re-raises `e` when this instance must stop."
        from confluent_kafka import KafkaException
        action = recovery(txn_error(e) or TxnError(), phase)
        if action == STOP: raise e
        if action == RECREATE: return self.recreate(e)
        log.warning("transaction aborted (%d records), the batch will be consumed again: %s", records, _reason(e))
        try:
            _txn_call(self.producer, "abort_transaction")
            _rewind(self.consumer)
        except (KafkaException, ProducerStuck) as e2:
            self.recover(e2, "abort")

    def recreate(self, why: BaseException) -> None:
        "New producer (same transactional id: fences the old one, aborts its transaction), then a new consumer."
        from confluent_kafka import KafkaException
        if self.stop.is_set(): return  # stopping anyway: the next incarnation's init_transactions cleans up
        log.warning("re-creating the producer (transactional id %s) and the consumer after %s: %s", self.txn_id,
                    type(why).__name__, _reason(why))
        self.metrics.recreated.inc()
        self.producer = None  # a stuck call's helper thread keeps the old one until it returns; the new one fences it
        while not self.stop.is_set():
            try:
                self.producer = self._new_producer()
                break
            except (KafkaException, ProducerStuck) as e:
                if recovery(txn_error(e) or TxnError(), "init") == STOP: raise
                log.warning("cannot re-create the producer yet (%s), retrying", _reason(e))
                self.stop.wait(1.0)
        if self.producer is None: return
        try: self.consumer.close()
        except Exception as e: log.warning("closing the old consumer: %s", e)
        self.subscribe()


# --- the service --------------------------------------------------------------------------------------------------

def _load_model(settings: Settings, version: str):
    from uhnw.lake import lake_for
    from uhnw.relevance import load_model
    try:
        return load_model(lake_for(settings), version)
    except Exception as e:
        raise HotpathError(f"no relevance model to serve ({type(e).__name__}: {e}); train and promote one: "
                           "`uhnw job run train_relevance --date D -p promote true`") from None


def _initial_master(settings: Settings) -> MasterRef:
    try:
        conn = db.connect(settings, autocommit=True, connect_timeout=5)
    except Exception as e:
        log.warning("PostgreSQL unreachable (%s); trying the clients CSV", e); conn = None
    try:
        return MasterRef(load_master(settings, conn))
    finally:
        if conn is not None: conn.close()


def _health(state: _State, probe, topic: str, instance: str, group: str, ref: MasterRef, model_version: str,
            latency: LatencyBook, metrics: HotpathMetrics) -> dict:
    "The /health document (and the lag gauges), with the watermarks read by `probe`."
    from confluent_kafka import TopicPartition
    positions = {p: state.positions.get(p, -1) for p in state.assignment}
    marks = {}
    for p in positions:
        try: marks[p] = probe.get_watermark_offsets(TopicPartition(topic, p), timeout=2)
        except Exception: pass
    doc = health_doc(instance, group, topic, positions, marks, state.last_commit, ref.current, model_version,
                     dict(state.counters), latency.summary())
    for p, v in doc["lag"].items():
        if v is not None: metrics.lag.labels(p).set(v)
    return doc


def _account(plan, batch: int, positions: list, topic: str, state: _State, metrics: HotpathMetrics, latency: LatencyBook) -> None:
    "Count a committed batch in the metrics and the /health state; log its dead letters."
    now = datetime.now(UTC)
    for s in latency.observe(plan.received, now): metrics.latency.observe(s)
    for s in plan.enrich_seconds: metrics.enrich_time.observe(s)
    dead = [o for o in plan.outcomes if o.status == "dead"]
    for o in dead:
        metrics.dead_letters.labels(o.stage).inc()
        log.warning("dead-lettered %s[%d]@%d (%s): %s", topic, o.partition, o.offset, o.stage, o.reason)
    metrics.events_in.inc(batch); metrics.alerts_out.inc(plan.alerts); metrics.committed.inc()
    metrics.batch_size.observe(batch)
    c = state.counters
    c["events_in"] += batch; c["alerts_out"] += plan.alerts; c["dead_letters"] += len(dead)
    c["transactions_committed"] += 1
    state.last_commit = now
    state.positions = {**state.positions, **{tp.partition: tp.offset for tp in positions}}


def serve_hotpath(settings: Settings,
                  instance: str | None = None,  # transactional id suffix; default: the host name
                  host: str = "127.0.0.1", metrics_port: int = 9108,
                  refresh_seconds: float = 10.0,
                  max_batch: int = 200,  # most messages per transaction
                  max_wait_ms: int = 0,  # longest wait for more after a batch's first message: 0 takes what is fetched already
                  # (the batch is whatever arrived during the previous transaction; waiting to fill one only adds latency)
                  model_version: str = "latest",
                  stop: threading.Event | None = None,
                  min_txn_interval_ms: float = 0,  # shortest time between two transactions' starts: fewer, larger ones cost
                  # the broker less per article (at 200/s, 12 ms took its CPU from 47 % to 33 % of a core) and add up to that much latency
                  ) -> int:
    "Run the streaming enrichment service until SIGTERM/SIGINT (or `stop`); returns the process exit code."
    from confluent_kafka import Consumer, KafkaException

    from uhnw.schemas import AvroCodec
    from uhnw.summarize import summarizer_for

    instance, stop = instance or default_instance(), stop or threading.Event()
    metrics, state, latency = HotpathMetrics(), _State(), LatencyBook()
    raw_topic, alerts_topic, group = topic_name(settings, NEWS_TOPIC), topic_name(settings, ALERTS_TOPIC), group_id(settings)
    model, ref = _load_model(settings, model_version), _initial_master(settings)
    metrics.clients.set(ref.current.count)
    log.info("serving %d clients (%s, version %s) with model %s", ref.current.count, ref.current.source,
             ref.current.version, model.version)
    codec, summarizer, threshold = AvroCodec(settings), summarizer_for(settings), settings.relevance_threshold
    decode = lambda data: codec.decode(NEWS_TOPIC, data)
    encode = lambda alert: codec.encode(ALERTS_TOPIC, alert)

    cycle = TransactionCycle(settings, instance, raw_topic, state, metrics, stop)
    probe = Consumer({**client_config(settings), "group.id": f"{group}-probe", "enable.auto.commit": False,
                      "isolation.level": "read_committed"})
    health = functools.partial(_health, state, probe, raw_topic, instance, group, ref, model.version, latency, metrics)
    server = _http_server(host, metrics_port, health, metrics)
    refresher = threading.Thread(target=_refresh_loop, args=(settings, ref, refresh_seconds, stop, metrics),
                                 name="hotpath-refresh", daemon=True)
    refresher.start()
    restore, code = on_sigterm(stop), 0
    # The model, the gazetteer and the imported modules live as long as the process: moved out of the collector's reach,
    # so a full collection walks only what batches allocate instead of stalling one for tens of milliseconds.
    gc.collect()
    gc.freeze()
    try:
        cycle.subscribe()
        log.info("hotpath instance %s consuming %s in group %s (transactional id %s), /health on %s:%d", instance, raw_topic,
                 group, cycle.txn_id, host, metrics_port)
        while not stop.is_set():
            batch = cycle.poll(max_batch, max_wait_ms, min_txn_interval_ms)
            if not batch: continue
            master = ref.current  # one consistent master for the whole batch
            enrich_one = lambda ev, m=master: enrich(ev, m.gazetteer, model, summarizer, threshold, m.directory)
            plan = plan_batch(batch, decode, enrich_one, encode, alerts_topic, transient=(ConnectionError, TimeoutError, KafkaException))
            positions = cycle.commit(plan.records, next_offsets(batch))
            if positions is None:  # aborted or re-created: the batch comes again
                time.sleep(0.2); continue
            _account(plan, len(batch), positions, raw_topic, state, metrics, latency)
    except KafkaException as e:
        log.error("fatal Kafka error, exiting: %s", _reason(e))
        code = 2
    finally:
        stop.set()
        restore()
        server.shutdown(); server.server_close()
        cycle.close()
        probe.close()
        refresher.join(timeout=5)
    log.info("hotpath instance %s stopped: %s", instance, json.dumps(state.counters))
    return code
