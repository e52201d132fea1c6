"""The local end-to-end main job behind `make demo` / `uhnw demo`.

Wiring only: it starts the local stack, creates the topics, and pushes a few
news events through the bus the way the hot path will — Avro in the Confluent
wire format through the registry, a consumer group that commits after
processing, and a malformed message that is dead-lettered instead of stopping
anything. Each later stage of the platform (cold path, intelligence, alerts)
adds its step here. Ends with one JSON line of figures.
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from datetime import UTC, datetime

from uhnw.config import Settings

DEMO_NEWS = [  # (source, headline, body) — realistic wording, fictional people
    ("newswire", "Amit Saxena sells 4% stake in Saxena Logistics to sovereign fund",
     "Mumbai-based entrepreneur Amit Saxena has agreed to sell a 4% stake in Saxena Logistics, people familiar said."),
    ("financial-daily", "Dubai court freezes assets of property developer in Al-Rashid dispute",
     "A Dubai court froze assets linked to the developer after a claim by Khalid Al-Rashid, a UHNW investor."),
    ("rss:markets", "Mueller family office backs Series C of Munich battery start-up",
     "José Müller's family office led the round, its third climate investment this year."),
    ("newswire", "Chen Wei steps down as chairman of Pearl River Holdings",
     "Chen Wei, 68, will hand the chair to his daughter, the company said in a filing."),
]


@contextmanager
def _stage(timings: dict, name: str):
    t0 = time.perf_counter()
    print(f"--> {name}", flush=True)
    yield
    timings[name] = round(time.perf_counter() - t0, 3)


def run_demo(settings: Settings, once: bool = True) -> dict:
    "Run the demo end to end and return (and print as the last line) its figures."
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient

    from uhnw import stack
    from uhnw.bus import EventProducer, client_config, ensure_topics, read_dead_letters, run_consumer, topic_name, topic_specs

    timings: dict[str, float] = {}
    with _stage(timings, "stack_up"):
        for s in stack.up(settings):
            print(f"    {s.name:<9} {'up' if s.up else 'down':<5} {s.endpoint}  ({s.detail})")
    with _stage(timings, "topics"):
        created = ensure_topics(AdminClient(client_config(settings)), topic_specs(settings))
        print(f"    {sum(v == 'created' for v in created.values())} created, {sum(v == 'exists' for v in created.values())} existed")

    topic = topic_name(settings, "raw-news-events")
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    with _stage(timings, "produce"):
        producer = EventProducer(settings)
        for i, (source, headline, body) in enumerate(DEMO_NEWS):
            now = datetime.now(UTC)
            producer.send(topic, {"article_id": f"demo-{run_id}-{i}", "source": source, "headline": headline, "body": body,
                                  "language": "en", "published_at": now, "received_at": now}, key=f"demo-{run_id}-{i}")
        producer.flush()
        raw = Producer(client_config(settings))  # what a misconfigured producer sends: JSON, not Avro
        raw.produce(topic, key=f"demo-{run_id}-bad".encode(), value=b'{"headline": "not avro"}')
        raw.flush(10)
        print(f"    {len(DEMO_NEWS)} Avro news events and 1 malformed message -> {topic}")

    consumed = []
    with _stage(timings, "consume"):
        stats = run_consumer(settings, topic, "uhnw-demo", lambda ev: (consumed.append(ev), print(
            f"    [{ev.partition}]@{ev.offset:<5} {ev.key}  {ev.value['headline']}")), idle_timeout=3)
    with _stage(timings, "dead_letters"):
        letters = [d for d in read_dead_letters(settings, topic) if d.key and run_id.encode() in d.key]
        for d in letters:
            print(f"    {d.source_topic}[{d.source_partition}]@{d.source_offset} {d.stage}: {d.reason}")

    summary = {"demo": "foundation", "kafka": settings.bootstrap_servers, "postgres_dsn": settings.dsn(masked=True),
               "events_produced": len(DEMO_NEWS), "events_consumed": stats.processed,
               "dead_lettered": stats.dead_lettered, "dead_letters_this_run": len(letters), "stages_s": timings}
    print("stack left running: `uhnw stack status`, `uhnw stack down`")
    print(json.dumps(summary))
    return summary
