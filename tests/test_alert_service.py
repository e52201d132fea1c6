"""The alert service of `uhnw serve api` through the real broker and PostgreSQL: EnrichedAlerts produced to
`enriched-alerts` are stored once and pushed over `/ws` only to the RMs who cover the client."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from uhnw.alerts import alerts_for_rm, audience, store_alert
from uhnw.auth import LocalVerifier, issue_token
from uhnw.bus import EventProducer, client_config, ensure_topics, topic_name, topic_specs
from uhnw.ops import db
from uhnw.schemas import ALERTS_TOPIC

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
SECRET = b"test-secret-" + b"x" * 40


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class Service:
    settings: object
    base: str  # http://127.0.0.1:PORT
    uid: str
    rm_a: str
    rm_b: str
    clients: dict  # name -> client id
    producer: EventProducer

    @property
    def ws(self) -> str: return self.base.replace("http", "ws", 1) + "/ws"

    def token(self, rm: str, ttl: float = 600) -> str: return issue_token(rm, SECRET, ttl=ttl)

    def produce(self, *pairs: tuple[str, str], rm_claim: str = "RM-WRONG") -> list[str]:
        "Produce one EnrichedAlert per (article id, client name); returns the article ids."
        topic = topic_name(self.settings, ALERTS_TOPIC)
        for article, name in pairs:
            cid = self.clients[name]
            rec = {"alert_id": f"{article}:{cid}", "article_id": article, "client_id": cid, "rm_id": rm_claim,
                   "headline": f"News {article}", "summary": "Something material happened.", "relevance": 0.9,
                   "resolution_score": 0.97, "mention": "Someone", "matched_name": None, "event_type": "liquidity",
                   "source": "test", "url": None, "published_at": None, "processed_at": datetime.now(UTC), "model_version": "t"}
            self.producer.send(topic, rec, key=f"{article}:{cid}")
        self.producer.flush()
        return [a for a, _ in pairs]

    def rows(self, articles: list[str]) -> list[tuple]:
        with db.connect(self.settings) as c:
            return c.execute("select alert_id, article_id, client_id from alerts where article_id = any(%s) order by alert_id",
                             (articles,)).fetchall()

    def wait_stored(self, articles: list[str], n: int, timeout: float = 30) -> list[tuple]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(rows := self.rows(articles)) >= n: return rows
            time.sleep(0.1)
        raise AssertionError(f"only {len(self.rows(articles))} of {n} alerts stored")


@pytest.fixture(scope="module")
def service(stack):
    uid = uuid.uuid4().hex[:8]
    s = dataclasses.replace(stack, topic_prefix=f"t{uid}.")
    from confluent_kafka.admin import AdminClient
    ensure_topics(AdminClient(client_config(s)), topic_specs(s))
    db.migrate(s)
    rm_a, rm_b = f"RM-A-{uid}", f"RM-B-{uid}"
    clients = {"a1": f"C-{uid}-a1", "b1": f"C-{uid}-b1", "a2": f"C-{uid}-a2", "nobody": f"C-{uid}-nobody"}
    with db.connect(s, autocommit=True) as c:
        for name, cid, rm in [("a1", clients["a1"], rm_a), ("b1", clients["b1"], rm_b), ("a2", clients["a2"], None),
                              ("nobody", clients["nobody"], None)]:
            c.execute("insert into clients (client_id, full_name, rm_id) values (%s, %s, %s)", (cid, f"Client {name}", rm))
        c.execute("insert into rm_coverage (rm_id, client_id) values (%s, %s)", (rm_a, clients["a2"]))  # A covers a2 via coverage only
    from uhnw.serve.app import create_app
    port = _free_port()
    app = create_app(s, verifier=LocalVerifier(SECRET), port=port)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("UHNW_WEBHOOK_SECRETS", raising=False)  # read at start-up: this API has no webhook secrets
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the API did not start"
            time.sleep(0.05)
    producer = EventProducer(s)
    try:
        yield Service(s, f"http://127.0.0.1:{port}", uid, rm_a, rm_b, clients, producer)
    finally:
        producer.close()
        server.should_exit = True
        thread.join(20)
        with db.connect(s, autocommit=True) as c:
            c.execute("delete from alerts where client_id = any(%s)", (list(clients.values()),))
            c.execute("delete from clients where client_id = any(%s)", (list(clients.values()),))


async def _open(svc: Service, rm: str, last: int | None = None, token: str | None = None):
    "Connect as `rm` (token in the subprotocol) and read up to the `live` marker; returns (socket, frames before it)."
    url = svc.ws + (f"?last_alert_id={last}" if last is not None else "")
    ws = await connect(url, subprotocols=["uhnw.bearer", token or svc.token(rm)])
    hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert hello["type"] == "hello" and hello["rm_id"] == rm
    replayed = []
    while (f := json.loads(await asyncio.wait_for(ws.recv(), 10)))["type"] != "live":
        replayed.append(f)
    assert f["replayed"] == len(replayed)
    return ws, replayed


async def _collect(ws, want: int, timeout: float = 20, settle: float = 1.0) -> list[dict]:
    "Alert frames until `want` arrived (then `settle` more seconds to catch extras) or `timeout`."
    out, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        wait = settle if len(out) >= want else deadline - time.monotonic()
        try:
            out.append(json.loads(await asyncio.wait_for(ws.recv(), max(wait, 0.01))))
        except TimeoutError:
            if len(out) >= want: break
    return out


async def _refused(svc: Service, query: str = "", **connect_kw) -> tuple[int, str]:
    "The close code and reason of a socket the server refuses."
    async with connect(svc.ws + query, **connect_kw) as ws:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        return ws.close_code, ws.close_reason


def test_each_rm_receives_exactly_the_alerts_of_the_clients_they_cover(service):
    u = service.uid

    async def run():
        a, _ = await _open(service, service.rm_a)
        b, _ = await _open(service, service.rm_b)
        arts = service.produce((f"x1-{u}", "a1"), (f"x2-{u}", "b1"), (f"x3-{u}", "a2"), (f"x4-{u}", "nobody"),
                               (f"x1-{u}", "a1"))  # the last one is a duplicate of the first
        got_a, got_b = await asyncio.gather(_collect(a, 2), _collect(b, 1))
        await a.close(); await b.close()
        return arts, got_a, got_b

    arts, got_a, got_b = asyncio.run(run())
    c = service.clients
    assert sorted((f["article_id"], f["client_id"]) for f in got_a) == [(f"x1-{u}", c["a1"]), (f"x3-{u}", c["a2"])]
    assert [(f["article_id"], f["client_id"]) for f in got_b] == [(f"x2-{u}", c["b1"])]
    assert all(f["type"] == "alert" and f["event_type"] == "liquidity" for f in got_a + got_b)
    rows = service.wait_stored(arts, 4)
    assert len(rows) == 4  # the duplicate was stored once; the uncovered client's alert is stored but pushed to no one
    assert {f["alert_id"] for f in got_a + got_b} <= {r[0] for r in rows}


def _ws_audit_since(svc: Service, after_id: int) -> dict[str, list[set[str]]]:
    "actor -> the client ids of each socket audit row after `after_id`, of this module's RMs."
    with db.connect(svc.settings) as c:
        rows = c.execute("select actor, client_ids from audit_log where id > %s and surface = 'ws' and operation = 'WS /ws' "
                         "and actor = any(%s) order by id", (after_id, [svc.rm_a, svc.rm_b])).fetchall()
    out: dict[str, list[set[str]]] = {}
    for actor, ids in rows: out.setdefault(actor, []).append(set(ids))
    return out


def test_live_frames_are_audited_per_user_with_exactly_the_clients_sent(service):
    "Two tabs of RM A and one of RM B: each user's live frames are named by audit rows, never another RM's client."
    u, c = service.uid, service.clients
    with db.connect(service.settings) as conn:
        before = conn.execute("select coalesce(max(id), 0) from audit_log").fetchone()[0]

    async def run():
        a1, _ = await _open(service, service.rm_a)
        a2, _ = await _open(service, service.rm_a)
        b, _ = await _open(service, service.rm_b)
        service.produce((f"au1-{u}", "a1"), (f"au2-{u}", "b1"), (f"au3-{u}", "a2"), (f"au4-{u}", "nobody"))
        got = await asyncio.gather(_collect(a1, 2), _collect(a2, 2), _collect(b, 1))
        for ws in (a1, a2, b): await ws.close()
        return got

    got_a1, got_a2, got_b = asyncio.run(run())
    assert {f["client_id"] for f in got_a1} == {f["client_id"] for f in got_a2} == {c["a1"], c["a2"]}
    assert {f["client_id"] for f in got_b} == {c["b1"]}
    audited = _ws_audit_since(service, before)
    assert set().union(*audited[service.rm_a]) == {c["a1"], c["a2"]}  # both tabs' frames, and nothing of B's or nobody's
    assert set().union(*audited[service.rm_b]) == {c["b1"]}
    # the feed writes one row per user and run, not one per tab: RM A's two sockets got their frames in as many rows as RM B's one
    assert len(audited[service.rm_a]) <= 2 and all(ids for ids in audited[service.rm_a])


def test_a_session_audits_a_run_itself_unless_the_feed_audited_its_user_with_it():
    "`stream_alerts` sends a run the feed audited for its user at once, and writes the audit row of any other run first."
    from uhnw.access import User
    from uhnw.alerts import latest_alert_id
    from uhnw.serve.alerts import EVERY_CLIENT, AlertMetrics, Hub, Pushed, frames_by_reader, stream_alerts

    rm = User("RM-X", "rm")
    events: list[tuple] = []

    class Pool:  # the session asks only for the newest alert id before it goes live
        async def run(self, fn, *args):
            assert fn is latest_alert_id
            return 0

    class Audits:
        async def record(self, user, client_ids): events.append(("audit", user.user_id, frozenset(client_ids)))

    async def send(text: str):
        events.append(("send", json.loads(text).get("alert_id")))

    def frame(i: int, client: str) -> Pushed:
        f = {"type": "alert", "alert_id": i, "client_id": client}
        return Pushed(i, client, f, json.dumps(f))

    async def run():
        hub = Hub()
        task = asyncio.create_task(stream_alerts(send, rm.user_id, None, hub, Pool(), AlertMetrics(), audits=Audits(), user=rm))
        while not hub.readers: await asyncio.sleep(0.01)
        assert hub.readers == {"RM-X": frozenset({rm})}  # what the feed's thread reads to audit the run it reads
        hub.push(0, 1, {"RM-X": (frame(1, "C1"),)}, audited=frozenset({rm}))
        hub.push(1, 3, {"RM-X": (frame(2, "C2"),), "RM-OTHER": (frame(3, "C9"),)})
        while len(events) < 4: await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # anything more would show up here
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return hub

    hub = asyncio.run(run())
    assert events == [("send", None),  # the live marker
                      ("send", 1),  # audited with its run by the feed: sent at once
                      ("audit", "RM-X", frozenset({"C2"})), ("send", 2)]  # not audited with its run: the session's own row first
    assert hub.readers == {}  # the closed session is gone from the snapshot
    by_reader = frames_by_reader([{"client_id": "C2"}, {"client_id": "C9"}, {"client_id": "C0"}], {"C2": ["RM-X"], "C9": ["RM-OTHER"]})
    assert dict(by_reader) == {"RM-X": [{"client_id": "C2"}], "RM-OTHER": [{"client_id": "C9"}],
                               EVERY_CLIENT: [{"client_id": "C2"}, {"client_id": "C9"}, {"client_id": "C0"}]}  # compliance: all


def test_unauthenticated_invalid_and_expired_tokens_are_refused_with_4401(service):
    async def run():
        return {
            "none": await _refused(service),
            "garbage": await _refused(service, subprotocols=["uhnw.bearer", "not.a.token"]),
            "expired": await _refused(service, subprotocols=["uhnw.bearer", service.token(service.rm_a, ttl=-60)]),
            "foreign": await _refused(service, additional_headers={"Authorization": "Bearer " + issue_token(service.rm_a, b"z" * 48)}),
        }
    out = asyncio.run(run())
    assert out["none"] == (4401, "missing token")
    assert out["garbage"] == (4401, "malformed token")
    assert out["expired"] == (4401, "token expired")
    assert out["foreign"][0] == 4401 and "signature" in out["foreign"][1]


def test_a_socket_is_closed_when_its_token_expires(service):
    async def run():
        ws, _ = await _open(service, service.rm_a, token=service.token(service.rm_a, ttl=2))
        t0 = time.monotonic()
        with pytest.raises(ConnectionClosed):
            while True: await asyncio.wait_for(ws.recv(), 10)
        return ws.close_code, ws.close_reason, time.monotonic() - t0
    code, reason, took = asyncio.run(run())
    assert (code, reason) == (4401, "token expired") and took < 5


def test_reconnect_with_last_alert_id_receives_exactly_what_was_missed(service):
    u = service.uid

    async def run():
        ws, _ = await _open(service, service.rm_b)
        service.produce((f"r1-{u}", "b1"))
        first = await _collect(ws, 1)
        await ws.close()  # the laptop sleeps ...
        missed = service.produce((f"r2-{u}", "b1"), (f"r3-{u}", "a1"), (f"r4-{u}", "b1"))  # r3 belongs to RM A
        service.wait_stored(missed, 3)
        ws, replayed = await _open(service, service.rm_b, last=first[-1]["alert_id"])
        service.produce((f"r5-{u}", "b1"), (f"r2-{u}", "b1"))  # a new one, and a redelivery of a replayed one
        live = await _collect(ws, 1)
        await ws.close()
        return first, replayed, live

    first, replayed, live = asyncio.run(run())
    assert [f["article_id"] for f in first] == [f"r1-{u}"]
    assert sorted(f["article_id"] for f in replayed) == [f"r2-{u}", f"r4-{u}"]
    assert [f["article_id"] for f in live] == [f"r5-{u}"]
    ids = [f["alert_id"] for f in first + replayed + live]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_get_alerts_returns_only_the_callers_alerts_and_requires_a_token(service):
    u = service.uid
    arts = service.produce((f"g1-{u}", "a1"), (f"g2-{u}", "b1"), (f"g3-{u}", "a2"))
    rows = service.wait_stored(arts, 3)
    first = rows[0][0] - 1
    with httpx.Client(base_url=service.base, timeout=10) as http:
        assert http.get("/alerts").status_code == 401
        assert http.get("/alerts", headers={"Authorization": "Bearer " + service.token(service.rm_a, ttl=-5)}).status_code == 401
        r = http.get("/alerts", params={"after": first}, headers={"Authorization": "Bearer " + service.token(service.rm_a)})
        page = http.get("/alerts", params={"after": first, "limit": 1}, headers={"Authorization": "Bearer " + service.token(service.rm_a)})
    assert r.status_code == 200
    body = r.json()
    assert body["rm_id"] == service.rm_a
    assert sorted(a["article_id"] for a in body["alerts"]) == [f"g1-{u}", f"g3-{u}"]  # partitions may reorder them
    ids = [a["alert_id"] for a in body["alerts"]]
    assert ids == sorted(ids) and body["last_alert_id"] == ids[-1]
    assert page.json()["alerts"] == body["alerts"][:1]


def test_health_and_metrics_report_the_feed(service):
    with httpx.Client(base_url=service.base, timeout=10) as http:
        deadline = time.monotonic() + 15
        while (h := http.get("/health")).json()["consumer"]["stats_at"] is None and time.monotonic() < deadline:
            time.sleep(0.2)
        m = http.get("/metrics")
    assert h.status_code == 200
    body = h.json()
    assert body["status"] == "ok" and body["consumer"]["alive"] and body["db"]["reachable"]
    assert body["consumer"]["group"].startswith(service.settings.topic_prefix + "uhnw-alert-api-")
    assert isinstance(body["consumer"]["lag"], dict) and all(v >= 0 for v in body["consumer"]["lag"].values())
    assert m.status_code == 200
    for name in ("uhnw_alerts_consumed_total", "uhnw_alerts_stored_total", "uhnw_alerts_duplicates_total", "uhnw_alerts_pushed_total",
                 "uhnw_alert_sockets_open", "uhnw_alert_push_latency_seconds_bucket"):
        assert name in m.text, name


def test_store_alert_is_idempotent_and_visibility_follows_coverage(service):
    s, u, c = service.settings, service.uid, service.clients
    rec = {"article_id": f"s1-{u}", "client_id": c["a2"], "rm_id": service.rm_b, "headline": "h", "summary": "s", "relevance": 0.9,
           "resolution_score": 1.0, "source": "t", "processed_at": datetime.now(UTC), "model_version": "t", "event_type": "other"}
    with db.connect(s, autocommit=True) as conn:
        first, again = store_alert(conn, rec), store_alert(conn, rec)
        assert first.created and not again.created and again.alert_id == first.alert_id
        assert audience(conn, c["a2"]) == [service.rm_a]  # the message's rm_id (RM B) grants nothing
        assert audience(conn, c["nobody"]) == []
        assert [f["article_id"] for f in alerts_for_rm(conn, service.rm_a, first.alert_id - 1)] == [f"s1-{u}"]
        assert alerts_for_rm(conn, service.rm_b, first.alert_id - 1) == []


def test_the_news_webhook_is_served_by_the_same_app_and_says_that_no_secrets_are_configured(service):
    with httpx.Client(base_url=service.base, timeout=10) as http:
        r = http.post("/webhooks/news", content=b"{}", headers={"X-Uhnw-Provider": "newswire"})
    # routed to the webhook, which says why it refuses every provider (not "unknown provider 'newswire'")
    assert (r.status_code, r.json()["detail"]) == (503, "no webhook secrets configured (UHNW_WEBHOOK_SECRETS)")


def test_a_last_alert_id_past_the_newest_alert_is_refused_with_4400_naming_the_newest(service):
    u = service.uid
    arts = service.produce((f"c1-{u}", "a1"))
    service.wait_stored(arts, 1)
    with db.connect(service.settings) as c:
        newest = c.execute("select max(alert_id) from alerts").fetchone()[0]  # other tests' alerts count too
    ahead = newest + 1_000_000
    token = ["uhnw.bearer", service.token(service.rm_a)]

    async def run():
        return (await _refused(service, f"?last_alert_id={ahead}", subprotocols=token),
                await _refused(service, f"?last_alert_id={10 ** 30}", subprotocols=token),
                await _refused(service, "?last_alert_id=-1", subprotocols=token))
    past, huge, negative = asyncio.run(run())
    assert past[0] == 4400 and past[1].startswith(f"last_alert_id {ahead} is past the newest alert (")
    assert huge == (4400, f"last_alert_id must be at most {2 ** 63 - 1}")
    assert negative == (4400, "last_alert_id must be a non-negative integer")
    with httpx.Client(base_url=service.base, timeout=10) as http:
        r = http.get("/alerts", params={"after": ahead}, headers={"Authorization": "Bearer " + service.token(service.rm_a)})
    assert r.status_code == 400 and r.json()["detail"].startswith(f"after {ahead} is past the newest alert (")

    async def at_newest():  # the newest id itself is a valid cursor: the session goes live
        ws, replayed = await _open(service, service.rm_a, last=newest)
        await ws.close()
        return replayed
    assert asyncio.run(at_newest()) == []


def test_token_issue_prints_a_token_the_local_verifier_accepts(stack):
    import typer
    from typer.testing import CliRunner

    from uhnw.auth import local_secret
    from uhnw.cli.serve import token_app
    cli = typer.Typer()
    cli.add_typer(token_app, name="token")
    r = CliRunner().invoke(cli, ["token", "issue", "--rm", "RM-01", "--ttl", "120"])
    assert r.exit_code == 0, r.output
    p = LocalVerifier(local_secret(stack)).verify_token(r.output.strip())
    assert p.rm_id == "RM-01" and 100 < p.seconds_left() <= 120



@pytest.mark.parametrize("ttl", ["0", "-60"])
def test_token_issue_refuses_a_ttl_that_is_not_positive(ttl):
    import typer
    from typer.testing import CliRunner

    from uhnw.cli.serve import token_app
    cli = typer.Typer()
    cli.add_typer(token_app, name="token")
    r = CliRunner().invoke(cli, ["token", "issue", "--rm", "RM-01", "--ttl", ttl])
    assert r.exit_code == 1 and r.stdout == ""  # no token, expired at birth, is printed
    assert f"error: --ttl must be a positive number of seconds (got {ttl})" in r.stderr
