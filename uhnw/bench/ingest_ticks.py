"""`uhnw bench ingest` (ticks): MarketTicks published per second, and ticks per second through a socket's conflation.

Published: to a topic of the bench's own on the running stack, every tick acknowledged. Conflated: one socket's
`uhnw.market.Conflator`, frames built and JSON-encoded as the socket sends them. The feed is the synthetic one: 50
instruments in New York mid-session, 1,000 ticks a second of feed time, so a socket at `FRAMES_PER_SECOND` per
instrument lets out a small fraction of them as frames."""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from uhnw.config import Settings

__all__ = ["measure_ticks"]

INSTRUMENTS = 50
FEED_RATE = 1000.0  # ticks per second of feed time
SESSION = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # a Wednesday, 11:00 in New York


def measure_ticks(settings: Settings, n_ticks: int) -> dict:
    "Publish `n_ticks` synthetic ticks (producer acknowledged) and conflate them for one socket; rates and counts, printing nothing."
    import dataclasses

    from confluent_kafka.admin import AdminClient

    from uhnw.bus import EventProducer, client_config, dlq_topic, ensure_topics, topic_name, topic_specs
    from uhnw.ingest.market import publish_tick
    from uhnw.market import FRAMES_PER_SECOND, Conflator, Listing, synthetic_ticks
    from uhnw.schemas import TICKS_TOPIC
    from uhnw.workstation import tick_frame

    s = dataclasses.replace(settings, topic_prefix=f"bench-ticks-{time.time_ns()}.")
    topic = topic_name(s, TICKS_TOPIC)
    admin = AdminClient(client_config(s))
    ensure_topics(admin, [t for t in topic_specs(s) if t.name in (topic, dlq_topic(topic))])
    listings = [Listing(f"BENCH{i:04d}", "USD", 50.0 + 5 * i) for i in range(INSTRUMENTS)]
    ticks = list(synthetic_ticks(listings, SESSION, n_ticks / FEED_RATE, FEED_RATE, seed=7))
    try:
        with EventProducer(s) as producer:
            t0 = time.perf_counter()
            for t in ticks: publish_tick(producer, topic, t)
            producer.flush()
            publish_s = time.perf_counter() - t0
    finally:
        for f in admin.delete_topics([topic, dlq_topic(topic)], operation_timeout=30).values():
            try: f.result(30)
            except Exception: pass  # a bench topic left behind is harmless
    conflator, frames = Conflator(FRAMES_PER_SECOND), 0
    t0 = time.perf_counter()
    for t in ticks:
        conflator.offer(t.instrument_id, t)
        for _, due in conflator.due((t.event_time - SESSION).total_seconds()):
            json.dumps(tick_frame(due.instrument_id, float(due.price), due.currency, due.event_time, 100.0))
            frames += 1
    conflate_s = time.perf_counter() - t0
    return {"ticks": len(ticks), "instruments": INSTRUMENTS, "seconds": round(publish_s, 3),
            "rate_per_s": round(len(ticks) / publish_s), "unit": "ticks/s published",
            "conflation_seconds": round(conflate_s, 3), "conflation_rate_per_s": round(len(ticks) / conflate_s),
            "frames_out": frames, "frames_per_second_limit": FRAMES_PER_SECOND, "feed_seconds": round(n_ticks / FEED_RATE, 1)}
