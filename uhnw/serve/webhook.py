"""`POST /webhooks/news`: signed provider articles → `raw-news-events`, answered 202 only once the broker acknowledged.

Wiring over `uhnw.ingest.news`. The app factory sets on `app.state`:

- `settings`: the `Settings` (topic prefix, schemas dir);
- `webhook_secrets`: `dict[provider, secret]`, from `parse_webhook_secrets(os.environ.get("UHNW_WEBHOOK_SECRETS"))`;
- `news_producer`: an `AckingProducer(settings)` (closed with `await producer.aclose()` / `producer.close()` on shutdown);
- optionally `webhook_replays` (a `ReplayGuard`; created on first use otherwise) and `webhook_tolerance_s` (300).
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from uhnw.bus import base_topic, close_producer, producer_config, topic_name
from uhnw.config import Settings
from uhnw.ingest.news import (
    PROVIDER_HEADER,
    SIGNATURE_HEADER,
    TOLERANCE_S,
    NewsEventInvalid,
    ReplayCacheFull,
    ReplayGuard,
    WebhookRejected,
    news_event_from_payload,
    news_schema,
    verify_webhook,
)
from uhnw.schemas import NEWS_TOPIC, SchemaError

log = logging.getLogger("uhnw.serve.webhook")
router = APIRouter()


class NotAcknowledged(RuntimeError):
    "The broker did not acknowledge a message (delivery error or time-out)."


class TopicMissing(NotAcknowledged):
    "The broker says the topic does not exist: no retry helps until someone creates it."


class AckingProducer:
    "An idempotent Avro producer whose `send` is awaited until the broker acknowledged that very message."

    def __init__(self, settings: Settings, codec=None, delivery_timeout: float = 5.0, **conf):
        from confluent_kafka import Producer
        if codec is None:
            from uhnw.schemas import AvroCodec
            codec = AvroCodec(settings)
        self.settings, self.codec, self.delivery_timeout = settings, codec, delivery_timeout
        # librdkafka gives up (and reports) before we stop waiting, so a 503 is almost always a definite failure
        self.producer = Producer(producer_config(settings, **{"message.timeout.ms": int(delivery_timeout * 1000), **conf}))
        self._stop = threading.Event()
        self._topics: set[str] = set()  # topics the broker has shown to exist
        self._poller = threading.Thread(target=self._poll_loop, name="acking-producer-poll", daemon=True)
        self._poller.start()

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(0.05)  # runs delivery callbacks in this thread, never on the event loop

    def check_topic(self, topic: str, timeout: float = 2.0) -> None:
        """TopicMissing if the broker says `topic` does not exist (a producer would only time out on it, without saying
        why). Asked until the topic is seen once; an unreachable broker is no answer, and `send` reports it."""
        from confluent_kafka import KafkaError, KafkaException
        if topic in self._topics: return
        try:
            meta = self.producer.list_topics(topic, timeout=timeout).topics.get(topic)
        except KafkaException:
            return
        missing = (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC)
        if meta is None or (meta.error is not None and meta.error.code() in missing):
            raise TopicMissing(f"topic {topic} does not exist on the broker: create uhnw's topics with `uhnw topics create`")
        if meta.error is None: self._topics.add(topic)

    async def send(self, topic: str, record: dict, key: str | None = None) -> tuple[int, int]:
        "Encode `record` for `topic` (SchemaError if it does not fit), produce it and return (partition, offset) once acknowledged."
        value = self.codec.encode(base_topic(self.settings, topic), record)
        if topic not in self._topics: await asyncio.to_thread(self.check_topic, topic)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()

        def settle(f: asyncio.Future, outcome) -> None:
            if f.done(): return
            if isinstance(outcome, Exception): f.set_exception(outcome)
            else: f.set_result(outcome)

        def on_delivery(err, msg) -> None:  # librdkafka's thread (our poll loop)
            outcome = NotAcknowledged(str(err)) if err is not None else (msg.partition(), msg.offset())
            loop.call_soon_threadsafe(settle, fut, outcome)

        deadline = time.monotonic() + self.delivery_timeout
        while True:
            try:
                self.producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
                break
            except BufferError:  # local queue full: wait for deliveries to drain
                if time.monotonic() > deadline: raise NotAcknowledged("local producer queue full") from None
                await asyncio.sleep(0.02)
        try:
            return await asyncio.wait_for(fut, max(0.1, deadline - time.monotonic()) + 1.0)
        except TimeoutError:
            raise NotAcknowledged(f"no acknowledgement within {self.delivery_timeout:g} s") from None

    def close(self, timeout: float = 10) -> int:
        "Stop the poll thread, deliver what is queued within `timeout` seconds and close; returns the number of messages dropped."
        self._stop.set()
        self._poller.join(timeout)
        return close_producer(self.producer, timeout)

    async def aclose(self, timeout: float = 10) -> int:
        "`close` without blocking the event loop."
        return await asyncio.to_thread(self.close, timeout)


def _replays(state) -> ReplayGuard:
    guard = getattr(state, "webhook_replays", None)
    if guard is None:
        guard = state.webhook_replays = ReplayGuard(getattr(state, "webhook_tolerance_s", TOLERANCE_S))
    return guard


def _schema(state) -> dict:
    schema = getattr(state, "news_schema", None)
    if schema is None: schema = state.news_schema = news_schema(state.settings.schemas_dir)
    return schema


async def _receive(request: Request, provider: str | None):
    state = request.app.state
    body = await request.body()
    provider = provider or request.headers.get(PROVIDER_HEADER)
    client = request.client.host if request.client else "?"
    try:
        verify_webhook(getattr(state, "webhook_secrets", {}) or {}, provider, request.headers.get(SIGNATURE_HEADER), body,
                       tolerance=getattr(state, "webhook_tolerance_s", TOLERANCE_S), replays=_replays(state))
    except WebhookRejected as e:
        log.warning("webhook refused (401): provider=%r from=%s: %s", provider, client, e)
        return JSONResponse({"detail": f"unauthorized: {e}"}, status_code=401)
    except ReplayCacheFull as e:
        log.error("webhook refused (503): provider=%r: %s", provider, e)
        return JSONResponse({"detail": "busy: replay protection is at capacity, retry later"}, status_code=503)
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        return JSONResponse({"detail": "invalid NewsEvent", "reasons": [f"body is not valid JSON: {e}"]}, status_code=400)
    try:
        record = news_event_from_payload(payload, provider, datetime.now(UTC), _schema(state))
    except NewsEventInvalid as e:
        log.info("webhook invalid (400): provider=%r: %s", provider, e)
        return JSONResponse({"detail": "invalid NewsEvent", "reasons": e.reasons}, status_code=400)
    topic = topic_name(state.settings, NEWS_TOPIC)
    try:
        partition, offset = await state.news_producer.send(topic, record, key=record["article_id"])
    except SchemaError as e:  # the mapping validated already; kept so a schema drift still answers with a reason
        return JSONResponse({"detail": "invalid NewsEvent", "reasons": [str(e)]}, status_code=400)
    except TopicMissing as e:
        log.error("webhook not accepted (503): provider=%r article=%s: %s", provider, record["article_id"], e)
        return JSONResponse({"detail": str(e), "article_id": record["article_id"], "topic": topic}, status_code=503,
                            headers={"Retry-After": "60"})
    except NotAcknowledged as e:
        log.error("webhook not acknowledged (503): provider=%r article=%s: %s", provider, record["article_id"], e)
        return JSONResponse({"detail": f"broker did not acknowledge: {e}", "article_id": record["article_id"]},
                            status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"article_id": record["article_id"], "topic": topic, "partition": partition, "offset": offset},
                        status_code=202)


@router.post("/webhooks/news", status_code=202)
async def news_webhook(request: Request):
    "Accept one signed provider article (provider named by the `X-Uhnw-Provider` header)."
    return await _receive(request, None)


@router.post("/webhooks/news/{provider}", status_code=202)
async def news_webhook_for(provider: str, request: Request):
    "Accept one signed provider article from `provider`."
    return await _receive(request, provider)
