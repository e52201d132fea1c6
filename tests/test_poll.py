"""The news poller against a local HTTP server and the real broker: conditional requests, 304s that produce
nothing, backoff on errors with Retry-After honoured, dedupe that survives a restart, articles on
`raw-news-events` decoded as NewsEvents and invalid ones dead-lettered with their reason."""
import json
import socket
import threading
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from uhnw.bus import EventProducer, read_dead_letters, read_topic, topic_name
from uhnw.cli.news import news_poll
from uhnw.ingest.news import url_article_id
from uhnw.ingest.poll import Backoff, NewsPoller, PollError, PollState
from uhnw.schemas import AvroCodec

NEWS = Path(__file__).parent / "data" / "news"
RSS_IDS = ["ww-2026-0105-001", "ww-2026-0105-002", url_article_id("https://wealthwire.test/2026/01/05/oneill-townhouse")]
LAST_MODIFIED = formatdate(1767607200, usegmt=True)


class FeedServer:
    "Serves files on 127.0.0.1, honours If-None-Match / If-Modified-Since, fails on demand, and records each request's headers."
    def __init__(self):
        self.files: dict[str, tuple[bytes, str]] = {}
        self.failures: list[tuple[int, dict]] = []  # answered (status, headers) first, one per request
        self.honour_validators = True
        self.requests: list[dict[str, str]] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args): pass

            def do_GET(self):
                with owner.lock:
                    owner.requests.append({k.lower(): v for k, v in self.headers.items()})
                    failure = owner.failures.pop(0) if owner.failures else None
                if failure:
                    status, headers = failure
                    self.send_response(status)
                    for k, v in headers.items(): self.send_header(k, v)
                    self.send_header("Content-Length", "0"); self.end_headers(); return
                if self.path not in owner.files:
                    self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
                body, ctype = owner.files[self.path]
                etag = f'"{uuid.uuid5(uuid.NAMESPACE_URL, body.decode("utf-8", "replace")).hex[:12]}"'
                if owner.honour_validators and (self.headers.get("If-None-Match") == etag
                                                or self.headers.get("If-Modified-Since") == LAST_MODIFIED):
                    self.send_response(304); self.send_header("ETag", etag); self.end_headers(); return
                self.send_response(200)
                self.send_header("Content-Type", ctype); self.send_header("ETag", etag)
                self.send_header("Last-Modified", LAST_MODIFIED); self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def serve(self, path: str, file: str, ctype: str) -> str:
        self.files[path] = ((NEWS / file).read_bytes(), ctype)
        return self.base + path


@pytest.fixture
def server():
    s = FeedServer()
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


@pytest.fixture
def http():
    with httpx.Client(timeout=5) as c:
        yield c


class RecordingSink:
    "Stands in for the broker where a test is about HTTP behaviour only."
    def __init__(self): self.sent, self.dead = [], []
    def send(self, topic, record, key=None): self.sent.append(key)
    def dead_letter(self, topic, key, value, *why, **where): self.dead.append(key)
    def flush(self): pass


def read_news(settings) -> list[tuple[str, dict]]:
    "Every message of the test's raw-news-events topic as (key, decoded NewsEvent)."
    codec = AvroCodec(settings)
    return [(m.key.decode(), codec.decode("raw-news-events", m.value))
            for m in read_topic(settings, topic_name(settings, "raw-news-events"))]


@pytest.mark.kafka
def test_feed_articles_land_on_the_broker_as_news_events_rss_and_atom(bus, server, http, tmp_path):
    rss = server.serve("/rss", "feed.rss", "application/rss+xml; charset=utf-8")
    atom = server.serve("/atom", "feed.atom", "application/atom+xml")
    with EventProducer(bus) as producer, PollState(tmp_path / "news-poll.sqlite") as st:
        r1 = NewsPoller(bus, rss, st, producer, http, source="wealth-wire").poll_once()
        r2 = NewsPoller(bus, atom, st, producer, http).poll_once()
    assert (r1.produced, r2.produced) == (3, 2)
    events = dict(read_news(bus))
    assert set(events) == {*RSS_IDS, "urn:fob:2026:0105:chen-wei", "urn:fob:2026:0105:al-rashid"}
    mueller = events["ww-2026-0105-001"]
    assert mueller["headline"] == "Müller family office backs Zurich biotech in CHF 80m round"
    assert mueller["body"] == "The family office of José Müller led the round."
    assert (mueller["source"], mueller["channel"], mueller["authors"], mueller["language"]) == ("wealth-wire", "rss", ["Anna Keller"], "en")
    assert mueller["published_at"].isoformat() == "2026-01-05T07:10:00+00:00"
    chen = events["urn:fob:2026:0105:chen-wei"]
    assert (chen["source"], chen["body"], chen["url"]) == ("127.0.0.1", "Chen Wei will hand the chair to his daughter.",
                                                          "https://fob.test/2026/01/05/chen-wei-chair")


@pytest.mark.kafka
def test_second_poll_sends_validators_and_a_304_produces_nothing(bus, server, http, tmp_path):
    url = server.serve("/rss", "feed.rss", "application/rss+xml")
    with EventProducer(bus) as producer, PollState(tmp_path / "news-poll.sqlite") as st:
        poller = NewsPoller(bus, url, st, producer, http)
        first, second = poller.poll_once(), poller.poll_once()
    assert "if-none-match" not in server.requests[0] and "if-modified-since" not in server.requests[0]
    assert server.requests[1]["if-none-match"].startswith('"') and server.requests[1]["if-modified-since"] == LAST_MODIFIED
    assert (first.status, first.produced, second.status, second.produced) == (200, 3, 304, 0)
    assert sorted(k for k, _ in read_news(bus)) == sorted(RSS_IDS)


@pytest.mark.kafka
def test_restart_with_the_same_state_file_does_not_reproduce_but_picks_up_new_articles(bus, server, http, tmp_path):
    url = server.serve("/rss", "feed.rss", "application/rss+xml")
    state = tmp_path / "news-poll.sqlite"
    with EventProducer(bus) as producer, PollState(state) as st:
        assert NewsPoller(bus, url, st, producer, http).poll_once().produced == 3
    # a new process: new state handle, new producer; the server now ignores validators and sends the full feed again,
    # with one new item added
    server.honour_validators = False
    body, ctype = server.files["/rss"]
    new_item = (b"<item><guid isPermaLink=\"false\">ww-2026-0105-099</guid><title>New: Saxena heirs settle trust dispute</title>"
                b"<link>https://wealthwire.test/2026/01/05/saxena-trust</link></item></channel>")
    server.files["/rss"] = (body.replace(b"</channel>", new_item), ctype)
    with EventProducer(bus) as producer, PollState(state) as st:
        again = NewsPoller(bus, url, st, producer, http).poll_once()
    assert (again.status, again.produced, again.already_seen) == (200, 1, 3)
    keys = [k for k, _ in read_news(bus)]
    assert sorted(keys) == sorted([*RSS_IDS, "ww-2026-0105-099"])  # each exactly once


def test_errors_back_off_with_growing_jittered_waits_and_retry_after_is_honoured(server, http, tmp_path):
    from uhnw.config import load_settings
    url = server.serve("/rss", "feed.rss", "application/rss+xml")
    server.failures = [(500, {}), (503, {}), (429, {"Retry-After": "7"}), (500, {})]
    waits, sink = [], RecordingSink()
    with PollState(tmp_path / "s.sqlite") as st:
        poller = NewsPoller(load_settings(), url, st, sink, http, backoff=Backoff(base=1, cap=300), sleep=waits.append, rng=lambda: 1.0)
        result = poller.run(interval=60, once=True)
    assert waits == [1.0, 2.0, 7.0, 8.0]  # 2**n growth (full jitter draw), the server's Retry-After, then growth resumes
    assert (result.status, result.produced, len(sink.sent)) == (200, 3, 3)
    assert len(server.requests) == 5


def test_an_unreachable_feed_backs_off_then_gives_up_with_a_clear_error(tmp_path, http):
    from uhnw.config import load_settings
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    waits = []
    with PollState(tmp_path / "s.sqlite") as st:
        poller = NewsPoller(load_settings(), f"http://127.0.0.1:{closed}/feed", st, RecordingSink(), http,
                            sleep=waits.append, rng=lambda: 0.0)
        with pytest.raises(PollError, match="ConnectError"):
            poller.run(once=True, max_failures=3)
    assert waits == [0.5, 1.0]  # three failures, two waits (half-step floor of equal jitter), then the error
    with PollState(tmp_path / "s.sqlite") as st:
        assert st.validators(f"http://127.0.0.1:{closed}/feed").etag is None  # nothing recorded


@pytest.mark.kafka
def test_json_api_articles_land_and_an_invalid_one_is_dead_lettered_with_its_reason(bus, server, http, tmp_path):
    url = server.serve("/v2/everything", "api.json", "application/json")
    with EventProducer(bus) as producer, PollState(tmp_path / "s.sqlite") as st:
        res = NewsPoller(bus, url, st, producer, http).poll_once()
    assert (res.produced, res.dead_lettered) == (2, 1)
    events = dict(read_news(bus))
    assert set(events) == {"api-1", url_article_id("https://api.test/a/2")}
    assert (events["api-1"]["source"], events["api-1"]["channel"]) == ("API News", "poll")
    dead = read_dead_letters(bus, topic_name(bus, "raw-news-events"))
    assert [(d.key, d.stage, d.source_topic) for d in dead] == [(b"api-3", "poll-map", url)]
    assert "missing required field 'headline'" in dead[0].reason


@pytest.mark.kafka
def test_cli_news_poll_once_prints_one_json_line_and_a_rerun_produces_nothing(bus, server, tmp_path):
    url = server.serve("/rss", "feed.rss", "application/rss+xml")
    app = typer.Typer()
    app.command()(news_poll)
    env = {"UHNW_TOPIC_PREFIX": bus.topic_prefix}
    args = ["--url", url, "--once", "--state", str(tmp_path / "cli.sqlite")]
    first = CliRunner().invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    line = json.loads(first.stdout.strip().splitlines()[-1])
    assert (line["status"], line["produced"]) == (200, 3)
    server.honour_validators = False
    second = CliRunner().invoke(app, args, env=env)
    assert json.loads(second.stdout.strip().splitlines()[-1])["produced"] == 0
    assert len(read_news(bus)) == 3
