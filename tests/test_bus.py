"""The event bus against the real local broker: at-least-once delivery with commits
after processing, restarts without loss or duplication past the committed offset,
and dead-lettering that never stops a consumer."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from uhnw.bus import (
    EventProducer,
    Poison,
    client_config,
    consumer_config,
    dlq_topic,
    ensure_topics,
    read_dead_letters,
    read_topic,
    run_consumer,
    topic_name,
    topic_specs,
)

pytestmark = [pytest.mark.kafka]
REPO = Path(__file__).resolve().parent.parent


def news(i: int) -> dict:
    return {"article_id": f"a-{i:05d}", "source": "wire-test", "headline": f"Headline {i}",
            "body": "Amit Saxena sold a stake.", "received_at": datetime(2025, 1, 1, 9, 0, i % 60, tzinfo=UTC),
            "published_at": None}


def produce_news(settings, ids) -> str:
    topic = topic_name(settings, "raw-news-events")
    with EventProducer(settings) as producer:
        for i in ids:
            producer.send(topic, news(i), key=f"a-{i:05d}")
        producer.flush()
    return topic


def committed_offsets(settings, topic: str, group: str) -> dict[int, int]:
    consumer = Consumer(consumer_config(settings, group))
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {tp.partition: tp.offset for tp in consumer.committed([TopicPartition(topic, p) for p in parts], timeout=10)}
    finally:
        consumer.close()


def test_round_trip_restart_resumes_at_committed_offset_without_loss_or_duplicates(bus):
    topic = produce_news(bus, range(300))
    first, second = [], []
    stats = run_consumer(bus, topic, "g-roundtrip", lambda ev: first.append((ev.partition, ev.offset, ev.value["article_id"])),
                         max_messages=120, idle_timeout=15)
    assert stats.processed == 120 and stats.stopped_by == "max_messages"
    committed = committed_offsets(bus, topic, "g-roundtrip")
    # what was committed is exactly what was processed: per partition, one past the last processed offset
    for part in {p for p, _, _ in first}:
        assert committed[part] == max(o for p, o, _ in first if p == part) + 1

    run_consumer(bus, topic, "g-roundtrip", lambda ev: second.append((ev.partition, ev.offset, ev.value["article_id"])),
                 idle_timeout=3)
    ids = [a for _, _, a in first + second]
    assert len(ids) == len(set(ids)) == 300, "every event exactly once across the restart"
    for part, start in committed.items():
        if start >= 0:
            assert min((o for p, o, _ in second if p == part), default=start) == start
    assert first[0][2].startswith("a-") and isinstance(first[0][1], int)


def test_a_crash_mid_batch_loses_nothing_and_replays_only_the_unfinished_message(bus):
    topic = produce_news(bus, range(50))
    processed, state = [], {"crashed": False}

    def flaky(ev):
        if ev.value["article_id"] == "a-00020" and not state["crashed"]:
            state["crashed"] = True
            raise ConnectionError("postgres unreachable")
        processed.append(ev.value["article_id"])

    with pytest.raises(ConnectionError, match="postgres unreachable"):
        run_consumer(bus, topic, "g-crash", flaky, idle_timeout=10)
    assert "a-00020" not in processed
    run_consumer(bus, topic, "g-crash", flaky, idle_timeout=3)
    assert set(processed) == {f"a-{i:05d}" for i in range(50)}
    assert len(processed) == 50, "messages completed before the crash were committed, so not redelivered"


def test_poison_message_goes_to_dlq_with_reason_and_the_good_ones_around_it_are_processed(bus, cli):
    topic = topic_name(bus, "raw-news-events")
    with EventProducer(bus) as producer:
        producer.send(topic, news(1), key="a-00001")
        producer.flush()
        raw = Producer(client_config(bus))
        raw.produce(topic, key=b"a-bad", value=b'{"article_id": "json-not-avro"}')  # a misconfigured producer
        raw.flush()
        raw.close()
        producer.send(topic, news(2), key="a-00002")
        producer.send(topic, {**news(3), "headline": "POISON"}, key="a-00003")
        producer.flush()

    seen = []

    def handler(ev):
        if ev.value["headline"] == "POISON":
            raise Poison("headline flagged as poison by the handler")
        seen.append(ev.value["article_id"])

    stats = run_consumer(bus, topic, "g-poison", handler, idle_timeout=3)
    assert sorted(seen) == ["a-00001", "a-00002"]
    assert (stats.processed, stats.dead_lettered) == (2, 2)

    letters = read_dead_letters(bus, topic)
    by_key = {d.key: d for d in letters}
    assert set(by_key) == {b"a-bad", b"a-00003"}
    bad = by_key[b"a-bad"]
    assert bad.stage == "deserialize" and "0x7b" in bad.reason and bad.source_topic == topic
    assert bad.value == b'{"article_id": "json-not-avro"}', "the original bytes are kept for replay"
    assert by_key[b"a-00003"].stage == "handler" and "poison" in by_key[b"a-00003"].reason

    env = {**os.environ, "UHNW_TOPIC_PREFIX": bus.topic_prefix}
    shown = cli("dlq", "show", "raw-news-events", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "0x7b" in shown.stdout and "stage=deserialize" in shown.stdout and "key=a-bad" in shown.stdout
    as_json = json.loads(cli("dlq", "show", dlq_topic(topic), "--json", env=env).stdout)
    assert {d["source_offset"] for d in as_json} == {bad.source_offset, by_key[b"a-00003"].source_offset}


def test_topics_are_created_idempotently_with_partitions_and_hot_retention(bus):
    admin = AdminClient(client_config(bus))
    assert set(ensure_topics(admin, topic_specs(bus)).values()) == {"exists"}
    from confluent_kafka.admin import ConfigResource
    name = topic_name(bus, "raw-news-events")
    assert len(admin.list_topics(name, timeout=10).topics[name].partitions) == bus.default_partitions
    cfg = admin.describe_configs([ConfigResource("topic", name)])
    (entries,) = [f.result(10) for f in cfg.values()]
    assert entries["retention.ms"].value == str(7 * 24 * 3600 * 1000)


def test_sigterm_stops_a_consumer_gracefully_after_committing(bus):
    topic = produce_news(bus, range(40))
    script = (
        "import sys, time, dataclasses\n"
        "from uhnw.config import load_settings\n"
        "from uhnw.bus import run_consumer\n"
        "s = load_settings()\n"
        "def slow(ev):\n"
        "    print(ev.value['article_id'], flush=True); time.sleep(0.05)\n"
        f"st = run_consumer(s, {topic!r}, 'g-term', slow, batch_size=5)\n"
        "print('STOPPED', st.stopped_by, st.processed, flush=True)\n")
    env = {**os.environ, "UHNW_TOPIC_PREFIX": bus.topic_prefix}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    lines = []
    deadline = time.monotonic() + 60
    while len(lines) < 10 and time.monotonic() < deadline:
        lines.append(proc.stdout.readline().strip())
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    lines += out.split("\n")
    assert proc.returncode == 0
    stopped = [ln for ln in lines if ln.startswith("STOPPED")]
    assert stopped and stopped[0].split()[1] == "stop"
    done = [ln for ln in lines if ln.startswith("a-")]
    rest = []
    run_consumer(bus, topic, "g-term", lambda ev: rest.append(ev.value["article_id"]), idle_timeout=3)
    assert sorted(set(done) | set(rest)) == [f"a-{i:05d}" for i in range(40)]
    assert not set(done) & set(rest), "what the stopped consumer processed was committed"


def test_consumer_killed_with_sigkill_mid_stream_loses_nothing(bus, tmp_path):
    topic = produce_news(bus, range(200))
    log = tmp_path / "processed.txt"
    script = (
        "import os, time\n"
        "from uhnw.config import load_settings\n"
        "from uhnw.bus import run_consumer\n"
        f"f = open({str(log)!r}, 'a')\n"
        "def h(ev):\n"
        "    f.write(ev.value['article_id'] + '\\n'); f.flush(); os.fsync(f.fileno()); time.sleep(0.01)\n"
        f"run_consumer(load_settings(), {topic!r}, 'g-kill', h, idle_timeout=5, batch_size=20)\n")
    env = {**os.environ, "UHNW_TOPIC_PREFIX": bus.topic_prefix}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    deadline = time.monotonic() + 60
    while (not log.exists() or len(log.read_text().split()) < 60) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait(10)
    assert len(log.read_text().split()) < 200, "killed mid-stream"
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)
    processed = log.read_text().split()
    assert set(processed) == {f"a-{i:05d}" for i in range(200)}, "at-least-once: nothing lost"
    assert len(processed) - 200 <= 20, "at most the uncommitted batch is replayed"


def test_event_producer_refuses_a_record_that_does_not_fit_the_schema(bus):
    from uhnw.schemas import SchemaError
    bad = {k: v for k, v in news(1).items() if k != "headline"}
    with EventProducer(bus) as producer, pytest.raises(SchemaError, match="headline"):
        producer.send(topic_name(bus, "raw-news-events"), bad, key="a-1")


def test_stop_event_from_another_thread_ends_the_loop(bus):
    topic = produce_news(bus, range(5))
    stop = threading.Event()
    got = []

    def h(ev):
        got.append(ev.value["article_id"])
        if len(got) == 5:
            stop.set()

    result = {}
    t = threading.Thread(target=lambda: result.setdefault("s", run_consumer(bus, topic, "g-stop", h, stop=stop)))
    t.start()
    t.join(60)
    assert not t.is_alive() and result["s"].stopped_by == "stop" and len(got) == 5


def test_dead_letter_replayed_twice_arrives_once_in_its_source_topic_and_show_marks_it(bus, cli):
    topic = topic_name(bus, "raw-news-events")
    with EventProducer(bus) as producer:
        producer.send(topic, news(1), key="a-00001", headers=[("trace-id", b"t-1")])
        producer.send(topic, {**news(2), "headline": "POISON"}, key="a-00002", headers=[("trace-id", b"t-2")])
        producer.flush()

    def handler(ev):
        if ev.value["headline"] == "POISON":
            raise Poison("headline flagged as poison by the handler")

    assert run_consumer(bus, topic, "g-replay", handler, idle_timeout=3).dead_lettered == 1
    (dead,) = read_topic(bus, dlq_topic(topic))
    assert dead.headers["trace-id"] == b"t-2", "the dead letter keeps the original headers"
    name = f"{dlq_topic(topic)}[{dead.partition}]@{dead.offset}"
    env = {**os.environ, "UHNW_TOPIC_PREFIX": bus.topic_prefix}

    assert "key=a-00002" in cli("dlq", "show", "raw-news-events", env=env).stdout
    assert "replayed" not in cli("dlq", "show", "raw-news-events", env=env).stdout
    dry = cli("dlq", "replay", "raw-news-events", "--dry-run", env=env)
    assert dry.returncode == 0 and f"would replay {name} -> {topic}" in dry.stdout, dry.stderr
    filtered = cli("dlq", "replay", "raw-news-events", "--reason", "no such reason", env=env)
    assert filtered.returncode == 0 and "0 dead letter(s) replayed" in filtered.stdout, filtered.stderr
    later = cli("dlq", "replay", "raw-news-events", "--since", "2999-01-01T00:00:00", env=env)
    assert later.returncode == 0 and "0 dead letter(s) replayed" in later.stdout, later.stderr

    first = cli("dlq", "replay", "raw-news-events", "--reason", "POISON", env=env)
    assert first.returncode == 0 and f"replayed {name} -> {topic}" in first.stdout, first.stderr
    second = cli("dlq", "replay", "raw-news-events", env=env)
    assert second.returncode == 0 and "0 dead letter(s) replayed" in second.stdout, second.stderr

    replays = [m for m in read_topic(bus, topic) if "dlq.replayed_from" in m.headers]
    assert len(replays) == 1, "a dead letter replayed twice is published once"
    (again,) = replays
    original = [m for m in read_topic(bus, topic) if m.key == b"a-00002" and m not in replays][0]
    assert (again.key, again.value) == (b"a-00002", original.value), "the original bytes and key"
    assert again.headers == {"trace-id": b"t-2", "dlq.replayed_from": name.encode()}, "no dlq.* header but the replay's"

    shown = cli("dlq", "show", "raw-news-events", env=env)
    assert shown.returncode == 0 and "key=a-00002" in shown.stdout and "[replayed " in shown.stdout, shown.stderr
    (as_json,) = json.loads(cli("dlq", "show", "raw-news-events", "--json", env=env).stdout)
    assert as_json["replayed_at"] and (as_json["partition"], as_json["offset"]) == (dead.partition, dead.offset)

    # nothing was fixed: the replayed message is dead-lettered again, and that new dead letter is replayable in its turn
    assert run_consumer(bus, topic, "g-replay", handler, idle_timeout=3).dead_lettered == 1
    shown = json.loads(cli("dlq", "show", "raw-news-events", "--json", env=env).stdout)
    assert [bool(d["replayed_at"]) for d in shown] == [True, False]


def test_dlq_replay_refuses_a_bad_since_and_an_unknown_topic_in_one_line(bus, cli):
    env = {**os.environ, "UHNW_TOPIC_PREFIX": bus.topic_prefix}
    bad = cli("dlq", "replay", "raw-news-events", "--since", "yesterday", env=env)
    assert bad.returncode == 2 and "--since" in bad.stderr and bad.stderr.count("\n") == 1, bad.stderr
    unknown = cli("dlq", "replay", "no-such-topic", env=env, timeout=120)
    assert unknown.returncode == 1 and "does not exist" in unknown.stderr and "Traceback" not in unknown.stderr, unknown.stderr
    assert f"{bus.topic_prefix}no-such-topic.dlq.replayed" not in AdminClient(client_config(bus)).list_topics(timeout=10).topics
