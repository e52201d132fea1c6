"""`POST /webhooks/news`. Against the real local broker (marked `kafka`): a signed article is answered 202 only once it
is on `raw-news-events`; bad, stale, unknown or replayed signatures get 401 and produce nothing; invalid bodies get 400
with reasons naming the fields; an unreachable broker gives 503, never 202; a topic that does not exist gives 503
naming it and the fix. Without a broker (a fake producer): the input limits (413 while the body is read, 400 naming
the field), the replay rule (a signature is used up only once its article is acknowledged) and the configuration
errors (no provider named, no secrets configured) that must be said plainly."""
import asyncio
import dataclasses
import json
import socket
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from uhnw.bus import read_topic, topic_name
from uhnw.config import load_settings
from uhnw.ingest.news import MAX_BODY_BYTES, NO_SECRETS, PROVIDER_HEADER, SIGNATURE_HEADER, ReplayGuard, signature_header
from uhnw.schemas import AvroCodec, SchemaError
from uhnw.serve.webhook import AckingProducer, NotAcknowledged, router

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


@pytest.mark.kafka
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


@pytest.mark.kafka
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


@pytest.mark.kafka
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


@pytest.mark.kafka
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


@pytest.mark.kafka
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
            assert len(app.state.webhook_replays) == 0  # the signature is not used up: the retry will be accepted
    finally:
        producer.close(timeout=1)


@pytest.mark.kafka
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


# --- without a broker: a fake producer ---------------------------------------------------------------------------------
class FakeProducer:
    "Acknowledges every record, unless told to fail (`failures`: exceptions raised by the next sends) or to wait (`gate`)."

    def __init__(self, failures=(), gate: asyncio.Event | None = None):
        self.sent: list[dict] = []
        self.failures, self.gate = list(failures), gate

    async def send(self, topic: str, record: dict, key: str | None = None) -> tuple[int, int]:
        if self.gate is not None: await self.gate.wait()
        if self.failures: raise self.failures.pop(0)
        self.sent.append(record)
        return 0, len(self.sent) - 1


@pytest.fixture
def fake():
    producer = FakeProducer()
    app = make_app(load_settings(), producer)
    with TestClient(app) as c:  # raises any server exception: a 500 cannot pass unnoticed
        yield app, c, producer


BAD_INPUTS = {  # the signed bad inputs -> the field its 400 names
    "published_at 1e20 (OSError)": (article(published_at=1e20), "published_at"),
    "published_at Infinity (OverflowError)": (article().replace(b'"2026-01-05T07:45:00Z"', b"Infinity"), "publishedAt"),
    "lone surrogate in the headline (UnicodeEncodeError)": (article(title="Saxena \ud800 sells"), "title"),
    "encoded surrogate bytes": (article(title="Saxena X sells").replace(b"X", b"\xed\xa0\x80"), "UTF-8"),
    "deeply nested JSON (RecursionError)": (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 32 levels"),
    "a 5,000-digit id (ValueError)": (article().replace(b'"acme-20260105-0001"', b"9" * 5000), "'id'"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_each_signed_bad_input_gets_400_naming_the_field_and_nothing_is_produced(fake, case, caplog):
    app, client, producer = fake
    body, field = BAD_INPUTS[case]
    assert body != article()  # the replacement above applied
    r = client.post("/webhooks/news", content=body, headers=signed(body))
    assert r.status_code == 400, r.text
    assert any(field in reason for reason in r.json()["reasons"]), r.json()
    assert producer.sent == [] and not [rec for rec in caplog.records if rec.exc_info]


def test_a_body_over_the_limit_gets_413_while_it_is_read_signed_or_not_and_nothing_is_produced(fake):
    app, client, producer = fake
    under = article(content="x" * (MAX_BODY_BYTES - 2000))  # a long article just under the limit is taken
    assert len(under) <= MAX_BODY_BYTES and client.post("/webhooks/news", content=under, headers=signed(under)).status_code == 202
    producer.sent.clear()
    big = article(content="x" * 2_000_000)  # the "body over 1 MB" (the producer refused it with MSG_SIZE_TOO_LARGE)
    r = client.post("/webhooks/news", content=big, headers=signed(big))
    assert r.status_code == 413 and f"limit of {MAX_BODY_BYTES} bytes" in r.json()["detail"]
    assert client.post("/webhooks/news", content=big, headers={PROVIDER_HEADER: "acme"}).status_code == 413
    assert producer.sent == []


async def _post_streamed(app, chunks: int, chunk: bytes, content_length: int | None) -> tuple[int, int]:
    "Send a request to the ASGI app chunk by chunk; returns (status, chunks the app read)."
    read, status = 0, None
    headers = [(PROVIDER_HEADER.lower().encode(), b"acme")]
    if content_length is not None: headers.append((b"content-length", str(content_length).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/webhooks/news", "raw_path": b"/webhooks/news", "query_string": b"", "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}

    async def receive():
        nonlocal read
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": read < chunks}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start": status = message["status"]

    await app(scope, receive, send)
    return status, read


def test_an_unsigned_5_mb_body_is_refused_before_it_is_read_whole(fake):
    app, _, producer = fake
    chunk = b"x" * 65536
    # announced by Content-Length: refused before the first byte is read
    assert asyncio.run(_post_streamed(app, 80, chunk, 80 * len(chunk))) == (413, 0)
    # streamed without a length (chunked): refused as soon as the limit is passed, the rest never read
    status, read = asyncio.run(_post_streamed(app, 80, chunk, None))
    assert status == 413 and read == MAX_BODY_BYTES // len(chunk) + 1 < 80
    assert producer.sent == []


def test_a_record_over_the_producers_message_limit_gets_413_before_it_is_sent():
    settings = load_settings()
    with socket.socket() as s:  # nothing listens: the size check must answer without a broker
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    producer = AckingProducer(dataclasses.replace(settings, kafka_bootstrap_servers=f"127.0.0.1:{closed}"),
                              codec=AvroCodec(settings), **{"message.max.bytes": 4000})
    app = make_app(settings, producer)
    try:
        with TestClient(app) as c:
            body = article(content="x" * 5000)
            started = time.monotonic()
            r = c.post("/webhooks/news", content=body, headers=signed(body))
            assert r.status_code == 413, r.text
            assert "over the producer's limit of 4000" in r.json()["detail"] and time.monotonic() - started < 2
            assert len(app.state.webhook_replays) == 0  # not used up
    finally:
        producer.close(timeout=1)


def test_a_retry_after_503_with_the_same_signature_is_accepted_and_produced_once(fake):
    app, client, producer = fake
    producer.failures = [NotAcknowledged("broker down")]
    body = article()
    headers = signed(body)
    first = client.post("/webhooks/news", content=body, headers=headers)
    assert first.status_code == 503 and first.headers["Retry-After"]
    retry = client.post("/webhooks/news", content=body, headers=headers)  # as told: same request, later
    assert retry.status_code == 202, retry.text
    replay = client.post("/webhooks/news", content=body, headers=headers)
    assert replay.status_code == 401 and replay.json()["detail"] == "unauthorized: replayed signature"
    assert [r["article_id"] for r in producer.sent] == ["acme-20260105-0001"]


def test_a_refused_body_does_not_use_up_its_signature(fake):
    app, client, producer = fake
    bad = article(published_at="soon")
    headers = signed(bad)
    for _ in range(2):  # the second is 400 again, not "replayed"
        r = client.post("/webhooks/news", content=bad, headers=headers)
        assert r.status_code == 400 and "published_at" in r.json()["reasons"][0]
    producer.failures = [SchemaError("field 'headline': too long for the schema")]  # refused at encoding: 400
    body = article()
    headers = signed(body)
    assert client.post("/webhooks/news", content=body, headers=headers).status_code == 400
    assert client.post("/webhooks/news", content=body, headers=headers).status_code == 202  # resubmitted once fixed
    assert len(producer.sent) == 1


def test_two_concurrent_identical_requests_are_produced_once(fake):
    app, _, _ = fake

    async def run(failures):
        gate = asyncio.Event()
        producer = app.state.news_producer = FakeProducer(failures, gate)
        app.state.webhook_replays = ReplayGuard()
        body = article()
        headers = signed(body)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            first = asyncio.create_task(c.post("/webhooks/news", content=body, headers=headers))
            await asyncio.sleep(0.2)  # the first is waiting for its acknowledgement
            second = await c.post("/webhooks/news", content=body, headers=headers)
            gate.set()
            first = await first
            later = await c.post("/webhooks/news", content=body, headers=headers)
        return first, second, later, producer

    first, second, later, producer = asyncio.run(run([]))
    assert (first.status_code, second.status_code, later.status_code) == (202, 409, 401), (first.text, second.text, later.text)
    assert second.headers["Retry-After"] and len(producer.sent) == 1
    # the first one fails: its in-flight reservation is released, and the provider's retry is accepted
    first, second, later, producer = asyncio.run(run([NotAcknowledged("broker down")]))
    assert (first.status_code, second.status_code, later.status_code) == (503, 409, 202)
    assert len(producer.sent) == 1


def test_a_call_without_provider_header_is_told_that_the_header_is_missing(fake):
    app, client, producer = fake
    body = article()
    headers = signed(body)
    del headers[PROVIDER_HEADER]
    r = client.post("/webhooks/news", content=body, headers=headers)
    assert r.status_code == 401
    assert r.json()["detail"] == "unauthorized: missing provider: send the X-Uhnw-Provider header or POST /webhooks/news/<provider>"


def test_a_server_without_webhook_secrets_says_so_at_start_up_and_to_every_provider(monkeypatch, caplog):
    from uhnw.auth import LocalVerifier
    from uhnw.serve.app import create_app
    monkeypatch.delenv("UHNW_WEBHOOK_SECRETS", raising=False)
    caplog.set_level("WARNING", logger="uhnw.serve.app")
    app = create_app(load_settings(), verifier=LocalVerifier(b"k" * 48), start_feed=False)
    with TestClient(app) as c:
        assert any(NO_SECRETS in rec.getMessage() for rec in caplog.records), [rec.getMessage() for rec in caplog.records]
        body = article()
        r = c.post("/webhooks/news", content=body, headers=signed(body))
    assert r.status_code == 503 and r.json()["detail"] == NO_SECRETS and r.headers["Retry-After"]
