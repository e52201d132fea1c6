"""The Real-Time Alert Flow end to end, through the real broker and PostgreSQL: signed articles posted
to the webhook, `uhnw serve hotpath` enriching them exactly once, `uhnw serve api` storing and pushing
alerts, two RMs connected by WebSocket. Each RM gets exactly the alerts for their own clients;
passing mentions and articles about nobody produce nothing; bad signatures are refused; with the hot path down
the webhook refuses past its backlog and loses nothing it accepted. (A broker restart mid-stream, with the other
faults, is `tests/test_chaos.py`.)"""
import dataclasses
import json
import time
import uuid

import httpx
import pytest
from confluent_kafka.admin import AdminClient

from uhnw.bench.harness import RmListener, post_signed, rm_token, start_hot_services
from uhnw.bus import client_config, ensure_topics, topic_specs
from uhnw.ingest.news import PROVIDER_HEADER, SIGNATURE_HEADER, signature_header
from uhnw.ops.db import connect

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def _name(salt: str) -> str:
    "A made-up full name no other test uses (first name + surname built from a uuid)."
    h = uuid.uuid4().hex
    cons, vows = "bdfgklmnprstvz", "aeiou"
    word = lambda i: "".join(cons[int(h[j:j + 2], 16) % 14] + vows[int(h[j + 2], 16) % 5] for j in range(i, i + 9, 3))
    return f"{word(0).capitalize()} {word(12).capitalize()}{salt}"


@pytest.fixture
def hot(stack, model_home, tmp_path):
    "Services on a topic prefix of this test's own, two RMs with one client each, their WebSockets open."
    settings = dataclasses.replace(stack, home=model_home, topic_prefix=f"e2e{uuid.uuid4().hex[:8]}.")
    ensure_topics(AdminClient(client_config(settings)), topic_specs(settings))
    uid = uuid.uuid4().hex[:6]
    book = {f"E2E-{uid}-A": (_name("sen"), f"RM-A-{uid}"), f"E2E-{uid}-B": (_name("berg"), f"RM-B-{uid}")}
    with connect(settings, autocommit=True) as conn:
        for cid, (name, rm) in book.items():
            conn.execute("insert into clients (client_id, full_name, city, country, rm_id, base_currency) "
                         "values (%s, %s, 'Oslo', 'Norway', %s, 'NOK')", (cid, name, rm))
    services = start_hot_services(settings, tmp_path / "logs")
    rms = {rm: RmListener(services.api_url, rm, rm_token(settings, rm)).start() for _, rm in book.values()}
    yield settings, services, book, rms
    for listener in rms.values(): listener.stop()
    services.stop()


def story(aid: str, name: str, kind: str) -> dict:
    surname = name.split()[-1]
    text = {
        "event": (f"{name} sued by former partners over {surname} Holdings payout",
                  f"Former partners of {surname} Holdings have sued {name} in an Oslo court, seeking damages of $ 300 million. "
                  f"The lawsuit claims {surname} withheld dividends."),
        "passing": ("Oslo stocks close higher as tech rebounds",
                    f"Shares in Oslo closed higher on Tuesday. Traders, among them a fund backed by {name}, said volumes were thin."),
        "market": ("Central bank holds rates steady", "The central bank kept its policy rate unchanged, in line with forecasts."),
    }[kind]
    return {"id": aid, "source": "newswire", "url": f"https://news.example/{aid}", "headline": text[0], "body": text[1]}


def frames_by_rm(rms) -> dict[str, set[tuple[str, str]]]:
    return {rm: {(f.alert["article_id"], f.alert["client_id"]) for f in listener.frames} for rm, listener in rms.items()}


def wait_for(rms, want: dict, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = frames_by_rm(rms)
        if all(want[rm] <= got[rm] for rm in want): break
        time.sleep(0.2)
    time.sleep(1.5)  # anything extra (a duplicate, a wrong RM) would arrive by now
    return frames_by_rm(rms)


def delivery_report(got: dict, want: dict, rms, services) -> str:
    "What a failed delivery check needs to be understood: per RM what is missing or extra, the sockets, the services' own log lines."
    lines = [f"{rm}: missing {sorted(want[rm] - got[rm])}, extra {sorted(got[rm] - want[rm])}, socket ended by {rms[rm].ended_by!r}"
             for rm in want]
    for log in sorted(services.logs.glob("*.log")):  # librdkafka's own lines (%N|...) are the broker being away: left out
        lines += [f"{log.name}: {line}" for line in log.read_text(errors="replace").splitlines()
                  if line.strip() and not line.startswith("%")][-40:]
    return "\n".join(lines)


def test_each_rm_gets_exactly_the_alerts_for_their_clients_and_nothing_else(hot):
    settings, services, book, rms = hot
    (a_id, (a_name, a_rm)), (b_id, (b_name, b_rm)) = book.items()
    run = uuid.uuid4().hex[:6]
    articles = [story(f"{run}-a1", a_name, "event"), story(f"{run}-b1", b_name, "event"), story(f"{run}-a2", a_name, "passing"),
                story(f"{run}-m1", a_name, "market"), story(f"{run}-b2", b_name, "event")]
    with httpx.Client(timeout=10) as client:
        for a in articles:
            status, _ = post_signed(client, services.api_url, services.secret, a)
            assert status == 202
        body = json.dumps(story(f"{run}-forged", a_name, "event")).encode()
        forged = client.post(services.api_url + "/webhooks/news", content=body, headers={
            "content-type": "application/json", PROVIDER_HEADER: "newswire", SIGNATURE_HEADER: signature_header("wrong-secret", body)})
        assert forged.status_code == 401
    got = wait_for(rms, {a_rm: {(f"{run}-a1", a_id)}, b_rm: {(f"{run}-b1", b_id), (f"{run}-b2", b_id)}})
    assert got[a_rm] == {(f"{run}-a1", a_id)}, "RM A: only the event story about A's client; no passing mention, no market news"
    assert got[b_rm] == {(f"{run}-b1", b_id), (f"{run}-b2", b_id)}
    assert sum(len(listener.frames) for listener in rms.values()) == 3, "each alert pushed once"
    with connect(settings) as conn:
        stored = conn.execute("select article_id, client_id from alerts where article_id like %s order by 1", (f"{run}-%",)).fetchall()
    assert stored == [(f"{run}-a1", a_id), (f"{run}-b1", b_id), (f"{run}-b2", b_id)]


@pytest.fixture
def small_backlog(monkeypatch):
    "Services started after this admit at most 20 articles waiting for the hot path, or half a second of them."
    monkeypatch.setenv("UHNW_WEBHOOK_MIN_BACKLOG", "20")
    monkeypatch.setenv("UHNW_WEBHOOK_MAX_BACKLOG_S", "0.5")


def test_with_the_hot_path_down_the_webhook_refuses_past_its_backlog_and_loses_nothing_it_accepted(small_backlog, hot):
    from uhnw.bench.harness import spawn_hotpath, wait_http
    settings, services, book, rms = hot
    (a_id, (a_name, a_rm)), _ = book.items()
    services.hotpath.terminate(); services.hotpath.wait(30)  # nothing consumes raw-news-events any more
    run = uuid.uuid4().hex[:6]
    accepted, refusal = [], None
    with httpx.Client(timeout=15) as client:
        for i in range(600):
            a = story(f"{run}-{i:03d}", a_name, "event")
            r = client.post(services.api_url + "/webhooks/news", content=(body := json.dumps(a).encode()), headers={
                "content-type": "application/json", PROVIDER_HEADER: "newswire", SIGNATURE_HEADER: signature_header(services.secret, body)})
            if r.status_code != 202:
                refusal = r; break
            accepted.append(a["id"])
            time.sleep(0.01)
    assert refusal is not None, "600 articles accepted with nothing consuming them"
    assert refusal.status_code == 503, refusal.text  # nothing drains: not 429
    assert int(refusal.headers["Retry-After"]) >= 1 and "not consuming" in refusal.json()["detail"]
    assert len(accepted) > 20, "a backlog of 20 is always admitted"
    # the hot path comes back (same instance), drains the backlog, and the webhook admits again
    services.hotpath = spawn_hotpath(settings, services.logs, services.secret, int(services.metrics_url.rsplit(":", 1)[1]))
    wait_http(services.metrics_url + "/health", timeout=120, proc=services.hotpath)
    late = story(f"{run}-late", a_name, "event")
    with httpx.Client(timeout=15) as client:
        for _ in range(120):
            status, _ = post_signed(client, services.api_url, services.secret, late)
            if status == 202: break
            assert status in (429, 503), status
            time.sleep(0.5)
    assert status == 202, "admitted again once the backlog drained"
    want = {a_rm: {(aid, a_id) for aid in [*accepted, late["id"]]}}
    got = wait_for({a_rm: rms[a_rm]}, want, timeout=90)
    assert got == want, f"every accepted article alerted, nothing lost: {delivery_report(got, want, rms, services)}"
    assert len(rms[a_rm].frames) == len(want[a_rm]), "and pushed once"
