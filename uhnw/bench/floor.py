"""The hot path's physical floor on this machine, measured in the same run as `uhnw bench hot`.

The same hops as the real path with no work in between: the bench produces a message (idempotent, acks=all) and
waits for its acknowledgement (the webhook's 202); a relay process consumes it (read_committed) and produces it again
in a Kafka transaction that also commits the consumed offsets (the hot path, without enrichment); a sink process
consumes that (read_committed), inserts one row per message into PostgreSQL and commits (the alert feed), then writes
the message's id to a socket the bench reads (the RM's WebSocket frame). Latency is acknowledgement → socket read, as
the real bench's is 202 → frame, so `p99 / floor_p99` is a ratio that holds on a noisy machine.
"""
from __future__ import annotations

import multiprocessing
import socket
import threading
import time
from dataclasses import dataclass

from uhnw.config import Settings

PAYLOAD_BYTES = 2048  # about a news article's encoded size


def _relay(settings: Settings, src: str, dst: str, group: str, txn_id: str, ready, stop) -> None:
    "Consume `src` and re-produce each message to `dst` in one transaction per batch with the consumed offsets."
    from confluent_kafka import Consumer, Producer, TopicPartition

    from uhnw.bus import consumer_config, producer_config
    consumer = Consumer(consumer_config(settings, group, **{"fetch.wait.max.ms": 10}))
    from uhnw.serve.hotpath import TXN_RETRY_BACKOFF
    producer = Producer(producer_config(settings, **{"transactional.id": txn_id, "linger.ms": 0, **TXN_RETRY_BACKOFF}))
    producer.init_transactions(30)
    consumer.subscribe([src], on_assign=lambda c, parts: ready.set())
    while not stop.is_set():
        first = consumer.poll(0.1)
        if first is None or first.error(): continue
        batch = [first, *consumer.consume(500, timeout=0)]
        producer.begin_transaction()
        offsets: dict[int, int] = {}
        for m in batch:
            if m.error(): continue
            producer.produce(dst, value=m.value(), key=m.key())
            offsets[m.partition()] = m.offset() + 1
        producer.send_offsets_to_transaction([TopicPartition(src, p, o) for p, o in offsets.items()],
                                             consumer.consumer_group_metadata(), 10)
        producer.commit_transaction(10)
    consumer.close()


def _sink(settings: Settings, src: str, group: str, table: str, port: int, ready, stop) -> None:
    "Consume `src`, insert a row per message into PostgreSQL in one transaction per batch, then write each id to the socket."
    from confluent_kafka import Consumer

    from uhnw.bus import consumer_config
    from uhnw.ops.db import connect
    consumer = Consumer(consumer_config(settings, group, **{"fetch.wait.max.ms": 10}))
    conn = connect(settings, autocommit=True)
    out = socket.create_connection(("127.0.0.1", port))
    out.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    consumer.subscribe([src], on_assign=lambda c, parts: ready.set())
    while not stop.is_set():
        first = consumer.poll(0.1)
        if first is None or first.error(): continue
        batch = [m for m in [first, *consumer.consume(500, timeout=0)] if not m.error()]
        ids = [m.key().decode() for m in batch]
        with conn.transaction():
            conn.execute(f"insert into {table} (id, body) select * from unnest(%s::text[], %s::bytea[])",
                         (ids, [m.value() for m in batch]))
        consumer.commit(asynchronous=True)
        out.sendall("".join(f"{i}\n" for i in ids).encode())
    consumer.close()
    conn.close()
    out.close()


@dataclass
class FloorResult:
    sent: int
    received: int
    latencies_ms: list[float]  # measured window only (after warm-up)


def measure_floor(settings: Settings, rate: float, duration: float, warmup: float = 3.0) -> FloorResult:
    "Run the floor pipeline at `rate` messages/s for `warmup` + `duration` seconds; latencies of the measured window."
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from uhnw.bus import client_config, producer_config
    from uhnw.ops.db import connect
    tag = f"{settings.topic_prefix}floor{time.strftime('%H%M%S')}"
    src, dst, table = f"{tag}.in", f"{tag}.out", "bench_floor"
    admin = AdminClient(client_config(settings))
    for f in admin.create_topics([NewTopic(t, settings.default_partitions, 1) for t in (src, dst)]).values(): f.result(30)
    with connect(settings, autocommit=True) as conn:
        conn.execute(f"create table if not exists {table} (id text not null, body bytea, at timestamptz default now())")
        conn.execute(f"truncate {table}")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    ctx = multiprocessing.get_context("spawn")
    stop, relay_ready, sink_ready = ctx.Event(), ctx.Event(), ctx.Event()
    procs = [ctx.Process(target=_relay, args=(settings, src, dst, f"{tag}-relay", f"{tag}-relay", relay_ready, stop), daemon=True),
             ctx.Process(target=_sink, args=(settings, dst, f"{tag}-sink", table, port, sink_ready, stop), daemon=True)]
    for p in procs: p.start()
    acked: dict[str, float] = {}
    received: dict[str, float] = {}
    listener.settimeout(60)
    conn_in, _ = listener.accept()

    def read_socket():
        buf = b""
        while True:
            try: chunk = conn_in.recv(65536)
            except OSError: return
            if not chunk: return
            now = time.time()
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines: received.setdefault(line.decode(), now)
    reader = threading.Thread(target=read_socket, daemon=True)
    reader.start()
    try:
        if not (relay_ready.wait(60) and sink_ready.wait(60)): raise TimeoutError("the floor's relay and sink were not assigned")
        producer = Producer(producer_config(settings, **{"linger.ms": 0}))

        def on_delivery(err, msg):
            if err is None: acked[msg.key().decode()] = time.time()
        poller_stop = threading.Event()

        def poll():
            while not poller_stop.is_set(): producer.poll(0.05)
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        n, body = int(rate * (warmup + duration)), b"x" * PAYLOAD_BYTES
        t0 = time.perf_counter()
        for i in range(n):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0: time.sleep(delay)
            producer.produce(src, value=body, key=f"m{i:07d}", on_delivery=on_delivery)
        producer.flush(30)
        poller_stop.set(); poller.join()
        deadline = time.monotonic() + 30
        while len(received) < len(acked) and time.monotonic() < deadline: time.sleep(0.05)
    finally:
        stop.set()
        for p in procs:
            p.join(15)
            if p.is_alive(): p.kill()
        conn_in.close(); listener.close()
        admin.delete_topics([src, dst])
    skip = int(rate * warmup)
    lat = [1000 * (received[k] - acked[k]) for k in sorted(acked) if k in received and int(k[1:]) >= skip]
    return FloorResult(sent=len(acked), received=len(set(received) & set(acked)), latencies_ms=lat)
