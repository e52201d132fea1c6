"""`measure_stream`: rows per second that the Spark news stream (`uhnw.stream`) writes into silver.

The events (news and, one in five, alerts) are produced first on topics of the bench's own, into a lake of its own under
`UHNW_HOME/bench/`; the Spark session is started before the clock starts, so the figure is the stream alone: the
Kafka source, the per-batch Avro decoding on the driver, the bronze landing of the raw news records and the silver
Parquet writes and catalog registrations, from the query's start until it has caught up. Topics and lake are removed
afterwards. Prints nothing; `uhnw bench ingest` prints the figures.
"""
from __future__ import annotations

import dataclasses
import shutil
import time
import uuid
from datetime import UTC, datetime

from uhnw.config import Settings

__all__ = ["measure_stream"]


def _produce(settings: Settings, n_events: int) -> tuple[int, int]:
    "`n_events` records: every fifth an EnrichedAlert, the others NewsEvents; returns (news, alerts)."
    from uhnw.bus import EventProducer, topic_name
    from uhnw.schemas import ALERTS_TOPIC, NEWS_TOPIC
    now = datetime.now(UTC)
    news = alerts = 0
    with EventProducer(settings) as p:
        for i in range(n_events):
            if i % 5 == 4:
                p.send(topic_name(settings, ALERTS_TOPIC), {
                    "alert_id": f"bench-al-{i}", "article_id": f"bench-{i - 1}", "client_id": f"UHNW-{i % 97}", "rm_id": "RM-1",
                    "headline": f"Headline {i - 1}", "summary": "A short summary for the RM.", "relevance": 0.9,
                    "resolution_score": 0.95, "mention": "a mention", "event_type": "m_and_a", "source": "bench",
                    "processed_at": now, "model_version": "bench"}, key=f"bench-al-{i}")
                alerts += 1
            else:
                p.send(topic_name(settings, NEWS_TOPIC), {
                    "article_id": f"bench-{i}", "source": "bench", "headline": f"Headline {i}", "received_at": now,
                    "body": "An article body of a few sentences, as a provider sends it. " * 8, "tags": ["M&A"],
                    "entities": ["Example Holdings"]}, key=f"bench-{i}")
                news += 1
        p.flush()
    return news, alerts


def measure_stream(settings: Settings, n_events: int, max_offsets_per_trigger: int = 10_000, master: str = "local[*]") -> dict:
    "Rows per second into silver by the Spark stream for `n_events` records (news and alerts), session start-up excluded."
    from confluent_kafka.admin import AdminClient

    from uhnw.bus import client_config, ensure_topics, topic_specs
    from uhnw.catalog import drop_namespaces, scratch_settings
    from uhnw.ops.spark import get_spark
    from uhnw.query import run_query
    from uhnw.stream import StreamSink, run_stream
    run_id = uuid.uuid4().hex[:8]
    s = dataclasses.replace(scratch_settings(settings, settings.home / "bench" / f"stream-{run_id}", f"bench_stream_{run_id}"),
                            topic_prefix=f"bench-stream-{run_id}.")
    admin = AdminClient(client_config(s))
    specs = topic_specs(s)
    ensure_topics(admin, specs)
    spark = None
    try:
        news, alerts = _produce(s, n_events)
        t0 = time.perf_counter()
        spark = get_spark(s, "bench-stream", master=master, connect=False)  # the streaming job keeps its own JVM
        session_s = time.perf_counter() - t0
        sink = StreamSink(s)
        run = run_stream(spark, s, str(s.home / "checkpoint"), max_offsets_per_trigger=max_offsets_per_trigger, sink=sink)
        counted = {t: run_query(s, f"SELECT count(*) FROM silver.{t}").rows[0][0] for t in ("news", "alerts")}
    finally:
        if spark is not None: spark.stop()
        drop_namespaces(s)
        for f in admin.delete_topics([t.name for t in specs]).values():
            try: f.result(30)
            except Exception: pass  # a topic left behind is harmless: its prefix is this run's own
        shutil.rmtree(s.home, ignore_errors=True)
    rows = sum(counted.values())
    return {"rate_per_s": round(rows / run.seconds, 1), "unit": "rows/s into silver (Spark session start-up excluded)",
            "seconds": run.seconds, "events": n_events, "news": news, "alerts": alerts, "silver_rows": rows,
            "silver_rows_match": counted == {"news": news, "alerts": alerts}, "batches": run.batches,
            "max_offsets_per_trigger": max_offsets_per_trigger, "fetch_s": round(sum(b.fetch_seconds for b in sink.results), 2),
            "write_s": round(sum(b.write_seconds for b in sink.results), 2), "session_start_s": round(session_s, 2), "master": master}
