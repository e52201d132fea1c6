"""The live prices of `uhnw serve api`: a consumer thread of `market-ticks` → the latest price per instrument on the
event loop (`TickHub`) → each subscribed socket's conflator (`uhnw.market.Conflator`) → `tick` frames.

Every API replica reads every partition itself (assigned, not a consumer group's share; nothing is committed): each
replica pushes prices to its own sockets, so each must see every instrument. On start it reads back `lookback` of the
topic, so the latest prices are known before the first new tick. Kafka calls never run on the event loop; the hub, the
price book and the sessions are used on the loop's thread only (the consumer hands each batch over with
`call_soon_threadsafe`). A socket subscribes through `uhnw.serve.alerts_api` (`{"type": "subscribe", "channel":
"ticks"}`): it gets the latest price held of each instrument of its book at once, then at most
`uhnw.market.FRAMES_PER_SECOND` frames a second per instrument, the latest price winning.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta

from uhnw.bus import consumer_config, topic_name
from uhnw.config import Settings
from uhnw.market import FRAMES_PER_SECOND, Conflator, LatestPrices, Tick
from uhnw.schemas import TICKS_TOPIC, AvroCodec, SchemaError
from uhnw.workstation import tick_frame

__all__ = ["tick_group", "previous_closes", "TickSession", "TickHub", "TickFeed"]

log = logging.getLogger("uhnw.serve.ticks")


def tick_group(settings: Settings, port: int | None = None) -> str:
    "This replica's consumer name (its offsets are never committed: the name only shows who reads in the broker's tools)."
    return f"{settings.topic_prefix}uhnw-tick-api-{socket.gethostname()}" + (f"-{port}" if port else "")


def previous_closes(conn, instruments: Iterable[str]) -> dict[str, float]:
    "The latest synced EOD close of each instrument (position_pnl): what a tick's change is measured against."
    rows = conn.execute("""select distinct on (instrument_id) instrument_id, close from position_pnl
        where instrument_id = any(%(ids)s) and close is not null order by instrument_id, date desc""",
                        {"ids": list(instruments)}).fetchall()
    return {i: float(c) for i, c in rows}


class TickSession:
    "One socket's `ticks` subscription: its instruments, their previous closes and its conflator."

    def __init__(self, instruments: Iterable[str], previous_close: dict[str, float], rate: float = FRAMES_PER_SECOND):
        self.instruments = frozenset(instruments)
        self.previous_close = previous_close
        self.conflator = Conflator(rate)
        self.wake = asyncio.Event()
        self.sent = 0

    def offer(self, tick: Tick) -> None:
        self.conflator.offer(tick.instrument_id, tick)
        self.wake.set()

    def frame(self, tick: Tick) -> dict:
        iid = tick.instrument_id
        return tick_frame(iid, float(tick.price), tick.currency, tick.event_time, self.previous_close.get(iid))

    async def pump(self, send: Callable[[dict], Awaitable[None]]) -> None:
        "Send what the conflator lets out, when it lets it out; runs until cancelled."
        while True:
            for _, tick in self.conflator.due(time.monotonic()):
                await send(self.frame(tick))
                self.sent += 1
            wait = self.conflator.wait(time.monotonic())  # after the sends: offers made meanwhile are counted
            self.wake.clear()
            if wait == 0: continue
            try: await asyncio.wait_for(self.wake.wait(), wait)
            except TimeoutError: pass


class TickHub:
    "The latest price per instrument and the sessions subscribed to each instrument. Used only on the event loop's thread."

    def __init__(self, rate: float = FRAMES_PER_SECOND):
        self.rate = rate
        self.prices = LatestPrices()
        self._sessions: dict[str, set[TickSession]] = defaultdict(set)
        self.received = 0

    def subscribe(self, instruments: Iterable[str], previous_close: dict[str, float]) -> TickSession:
        "A session for `instruments`, primed with the latest price held of each."
        s = TickSession(instruments, previous_close, self.rate)
        for i in s.instruments:
            self._sessions[i].add(s)
            if (t := self.prices.get(i)) is not None: s.offer(t)
        return s

    def unsubscribe(self, s: TickSession) -> None:
        for i in s.instruments:
            held = self._sessions.get(i)
            if held is None: continue
            held.discard(s)
            if not held: del self._sessions[i]

    def publish(self, ticks: list[Tick]) -> int:
        "Keep the newer of each tick and the price held, and offer the kept ones to their sessions; returns how many were kept."
        kept = 0
        for t in ticks:
            self.received += 1
            if not self.prices.update(t): continue
            kept += 1
            for s in self._sessions.get(t.instrument_id, ()): s.offer(t)
        return kept

    def open_sessions(self) -> int:
        return len({s for held in self._sessions.values() for s in held})


class TickFeed:
    "The consumer thread: every partition of market-ticks from `lookback` ago → `hub.publish` on the loop. Restarts with back-off."

    def __init__(self, settings: Settings, hub: TickHub, loop: asyncio.AbstractEventLoop, group: str,
                 lookback: timedelta = timedelta(hours=24)):
        self.settings, self.hub, self.loop, self.group, self.lookback = settings, hub, loop, group, lookback
        self.topic = topic_name(settings, TICKS_TOPIC)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tick-feed", daemon=True)
        self.running = False
        self.consumed = self.undecodable = 0
        self.last_error = ""

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 15) -> None:
        self._stop.set()
        if self._thread.is_alive(): self._thread.join(timeout)

    def alive(self) -> bool:
        return self._thread.is_alive() and self.running

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                self._consume()
            except Exception as e:  # the broker away: prices are not a record, read again from `lookback`
                self.running, self.last_error = False, f"{type(e).__name__}: {e}"
                log.exception("tick feed failed; restarting in %.0f s", backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30)
            else:
                backoff = 1.0

    def _assign(self, consumer) -> bool:
        "Assign every partition at its offset of `lookback` ago (its end if nothing is that recent); False while the topic is missing."
        from confluent_kafka import OFFSET_END, TopicPartition
        meta = consumer.list_topics(self.topic, timeout=10).topics.get(self.topic)
        if meta is None or meta.error is not None or not meta.partitions: return False
        since = int((time.time() - self.lookback.total_seconds()) * 1000)
        found = consumer.offsets_for_times([TopicPartition(self.topic, p, since) for p in sorted(meta.partitions)], timeout=10)
        consumer.assign([TopicPartition(self.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END) for tp in found])
        return True

    def _consume(self) -> None:
        from confluent_kafka import Consumer
        codec = AvroCodec(self.settings)
        consumer = Consumer(consumer_config(self.settings, self.group, **{"enable.partition.eof": False}))
        try:
            while not self._assign(consumer):
                self.last_error = f"topic {self.topic} does not exist yet"
                if self._stop.wait(2): return
            self.running, self.last_error = True, ""
            while not self._stop.is_set():
                msgs = consumer.consume(num_messages=500, timeout=0.5)
                ticks = []
                for m in msgs:
                    if m.error(): continue
                    self.consumed += 1
                    try: ticks.append(Tick.from_record(codec.decode(TICKS_TOPIC, m.value()), m.headers() or ()))
                    except SchemaError as e:  # left in the topic (the feed's ingest dead-letters bad rows before they get there)
                        self.undecodable += 1
                        log.warning("undecodable tick %s[%d]@%d: %s", m.topic(), m.partition(), m.offset(), e)
                if ticks:
                    try: self.loop.call_soon_threadsafe(self.hub.publish, ticks)
                    except RuntimeError: return  # the event loop is shutting down
        finally:
            self.running = False
            consumer.close()

    def health(self) -> dict:
        return {"alive": self.alive(), "topic": self.topic, "consumed": self.consumed, "undecodable": self.undecodable,
                "instruments": len(self.hub.prices), "last_error": self.last_error or None}
