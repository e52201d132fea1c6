"""Wiring of the alert feed: a consumer thread of `enriched-alerts` → PostgreSQL `alerts` → fan-out hub → each RM's WebSocket sessions.

The domain logic (storing once, coverage, replay, frames) is `uhnw.alerts`; this module only moves data between
threads. Kafka and PostgreSQL calls never run on the event loop: the consumer is a thread, and the sessions'
queries go through `DbPool.run` (a worker thread).

Live frames are pushed, not re-read: after storing a batch, the feed reads once every alert stored after the last one
it pushed (by any replica: alert ids commit in order, so that is a gap-free run of ids), with the RMs who cover each
client, encodes each frame once and hands the run to the hub, which gives each session the frames of its RM.

Nothing is sent before its audit row is committed. The feed writes the audit rows of a run in the same transaction
that reads it (and, for a batch it stored, that stores it): one row per user with a session open on this replica
when the run was read, naming the clients of the frames the run carries for them (`Hub.readers`, `Run.audited`). A
session opened after that moment writes its own row first, with every other such session the run woke (one
statement, one commit: `AuditBatch`). So the live path has one commit per batch, and an audit row can name a frame
that a session closing at that moment never got, never the reverse. A session that cannot tell it has seen everything
before a run (it fell behind, or the feed restarted) reads what it missed from the table first, as a reconnecting
client's replay does, and that read is audited with it.
"""
from __future__ import annotations

import asyncio
import json
import logging
import queue
import socket
import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from uhnw.access import User, audit_read, audit_reads
from uhnw.alerts import alert_row, alerts_for_rm, audiences, latest_alert_id, live_frame, store_alert, store_alerts
from uhnw.bus import Event, run_consumer, topic_name
from uhnw.config import Settings
from uhnw.ops import db
from uhnw.schemas import ALERTS_TOPIC

__all__ = ["alert_group", "DbPool", "AlertMetrics", "Pushed", "Run", "Wakeup", "Hub", "AlertFeed", "AuditBatch", "EVERY_CLIENT",
           "audited_frames", "stream_alerts"]

log = logging.getLogger("uhnw.serve.alerts")
REPLAY_PAGE = 500
PUSH_PAGE = 2000  # alerts per run handed to the hub


def alert_group(settings: Settings, port: int | None = None) -> str:
    "This replica's own consumer group, so that every API replica sees every alert (and pushes to its own sockets)."
    return f"{settings.topic_prefix}uhnw-alert-api-{socket.gethostname()}" + (f"-{port}" if port else "")


class DbPool:
    "A few autocommit PostgreSQL connections shared by worker threads (psycopg_pool would do this; it is not installed)."

    def __init__(self, settings: Settings, size: int = 4):
        self.settings = settings
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    def call(self, fn: Callable, *args):
        "Run `fn(conn, *args)` on a pooled connection (blocking)."
        with self._slots:
            try: conn = self._idle.get_nowait()
            except queue.Empty: conn = db.connect(self.settings, autocommit=True, connect_timeout=5)
            try:
                out = fn(conn, *args)
            except BaseException:
                if conn.broken or conn.closed: conn.close()
                else: self._idle.put(conn)
                raise
            self._idle.put(conn)
            return out

    async def run(self, fn: Callable, *args):
        "`call` in a worker thread, so the event loop never waits on PostgreSQL."
        return await asyncio.to_thread(self.call, fn, *args)

    def close(self) -> None:
        "Close the idle connections."
        while True:
            try: self._idle.get_nowait().close()
            except queue.Empty: return


@dataclass
class AlertMetrics:
    "The alert service's Prometheus metrics, in a registry of their own (one per app)."
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self):
        r = self.registry
        self.consumed = Counter("uhnw_alerts_consumed", "EnrichedAlerts read from enriched-alerts", registry=r)
        self.stored = Counter("uhnw_alerts_stored", "Alerts stored as a new row in PostgreSQL", registry=r)
        self.duplicates = Counter("uhnw_alerts_duplicates", "Alerts that were already stored (redelivery or another replica)", registry=r)
        self.rejected = Counter("uhnw_alerts_rejected", "Alerts dead-lettered because they cannot be stored", registry=r)
        self.pushed = Counter("uhnw_alerts_pushed", "Alert frames sent over WebSockets (replayed and live)", registry=r)
        self.sockets = Gauge("uhnw_alert_sockets_open", "Authenticated alert WebSocket sessions open", registry=r)
        self.push_latency = Histogram("uhnw_alert_push_latency_seconds", "From the alert's processed_at to its frame being sent",
                                      buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 60), registry=r)


@dataclass(frozen=True)
class Pushed:
    "A stored alert's frame as pushed live: encoded once for every socket that gets it."
    alert_id: int
    client_id: str
    frame: dict
    text: str


@dataclass(frozen=True)
class Run:
    """Every alert stored with `after` < id <= `until`; `frames` are those of them a session's RM may see; `audited`
    holds the users whose audit row of these frames was committed with the run (`Hub.readers` when it was read)."""
    after: int
    until: int
    frames: tuple[Pushed, ...]
    audited: frozenset[User] = frozenset()


def frames_by_reader(frames: list[dict], covering: dict[str, list[str]]) -> dict[str, list[dict]]:
    "Hub key (an RM id, or EVERY_CLIENT) → the frames of a run it may see: its RM covers the client, or every frame."
    per_key: dict[str, list[dict]] = defaultdict(list)
    for f in frames:
        for rm in covering.get(f["client_id"], ()): per_key[rm].append(f)
    per_key[EVERY_CLIENT] = list(frames)
    return per_key


MAX_QUEUED_RUNS = 1000  # a session this far behind drops them and reads what it missed from the table instead


class Wakeup:
    "One session's doorbell: the runs pushed to it since it last looked, and an event to wake it."

    def __init__(self):
        self.runs: list[Run] = []
        self.behind = False  # runs were dropped: read from the table
        self.event = asyncio.Event()

    def offer(self, run: Run) -> None:
        if len(self.runs) >= MAX_QUEUED_RUNS: self.runs, self.behind = [], True
        else: self.runs.append(run)
        self.event.set()

    def take(self) -> tuple[list[Run], bool]:
        runs, behind, self.runs, self.behind = self.runs, self.behind, [], False
        self.event.clear()
        return runs, behind


class Hub:
    """RM id → that RM's open sessions on this replica. Changed only on the event loop's thread; `readers` (who has a
    session open, by hub key) is an immutable snapshot, replaced on each change, that the feed's thread may read."""

    def __init__(self):
        self._sessions: dict[str, dict[Wakeup, User | None]] = defaultdict(dict)
        self.readers: dict[str, frozenset[User]] = {}

    def subscribe(self, rm_id: str, user: User | None = None) -> Wakeup:
        "A doorbell for a session of `rm_id` (its hub key); with `user`, the feed audits that user's live frames itself."
        w = Wakeup()
        self._sessions[rm_id][w] = user
        self._snapshot()
        return w

    def unsubscribe(self, rm_id: str, w: Wakeup) -> None:
        s = self._sessions.get(rm_id)
        if s is None: return
        s.pop(w, None)
        if not s: del self._sessions[rm_id]
        self._snapshot()

    def _snapshot(self) -> None:
        self.readers = {k: frozenset(u for u in s.values() if u is not None) for k, s in self._sessions.items()}

    def push(self, after: int, until: int, frames_of: dict[str, tuple[Pushed, ...]],
             audited: frozenset[User] = frozenset()) -> int:
        """Give each session the frames of the run (`after`, `until`] its hub key may see (`frames_of`, grouped by the
        feed with `frames_by_reader`), every session an empty run at least (it still learns that nothing before the
        run's end is missing for it); returns how many sessions were woken."""
        n = 0
        for key, sessions in self._sessions.items():
            run = Run(after, until, frames_of.get(key, ()), audited)
            for w in sessions:
                w.offer(run); n += 1
        return n

    def open_sessions(self) -> int:
        return sum(map(len, self._sessions.values()))


class AuditBatch:
    """The audit rows of the live frames every session one run woke, written in one statement and one commit
    (`uhnw.access.audit_reads`) before any of them is sent. Used only on the event loop's thread."""

    def __init__(self, pool: DbPool):
        self.pool = pool
        self._pending: list[tuple[User, set[str], asyncio.Future]] = []
        self._flush: asyncio.Task | None = None

    async def record(self, user: User, client_ids: set[str]) -> None:
        "Return once the audit row of `user` reading `client_ids` over the socket is committed (raises if it could not be)."
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((user, client_ids, fut))
        if self._flush is None: self._flush = asyncio.create_task(self._write())
        await fut

    async def _write(self) -> None:
        await asyncio.sleep(0)  # let every session woken by the same run add its read
        batch, self._pending, self._flush = self._pending, [], None
        try:
            await self.pool.run(audit_reads, [(u, ids) for u, ids, _ in batch], "ws", "WS /ws")
        except BaseException as e:
            for *_, fut in batch:
                if not fut.done(): fut.set_exception(e)
            if not isinstance(e, Exception): raise
        else:
            for *_, fut in batch:
                if not fut.done(): fut.set_result(None)


class AlertFeed:
    "The consumer thread: enriched-alerts → `store_alerts` (a batch per transaction) → hub. Restarts with back-off after a failure."

    linger = 0.0  # a batch is the first message plus what is already fetched: no waiting for a fuller batch

    def __init__(self, settings: Settings, hub: Hub, loop: asyncio.AbstractEventLoop, metrics: AlertMetrics, group: str,
                 stats_interval_ms: int = 2000):
        self.settings, self.hub, self.loop, self.metrics, self.group = settings, hub, loop, metrics, group
        self.topic = topic_name(settings, ALERTS_TOPIC)
        self.stats_interval_ms = stats_interval_ms
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-feed", daemon=True)
        self._conn: psycopg.Connection | None = None
        self.running = False  # inside a consumer loop (not backing off after an error)
        self.last_error = ""
        self.lag: dict[int, int] = {}  # partition -> messages behind, from librdkafka's statistics
        self.pushed_until: int | None = None  # the newest alert id handed to the hub; read from the table when the feed starts
        self.stats_at: datetime | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 15) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._conn is not None: self._conn.close()

    def alive(self) -> bool:
        return self._thread.is_alive() and self.running

    def _run(self) -> None:
        backoff = 1.0
        conf = {"statistics.interval.ms": self.stats_interval_ms, "stats_cb": self._on_stats}
        while not self._stop.is_set():
            try:
                self.running = True
                # (re)starting: sessions find the gap between what they have and the first run, and read it from the table
                self.pushed_until = latest_alert_id(self._connection())
                run_consumer(self.settings, self.topic, self.group, batch_handler=self._handle_batch, linger=self.linger,
                             stop=self._stop, consumer_conf=conf)
            except Exception as e:  # PostgreSQL or the broker away: offsets of finished alerts are committed; retry
                self.running, self.last_error = False, f"{type(e).__name__}: {e}"
                log.exception("alert feed consumer failed; restarting in %.0f s", backoff)
                self._close_conn()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30)
            else:
                backoff = 1.0
        self.running = False

    def _on_stats(self, text: str) -> None:
        "librdkafka statistics (called on the consumer thread): consumer lag per assigned partition."
        try:
            parts = json.loads(text).get("topics", {}).get(self.topic, {}).get("partitions", {})
            self.lag = {int(p): v["consumer_lag"] for p, v in parts.items() if p != "-1" and v.get("consumer_lag", -1) >= 0}
            self.stats_at = datetime.now(UTC)
            self.last_error = ""
        except (ValueError, AttributeError, KeyError) as e:
            log.debug("unreadable consumer statistics: %s", e)

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = db.connect(self.settings, autocommit=True)
        return self._conn

    def _close_conn(self) -> None:
        if self._conn is not None: self._conn.close()
        self._conn = None

    def _handle_batch(self, events: list[Event]) -> dict[int, str]:
        """Store a consumed batch in one transaction, then (and only then) push what is new to the sessions, once.
        Returns the poison events ({position: reason}); `run_consumer` commits the offsets after this returns."""
        self.metrics.consumed.inc(len(events))
        poison: dict[int, str] = {}
        good: list[tuple[int, Event]] = []
        for i, ev in enumerate(events):
            try: alert_row(ev.value); good.append((i, ev))
            except ValueError as e: poison[i] = str(e)
        conn = self._connection()
        page: tuple[list[dict], dict[str, list[dict]], frozenset[User]] | None = None

        def read_new(c) -> None:  # in the store's transaction, after its insert: the store and this read share one commit
            nonlocal page
            page = self._read_new(c)
        try:
            try:
                then = read_new if self.pushed_until is not None else None
                stored = store_alerts(conn, [ev.value for _, ev in good], then=then) if good else []
            except (psycopg.DataError, psycopg.IntegrityError):  # some record can never be stored: find it, one at a time
                stored, kept, page = [], [], None
                for i, ev in good:
                    try: stored.append(store_alert(conn, ev.value)); kept.append((i, ev))
                    except (psycopg.DataError, psycopg.IntegrityError) as e: poison[i] = f"cannot store alert: {e}"
                good = kept
        except psycopg.Error:
            self._close_conn()
            raise
        self.metrics.rejected.inc(len(poison))
        self.metrics.stored.inc(sum(s.created for s in stored))
        self.metrics.duplicates.inc(sum(not s.created for s in stored))
        if page is not None and not self._hand_over(*page): return poison  # all of it was read in the store's transaction
        if stored: self._push_new(conn)  # duplicates only (another replica stored them), or more than one page
        return poison

    def _read_new(self, conn) -> tuple[list[dict], dict[str, list[dict]], frozenset[User]]:
        """In a transaction: one page of the alerts stored after the last one pushed (by this replica or another), the
        frames each hub key may see, and the audit rows of the users with a session open here now; returns who was audited."""
        frames = alerts_for_rm(conn, "", self.pushed_until, PUSH_PAGE, every_client=True)
        if not frames: return frames, {}, frozenset()
        per_key = frames_by_reader(frames, audiences(conn, {f["client_id"] for f in frames}))
        reads = {u: {f["client_id"] for f in per_key.get(key, ())} for key, users in self.hub.readers.items() for u in users}
        audit_reads(conn, [(u, ids) for u, ids in reads.items() if ids], "ws", "WS /ws")
        return frames, per_key, frozenset(reads)

    def _hand_over(self, frames: list[dict], per_key: dict[str, list[dict]], audited: frozenset[User] = frozenset()) -> bool:
        """Hand one page to the hub as a run of consecutive ids, each frame encoded once. Any id up to the newest one read
        is committed (ids commit in order), so a run has no gap. True when a full page was handed: there may be more."""
        if not frames: return False
        after, until = self.pushed_until, frames[-1]["alert_id"]
        pushed = {f["alert_id"]: Pushed(f["alert_id"], f["client_id"], f, json.dumps(f)) for f in frames}
        frames_of = {key: tuple(pushed[f["alert_id"]] for f in fs) for key, fs in per_key.items()}
        try: self.loop.call_soon_threadsafe(self.hub.push, after, until, frames_of, audited)
        except RuntimeError: return False  # the event loop is shutting down; the alerts are stored and will be replayed
        self.pushed_until = until
        return len(frames) == PUSH_PAGE

    def _push_new(self, conn) -> None:
        "Read and hand over every alert stored after the last one pushed, a page per transaction."
        if self.pushed_until is None: return
        while True:
            try:
                with conn.transaction(): page = self._read_new(conn)
            except psycopg.Error:
                self._close_conn()
                raise
            if not self._hand_over(*page): return

    def health(self) -> dict:
        return {"alive": self.alive(), "topic": self.topic, "group": self.group, "lag": {str(p): n for p, n in sorted(self.lag.items())},
                "lag_total": sum(self.lag.values()), "stats_at": self.stats_at.isoformat() if self.stats_at else None,
                "last_error": self.last_error or None}


def _latency(frame: dict) -> float | None:
    at = frame.get("processed_at")
    if not at: return None
    return (datetime.now(UTC) - datetime.fromisoformat(at)).total_seconds()


EVERY_CLIENT = "*"  # the hub key of sessions that read every client's alerts (compliance)


def audited_frames(conn, rm_id: str, after: int, limit: int, every_client: bool = False) -> list[dict]:
    "The frames `rm_id` may see after `after` and, when there are any, the audit row naming their clients, in one transaction."
    with conn.transaction():
        frames = alerts_for_rm(conn, rm_id, after, limit, every_client)
        if frames:
            user = User(rm_id, "compliance" if every_client else "rm")
            audit_read(conn, user, "ws", "WS /ws", {f["client_id"] for f in frames})
    return frames


async def stream_alerts(send: Callable[[str], Awaitable[None]],  # sends one encoded JSON frame
                        rm_id: str, after: int | None,  # the client's last_alert_id; None: live only
                        hub: Hub, pool: DbPool, metrics: AlertMetrics,
                        every_client: bool = False,  # compliance: every client's alerts
                        audits: AuditBatch | None = None, user: User | None = None) -> None:
    """Replay what `rm_id` missed after `after`, then stream live alerts, with no gap and no duplicate; runs until cancelled.

    `last` is the newest alert id sent, `known` the id up to which this session has seen every alert it may see (from
    the table, or from the hub's runs). A run that starts past `known` means something is missing in between: read it
    from the table first. Frames at or below `last` were sent already and are skipped."""
    key = EVERY_CLIENT if every_client else rm_id
    audits = audits or AuditBatch(pool)
    user = user or User(rm_id, "compliance" if every_client else "rm")
    wake = hub.subscribe(key, user)  # before the replay query: nothing stored from here on can be missed

    def observe(frame: dict) -> None:
        metrics.pushed.inc()
        if (lat := _latency(frame)) is not None: metrics.push_latency.observe(max(lat, 0.0))

    async def catch_up(last: int) -> tuple[int, int, int]:
        "(last sent, known, frames sent): everything stored up to the newest id read before the query."
        known, sent = await pool.run(latest_alert_id), 0
        while True:
            frames = await pool.run(audited_frames, rm_id, last, REPLAY_PAGE, every_client)
            for f in frames:
                await send(json.dumps(f))
                observe(f)
                last = f["alert_id"]
            sent += len(frames)
            if len(frames) < REPLAY_PAGE: return last, max(known, last), sent

    try:
        if after is None: last = known = await pool.run(latest_alert_id); replayed = 0
        else: last, known, replayed = await catch_up(after)
        await send(json.dumps(live_frame(replayed, last)))
        while True:
            await wake.event.wait()
            runs, behind = wake.take()
            if behind:
                last, known, _ = await catch_up(last)
            for run in runs:
                if run.until <= known: continue  # seen already in the table
                if run.after > known:  # alerts between `known` and the run's start never reached this session
                    last, known, _ = await catch_up(last)
                    if run.until <= known: continue
                fresh = [f for f in run.frames if f.alert_id > last]
                if fresh:
                    if user not in run.audited:  # not audited with the run (this session opened after it was read)
                        await audits.record(user, {f.client_id for f in fresh})  # durable before anything is sent
                    for f in fresh:
                        await send(f.text)
                        observe(f.frame)
                    last = fresh[-1].alert_id
                known = run.until
    finally:
        hub.unsubscribe(key, wake)
