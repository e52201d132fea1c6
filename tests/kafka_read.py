"""Reading a whole topic back in tests: every message from the low to the high watermark of each
partition, without joining a group or committing anything."""
import time
import uuid
from typing import NamedTuple

from confluent_kafka import Consumer, KafkaException, TopicPartition

from uhnw.bus import client_config


class Read(NamedTuple):
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict


def watermarks(consumer, topic: str, partition: int) -> tuple[int, int]:
    "Low and high offsets, retried while a freshly created topic's partition has no leader yet."
    for attempt in range(40):
        try:
            return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        except KafkaException:
            if attempt == 39: raise
            time.sleep(0.25)


def read_messages(settings, topic: str, **conf) -> list[Read]:
    "Every message of `topic`, partition by partition in offset order (`conf`: e.g. an isolation level)."
    consumer = Consumer({**client_config(settings), "group.id": f"read-{uuid.uuid4().hex[:6]}", "enable.auto.commit": False, **conf})
    out = []
    try:
        for p in sorted(consumer.list_topics(topic, timeout=10).topics[topic].partitions):
            low, high = watermarks(consumer, topic, p)
            if high <= low: continue
            consumer.assign([TopicPartition(topic, p, low)])
            while True:
                msg = consumer.poll(10)
                assert msg is not None, f"timed out reading {topic}[{p}]"
                if msg.error(): continue
                out.append(Read(p, msg.offset(), msg.key(), msg.value(), dict(msg.headers() or [])))
                if msg.offset() >= high - 1: break
        return out
    finally:
        consumer.close()
