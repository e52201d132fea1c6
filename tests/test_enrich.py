"""Enrichment and its Lambda handler: MSK event-source payloads in, EnrichedAlert records on the session's real
Kafka out, per-record failures reported; the SageMaker summarizer's request against a moto server; the benchmark."""
from __future__ import annotations

import base64
import dataclasses
import json
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from uhnw.bench.enrich import bench_enrich
from uhnw.bus import read_topic
from uhnw.config import load_settings
from uhnw.enrich import Runtime, client_directory, enrich, handle_batch
from uhnw.relevance import read_seed, resolve_labels, train
from uhnw.resolve import Gazetteer, load_clients
from uhnw.schemas import NEWS_TOPIC
from uhnw.summarize import ExtractiveSummarizer, SageMakerSummarizer

DATA = Path(__file__).resolve().parent.parent / "jobs" / "seeds" / "relevance"


@pytest.fixture(scope="module")
def parts():
    "Gazetteer, clients and a model trained on the seed set (once per module)."
    clients = load_clients(DATA / "clients.csv")
    gaz = Gazetteer.from_clients(clients)
    raw, _ = read_seed()
    model, _ = train(resolve_labels(raw, gaz)[0], {"cv": 3})
    return gaz, clients, model


def news(article_id: str, headline: str, body: str) -> dict:
    return {"article_id": article_id, "source": "wire-test", "channel": "webhook", "url": f"https://news.test/{article_id}",
            "headline": headline, "body": body, "published_at": datetime(2026, 5, 1, 9, 0, tzinfo=UTC),
            "received_at": datetime(2026, 5, 1, 9, 0, 1, tzinfo=UTC)}


HOT = news("n-hot", "Amit Saxena to sell 8% stake in Saxena Logistics in $480 million block trade",
           "Amit Saxena is selling 8 percent of Saxena Logistics through an accelerated bookbuild. "
           "The placement is expected to raise about $480 million. Guests at the launch included Helena Vogt.")
COLD = news("n-cold", "Markets edge lower before rate decision",
            "Stocks edged lower. \"Rates will stay higher for longer,\" said Marcus Whitfield at a conference.")


def msk_event(records) -> dict:
    "The documented MSK event-source payload for (topic, partition, offset, value-bytes) tuples."
    out = {}
    for t, p, o, v in records:
        out.setdefault(f"{t}-{p}", []).append({
            "topic": t, "partition": p, "offset": o, "timestamp": 1777626000000, "timestampType": "CREATE_TIME",
            "key": base64.b64encode(b"key").decode(), "value": base64.b64encode(v).decode(),
            "headers": [{"source": list(b"test")}]})
    return {"eventSource": "aws:kafka", "eventSourceArn": "arn:aws:kafka:eu-west-1:123456789012:cluster/uhnw/abc-1",
            "bootstrapServers": "b-1.uhnw.kafka.eu-west-1.amazonaws.com:9098", "records": out}


def test_enrich_alerts_the_subject_of_a_wealth_event_not_a_passing_mention(parts):
    gaz, clients, model = parts
    alerts = enrich(HOT, gaz, model, ExtractiveSummarizer(), clients=clients)
    assert [(a["client_id"], a["rm_id"], a["event_type"]) for a in alerts] == [("UHNW-102", "RM-07", "liquidity")]
    a = alerts[0]
    assert a["relevance"] > 0.8 and 0 < a["resolution_score"] <= 1 and a["url"] == HOT["url"]
    assert "Amit Saxena" in a["summary"] and len(a["summary"]) <= 300
    assert enrich(COLD, gaz, model, ExtractiveSummarizer(), clients=clients) == []


@pytest.mark.kafka
def test_lambda_batch_publishes_alerts_to_kafka_dead_letters_garbage_and_reports_failures(stack, parts):
    from confluent_kafka.admin import AdminClient

    from uhnw.bus import EventProducer, client_config, ensure_topics, topic_name, topic_specs
    from uhnw.schemas import AvroCodec
    gaz, clients, model = parts
    settings = dataclasses.replace(stack, topic_prefix=f"t{uuid.uuid4().hex[:10]}.")
    ensure_topics(AdminClient(client_config(settings)), topic_specs(settings))
    codec = AvroCodec(settings)
    raw_topic = topic_name(settings, NEWS_TOPIC)
    rt = Runtime(settings, codec, gaz, model, ExtractiveSummarizer(), EventProducer(settings, codec=codec), client_directory(clients))
    hot, cold = codec.encode(NEWS_TOPIC, HOT), codec.encode(NEWS_TOPIC, COLD)

    class FlakyGazetteer:  # fails on one article, as a broken dependency would
        def resolve(self, headline, body, threshold=None):
            if "edge lower" in headline: raise RuntimeError("gazetteer unavailable")
            return gaz.resolve(headline, body, threshold)
    rt.gazetteer = FlakyGazetteer()
    resp = handle_batch(msk_event([(raw_topic, 0, 40, hot), (raw_topic, 0, 41, b"\x00garbage"), (raw_topic, 4, 9, cold)]), rt,
                        log=lambda m: None)
    assert resp == {"batchItemFailures": [{"itemIdentifier": {"partition": f"{raw_topic}-4", "offset": 9}}]}

    alerts = [(m.key, codec.decode("enriched-alerts", m.value)) for m in read_topic(settings, topic_name(settings, "enriched-alerts"))]
    assert [(k, v["client_id"], v["article_id"]) for k, v in alerts] == [(b"n-hot:UHNW-102", "UHNW-102", "n-hot")]
    dead = read_topic(settings, topic_name(settings, "raw-news-events") + ".dlq")
    assert len(dead) == 1 and dead[0].value == b"\x00garbage" and dead[0].headers["dlq.source.offset"] == b"41"
    assert b"cannot decode" in dead[0].headers["dlq.reason"]
    rt.producer.close()


def test_lambda_handler_refuses_a_non_kafka_event(parts):
    gaz, clients, model = parts
    rt = Runtime(load_settings(env={}), None, gaz, model, ExtractiveSummarizer(), None, {})
    with pytest.raises(ValueError, match="not a Kafka event-source batch"):
        handle_batch({"Records": [{"eventSource": "aws:sqs"}]}, rt)


# --- the SageMaker summarizer against a moto server

@pytest.mark.aws
def test_sagemaker_summarizer_invokes_the_endpoint_and_clips_the_reply(moto_endpoint, monkeypatch):
    import boto3
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items(): monkeypatch.setenv(k, v)
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    reply = [{"summary_text": "Amit Saxena is selling 8% of Saxena Logistics. The block raises $480m. A third sentence."}]
    urllib.request.urlopen(urllib.request.Request(
        f"{moto_endpoint}/moto-api/static/sagemaker/endpoint-results", method="POST",
        data=json.dumps({"region": "eu-west-1", "results": [{"Body": json.dumps(reply), "ContentType": "application/json"},
                                                    {"Body": "<html>502</html>", "ContentType": "text/html"}]}).encode(),
        headers={"Content-Type": "application/json"})).read()
    rt = boto3.client("sagemaker-runtime", region_name="eu-west-1", endpoint_url=moto_endpoint)
    sm = SageMakerSummarizer("uhnw-summarize", client=rt)
    assert sm.summarize(HOT["headline"], HOT["body"], [(0, 11)]) == "Amit Saxena is selling 8% of Saxena Logistics. The block raises $480m."
    # an endpoint that answers something unreadable falls back to the extractive summary
    sm2 = SageMakerSummarizer("uhnw-other", client=rt)  # gets the second queued reply: not JSON
    extractive = ExtractiveSummarizer().summarize(COLD["headline"], COLD["body"], [])
    assert sm2.summarize(COLD["headline"], COLD["body"], []) == extractive


def test_bench_enrich_prints_a_table_and_a_final_json_line():
    lines = []
    res = bench_enrich(load_settings(env={}), 60, out=lines.append)
    assert json.loads(lines[-1]) == res and res["articles"] == 60 and res["articles_per_s"] > 0 and res["p99_ms"] >= res["p50_ms"]
    assert "articles/s" in lines[0]
