"""Wiring of the alert feed: a consumer thread of `enriched-alerts` → PostgreSQL `alerts` → fan-out hub → each RM's WebSocket sessions.

The domain logic (storing once, coverage, replay, frames) is `uhnw.alerts`; this module only moves data between
threads. Kafka and PostgreSQL calls never run on the event loop: the consumer is a thread, and the sessions'
queries go through `DbPool.run` (a worker thread). The hub carries no alert content, only "alert N for RM X is
stored": a woken session reads everything after its cursor from the table, so a replayed and a live frame are the
same query and a slow or reconnecting client can never skip one.
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

from uhnw.access import User, audit_read
from uhnw.alerts import alert_row, alerts_for_rm, audiences, latest_alert_id, live_frame, store_alert, store_alerts
from uhnw.bus import Event, run_consumer, topic_name
from uhnw.config import Settings
from uhnw.ops import db
from uhnw.schemas import ALERTS_TOPIC

__all__ = ["alert_group", "DbPool", "AlertMetrics", "Wakeup", "Hub", "AlertFeed", "EVERY_CLIENT", "audited_frames", "stream_alerts"]

log = logging.getLogger("uhnw.serve.alerts")
REPLAY_PAGE = 500


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


class Wakeup:
    "One session's doorbell: the largest alert id announced for it, and an event to wake it."

    def __init__(self):
        self.pending = 0
        self.event = asyncio.Event()

    def notify(self, alert_id: int) -> None:
        self.pending = max(self.pending, alert_id)
        self.event.set()


class Hub:
    "RM id → that RM's open sessions on this replica. Used only on the event loop's thread."

    def __init__(self):
        self._sessions: dict[str, set[Wakeup]] = defaultdict(set)

    def subscribe(self, rm_id: str) -> Wakeup:
        w = Wakeup()
        self._sessions[rm_id].add(w)
        return w

    def unsubscribe(self, rm_id: str, w: Wakeup) -> None:
        s = self._sessions.get(rm_id)
        if s is None: return
        s.discard(w)
        if not s: del self._sessions[rm_id]

    def publish(self, rm_ids: list[str], alert_id: int) -> int:
        "Wake every session of `rm_ids`; returns how many were woken."
        return self.publish_many(dict.fromkeys(rm_ids, alert_id))

    def publish_many(self, latest: dict[str, int]) -> int:
        "Wake every session of each RM of `latest` (RM id -> the largest alert id stored for them); returns how many were woken."
        n = 0
        for rm, alert_id in latest.items():
            for w in self._sessions.get(rm, ()):
                w.notify(alert_id); n += 1
        return n

    def open_sessions(self) -> int:
        return sum(map(len, self._sessions.values()))


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
        """Store a consumed batch in one transaction, then (and only then) wake, once, the sessions of the RMs who cover
        its clients. Returns the poison events ({position: reason}); `run_consumer` commits the offsets after this returns."""
        self.metrics.consumed.inc(len(events))
        poison: dict[int, str] = {}
        good: list[tuple[int, Event]] = []
        for i, ev in enumerate(events):
            try: alert_row(ev.value); good.append((i, ev))
            except ValueError as e: poison[i] = str(e)
        conn = self._connection()
        try:
            try:
                stored = store_alerts(conn, [ev.value for _, ev in good]) if good else []
            except (psycopg.DataError, psycopg.IntegrityError):  # some record can never be stored: find it, one at a time
                stored, kept = [], []
                for i, ev in good:
                    try: stored.append(store_alert(conn, ev.value)); kept.append((i, ev))
                    except (psycopg.DataError, psycopg.IntegrityError) as e: poison[i] = f"cannot store alert: {e}"
                good = kept
            covering = audiences(conn, {ev.value["client_id"] for _, ev in good}) if good else {}
        except psycopg.Error:
            self._close_conn()
            raise
        self.metrics.rejected.inc(len(poison))
        self.metrics.stored.inc(sum(s.created for s in stored))
        self.metrics.duplicates.inc(sum(not s.created for s in stored))
        latest: dict[str, int] = {}  # RM -> the largest alert id of the batch they may see
        for (_, ev), s in zip(good, stored, strict=True):
            for rm in covering.get(ev.value["client_id"], ()):
                latest[rm] = max(latest.get(rm, 0), s.alert_id)
        if stored: latest[EVERY_CLIENT] = max(s.alert_id for s in stored)  # compliance sessions see every alert
        if latest:
            try: self.loop.call_soon_threadsafe(self.hub.publish_many, latest)
            except RuntimeError: pass  # the event loop is shutting down; the alerts are stored and will be replayed
        return poison

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


async def stream_alerts(send: Callable[[dict], Awaitable[None]],  # sends one JSON frame
                        rm_id: str, after: int | None,  # the client's last_alert_id; None: live only
                        hub: Hub, pool: DbPool, metrics: AlertMetrics,
                        every_client: bool = False) -> None:  # compliance: every client's alerts
    "Replay what `rm_id` missed after `after`, then stream live alerts, with no gap and no duplicate; runs until cancelled."
    key = EVERY_CLIENT if every_client else rm_id
    wake = hub.subscribe(key)  # before the replay query: nothing stored from here on can be missed

    async def catch_up(last: int) -> tuple[int, int]:
        sent = 0
        while True:
            frames = await pool.run(audited_frames, rm_id, last, REPLAY_PAGE, every_client)
            for f in frames:
                await send(f)
                metrics.pushed.inc()
                if (lat := _latency(f)) is not None: metrics.push_latency.observe(max(lat, 0.0))
                last = f["alert_id"]
            sent += len(frames)
            if len(frames) < REPLAY_PAGE: return last, sent

    try:
        if after is None: last, replayed = await pool.run(latest_alert_id), 0
        else: last, replayed = await catch_up(after)
        await send(live_frame(replayed, last))
        while True:
            await wake.event.wait()
            wake.event.clear()
            if wake.pending > last:  # ids are committed in order (uhnw.alerts.store_alerts), so `> last` is all that is new
                last, _ = await catch_up(last)
    finally:
        hub.unsubscribe(key, wake)
