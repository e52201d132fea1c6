"""`uhnw serve hotpath` as a subprocess against the session's real Kafka and PostgreSQL: exactly the expected alerts
once each, garbage dead-lettered, kill -9 mid-stream loses and duplicates nothing, two instances share the work,
a client added to PostgreSQL is matched without a restart, /health and /metrics answer."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
REPO = Path(__file__).resolve().parent.parent
UHNW = str(REPO / ".venv" / "bin" / "uhnw")


# --- fixtures -----------------------------------------------------------------------------------------------------

def _surname(uid: str, salt: str) -> str:
    "A made-up surname unique to the test, so that no other test's client shares it."
    cons, vows = "bdfgklmnprstvz", "aeiou"
    h = uuid.uuid5(uuid.NAMESPACE_DNS, uid + salt).hex
    return "".join(cons[int(h[i:i + 2], 16) % 14] + vows[int(h[i + 2], 16) % 5] for i in range(0, 9, 3)).capitalize() + "ström"


@dataclasses.dataclass
class Env:
    settings: object
    home: Path
    uid: str
    clients: dict  # client_id -> (full name, rm_id)
    procs: list = dataclasses.field(default_factory=list)

    @property
    def env(self) -> dict:
        return {**os.environ, "UHNW_HOME": str(self.home), "UHNW_TOPIC_PREFIX": self.settings.topic_prefix}

    def add_client(self, cid: str, name: str, rm: str) -> None:
        from uhnw.ops import db
        with db.connect(self.settings, autocommit=True) as c:
            c.execute("insert into clients (client_id, full_name, organizations, city, country, rm_id, base_currency) "
                      "values (%s, %s, %s, 'Oslo', 'NO', %s, 'NOK')", (cid, name, [f"{name.split()[-1]} Holdings"], rm))
        self.clients[cid] = (name, rm)

    def start(self, instance: str, port: int, *extra: str) -> subprocess.Popen:
        log = open(self.home / f"hotpath-{self.uid}-{instance}-{len(self.procs)}.log", "w")
        p = subprocess.Popen([UHNW, "serve", "hotpath", "--instance", instance, "--metrics-port", str(port), *extra],
                             env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        p.log_path, p.port = log.name, port
        self.procs.append(p)
        return p


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def hp(stack, model_home):
    "Topics under a fresh prefix, three test clients in PostgreSQL; stops the services and deletes the clients after."
    from confluent_kafka.admin import AdminClient

    from uhnw.bus import client_config, ensure_topics, topic_specs
    from uhnw.ops import db
    uid = uuid.uuid4().hex[:8]
    settings = dataclasses.replace(stack, topic_prefix=f"t{uid}.")
    ensure_topics(AdminClient(client_config(settings)), topic_specs(settings))
    e = Env(settings, model_home, uid, {})
    for i, rm in enumerate(("RM-A", "RM-B", "RM-A")):
        e.add_client(f"HP-{uid}-{i}", f"{['Ilario', 'Sabine', 'Tomas'][i]} {_surname(uid, str(i))}", f"{rm}-{uid}")
    yield e
    for p in e.procs:
        if p.poll() is None:
            p.terminate()
            try: p.wait(20)
            except subprocess.TimeoutExpired: p.kill(); p.wait()
    with db.connect(settings, autocommit=True) as c:
        c.execute("delete from clients where client_id like %s", (f"HP-{uid}-%",))


# --- helpers ------------------------------------------------------------------------------------------------------

def news(article_id: str, headline: str, body: str) -> dict:
    return {"article_id": article_id, "source": "wire-test", "channel": "webhook", "url": f"https://news.test/{article_id}",
            "headline": headline, "body": body, "published_at": datetime(2026, 5, 1, 9, 0, tzinfo=UTC),
            "received_at": datetime.now(UTC)}


def story(aid: str, name: str, kind: int = 0) -> dict:
    "A wealth event about `name` (kind 0: block trade, 1: lawsuit) — relevant; kind 2: a passing mention — not."
    surname = name.split()[-1]
    if kind == 0:
        return news(aid, f"{name} to sell 8% stake in {surname} Logistics in $480 million block trade",
                    f"{name} is selling 8 percent of the company through an accelerated bookbuild. "
                    "The placement is expected to raise about $480 million.")
    if kind == 1:
        return news(aid, f"{name} sued by former partners over $200 million fund dispute",
                    f"Former partners filed a lawsuit against {name} in the High Court, alleging breach of fiduciary duty.")
    return news(aid, "Markets edge lower before rate decision",
                f"Stocks edged lower. \"Rates will stay higher for longer,\" said {name} at a conference.")


def nobody(aid: str) -> dict:
    return news(aid, "Harbour cranes idle as port strike enters third week", "Dock workers kept the cranes idle on Tuesday.")


def produce(settings, events: list[dict], garbage: list[bytes] = (), rate: float | None = None) -> None:
    "Produce NewsEvents (keyed by article id) and raw garbage to raw-news-events; `rate` events/s, else at once."
    from uhnw.bus import EventProducer, topic_name
    topic = topic_name(settings, "raw-news-events")
    t0 = time.monotonic()
    with EventProducer(settings) as p:
        for i, ev in enumerate(events):
            if rate:
                time.sleep(max(0.0, t0 + i / rate - time.monotonic()))
                ev = {**ev, "received_at": datetime.now(UTC)}
            p.send(topic, ev, key=ev["article_id"])
        for g in garbage:
            p.producer.produce(topic, value=g, key=b"garbage")
        p.flush()


def read_alerts(settings, expect: int, timeout: float = 90, settle: float = 3.0) -> list[tuple[str, dict]]:
    "Every committed alert on enriched-alerts (read_committed), waiting for `expect` of them and then `settle` s more."
    from confluent_kafka import Consumer, TopicPartition

    from uhnw.bus import client_config, topic_name
    from uhnw.schemas import AvroCodec
    codec = AvroCodec(settings)
    topic = topic_name(settings, "enriched-alerts")
    c = Consumer({**client_config(settings), "group.id": f"reader-{uuid.uuid4().hex[:6]}", "enable.auto.commit": False,
                  "isolation.level": "read_committed"})
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        c.assign([TopicPartition(topic, p, 0) for p in parts])
        out, deadline, quiet_until = [], time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and m.error() is None:
                out.append((m.key().decode(), codec.decode("enriched-alerts", m.value())))
                if len(out) >= expect: quiet_until = time.monotonic() + settle
            if quiet_until and time.monotonic() > quiet_until: break
        return out
    finally:
        c.close()


def get(port: int, path: str, timeout: float = 5) -> tuple[int, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.status, r.read()


def health(port: int) -> dict:
    return json.loads(get(port, "/health")[1])


def wait_healthy(p: subprocess.Popen, timeout: float = 90, partitions: bool = True) -> dict:
    "Wait until the service answers /health (and has partitions); fail with its log if it died."
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.poll() is not None:
            pytest.fail(f"hotpath exited with {p.returncode}:\n{Path(p.log_path).read_text()[-3000:]}")
        try:
            h = health(p.port)
            if not partitions or h["assigned_partitions"]: return h
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"hotpath not healthy after {timeout}s:\n{Path(p.log_path).read_text()[-3000:]}")


def pg_version(settings) -> str:
    from uhnw.hotpath import VERSION_SQL, master_version
    from uhnw.ops import db
    with db.connect(settings, autocommit=True) as c:
        return master_version(*c.execute(VERSION_SQL).fetchone())


def keys_of(alerts) -> list[str]:
    return sorted(k for k, _ in alerts)


# --- tests --------------------------------------------------------------------------------------------------------

def test_service_produces_exactly_the_expected_alerts_once_and_dead_letters_garbage(hp):
    from uhnw.bus import read_dead_letters, topic_name
    (c0, (n0, rm0)), (c1, (n1, _)), (c2, (n2, _)) = hp.clients.items()
    u = hp.uid
    events = [story(f"{u}-hot0", n0, 0), story(f"{u}-hot1", n1, 1), story(f"{u}-hot2", n2, 0),
              story(f"{u}-pass", n0, 2), nobody(f"{u}-nobody")]
    produce(hp.settings, events, garbage=[b"\x00\x00\x00\x00\x07not avro at all"])
    p = hp.start("a", _free_port())
    wait_healthy(p)
    alerts = read_alerts(hp.settings, expect=3)
    assert keys_of(alerts) == sorted([f"{u}-hot0:{c0}", f"{u}-hot1:{c1}", f"{u}-hot2:{c2}"])
    a = dict(alerts)[f"{u}-hot0:{c0}"]
    assert a["rm_id"] == rm0 and a["relevance"] > 0.8 and a["matched_name"] == n0
    assert a["model_version"].startswith("relevance-hotpath-test+")
    dead = read_dead_letters(hp.settings, topic_name(hp.settings, "raw-news-events"))
    assert len(dead) == 1 and dead[0].stage == "deserialize" and dead[0].key == b"garbage"
    assert "cannot decode" in dead[0].reason and dead[0].source_topic == topic_name(hp.settings, "raw-news-events")
    h = wait_healthy(p)
    assert h["counters"]["events_in"] == 6 and h["counters"]["alerts_out"] == 3 and h["counters"]["dead_letters"] == 1
    assert p.poll() is None  # the garbage did not stop it


def test_health_and_metrics_report_partitions_lag_commit_master_model_and_counters(hp):
    (c0, (n0, _)), *_ = hp.clients.items()
    p = hp.start("h", _free_port())
    wait_healthy(p)
    produce(hp.settings, [story(f"{hp.uid}-m{i}", n0, i % 2) for i in range(4)])
    assert len(read_alerts(hp.settings, expect=4, settle=0.5)) == 4
    h = health(p.port)
    assert h["instance"] == "h" and h["group"] == f"{hp.settings.topic_prefix}uhnw-hotpath"
    assert h["assigned_partitions"] == list(range(hp.settings.default_partitions))
    assert set(h["lag"]) == {str(i) for i in h["assigned_partitions"]} and h["total_lag"] == 0
    assert h["last_commit_at"] and h["seconds_since_commit"] < 60
    assert h["gazetteer"]["source"] == "postgres" and h["gazetteer"]["clients"] >= 3 and h["gazetteer"]["version"]
    assert h["model_version"] == "relevance-hotpath-test"
    assert h["counters"]["transactions_committed"] >= 1 and h["latency"]["n"] == 4 and h["latency"]["p99_ms"] > 0
    status, body = get(p.port, "/metrics")
    text = body.decode()
    assert status == 200
    for line in ("uhnw_hotpath_events_in_total 4.0", "uhnw_hotpath_alerts_out_total 4.0",
                 "uhnw_hotpath_end_to_end_seconds_count 4.0", "uhnw_hotpath_enrich_seconds_count 4.0"):
        assert line in text, line
    for name in ("uhnw_hotpath_transactions_committed_total", "uhnw_hotpath_transactions_aborted_total",
                 "uhnw_hotpath_dead_letters", "uhnw_hotpath_consumer_lag", "uhnw_hotpath_transaction_phase_seconds"):
        assert name in text, name
    p.terminate()  # SIGTERM: finish the transaction in flight, close, exit 0
    assert p.wait(30) == 0 and "stopped" in Path(p.log_path).read_text()


def test_kill_9_mid_stream_and_restart_loses_and_duplicates_no_alert(hp):
    (c0, (n0, _)), (c1, (n1, _)), (c2, (n2, _)) = hp.clients.items()
    u, names = hp.uid, [(c0, n0), (c1, n1), (c2, n2)]
    events, expected = [], []
    for i in range(300):
        if i % 3 == 0:  # a relevant story about one of the clients
            cid, name = names[i % 9 // 3]
            events.append(story(f"{u}-k{i}", name, (i // 3) % 2)); expected.append(f"{u}-k{i}:{cid}")
        elif i % 3 == 1:
            events.append(story(f"{u}-k{i}", names[i % 3][1], 2))
        else:
            events.append(nobody(f"{u}-k{i}"))
    port = _free_port()
    p = hp.start("k", port, "--max-batch", "20")
    wait_healthy(p)
    producer = threading.Thread(target=produce, args=(hp.settings, events), kwargs={"rate": 60})
    producer.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill once it has committed part of the stream
        if health(port)["counters"]["events_in"] >= 80: break
        time.sleep(0.1)
    in_before = health(port)["counters"]["events_in"]
    os.killpg(p.pid, signal.SIGKILL); p.wait()
    assert 0 < in_before < 300, in_before
    time.sleep(1)
    p2 = hp.start("k", port, "--max-batch", "20")
    producer.join()
    wait_healthy(p2)
    alerts = read_alerts(hp.settings, expect=len(expected), timeout=120, settle=5)
    ks = keys_of(alerts)
    assert len(ks) == len(set(ks)), f"duplicates: {len(ks) - len(set(ks))}"
    assert ks == sorted(expected)


def test_two_instances_share_the_partitions_and_produce_each_alert_once(hp):
    (c0, (n0, _)), (c1, (n1, _)), _ = hp.clients.items()
    pa, pb = hp.start("a", _free_port()), hp.start("b", _free_port())
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # both in the group, partitions split between them
        ha, hb = wait_healthy(pa, partitions=False), wait_healthy(pb, partitions=False)
        if ha["assigned_partitions"] and hb["assigned_partitions"]: break
        time.sleep(0.5)
    assert ha["assigned_partitions"] and hb["assigned_partitions"]
    assert not set(ha["assigned_partitions"]) & set(hb["assigned_partitions"])
    assert sorted(ha["assigned_partitions"] + hb["assigned_partitions"]) == list(range(hp.settings.default_partitions))
    events = [story(f"{hp.uid}-s{i}", (n0, n1)[i % 2], i % 2) for i in range(60)]
    produce(hp.settings, events, rate=100)
    alerts = read_alerts(hp.settings, expect=60)
    assert keys_of(alerts) == sorted(f"{hp.uid}-s{i}:{(c0, c1)[i % 2]}" for i in range(60))
    ha, hb = health(pa.port), health(pb.port)
    assert ha["counters"]["alerts_out"] > 0 and hb["counters"]["alerts_out"] > 0
    assert ha["counters"]["alerts_out"] + hb["counters"]["alerts_out"] == 60


def test_a_client_added_to_postgres_is_matched_without_a_restart(hp):
    p = hp.start("r", _free_port(), "--refresh-seconds", "1")
    before = wait_healthy(p)["gazetteer"]
    cid, name = f"HP-{hp.uid}-new", f"Ottilie {_surname(hp.uid, 'new')}"
    produce(hp.settings, [story(f"{hp.uid}-before", name, 0)])  # not a client yet: no alert
    deadline = time.monotonic() + 30
    while health(p.port)["counters"]["events_in"] < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    hp.add_client(cid, name, f"RM-C-{hp.uid}")
    deadline = time.monotonic() + 30
    while health(p.port)["gazetteer"]["version"] != pg_version(hp.settings) and time.monotonic() < deadline:
        time.sleep(0.2)  # the table's version now (another test may change clients too) is the one served
    after = health(p.port)["gazetteer"]
    assert after["version"] != before["version"] and after["clients"] >= before["clients"]
    produce(hp.settings, [story(f"{hp.uid}-after", name, 1)])
    alerts = read_alerts(hp.settings, expect=1)
    assert keys_of(alerts) == [f"{hp.uid}-after:{cid}"] and alerts[0][1]["rm_id"] == f"RM-C-{hp.uid}"
    assert "uhnw_hotpath_master_refreshes_total" in get(p.port, "/metrics")[1].decode()


def test_a_second_process_with_the_same_instance_fences_the_first_which_exits_non_zero(hp):
    (c0, (n0, _)), *_ = hp.clients.items()
    first = hp.start("dup", _free_port())
    wait_healthy(first)
    second = hp.start("dup", _free_port())
    wait_healthy(second, partitions=False)
    produce(hp.settings, [story(f"{hp.uid}-f{i}", n0, i % 2) for i in range(24)])  # keys spread over every partition
    assert first.wait(60) == 2
    assert "fatal Kafka error" in Path(first.log_path).read_text()
    alerts = read_alerts(hp.settings, expect=24)
    assert keys_of(alerts) == sorted(f"{hp.uid}-f{i}:{c0}" for i in range(24))  # the survivor did the rest, once each


def test_service_without_a_promoted_model_exits_with_the_training_command(tmp_path, stack):
    r = subprocess.run([UHNW, "serve", "hotpath", "--instance", "x", "--metrics-port", str(_free_port())],
                       env={**os.environ, "UHNW_HOME": str(tmp_path)}, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "uhnw job run train_relevance --date D -p promote true" in r.stderr


def test_a_batch_waits_out_the_shortest_transaction_interval_and_no_longer():
    "`min_interval_ms` holds a batch open until that long after the last transaction began; a late batch does not wait."
    from uhnw.serve.hotpath import TransactionCycle

    class Message:
        def error(self): return None

    class Consumer:  # hands out one message per poll and records how long `consume` was allowed to wait for more
        def __init__(self): self.waits = []
        def poll(self, timeout): return Message()
        def consume(self, n, timeout): self.waits.append(timeout); return []

    cycle = object.__new__(TransactionCycle)  # no broker: only the batching decision is under test
    cycle.consumer, cycle.rebalances = Consumer(), 0
    cycle.began = time.monotonic()
    assert len(cycle.poll(10, 0, min_interval_ms=50)) == 1
    assert 0.03 < cycle.consumer.waits[-1] <= 0.05  # what is left of the 50 ms since the last transaction began
    cycle.began = time.monotonic() - 1.0  # the last one began long ago: take what is fetched already
    cycle.poll(10, 0, min_interval_ms=50)
    assert cycle.consumer.waits[-1] == 0
    cycle.poll(10, 20, min_interval_ms=0)  # `max_wait_ms` alone, as before
    assert cycle.consumer.waits[-1] == pytest.approx(0.02)
