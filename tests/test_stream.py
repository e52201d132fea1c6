"""The Spark stream into the lake (`uhnw.stream`) on the session's Kafka: exactly once into silver across a failed batch
and a restart from the checkpoint, counted the way an analyst counts (`uhnw sql`, which reads every file of a registered
partition, a failed batch's included), undecodable records quarantined with their reason, aborted alert transactions
never read, and every raw record once in bronze.

The session's one Spark session (conftest); each test has its own topics (the `bus` prefix), lake and catalog (a tmp UHNW_HOME).
"""
from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from uhnw.bus import EventProducer, producer_config, topic_name
from uhnw.config import load_settings
from uhnw.query import run_query
from uhnw.schemas import ALERTS_TOPIC, CRM_TOPIC, NEWS_TOPIC, TICKS_TOPIC, AvroCodec

pytestmark = [pytest.mark.kafka, pytest.mark.spark]

N_NEWS, M_ALERTS, N_CRM, N_TICKS = 30, 8, 3, 5


@pytest.fixture
def lake_bus(bus, tmp_path):
    "Settings with topics of this test's own and a lake and catalog of its own."
    return load_settings(home=tmp_path, topic_prefix=bus.topic_prefix)  # reads the test's catalog and namespaces


def _produce(settings, run: str) -> dict:
    """N_NEWS news (a third received yesterday) and one corrupt record; M_ALERTS alerts in a committed transaction and
    3 in an aborted one; raw CRM and tick records. Returns what an analyst should find."""
    from confluent_kafka import Producer
    now = datetime.now(UTC).replace(microsecond=0)
    days = Counter()
    with EventProducer(settings) as p:
        for i in range(N_NEWS):
            received = now - timedelta(days=1) if i % 3 == 0 else now
            days[received.date()] += 1
            p.send(topic_name(settings, NEWS_TOPIC), {"article_id": f"{run}-{i}", "source": "test", "headline": f"Headline {i}",
                                                      "received_at": received}, key=f"{run}-{i}")
        p.flush()
    raw = Producer(producer_config(settings))
    raw.produce(topic_name(settings, NEWS_TOPIC), key=b"corrupt", value=b"{\"headline\": \"JSON, not Avro\"}")
    for i in range(N_CRM): raw.produce(topic_name(settings, CRM_TOPIC), key=f"crm-{i}".encode(), value=f"crm bytes {i}".encode())
    for i in range(N_TICKS): raw.produce(topic_name(settings, TICKS_TOPIC), key=f"tick-{i}".encode(), value=f"tick bytes {i}".encode())
    assert raw.flush(30) == 0
    codec = AvroCodec(settings)
    tx = Producer(producer_config(settings, **{"transactional.id": f"test-stream-{run}"}))
    tx.init_transactions(30)
    for commit, ids in ((True, [f"{run}-alert-{i}" for i in range(M_ALERTS)]), (False, [f"{run}-aborted-{i}" for i in range(3)])):
        tx.begin_transaction()
        for alert_id in ids:
            tx.produce(topic_name(settings, ALERTS_TOPIC), key=alert_id, value=codec.encode(ALERTS_TOPIC, {
                "alert_id": alert_id, "article_id": f"{run}-0", "client_id": "UHNW-1", "rm_id": "RM-1", "headline": "Headline 0",
                "summary": "s", "relevance": 0.9, "resolution_score": 0.95, "mention": "m", "event_type": "m_and_a",
                "source": "test", "processed_at": now, "model_version": "v1"}))
        tx.flush(30)
        (tx.commit_transaction if commit else tx.abort_transaction)(30)
    return {"news_days": dict(days)}


def _one(settings, sql: str):
    return run_query(settings, sql).rows[0][0]


def test_stream_stopped_by_a_failed_batch_and_restarted_writes_each_record_once(spark, lake_bus, cli):
    from uhnw.stream import StreamSink, run_stream
    s, run = lake_bus, uuid.uuid4().hex[:8]
    expected = _produce(s, run)
    checkpoint = str(s.home / "checkpoint")

    class CrashesMidBatch(StreamSink):
        """Writes batch 0 completely, then crashes inside the first later batch that appends to two silver tables, between
        them: its bronze objects and one silver append are committed, the other append and the batch's commit are not."""
        crashed_in: int | None = None

        def __call__(self, df, batch_id):
            import uhnw.stream as stream_module
            append, written = stream_module.append_rows, []

            def append_then_crash(*args, **kwargs):
                if batch_id > 0 and written:
                    type(self).crashed_in = batch_id
                    raise RuntimeError("stream stopped mid-way")
                written.append(append(*args, **kwargs))
                return written[-1]
            stream_module.append_rows = append_then_crash
            try:
                super().__call__(df, batch_id)
            finally:
                stream_module.append_rows = append

    with pytest.raises(Exception, match="stream stopped mid-way"):
        run_stream(spark, s, checkpoint, max_offsets_per_trigger=12, sink=CrashesMidBatch(s))
    partial = _one(s, "SELECT count(*) FROM silver.news")
    assert 0 < partial < N_NEWS  # stopped mid-way, and `uhnw sql` does see the crashed batch's first append

    sink = StreamSink(s)
    done = run_stream(spark, s, checkpoint, max_offsets_per_trigger=12, sink=sink)
    assert done.stopped_by == "caught up"
    crashed = CrashesMidBatch.crashed_in
    assert crashed and sink.results[0].batch_id == crashed and sink.results[0].bronze_again > 0  # re-run, not skipped
    assert sink.results[0].already  # the append the crash had committed is not made twice

    # what an analyst counts: every news event and committed alert once, the aborted ones never
    assert _one(s, "SELECT count(*) FROM silver.news") == N_NEWS
    assert _one(s, "SELECT count(DISTINCT article_id) FROM silver.news") == N_NEWS
    assert _one(s, f"SELECT count(*) FROM silver.news WHERE article_id LIKE '{run}-%'") == N_NEWS
    assert dict(run_query(s, "SELECT date, count(*) FROM silver.news GROUP BY date").rows) == expected["news_days"]
    alerts = sorted(r[0] for r in run_query(s, "SELECT alert_id FROM silver.alerts").rows)
    assert alerts == sorted(f"{run}-alert-{i}" for i in range(M_ALERTS))  # committed ones only
    rejected = run_query(s, "SELECT record_key, reason FROM silver.news_rejected").rows
    assert [(bytes(k), r) for k, r in rejected] == [(b"corrupt", "not Confluent wire format (first byte 0x7b, expected 0x00)")]
    assert _one(s, "SELECT count(*) FROM silver.alerts_rejected") == 0

    # the same count through the `uhnw sql` command
    out = cli("sql", "SELECT count(*) AS n FROM silver.news", "--format", "json", env={"UHNW_HOME": str(s.home)})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [{"n": N_NEWS}]

    # bronze: every raw record of the three raw topics once, the corrupt one included; alerts are not raw
    for dataset, topic, n in (("news", NEWS_TOPIC, N_NEWS + 1), ("crm", CRM_TOPIC, N_CRM), ("ticks", TICKS_TOPIC, N_TICKS)):
        files = sorted((s.home / "lake" / "bronze" / dataset).rglob("*.parquet"))
        rows = [r for f in files for r in pq.read_table(f, columns=["topic", "partition", "offset"]).to_pylist()]
        coords = Counter((r["topic"], r["partition"], r["offset"]) for r in rows)
        assert len(coords) == n and set(coords.values()) == {1}, (dataset, coords)
        assert {t for t, _, _ in coords} == {topic_name(s, topic)}
    assert not (s.home / "lake" / "bronze" / "alerts").exists()

    # nothing new: a third run reads nothing and changes no count
    again = run_stream(spark, s, checkpoint, max_offsets_per_trigger=12)
    assert (again.records, _one(s, "SELECT count(*) FROM silver.news")) == (0, N_NEWS)


def test_job_notebook_declares_its_parameters():
    import papermill

    from uhnw.ops.jobs import job_notebook
    params = papermill.inspect_notebook(str(job_notebook("news_stream_to_silver")))
    assert {k: v["inferred_type_name"] for k, v in params.items()} == {
        "run_date": "str", "until_caught_up": "bool", "max_seconds": "float", "checkpoint": "str",
        "max_offsets_per_trigger": "int", "spark_master": "str"}
