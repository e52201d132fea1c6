"""`uhnw scrape`: dedupe by content, robots.txt, the per-host rate limit, retries, the size cap and the SSRF guard.

Pages come from the `web_site` fixture (an HTTP server on 127.0.0.1) under made-up host names resolved by a stub;
the SSRF tests resolve names to private and metadata addresses through a stub and check that no connection is
even attempted: no test sends traffic anywhere but loopback. Time is a fake clock, so no test waits."""
from __future__ import annotations

import gzip
import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import httpcore
import pytest

from uhnw.config import load_settings
from uhnw.lake import lake_for
from uhnw.scrape import CONTENT_INDEX, RawPage, Scraper, page_keys, scrape_policy

DATA = Path(__file__).parent / "data" / "web"
HTML = {"Content-Type": "text/html; charset=utf-8"}
NEWS = (DATA / "news-phys.org.html").read_bytes()
DAY1, DAY2 = datetime(2026, 12, 3, 9, tzinfo=UTC), datetime(2026, 12, 4, 9, tzinfo=UTC)


class FakeClock:
    "Time that passes only when the scraper sleeps; `slept` lists every sleep."
    def __init__(self): self.t, self.slept = 0.0, []
    def __call__(self): return self.t
    def sleep(self, seconds): self.slept.append(seconds); self.t += seconds


class Recorder(httpcore.NetworkBackend):
    "Records every connection attempt; opens a real (loopback) socket only when `real` is set."
    def __init__(self, real: bool = False): self.connects, self.real = [], real
    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.connects.append((host, port))
        if not self.real: raise httpcore.ConnectError("recorder: no socket opened")
        return httpcore.SyncBackend().connect_tcp(host, port, timeout, local_address, socket_options)


def stub(**names: str | list[str]):
    "A resolver answering from `names` (dots written as _): what DNS would say, without asking it."
    table = {k.replace("_", "."): [v] if isinstance(v, str) else v for k, v in names.items()}
    return lambda host, port: table.get(host, [])


@pytest.fixture
def settings(tmp_path):
    return load_settings("local", env={}, home=tmp_path)


def scraper(settings, resolve, clock=None, now=lambda: DAY1, **policy):
    clock = clock or FakeClock()
    return Scraper(settings, policy=scrape_policy(settings, **policy), resolve=resolve, clock=clock, sleep=clock.sleep, now=now)


def test_the_same_content_fetched_twice_lands_once_unchanged_with_its_raw_page(settings, web_site):
    web_site.route("/robots.txt", (404, {}, b""))
    web_site.route("/news", (200, HTML, NEWS))
    web_site.route("/syndicated-copy", (200, HTML, NEWS))
    web_site.route("/old-link", (301, {"Location": "/news"}, b""))
    base, when = f"http://news.test:{web_site.port}", [DAY1]
    with scraper(settings, stub(news_test="127.0.0.1"), now=lambda: when[0]) as s:
        first = s.scrape(f"{base}/old-link")
        when[0] = DAY2
        again, copy = s.scrape(f"{base}/news"), s.scrape(f"{base}/syndicated-copy")
    assert [r.outcome for r in (first, again, copy)] == ["landed", "duplicate", "duplicate"]
    assert again.page == copy.page == first.page
    lake = lake_for(settings)
    bodies = [k for k in lake.store.list_keys("bronze", "web/") if k.endswith(".html")]
    assert bodies == [first.page.bronze_key] and lake.read_bytes("bronze", bodies[0]) == NEWS  # once, byte for byte
    record = RawPage.from_json(lake.read_bytes("bronze", page_keys(lake, "2026-12-03")[0]))
    assert (record.url, record.final_url, record.http_status, record.content_type, record.size_bytes) == (
        f"{base}/old-link", f"{base}/news", 200, "text/html; charset=utf-8", len(NEWS))
    assert record.fetched_at == DAY1 and record.bronze_key.startswith("web/date=2026-12-03/")
    assert page_keys(lake, "2026-12-04") == []  # the next day's fetch landed nothing
    assert lake.store.exists("bronze", f"{CONTENT_INDEX}/{record.sha256}.json")


def test_robots_txt_disallow_is_obeyed_and_the_page_never_requested(settings, web_site):
    # the group naming us replaces the `*` group (RFC 9309), and the longest matching rule wins: /press/draft over /press/
    web_site.route("/robots.txt", (200, {}, b"User-agent: *\nDisallow: /\n\n"
                                            b"User-agent: uhnw-scraper\nDisallow: /members/\nAllow: /press/\nDisallow: /press/draft\n"))
    web_site.route("/press/release", (200, HTML, b"<html><p>release</p></html>"))
    base = f"http://corp.test:{web_site.port}"
    with scraper(settings, stub(corp_test="127.0.0.1")) as s:
        out = s.scrape_all([f"{base}/members/list", f"{base}/press/draft-1", f"{base}/press/release"])
    assert [r.outcome for r in out] == ["refused", "refused", "landed"]
    assert out[0].reason == f"robots.txt of corp.test disallows {base}/members/list"
    assert [p for _, p in web_site.log] == ["/robots.txt", "/press/release"]  # robots.txt read once, disallowed pages never asked


def test_a_robots_txt_over_the_cap_is_read_up_to_it_not_refused(settings, web_site):
    # RFC 9309: parse at least 500 KiB and ignore the rest; the rules before the cap still apply, the ones after do not
    big = b"User-agent: *\nDisallow: /private/\n" + b"# padding\n" * 60_000 + b"Disallow: /late/\n"
    web_site.route("/robots.txt", (200, {}, big))
    web_site.route("/late/page", (200, HTML, b"<p>after the cap</p>"))
    base = f"http://bigrobots.test:{web_site.port}"
    with scraper(settings, stub(bigrobots_test="127.0.0.1"), min_interval=0.0) as s:
        private, late = s.scrape_all([f"{base}/private/x", f"{base}/late/page"])
    assert len(big) > scrape_policy(settings).max_robots_bytes
    assert private.outcome == "refused" and "disallows" in private.reason
    assert late.outcome == "landed"


def test_a_robots_txt_that_answers_5xx_means_crawl_nothing(settings, web_site):
    web_site.route("/robots.txt", (503, {}, b""))
    with scraper(settings, stub(broken_test="127.0.0.1"), retries=1) as s:
        r = s.scrape(f"http://broken.test:{web_site.port}/page")
    assert r.outcome == "refused" and "robots.txt answered HTTP 503" in r.reason and "RFC 9309" in r.reason
    assert [p for _, p in web_site.log] == ["/robots.txt", "/robots.txt"]  # retried once, the page itself never asked


def test_requests_to_one_host_are_spaced_by_the_interval_or_its_crawl_delay(settings, web_site):
    web_site.route("/robots.txt", (200, {}, b"User-agent: *\nCrawl-delay: 4\n"), host="slow.test")
    web_site.route("/robots.txt", (404, {}, b""))
    for i in range(4): web_site.route(f"/p{i}", (200, HTML, f"<html><p>page {i}</p></html>".encode()))
    clock = FakeClock()
    fast, slow = f"http://fast.test:{web_site.port}", f"http://slow.test:{web_site.port}"
    with scraper(settings, stub(fast_test="127.0.0.1", slow_test="127.0.0.1"), clock, min_interval=1.5) as s:
        out = s.scrape_all([f"{fast}/p0", f"{slow}/p1", f"{fast}/p2", f"{slow}/p3"])
    assert [r.outcome for r in out] == ["landed"] * 4
    # fast: robots.txt, then p0 waits 1.5 s; slow: robots.txt at once (another host), p1 waits 1.5 s (no Crawl-delay known
    # before its robots.txt was read); p2 on fast: its slot passed while slow was served; p3 waits slow's Crawl-delay of 4 s
    assert clock.slept == [1.5, 1.5, 4.0]


def test_a_503_is_retried_after_its_retry_after_and_a_dead_host_after_backoff(settings, web_site):
    web_site.route("/robots.txt", (404, {}, b""))
    web_site.route("/busy", (503, {"Retry-After": "30"}, b""), (429, {}, b""), (200, HTML, b"<html><p>finally</p></html>"))
    clock = FakeClock()
    with scraper(settings, stub(busy_test="127.0.0.1"), clock, min_interval=0.0) as s:
        assert s.scrape(f"http://busy.test:{web_site.port}/busy").outcome == "landed"
    assert clock.slept[0] == 30 and 1.0 <= clock.slept[1] <= 2.0  # the server's Retry-After, then backoff (1-2 s with jitter)
    with socket.socket() as sock:  # a loopback port with nobody listening: connection refused at once
        sock.bind(("127.0.0.1", 0)); dead_port = sock.getsockname()[1]
    clock = FakeClock()
    with scraper(settings, stub(dead_test="127.0.0.1"), clock, min_interval=0.0, retries=2) as s:
        r = s.scrape(f"http://dead.test:{dead_port}/page")
    assert r.outcome == "refused" and "robots.txt unreachable" in r.reason and "ConnectError" in r.reason
    assert len(clock.slept) == 2 and 0.5 <= clock.slept[0] <= 1.0 and 1.0 <= clock.slept[1] <= 2.0  # exponential, jittered


def test_a_body_over_the_size_cap_is_not_kept_with_or_without_content_length(settings, web_site):
    web_site.route("/robots.txt", (404, {}, b""))
    web_site.route("/big", (200, HTML, b"x" * 5000))
    web_site.route("/big-unannounced", (200, {**HTML, "Content-Length": None, "Connection": "close"}, b"y" * 5000))
    base = f"http://big.test:{web_site.port}"
    with scraper(settings, stub(big_test="127.0.0.1"), max_bytes=4096) as s:
        out = s.scrape_all([f"{base}/big", f"{base}/big-unannounced"])
    assert [r.outcome for r in out] == ["refused", "refused"]
    assert "5000 bytes is over the 4096-byte cap" in out[0].reason and "over the 4096-byte cap" in out[1].reason
    assert lake_for(settings).store.list_keys("bronze") == []


def test_a_gzip_body_is_inflated_under_the_cap_and_a_compression_bomb_stops_at_it(settings, web_site):
    page = b"<html><body><p>" + b"Compressed but real. " * 100 + b"</p></body></html>"
    bomb = gzip.compress(b"\0" * (64 * 2**20))  # 64 MiB of zeros in about 64 KiB: one raw chunk httpx would inflate whole
    web_site.route("/robots.txt", (404, {}, b""))
    web_site.route("/zipped", (200, {**HTML, "Content-Encoding": "gzip"}, gzip.compress(page)))
    web_site.route("/bomb", (200, {**HTML, "Content-Encoding": "gzip"}, bomb))
    web_site.route("/brotli", (200, {**HTML, "Content-Encoding": "br"}, b"\x0b\x02\x80hello\x03"))
    base = f"http://zip.test:{web_site.port}"
    with scraper(settings, stub(zip_test="127.0.0.1"), max_bytes=1 << 20) as s:
        zipped, bomb_result, brotli = s.scrape_all([f"{base}/zipped", f"{base}/bomb", f"{base}/brotli"])
    assert zipped.outcome == "landed" and lake_for(settings).store.read_bytes("bronze", zipped.page.bronze_key) == page
    assert bomb_result.outcome == "refused" and "body is over the 1048576-byte cap once inflated" in bomb_result.reason
    assert brotli.outcome == "refused" and "content-encoding 'br' was not asked for" in brotli.reason


@pytest.mark.parametrize("url, why", [
    ("http://metadata.test/latest/meta-data/iam/security-credentials/",
     "169.254.169.254 is a link-local address (cloud instance metadata)"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address (cloud instance metadata)"),
    ("http://[::ffff:a9fe:a9fe]/latest/meta-data/", "is a link-local address (cloud instance metadata)"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254 is a private address"),
    ("http://intranet.test:8080/admin", "10.20.0.7 is a private address"),
    ("https://rebind.test/", "192.168.1.10 is a private address"),  # one bad address among good ones is enough
    ("http://0.0.0.0:5432/", "0.0.0.0 is a"),
    ("file:///etc/passwd", "only http and https URLs are fetched"),
    ("gopher://mail.test:25/", "only http and https URLs are fetched"),
    ("http://admin:secret@news.test/", "credentials in a URL are never sent"),
])
def test_ssrf_guard_refuses_before_any_connection_is_opened(settings, url, why):
    resolve = stub(metadata_test="169.254.169.254", intranet_test="10.20.0.7", rebind_test=["93.184.215.14", "192.168.1.10"],
                   news_test="93.184.215.14")
    net = Recorder()
    with Scraper(settings, resolve=resolve, network=net, sleep=lambda s: None) as s:
        r = s.scrape(url)
    assert r.outcome == "refused" and why in r.reason, r
    assert net.connects == []  # refused while checking: not even robots.txt was asked for


def test_aws_profile_refuses_loopback_and_local_allows_it_and_sockets_go_to_the_checked_address(settings, web_site):
    web_site.route("/robots.txt", (404, {}, b""))
    web_site.route("/to-metadata", (302, {"Location": "http://metadata.test/latest/meta-data/"}, b""))
    resolve = stub(site_test="127.0.0.1", metadata_test="169.254.169.254")
    aws = load_settings("aws", env={}, home=settings.home)
    net = Recorder()
    with Scraper(aws, lake=lake_for(settings), resolve=resolve, network=net) as s:
        r = s.scrape(f"http://site.test:{web_site.port}/to-metadata")
    assert r.outcome == "refused" and "127.0.0.1 is a loopback address" in r.reason and net.connects == []
    net = Recorder(real=True)
    with Scraper(settings, resolve=resolve, network=net, sleep=lambda s: None) as s:
        r = s.scrape(f"http://site.test:{web_site.port}/to-metadata")
    assert r.outcome == "refused" and "cloud instance metadata" in r.reason  # the redirect hop is checked like a new URL
    assert set(net.connects) == {("127.0.0.1", web_site.port)}  # every socket went to the checked loopback IP, none elsewhere
    assert [p for _, p in web_site.log] == ["/robots.txt", "/to-metadata"]


def test_cli_scrapes_a_sitemap_and_a_url_file_one_json_line_per_url(cli, tmp_path, web_site):
    base = f"http://127.0.0.1:{web_site.port}"
    web_site.route("/robots.txt", (200, {}, b"User-agent: *\nDisallow: /private\n"))
    web_site.route("/sitemap.xml", (200, {"Content-Type": "application/xml"}, (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{base}/news</loc></url><url><loc>{base}/blog</loc></url></urlset>").encode()))
    web_site.route("/news", (200, HTML, NEWS))
    web_site.route("/blog", (200, HTML, (DATA / "blog-lemire.me.html").read_bytes()))
    urls = tmp_path / "urls.txt"
    urls.write_text(f"# picked by hand\n{base}/news\n\n{base}/private/x\n")
    home = tmp_path / "home"
    out = cli("scrape", "--sitemap", f"{base}/sitemap.xml", "--from-file", str(urls), "--interval", "0", env={"UHNW_HOME": str(home)})
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["url"].removeprefix(base), r["outcome"]) for r in lines] == [
        ("/news", "landed"), ("/private/x", "refused"), ("/blog", "landed")]
    assert out.returncode == 1 and out.stderr.strip() == "scraped landed 2, refused 1", out.stderr  # a refusal is not silent
    landed = lake_for(load_settings("local", env={}, home=home)).store.list_keys("bronze", "web/")
    assert sorted(k.rsplit(".", 1)[1] for k in landed) == ["html", "html", "json", "json"]
    bad = cli("scrape", env={"UHNW_HOME": str(home)})
    assert bad.returncode == 2 and bad.stderr.startswith("error: no URL to fetch") and "Traceback" not in bad.stderr
