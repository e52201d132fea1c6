"""`POST /webhooks/news` against the real local broker: a signed article is answered 202 only once it is on
`raw-news-events`; bad, stale, unknown or replayed signatures get 401 and produce nothing; invalid bodies get 400
with reasons naming the fields; an unreachable broker gives 503, never 202; a topic that does not exist gives 503 naming it and the fix."""
import dataclasses
import json
import socket
import time
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from uhnw.bus import read_topic, topic_name
from uhnw.ingest.news import PROVIDER_HEADER, SIGNATURE_HEADER, ReplayGuard, signature_header
from uhnw.schemas import AvroCodec
from uhnw.serve.webhook import AckingProducer, router

pytestmark = [pytest.mark.kafka]
ARTICLE = Path(__file__).parent / "data" / "news" / "article.json"
SECRETS = {"acme": "acme-shared-secret", "wire": "wire-shared-secret"}


def make_app(settings, producer) -> FastAPI:
    app = FastAPI()
    app.include_router(router)
    app.state.settings = settings
    app.state.webhook_secrets = dict(SECRETS)
    app.state.news_producer = producer
    return app


@pytest.fixture
def client(bus):
    producer = AckingProducer(bus)
    with TestClient(make_app(bus, producer)) as c:
        yield c
    producer.close()


def signed(body: bytes, provider: str = "acme", secret: str | None = None, t: int | None = None) -> dict:
    return {PROVIDER_HEADER: provider, SIGNATURE_HEADER: signature_header(secret or SECRETS[provider], body, t),
            "Content-Type": "application/json"}


def article(**changes) -> bytes:
    return json.dumps({**json.loads(ARTICLE.read_text()), **changes}).encode()


def read_news(settings, topic: str) -> list[tuple[str, dict, int, int]]:
    "Every message of `topic` as (key, decoded NewsEvent, partition, offset)."
    codec = AvroCodec(settings)
    return [(m.key.decode(), codec.decode("raw-news-events", m.value), m.partition, m.offset) for m in read_topic(settings, topic)]


def test_signed_article_is_answered_202_with_its_offset_and_is_on_the_topic_as_a_news_event(bus, client):
    body = article()
    r = client.post("/webhooks/news", content=body, headers=signed(body))
    assert r.status_code == 202, r.text
    ack = r.json()
    topic = topic_name(bus, "raw-news-events")
    assert (ack["article_id"], ack["topic"]) == ("acme-20260105-0001", topic)
    # the provider may also be named in the path
    body2 = article(id="acme-20260105-0002")
    headers = signed(body2, provider="wire")
    del headers[PROVIDER_HEADER]
    r2 = client.post("/webhooks/news/wire", content=body2, headers=headers)
    assert r2.status_code == 202, r2.text

    on_topic = {key: (value, p, o) for key, value, p, o in read_news(bus, topic)}
    assert set(on_topic) == {"acme-20260105-0001", "acme-20260105-0002"}
    value, partition, offset = on_topic["acme-20260105-0001"]
    assert (partition, offset) == (ack["partition"], ack["offset"])  # the 202 reports where the broker put it
    assert value["headline"].startswith("Amit Saxena sells 12% stake")
    assert value["body"].startswith("Mumbai logistics entrepreneur Amit Saxena has agreed")  # markup stripped
    assert (value["source"], value["channel"], value["tags"], value["tickers"]) == ("Acme Wire", "webhook", ["M&A", "India"], ["SAXL.NS"])
    assert value["published_at"].isoformat() == "2026-01-05T07:45:00+00:00"
    assert abs(value["received_at"].timestamp() - time.time()) < 60


def test_bad_stale_unknown_or_missing_signatures_get_401_and_nothing_is_produced(bus, client, caplog):
    body = article()
    cases = {
        "wrong secret": signed(body, secret="not-the-secret"),
        "stale": signed(body, t=int(time.time()) - 301),
        "future": signed(body, t=int(time.time()) + 400),
        "unknown provider": {**signed(body), PROVIDER_HEADER: "mallory"},
        "no signature": {PROVIDER_HEADER: "acme"},
        "body altered after signing": signed(article(title="Tampered")),
    }
    caplog.set_level("WARNING", logger="uhnw.serve.webhook")
    for name, headers in cases.items():
        r = client.post("/webhooks/news", content=body, headers=headers)
        assert r.status_code == 401, (name, r.status_code, r.text)
    assert sum("webhook refused (401)" in rec.getMessage() for rec in caplog.records) == len(cases)  # each one logged
    assert "outside ±300" in client.post("/webhooks/news", content=body, headers=cases["stale"]).json()["detail"]
    assert read_news(bus, topic_name(bus, "raw-news-events")) == []


def test_replayed_request_gets_401_and_the_article_is_produced_once(bus, client):
    body = article()
    headers = signed(body)
    assert client.post("/webhooks/news", content=body, headers=headers).status_code == 202
    replay = client.post("/webhooks/news", content=body, headers=headers)
    assert replay.status_code == 401 and "replayed" in replay.json()["detail"]
    # the same article re-sent with a fresh signature is a new delivery (the provider's retry), not a replay
    time.sleep(1.1)
    assert client.post("/webhooks/news", content=body, headers=signed(body)).status_code == 202
    assert [k for k, *_ in read_news(bus, topic_name(bus, "raw-news-events"))] == ["acme-20260105-0001"] * 2


def test_invalid_body_gets_400_with_reasons_naming_the_fields_and_nothing_is_produced(bus, client):
    body = json.dumps({"title": "", "publishedAt": "last tuesday", "tickers": [1, 2]}).encode()
    r = client.post("/webhooks/news", content=body, headers=signed(body))
    assert r.status_code == 400, r.text
    reasons = r.json()["reasons"]
    for field in ("article_id", "headline", "published_at", "tickers"):
        assert any(f"'{field}'" in reason for reason in reasons), (field, reasons)
    not_json = b"{not json"
    r2 = client.post("/webhooks/news", content=not_json, headers=signed(not_json))
    assert r2.status_code == 400 and "not valid JSON" in r2.json()["reasons"][0]
    assert read_news(bus, topic_name(bus, "raw-news-events")) == []


def test_broker_down_answers_503_not_202(bus):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    down = dataclasses.replace(bus, kafka_bootstrap_servers=f"127.0.0.1:{closed}")
    producer = AckingProducer(down, codec=AvroCodec(bus), delivery_timeout=2.0)
    app = make_app(down, producer)
    app.state.webhook_replays = ReplayGuard()
    try:
        with TestClient(app) as c:
            body = article()
            started = time.monotonic()
            r = c.post("/webhooks/news", content=body, headers=signed(body))
            assert r.status_code == 503, r.text
            assert r.json()["article_id"] == "acme-20260105-0001" and r.headers["Retry-After"]
            assert time.monotonic() - started < 10
    finally:
        producer.close(timeout=1)


def test_missing_topic_answers_503_at_once_naming_the_topic_and_the_command_that_creates_it(bus):
    fresh = dataclasses.replace(bus, topic_prefix=f"t{uuid.uuid4().hex[:10]}.")  # a home whose topics were never created
    producer = AckingProducer(fresh, codec=AvroCodec(bus))
    try:
        with TestClient(make_app(fresh, producer)) as c:
            body = article()
            started = time.monotonic()
            r = c.post("/webhooks/news", content=body, headers=signed(body))
            took = time.monotonic() - started
    finally:
        producer.close(timeout=1)
    assert r.status_code == 503, r.text
    topic = topic_name(fresh, "raw-news-events")
    assert topic in r.json()["detail"] and "uhnw topics create" in r.json()["detail"]
    assert r.json()["article_id"] == "acme-20260105-0001" and r.headers["Retry-After"]
    assert took < 3, took  # the broker's metadata answers at once; a produce would time out after 5 s
