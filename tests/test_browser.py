"""The RM workstation page in a real browser (Debian's headless Chromium driven by Playwright) against a real
`uhnw serve api` process, Kafka and PostgreSQL: an RM logs in, reads the alert feed, gets an alert produced after the
page loaded, gives feedback that is stored, reads the book's charts and a client's detail, is refused another RM's
client, and keeps receiving alerts across a server restart. No console error and no CSP violation on the way.

One server and one browser page for the module; the tests run in file order and each one brings the page to the view
it needs. Screenshots of the main views go to `.test-home/screenshots/` (not committed).
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.kafka, pytest.mark.postgres]

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
if CHROMIUM is None:
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is missing: CI must run the browser tests (apt-get install chromium)", pytrace=False)
    pytest.skip("chromium is not installed (apt-get install chromium); CI=true makes this a failure", allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402  (after the skip: it needs the browser)

from uhnw.bench.harness import free_port, wait_http  # noqa: E402
from uhnw.bus import EventProducer, client_config, ensure_topics, topic_name, topic_specs  # noqa: E402
from uhnw.ops.db import connect  # noqa: E402
from uhnw.schemas import ALERTS_TOPIC  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO / ".test-home" / "screenshots"
UHNW = REPO / ".venv" / "bin" / "uhnw"
TIMEOUT_MS = 15_000
# Chromium logs every HTTP error answer to the console; these are the ones a scenario provokes on purpose.
LOAD_ERROR = "Failed to load resource: the server responded with a status of {status}"
CSP_RECORDER = """window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__cspViolations.push(
  {directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber}));"""


@dataclasses.dataclass
class ApiServer:
    "`uhnw serve api` as a subprocess on a fixed port, consuming the alert topic of `settings.topic_prefix`."
    settings: object
    port: int
    log: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str: return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "UHNW_TOPIC_PREFIX": self.settings.topic_prefix}
        env.pop("UHNW_WEBHOOK_SECRETS", None)
        cmd = [str(UHNW), "serve", "api", "--port", str(self.port), "--log-level", "warning"]
        self.proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        wait_http(self.url + "/health", timeout=60, proc=self.proc)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try: self.proc.wait(20)
            except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait(5)


@dataclasses.dataclass
class PageLog:
    "Console errors and warnings, uncaught page errors; each test declares the console errors it provokes on purpose."
    messages: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)  # (type, text, url)
    page_errors: list[str] = dataclasses.field(default_factory=list)
    expected: list[re.Pattern] = dataclasses.field(default_factory=list)

    def expect(self, text: str, url: str = "") -> None:
        "Allow console errors starting with `text` about a URL containing `url` (for the current test only)."
        self.expected.append(re.compile(re.escape(text) + ".*" + "\x00" + ".*" + re.escape(url)))

    def unexpected(self, since: int) -> list[tuple[str, str, str]]:
        return [m for m in self.messages[since:] if not any(p.match(f"{m[1]}\x00{m[2]}") for p in self.expected)]


@pytest.fixture(scope="module")
def alert_settings(stack):
    "The session stack with topics of this module's own (the `bus` fixture's recipe, at module scope: one server per module)."
    from confluent_kafka.admin import AdminClient
    settings = dataclasses.replace(stack, topic_prefix=f"t{uuid.uuid4().hex[:10]}.")
    ensure_topics(AdminClient(client_config(settings)), topic_specs(settings))
    return settings


@pytest.fixture(scope="module")
def server(alert_settings, workstation_book):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    api = ApiServer(alert_settings, free_port(), REPO / ".test-home" / "browser-api.log")
    api.start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def producer(alert_settings):
    p = EventProducer(alert_settings)
    yield p
    p.close()


@pytest.fixture(scope="module")
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture(scope="module")
def page(server, page_log):
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
    context = browser.new_context(base_url=server.url, viewport={"width": 1440, "height": 960})
    context.add_init_script(CSP_RECORDER)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("console", lambda m: page_log.messages.append((m.type, m.text, m.location.get("url", "")))
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: page_log.page_errors.append(str(e)))
    try:
        yield page
    finally:
        context.close()
        browser.close()
        pw.stop()


@pytest.fixture(autouse=True)
def no_console_error_or_csp_violation(page, page_log):
    "After each test: no console error it did not provoke on purpose, no uncaught error, no CSP violation."
    since, errors_since = len(page_log.messages), len(page_log.page_errors)
    page_log.expected.clear()
    yield
    assert page_log.unexpected(since) == []
    assert page_log.page_errors[errors_since:] == []
    assert page.evaluate("window.__cspViolations") == []


def produce_alert(settings, producer: EventProducer, client_id: str, tag: str) -> dict:
    "One EnrichedAlert for `client_id` on the module's alert topic, as the hot path writes it; returns the record."
    article = f"browser-{tag}-{uuid.uuid4().hex[:8]}"
    rec = {"alert_id": f"{article}:{client_id}", "article_id": article, "client_id": client_id, "rm_id": "RM-IGNORED",
           "headline": f"Headline {tag} {article}", "summary": f"The {tag} summary: a material event for the client.",
           "relevance": 0.83, "resolution_score": 0.96, "mention": f"Mention-{tag} Saxena", "matched_name": f"Matched-{tag} Saxena",
           "event_type": "m_and_a", "source": "newswire", "url": None, "published_at": datetime.now(UTC),
           "processed_at": datetime.now(UTC), "model_version": "browser-test",
           "match_reasons": [f"surname and given name ({tag})", "city London"]}
    producer.send(topic_name(settings, ALERTS_TOPIC), rec, key=rec["alert_id"])
    producer.flush()
    return rec


def stored_alert_id(settings, article_id: str, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connect(settings) as conn:
            row = conn.execute("select alert_id from alerts where article_id = %s", (article_id,)).fetchone()
        if row: return row[0]
        time.sleep(0.2)
    raise AssertionError(f"alert of article {article_id} was never stored")


def keep_in_book(book, settings, rec: dict) -> int:
    "Record a produced alert in the session's book once stored, so later tests that read the book's alerts count it."
    alert_id = stored_alert_id(settings, rec["article_id"])
    book.alerts[rec["client_id"]].append(alert_id)
    return alert_id


def alert_card(page: Page, rec: dict):
    return page.locator("#alert-list li.alert", has_text=rec["headline"])


def sign_in(page: Page, book) -> None:
    "Bring the page to a signed-in state as RM 1 (a no-op when it already is)."
    if page.url == "about:blank": page.goto("/")
    page.wait_for_selector("#view-login:not([hidden]), #nav:not([hidden])")
    if page.locator("#view-login").is_visible():
        page.get_by_label("User ID").fill(book.rm1)
        page.get_by_label("Password").fill(book.passwords[book.rm1])
        page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#socket-state")).to_have_attribute("data-state", "live")


def test_an_rm_signs_in_and_sees_their_alert_feed_with_why_each_fired(page, page_log, workstation_book):
    b = workstation_book
    page_log.expect(LOAD_ERROR.format(status=401), "/api/me")  # the first load asks who is signed in: nobody
    page_log.expect(LOAD_ERROR.format(status=401), "/auth/login")  # the wrong password below
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#nav")).to_be_hidden()
    page.screenshot(path=str(SCREENSHOTS / "login.png"))
    page.get_by_label("User ID").fill(b.rm1)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_label("Password").press("Enter")  # the keyboard submits the form
    expect(page.locator("#login-error")).to_have_text("Unknown user or wrong password.")
    page.get_by_label("Password").fill(b.passwords[b.rm1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#socket-state")).to_have_attribute("data-state", "live")
    expect(page.locator("#user-name")).to_have_text("Test RM One")
    expect(page.locator("#nav a[aria-current=page]")).to_have_text(re.compile("Alerts"))
    mine = sorted((a for c in b.clients[b.rm1] for a in b.alerts[c]), reverse=True)
    shown = [int(i) for i in page.locator("#alert-list li.alert").evaluate_all("els => els.map(e => e.dataset.alertId)")]
    assert [i for i in shown if i in mine] == mine, "the RM's alerts, newest first"
    assert not set(shown) & {a for c in b.clients[b.rm2] for a in b.alerts[c]}, "no alert of another RM's client"
    card = page.locator(f'#alert-list li[data-alert-id="{b.alerts[b.clients[b.rm1][0]][1]}"]')
    expect(card.locator(".mention")).to_have_text(re.compile(r"Client \w+ 0"))
    expect(card.locator(".matched-name")).to_have_text(re.compile(r"Client \w+ 0"))
    expect(card.locator(".match-reasons")).to_have_text("organisation named")
    expect(card.locator(".badge-event")).to_have_text("Liquidity")
    expect(card.locator(".score").first).to_have_text("Relevance 91%")
    page.get_by_label("Event type").select_option(label="Liquidity")
    visible = page.locator("#alert-list li.alert:visible").evaluate_all("els => els.map(e => Number(e.dataset.alertId))")
    assert visible == sorted((b.alerts[c][1] for c in b.clients[b.rm1]), reverse=True), "only the liquidity alerts"
    page.get_by_label("Event type").select_option(label="All events")
    expect(page.locator("#alert-list li.alert:visible")).to_have_count(len(shown))
    page.screenshot(path=str(SCREENSHOTS / "alerts.png"))


def test_an_alert_produced_after_the_page_loaded_appears_live_at_the_top(page, workstation_book, alert_settings, producer):
    b = workstation_book
    sign_in(page, b)
    page.goto("/#/alerts")
    expect(page.locator("#socket-state")).to_have_attribute("data-state", "live")
    before = page.locator("#alert-list li.alert").count()
    rec = produce_alert(alert_settings, producer, b.clients[b.rm1][1], "live")
    card = alert_card(page, rec)
    expect(card).to_be_visible(timeout=30_000)
    assert page.locator("#alert-list li.alert").count() == before + 1
    newest = page.locator("#alert-list li.alert").first.get_attribute("data-alert-id")
    assert newest == str(keep_in_book(b, alert_settings, rec))
    expect(card.locator(".mention")).to_have_text("“Mention-live Saxena”")
    expect(card.locator(".matched-name")).to_have_text("Matched-live Saxena")
    expect(card.locator(".match-reasons .chip")).to_have_text(["surname and given name (live)", "city London"])
    expect(card.locator(".client-link")).to_have_text(re.compile(r"Client \w+ 1"))  # the frame has the id; the page knows the name
    expect(card.locator(".badge-live")).to_be_visible()


def test_wrong_person_feedback_is_stored_and_shown_after_a_reload(page, workstation_book, alert_settings, producer):
    b = workstation_book
    sign_in(page, b)
    page.goto("/#/alerts")
    rec = produce_alert(alert_settings, producer, b.clients[b.rm1][2], "feedback")
    card = alert_card(page, rec)
    expect(card).to_be_visible(timeout=30_000)
    card.get_by_role("button", name="Wrong person").click()
    expect(card.get_by_role("button", name="Wrong person")).to_have_attribute("aria-pressed", "true")
    expect(card.locator(".verdict")).to_have_text("Your verdict: Wrong person")
    alert_id = keep_in_book(b, alert_settings, rec)
    with connect(alert_settings) as conn:
        stored = conn.execute("select verdict, useful from alert_feedback where alert_id = %s and rm_id = %s", (alert_id, b.rm1)).fetchall()
    assert stored == [("wrong_person", None)]
    page.reload()  # the CSRF token now comes from /api/me, the verdict from the stored feedback
    expect(page.locator("#socket-state")).to_have_attribute("data-state", "live")
    expect(alert_card(page, rec).locator(".verdict")).to_have_text("Your verdict: Wrong person")
    alert_card(page, rec).get_by_role("button", name="Useful", exact=True).click()
    expect(alert_card(page, rec).locator(".verdict")).to_have_text("Your verdict: Useful")
    with connect(alert_settings) as conn:
        now = conn.execute("select verdict from alert_feedback where alert_id = %s and rm_id = %s", (alert_id, b.rm1)).fetchall()
    assert now == [("useful",)]


def test_the_book_shows_charts_totals_and_tables_and_a_client_opens_with_the_keyboard(page, workstation_book):
    b = workstation_book
    sign_in(page, b)
    page.goto("/#/book")
    page.get_by_label("As of").fill(b.dates[1])
    expect(page.locator("#view-book")).to_have_attribute("data-shown-date", b.dates[1])
    expect(page.locator("#chart-market-value .trace").first).to_be_attached()
    expect(page.locator("#chart-daily-pnl .trace").first).to_be_attached()
    assert page.evaluate("document.querySelectorAll('#chart-market-value .trace').length") > 0
    kpis = dict(zip(page.locator("#book-kpis .kpi-label").all_text_contents(), page.locator("#book-kpis .kpi-value").all_text_contents(),
                    strict=True))
    assert kpis["Clients"] == "3" and kpis["Market value"].endswith(" USD"), kpis
    rows = page.locator("#table-clients tbody tr")
    expect(rows).to_have_count(3)
    assert sorted(rows.evaluate_all("els => els.map(e => e.dataset.clientId)")) == sorted(b.clients[b.rm1])
    header = page.locator("#table-clients thead").inner_text()
    assert "(base)" in header and "(USD)" in header, "each client's base-currency figure beside the reporting-currency one"
    page.screenshot(path=str(SCREENSHOTS / "book.png"), full_page=True)
    target = b.clients[b.rm1][1]
    page.locator(f'#table-clients tr[data-client-id="{target}"] a').focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"#/client/{re.escape(target)}$"))
    expect(page.locator("#client-title")).to_have_text(re.compile(r"Client \w+ 1"))


def test_client_detail_shows_metrics_history_positions_and_the_clients_alerts(page, workstation_book):
    b = workstation_book
    sign_in(page, b)
    cid = b.clients[b.rm1][0]
    page.goto(f"/#/client/{cid}")
    expect(page.locator("#client-title")).to_have_text(re.compile(r"Client \w+ 0"))
    expect(page.locator("#chart-client-history .trace").first).to_be_attached()
    axis = page.evaluate("document.getElementById('chart-client-history')._fullLayout.xaxis.type")
    assert axis == "date"
    expect(page.locator("#table-positions tbody tr")).to_have_count(1)
    expect(page.locator("#table-positions tbody tr td").nth(1)).to_have_text("XS123")
    shown = page.locator("#client-alerts li.alert").evaluate_all("els => els.map(e => Number(e.dataset.alertId))")
    assert shown == sorted(b.alerts[cid], reverse=True)
    page.screenshot(path=str(SCREENSHOTS / "client.png"), full_page=True)


def test_live_prices_appear_on_the_client_detail_view_as_ticks_are_produced(page, workstation_book, alert_settings, producer):
    from decimal import Decimal

    from uhnw.ingest.market import publish_tick
    from uhnw.market import Tick
    b = workstation_book
    sign_in(page, b)
    page.goto(f"/#/client/{b.clients[b.rm1][0]}")
    row = page.locator('#table-positions tbody tr[data-instrument-id="XS123"]')
    expect(row.locator("td.live-price")).to_have_text("—")  # no tick yet: the synced close (100) is all there is
    expect(page.locator("#table-positions thead")).to_contain_text("Live price")
    now = datetime.now(UTC)
    for k, price in enumerate(("100.50", "101.25")):  # the newest wins, whatever the socket's conflation lets through
        publish_tick(producer, topic_name(alert_settings, "market-ticks"),
                     Tick("XS123", "XNYS", Decimal(price), "USD", Decimal(100), now.replace(microsecond=k)))
    producer.flush()
    expect(row.locator("td.live-price")).to_have_text("101.25")
    expect(row.locator("td.live-change")).to_have_text("+1.25%")
    expect(row.locator("td.live-change")).to_have_class(re.compile(r"\bpos\b"))
    expect(row.locator("td").nth(4)).to_have_text("100")  # the close column keeps the synced close
    page.screenshot(path=str(SCREENSHOTS / "client-live-prices.png"), full_page=True)


def test_another_rms_client_opened_by_url_says_not_in_your_book_and_shows_no_data(page, page_log, workstation_book, alert_settings):
    b = workstation_book
    theirs = b.clients[b.rm2][0]
    page_log.expect(LOAD_ERROR.format(status=404), f"/api/clients/{theirs}")
    sign_in(page, b)
    page.goto(f"/#/client/{b.clients[b.rm1][0]}")
    expect(page.locator("#chart-client-history .trace").first).to_be_attached()
    page.goto(f"/#/client/{theirs}")
    expect(page.locator("#client-message")).to_have_text(re.compile(f"Client {re.escape(theirs)} is not in your book"))
    expect(page.locator("#client-body")).to_be_hidden()
    for part in ("#client-kpis", "#chart-client-history", "#table-positions", "#client-alerts"):
        assert page.locator(part).inner_html() == "", f"{part} still shows data"
    with connect(alert_settings) as conn:
        their_name = conn.execute("select full_name from clients where client_id = %s", (theirs,)).fetchone()[0]
    assert their_name not in page.locator("body").inner_text()


def test_the_socket_reconnects_after_a_server_restart_and_replays_the_missed_alert(page, page_log, server, workstation_book,
                                                                                   alert_settings, producer):
    b = workstation_book
    page_log.expect("WebSocket connection to", "")  # refused while the server is down
    sign_in(page, b)
    page.goto("/#/alerts")
    expect(page.locator("#socket-state")).to_have_attribute("data-state", "live")
    server.stop()
    expect(page.locator("#socket-state")).to_have_attribute("data-state", "reconnecting")
    expect(page.locator("#socket-state")).to_contain_text(re.compile(r"Reconnecting in \d+s"))
    missed = produce_alert(alert_settings, producer, b.clients[b.rm1][0], "missed")
    server.start()
    expect(page.locator("#socket-state")).to_have_attribute("data-state", "live", timeout=30_000)
    card = alert_card(page, missed)
    expect(card).to_be_visible(timeout=30_000)
    expect(card.locator(".mention")).to_have_text("“Mention-missed Saxena”")
    keep_in_book(b, alert_settings, missed)
    ids = page.locator("#alert-list li.alert").evaluate_all("els => els.map(e => Number(e.dataset.alertId))")
    assert ids == sorted(set(ids), reverse=True), "newest first, no alert twice"


def test_signing_out_closes_the_socket_and_a_reload_asks_for_the_password_again(page, page_log, workstation_book):
    b = workstation_book
    page_log.expect(LOAD_ERROR.format(status=401), "/api/me")  # after the reload: nobody is signed in
    sign_in(page, b)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#socket-state")).to_have_attribute("data-state", "offline")
    assert page.locator("#alert-list li").count() == 0, "the previous session's alerts are gone"
    assert "uhnw_session" not in {c["name"] for c in page.context.cookies()}, "the session cookie is cleared"
    page.reload()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#nav")).to_be_hidden()


def test_the_page_and_its_files_come_from_this_server_with_their_types_and_no_inline_script(server):
    import httpx
    index = httpx.get(server.url + "/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in index.headers["content-security-policy"]
    scripts = re.findall(r"<script\b[^>]*>", index.text)
    assert scripts and all(re.search(r'\bsrc="/static/[\w.]+"', s) for s in scripts), "every script is a file of this origin"
    assert not re.search(r"\son[a-z]+=", index.text), "no inline event handler"
    for name, kind in [("app.js", "text/javascript"), ("style.css", "text/css"), ("favicon.svg", "image/svg+xml")]:
        r = httpx.get(f"{server.url}/static/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind), name
    plotly_js = httpx.get(server.url + "/static/plotly.min.js")
    import plotly
    bundled = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert plotly_js.status_code == 200 and plotly_js.content == bundled.read_bytes()
    for outside in ("page.py", "..%2Fpage.py", "%2E%2E%2Fapp.py", "nope.js"):
        assert httpx.get(f"{server.url}/static/{outside}").status_code == 404, outside
