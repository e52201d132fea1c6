"""`POST /webhooks/news`: signed provider articles → `raw-news-events`, answered 202 only once the broker acknowledged.

Wiring over `uhnw.ingest.news`. The app factory sets on `app.state`:

- `settings`: the `Settings` (topic prefix, schemas dir);
- `webhook_secrets`: `dict[provider, secret]`, from `parse_webhook_secrets(os.environ.get("UHNW_WEBHOOK_SECRETS"))`;
- `news_producer`: an `AckingProducer(settings)` (closed with `await producer.aclose()` / `producer.close()` on shutdown);
- optionally `webhook_backlog`: a started `BacklogMonitor` (admission by the hot path's backlog; none: no admission check);
- optionally `webhook_replays` (a `ReplayGuard`; created on first use otherwise), `webhook_tolerance_s` (300) and
  `webhook_max_body` (`MAX_BODY_BYTES`, 512 KiB).

Answers: 202 once the broker acknowledged; 400 for a body that cannot be read or mapped (every reason, each naming its
field); 401 for a missing or unknown provider, a bad or stale signature, or a replay of an accepted request; 409 while
a request with the same signature is in flight; 413 for a body over the limit (refused while it is read, signed or
not) or an encoded NewsEvent over the producer's message limit; 429 (with `Retry-After`) when the hot path's backlog
would take longer than `webhook_max_backlog_s` to drain (`BacklogMonitor`, `uhnw.ingest.news.admission`); 503 (with
`Retry-After`) when the hot path is not draining it at all, no webhook secrets are configured, the replay set is full
or the broker did not acknowledge. A signature is recorded only once its article is
acknowledged, so a retry after a 503 or a 4xx of a body is accepted (see `uhnw.ingest.news.ReplayGuard`).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from uhnw.bus import base_topic, close_producer, producer_config, topic_name
from uhnw.config import Settings
from uhnw.ingest.news import (
    MAX_BODY_BYTES,
    PROVIDER_HEADER,
    SIGNATURE_HEADER,
    TOLERANCE_S,
    Admission,
    InFlight,
    NewsEventInvalid,
    ReplayCacheFull,
    Replayed,
    ReplayGuard,
    WebhookRejected,
    WebhooksNotConfigured,
    admission,
    news_event_from_payload,
    news_schema,
    parse_body,
    verify_webhook,
)
from uhnw.schemas import NEWS_TOPIC, SchemaError

log = logging.getLogger("uhnw.serve.webhook")
router = APIRouter()


class NotAcknowledged(RuntimeError):
    "The broker did not acknowledge a message (delivery error or time-out)."


class TopicMissing(NotAcknowledged):
    "The broker says the topic does not exist: no retry helps until someone creates it."


class RecordTooLarge(ValueError):
    "An encoded record over the producer's message limit: no retry helps, the sender must shorten it."


class BodyTooLarge(ValueError):
    "A request body over the limit, found while reading it."


LARGE_BODY = 64 * 1024  # bodies from this size on are parsed in a worker thread

# librdkafka counts key, value and headers against `message.max.bytes`; keep room for the record's framing
MESSAGE_OVERHEAD = 512


class AckingProducer:
    "An idempotent Avro producer whose `send` is awaited until the broker acknowledged that very message."

    def __init__(self, settings: Settings, codec=None, delivery_timeout: float = 5.0, **conf):
        from confluent_kafka import Producer
        if codec is None:
            from uhnw.schemas import AvroCodec
            codec = AvroCodec(settings)
        self.settings, self.codec, self.delivery_timeout = settings, codec, delivery_timeout
        # librdkafka gives up (and reports) before we stop waiting, so a 503 is almost always a definite failure
        # linger.ms 0: the 202 waits for this very message's acknowledgement, so waiting to batch it is pure latency (messages
        # that queue behind an in-flight request are still batched)
        config = producer_config(settings, **{"message.timeout.ms": int(delivery_timeout * 1000), "linger.ms": 0, **conf})
        self.max_message_bytes = int(config.get("message.max.bytes", 1_000_000))  # librdkafka's default
        self.producer = Producer(config)
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
        from confluent_kafka import KafkaError, KafkaException
        value = self.codec.encode(base_topic(self.settings, topic), record)
        if (size := len(value) + len((key or "").encode()) + MESSAGE_OVERHEAD) > self.max_message_bytes:
            raise RecordTooLarge(f"the encoded record is {size} bytes, over the producer's limit of {self.max_message_bytes}")
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
            except KafkaException as e:  # refused locally, before sending
                if e.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE: raise RecordTooLarge(str(e)) from None
                raise NotAcknowledged(str(e)) from None
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


class BacklogMonitor:
    """How far behind the hot path is: its consumer group's lag on `raw-news-events` (high watermarks minus committed
    offsets, read every `interval` s by a thread of its own, never on the event loop) and its drain rate (committed
    messages per second, smoothed). `admission()` is then a dictionary read. An unreadable broker is no answer: the last
    reading stands (the producer reports an unreachable broker with its own 503)."""

    def __init__(self, settings: Settings, interval: float = 0.25, smoothing: float = 0.3,
                 stall_s: float = 2.0):  # a backlog with no commit for this long: the hot path is not draining
        from uhnw.serve.hotpath import group_id
        self.settings, self.interval, self.smoothing, self.stall_s = settings, interval, smoothing, stall_s
        self._progress_at = time.monotonic()
        self.topic, self.group = topic_name(settings, NEWS_TOPIC), group_id(settings)
        self.lag, self.drain_per_s, self.read_at = 0, 0.0, 0.0
        self._committed: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-backlog", daemon=True)

    def start(self) -> BacklogMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def admission(self) -> Admission:
        return admission(self.lag, self.drain_per_s, self.settings.webhook_max_backlog_s, self.settings.webhook_min_backlog)

    def _run(self) -> None:
        from confluent_kafka import Consumer, KafkaException, TopicPartition

        from uhnw.bus import client_config
        # a consumer of the hot path's group that never subscribes: it only reads the group's committed offsets
        probe = Consumer({**client_config(self.settings), "group.id": self.group, "enable.auto.commit": False})
        parts: list = []
        last = time.monotonic()
        try:
            while not self._stop.wait(self.interval):
                try:
                    if not parts:
                        meta = probe.list_topics(self.topic, timeout=2).topics.get(self.topic)
                        if meta is None or meta.error is not None: continue
                        parts = [TopicPartition(self.topic, p) for p in sorted(meta.partitions)]
                    committed = probe.committed(parts, timeout=2)
                    high = sum(probe.get_watermark_offsets(tp, timeout=2, cached=False)[1] for tp in parts)
                except KafkaException as e:
                    log.debug("backlog not read: %s", e)
                    continue
                # a group that never committed on a partition has consumed nothing of it (auto.offset.reset earliest)
                done = sum(max(tp.offset, 0) for tp in committed)
                now = time.monotonic()
                if self._committed is not None and now > last:
                    progressed = done - self._committed
                    if progressed > 0: self._progress_at = now
                    if progressed > 0 or self.lag > 0:  # busy: the commit rate is what the hot path can do; idle keeps it
                        self.drain_per_s += self.smoothing * (progressed / (now - last) - self.drain_per_s)
                    if high - done > 0 and now - self._progress_at > self.stall_s: self.drain_per_s = 0.0  # stalled
                self._committed, last = done, now
                self.lag, self.read_at = max(0, high - done), now
        finally:
            probe.close()


def _replays(state) -> ReplayGuard:
    guard = getattr(state, "webhook_replays", None)
    if guard is None:
        guard = state.webhook_replays = ReplayGuard(getattr(state, "webhook_tolerance_s", TOLERANCE_S))
    return guard


def _schema(state) -> dict:
    schema = getattr(state, "news_schema", None)
    if schema is None: schema = state.news_schema = news_schema(state.settings.schemas_dir)
    return schema


async def read_body(request: Request, limit: int) -> bytes:
    "The request body, refused with `BodyTooLarge` as soon as it is known to exceed `limit` bytes (never read whole)."
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body of {int(declared)} bytes is over the limit of {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit: raise BodyTooLarge(f"body is over the limit of {limit} bytes")
    return bytes(body)


def _to_record(body: bytes, provider: str, schema: dict) -> dict:
    return news_event_from_payload(parse_body(body), provider, datetime.now(UTC), schema)


async def _in_thread_if_large(size: int, fn, *args):
    "`fn(*args)` here for a small body, in a worker thread for a large one (parsing 512 KiB takes ~0.1 s: not on the event loop)."
    return fn(*args) if size < LARGE_BODY else await asyncio.to_thread(fn, *args)


def _refuse(status: int, detail: str, provider, client: str, level=logging.WARNING, headers=None, **extra) -> JSONResponse:
    log.log(level, "webhook refused (%d): provider=%r from=%s: %s", status, provider[:64] if provider else None, client, detail)
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


async def _receive(request: Request, provider: str | None):
    state = request.app.state
    provider = provider or request.headers.get(PROVIDER_HEADER)
    client = request.client.host if request.client else "?"
    try:
        body = await read_body(request, getattr(state, "webhook_max_body", MAX_BODY_BYTES))
    except BodyTooLarge as e:  # the rest of the body is never read: close the connection after answering
        return _refuse(413, str(e), provider, client, headers={"Connection": "close"})
    try:
        call = verify_webhook(getattr(state, "webhook_secrets", {}) or {}, provider, request.headers.get(SIGNATURE_HEADER),
                              body, tolerance=getattr(state, "webhook_tolerance_s", TOLERANCE_S))
    except WebhooksNotConfigured as e:
        return _refuse(503, str(e), provider, client, logging.ERROR, {"Retry-After": "60"})
    except WebhookRejected as e:
        return _refuse(401, f"unauthorized: {e}", provider, client)
    backlog = getattr(state, "webhook_backlog", None)
    if backlog is not None and not (verdict := backlog.admission()).admit:  # nothing is read or kept: the sender retries
        return _refuse(verdict.status, f"busy: {verdict.reason}; retry after {verdict.retry_after} s", provider, client,
                       headers={"Retry-After": str(verdict.retry_after)})
    try:
        record = await _in_thread_if_large(len(body), _to_record, body, provider, _schema(state))
    except NewsEventInvalid as e:
        log.info("webhook invalid (400): provider=%r: %s", provider, e)
        return JSONResponse({"detail": "invalid NewsEvent", "reasons": e.reasons}, status_code=400)
    guard = _replays(state)
    try:
        guard.reserve(call.key, call.t)
    except Replayed as e:
        return _refuse(401, f"unauthorized: {e}", provider, client)
    except InFlight as e:
        return _refuse(409, str(e), provider, client, headers={"Retry-After": "1"})
    except ReplayCacheFull as e:
        return _refuse(503, f"busy: replay protection is at capacity, retry later ({e})", provider, client, logging.ERROR,
                       {"Retry-After": "5"})
    try:
        ack = await _produce(state, record, provider, client)
        if ack.status_code == 202: guard.accept(call.key, call.t)
        return ack
    finally:
        guard.release(call.key)  # no-op once accepted; otherwise the same signature may be retried


async def _produce(state, record: dict, provider, client: str) -> JSONResponse:
    "Produce `record` and answer 202 once acknowledged, or the refusal that says why not."
    topic, article_id = topic_name(state.settings, NEWS_TOPIC), record["article_id"]
    try:
        partition, offset = await state.news_producer.send(topic, record, key=article_id)
    except SchemaError as e:  # the mapping validated already; kept so a schema drift still answers with a reason
        return JSONResponse({"detail": "invalid NewsEvent", "reasons": [str(e)]}, status_code=400)
    except RecordTooLarge as e:
        return _refuse(413, f"NewsEvent too large: {e}; shorten body or summary", provider, client, article_id=article_id)
    except TopicMissing as e:
        return _refuse(503, str(e), provider, client, logging.ERROR, {"Retry-After": "60"}, article_id=article_id, topic=topic)
    except NotAcknowledged as e:
        return _refuse(503, f"broker did not acknowledge: {e}", provider, client, logging.ERROR, {"Retry-After": "5"},
                       article_id=article_id)
    return JSONResponse({"article_id": article_id, "topic": topic, "partition": partition, "offset": offset}, status_code=202)


@router.post("/webhooks/news", status_code=202)
async def news_webhook(request: Request):
    "Accept one signed provider article (provider named by the `X-Uhnw-Provider` header)."
    return await _receive(request, None)


@router.post("/webhooks/news/{provider}", status_code=202)
async def news_webhook_for(provider: str, request: Request):
    "Accept one signed provider article from `provider`."
    return await _receive(request, provider)
