"""Property-based tests of `POST /webhooks/news` ("bad input never loses data"): whatever a signed body holds, the
webhook answers 202 or a 4xx that says why, never a 500 or a traceback, and produces nothing for a body it refuses.

Most examples go through the pure functions (`uhnw.ingest.news.parse_body` + `news_event_from_payload` + the real
Avro encoding); a smaller run goes through the FastAPI app with a fake producer (no broker needed). Bodies are signed,
so that they reach the parser."""
from __future__ import annotations

import io
import json
import logging
import math
import time
from datetime import UTC, datetime

import fastavro
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uhnw.config import load_settings
from uhnw.ingest.news import (
    ALIASES,
    MAX_BODY_BYTES,
    PROVIDER_HEADER,
    SIGNATURE_HEADER,
    NewsEventInvalid,
    ReplayGuard,
    news_event_from_payload,
    news_schema,
    parse_body,
    signature_header,
)
from uhnw.serve.webhook import router

SECRET = "acme-shared-secret"
NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

# --- strategies: provider-like JSON with hostile values -------------------------------------------------------------
SURROGATES = st.sampled_from(["\ud800", "\udfff", "a\udc80b"])
PLAIN = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
TEXT = st.one_of(PLAIN, PLAIN, PLAIN, SURROGATES,  # a lone surrogate now and then
                 st.sampled_from(["<p>x&amp;y</p>", "<![CDATA[", "&#0;", "<!--", "</", " "]))
DATES = st.sampled_from(["2026-01-05T07:45:00Z", "Mon, 05 Jan 2026 07:45:00 +0000", "9999-12-31T23:59:59-01:00",
                         "0001-01-01T00:00:00+01:00", "yesterday", "", "2026-02-30"])
NUMBERS = st.one_of(st.integers(), st.integers(min_value=-(10 ** 60), max_value=10 ** 60), st.floats(allow_nan=True),
                    st.sampled_from([1e20, -1e20, 1e11, 2 ** 63, 10 ** 300]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT, DATES)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.one_of(TEXT, st.sampled_from(["name", "term", "id"])),
                                                                       inner, max_size=4)),
                      max_leaves=12)
KEYS = st.sampled_from([name for names in ALIASES.values() for name in names] + ["extra", "\ud800"])
PAYLOADS = st.one_of(st.dictionaries(KEYS, VALUES, max_size=10), VALUES)


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


@st.composite
def bodies(draw) -> bytes:
    "A webhook body: an article or JSON with hostile values (encoded surrogates too), deep nesting, huge numbers, any bytes."
    kind = draw(st.sampled_from(["article", "article", "json", "json", "deep", "digits", "bytes", "large"]))
    if kind == "article":  # a plausible article with hostile extras: reaches acceptance as well as every refusal
        payload = {"id": draw(st.one_of(PLAIN, PLAIN, TEXT, NUMBERS)), "title": draw(st.one_of(PLAIN, PLAIN, TEXT)),
                   **draw(st.dictionaries(KEYS, VALUES, max_size=4))}
        return json.dumps(payload, ensure_ascii=draw(st.sampled_from([True, True, False]))).encode("utf-8", "surrogatepass")
    if kind == "large": return b'{"id": "a", "title": "H", "body": "' + b"x" * MAX_BODY_BYTES + b'"}'
    if kind == "deep": return nested(draw(st.integers(1, 5000))).encode()
    if kind == "digits":
        field = draw(st.sampled_from(["id", "published_at", "extra"]))
        return f'{{"id": "a", "title": "H", "{field}": {"9" * draw(st.integers(1, 6000))}}}'.encode()
    if kind == "bytes": return draw(st.binary(max_size=200))
    text = json.dumps(draw(PAYLOADS), ensure_ascii=draw(st.booleans()))  # NaN and Infinity included, as providers' encoders do
    return text.encode("utf-8", "surrogatepass")


def outcome(body: bytes, schema: dict) -> dict | list[str]:
    "The encodable record a body maps to, or the reasons it is refused; any other exception fails the test."
    try:
        rec = news_event_from_payload(parse_body(body), "acme", NOW, schema)
    except NewsEventInvalid as e:
        return e.reasons
    fastavro.schemaless_writer(io.BytesIO(), schema, rec)  # producible: the real Avro encoding accepts it
    return rec


@pytest.fixture(scope="module")
def schema():
    return news_schema(load_settings().schemas_dir)


# --- the pure functions: the bulk of the examples ----------------------------------------------------------------------
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies())
def test_any_signed_body_maps_to_an_encodable_news_event_or_to_reasons(schema, body):
    out = outcome(body, schema)
    if isinstance(out, list):
        assert out and all(isinstance(r, str) and r for r in out), out
        assert all(r.encode() for r in out)  # a reason is itself encodable, so the 400 can always be sent
    else:
        assert out["article_id"] and out["headline"]
        for v in out.values():
            if isinstance(v, str): v.encode("utf-8")  # no lone surrogate reaches the topic


@settings(max_examples=100, deadline=None)
@given(depth=st.integers(1, 20_000))
def test_nesting_beyond_the_limit_is_a_reason_never_a_recursion_error(depth):
    body = f'{{"id": "a", "title": "H", "extra": {nested(depth)}}}'.encode()
    try:
        parse_body(body)
        assert depth + 1 <= 32
    except NewsEventInvalid as e:
        assert depth + 1 > 32 and "nested deeper than 32 levels" in e.reasons[0]


@settings(max_examples=100, deadline=None)
@given(digits=st.integers(1, 10_000), form=st.sampled_from(["{}", "-{}", "1e{}", "0.{}"]))
def test_long_or_overflowing_numbers_are_refused_naming_the_field(digits, form):
    literal = form.format("9" * digits)
    fits = len(literal) <= 40 and (form in ("{}", "-{}") or math.isfinite(float(literal)))
    body = f'{{"id": "a", "title": "H", "published_at": {literal}}}'.encode()
    try:
        parse_body(body)
        assert fits, literal
    except NewsEventInvalid as e:
        assert not fits and e.reasons[0].startswith("field 'published_at': "), e.reasons


# --- through the app, signed, with a fake producer -------------------------------------------------------------------
class FakeProducer:
    "Records what the route produced; answers as an acknowledging producer would."

    def __init__(self):
        self.sent: list[dict] = []

    async def send(self, topic: str, record: dict, key: str | None = None) -> tuple[int, int]:
        self.sent.append(record)
        return 0, len(self.sent) - 1


class Captured(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record): self.records.append(record)


@pytest.fixture(scope="module")
def app_client():
    app = FastAPI()
    app.include_router(router)
    app.state.settings = load_settings()
    app.state.webhook_secrets = {"acme": SECRET}
    app.state.news_producer = FakeProducer()
    handler = Captured()
    logging.getLogger().addHandler(handler)
    try:
        with TestClient(app, raise_server_exceptions=False) as c:
            yield app, c, handler
    finally:
        logging.getLogger().removeHandler(handler)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies())
def test_the_webhook_never_answers_500_nor_logs_a_traceback_and_produces_only_what_it_accepts(app_client, schema, body):
    app, client, logs = app_client
    app.state.webhook_replays = ReplayGuard()  # each example is a first delivery
    producer: FakeProducer = app.state.news_producer
    producer.sent.clear(); logs.records.clear()
    headers = {PROVIDER_HEADER: "acme", SIGNATURE_HEADER: signature_header(SECRET, body, int(time.time())),
               "Content-Type": "application/json"}
    r = client.post("/webhooks/news", content=body, headers=headers)
    assert r.status_code in (202, 400, 413), (r.status_code, r.text)
    assert not [rec for rec in logs.records if rec.exc_info or rec.levelno >= logging.ERROR], [rec.getMessage() for rec in logs.records]
    if r.status_code == 202:
        assert len(producer.sent) == 1 and r.json()["article_id"] == producer.sent[0]["article_id"]
        assert isinstance(outcome(body, schema), dict)
    else:
        assert producer.sent == []
        answer = r.json()
        assert answer["detail"] and (r.status_code == 413 or answer["reasons"])
