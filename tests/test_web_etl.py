"""The web ETL (`uhnw.web`, the Glue job `jobs/web_etl.ipynb`) on real saved pages of different shapes: a news article,
a blog post, a press release, a page with no article and a windows-1252 page (tests/data/web/README.md), scraped from
an HTTP server on 127.0.0.1 into bronze exactly as `uhnw scrape` lands them."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import papermill

from uhnw.config import load_settings
from uhnw.lake import lake_for
from uhnw.ops.jobs import job_notebook
from uhnw.query import run_query
from uhnw.resolve import Gazetteer, load_clients
from uhnw.scrape import Scraper
from uhnw.web import REJECTED_TABLE, WEB_TABLE, web_etl

DATA = Path(__file__).parent / "data" / "web"
DAY = "2026-12-03"
PAGES = {  # served path -> (saved page, Content-Type the server sends)
    "/news/flint-tool": ("news-phys.org.html", "text/html; charset=utf-8"),
    "/blog/json-parsing": ("blog-lemire.me.html", "text/html"),  # charset only in the page's <meta>
    "/press/turkey": ("press-wikimediafoundation.org.html", "text/html; charset=UTF-8"),
    "/wine/fruehburgunder": ("cp1252-dw.com.html", "text/html; charset=windows-1252"),
    "/services/structural": ("no-article-rs-ingenieure.de.html", "text/html; charset=UTF-8"),
}
CLIENTS = ("client_id,full_name,aliases,organizations,city,country,rm_id,base_currency\n"
           "UHNW-901,Katherine Maher,,,San Francisco,US,RM-1,USD\n"
           "UHNW-902,Alexander Stodden,,,Rech,DE,RM-2,EUR\n"
           "UHNW-903,Ingrid Vasquez-Holloway,,,Zurich,CH,RM-1,CHF\n")


def scrape_pages(home: Path, web_site) -> str:
    "Serve the saved pages under pages.test and scrape them into `home`'s bronze on DAY; returns the site's base URL."
    web_site.route("/robots.txt", (404, {}, b""))
    for path, (name, ctype) in PAGES.items():
        web_site.route(path, (200, {"Content-Type": ctype}, (DATA / name).read_bytes()))
    base = f"http://pages.test:{web_site.port}"
    settings = load_settings("local", home=home)
    with Scraper(settings, resolve=lambda host, port: ["127.0.0.1"] if host == "pages.test" else [], sleep=lambda s: None,
                 now=lambda: datetime(2026, 12, 3, 8, tzinfo=UTC)) as s:
        assert [r.outcome for r in s.scrape_all(base + p for p in PAGES)] == ["landed"] * len(PAGES)
    return base


def test_real_pages_become_articles_with_their_clients_and_the_page_without_one_is_quarantined(tmp_path, web_site):
    base = scrape_pages(tmp_path, web_site)
    settings = load_settings("local", home=tmp_path)
    (tmp_path / "clients.csv").write_text(CLIENTS)
    report = web_etl(settings, DAY, Gazetteer.from_clients(load_clients(tmp_path / "clients.csv")))
    assert (report.pages, report.articles, report.rejected, dict(report.reasons)) == (5, 4, 1, {"too_short": 1})
    lake = lake_for(settings)
    rows = {r["url"].removeprefix(base): r for r in lake.read_partition("silver", WEB_TABLE, DAY).to_pylist()}
    assert sorted(rows) == sorted(p for p in PAGES if p != "/services/structural")
    got = {p: (r["title"][:30], r["author"], r["published_date"], r["language"], r["client_ids"]) for p, r in rows.items()}
    assert got == {
        "/news/flint-tool": ("Flint flake tool partially cov", "Bob Yirka", date(2019, 10, 22), "en", []),
        "/blog/json-parsing": ("JSON parsing: simdjson vs. JSO", "View all posts by Daniel Lemire", date(2019, 8, 2), "en", []),
        "/press/turkey": ("Access to Wikipedia restored i", "Wikimedia Foundation", date(2020, 1, 15), "en", ["UHNW-901"]),
        # the page states no date of its own: htmldate takes a teaser's (01.08.2019); a guess, not checked here
        "/wine/fruehburgunder": ("Uncork the mystery of Germany'", "Deutsche Welle", got["/wine/fruehburgunder"][2], "en", ["UHNW-902"]),
    }
    wine = rows["/wine/fruehburgunder"]
    assert wine["charset"] == "cp1252" and "Frühburgunder" in wine["text"] and "Ã" not in wine["text"]  # decoded, not mojibake
    match = json.loads(rows["/press/turkey"]["matches"])[0]
    assert (match["mention"], match["score"] >= settings.resolution_threshold) == ("Katherine Maher", True)
    assert all(r["text_chars"] >= 500 and r["site"] == "pages.test" and r["bronze_key"].startswith(f"web/date={DAY}/")
               for r in rows.values())
    [rejected] = lake.read_partition("silver", REJECTED_TABLE, DAY).to_pylist()
    assert rejected["url"] == f"{base}/services/structural" and rejected["reason_code"] == "too_short"
    assert rejected["reason"].endswith("fewer than 500: not an article")
    assert lake.read_bytes("bronze", rejected["bronze_key"]) == (DATA / "no-article-rs-ingenieure.de.html").read_bytes()  # kept raw


def test_the_glue_job_declares_its_parameters_and_writes_silver_tables_uhnw_sql_reads(cli, tmp_path, web_site):
    params = papermill.inspect_notebook(str(job_notebook("web_etl")))
    assert {k: v["inferred_type_name"] for k, v in params.items()} == {
        "run_date": "str", "clients_file": "str", "clients_from": "str", "require_pages": "bool"}
    home = tmp_path / "home"
    scrape_pages(home, web_site)
    (tmp_path / "clients.csv").write_text(CLIENTS)
    env = {"UHNW_HOME": str(home)}
    run = cli("job", "run", "web_etl", "--date", DAY, "-p", "clients_file", str(tmp_path / "clients.csv"), env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    settings = load_settings("local", home=home)  # `uhnw sql` is run_query over the catalog the job registered in
    got = run_query(settings, "select client_ids, language from silver.web_articles where cardinality(client_ids) > 0 order by 1")
    assert [tuple(r) for r in got.rows] == [(["UHNW-901"], "en"), (["UHNW-902"], "en")]
    got = run_query(settings, "select reason_code, count(*) as n from silver.web_articles_rejected group by 1")
    assert [tuple(r) for r in got.rows] == [("too_short", 1)]


def test_the_book_is_postgres_client_master_a_crm_deleted_client_is_matched_no_more(tmp_path, web_site, stack):
    import uuid

    from uhnw.ops.db import connect
    from uhnw.web import client_book
    scrape_pages(tmp_path, web_site)
    settings = load_settings("local", home=tmp_path)  # this test's lake; the client master is the session's PostgreSQL
    run = uuid.uuid4().hex[:6].upper()
    maher, stodden = f"WEB-{run}-1", f"WEB-{run}-2"
    with connect(stack, autocommit=True) as conn:
        conn.execute("insert into clients (client_id, full_name, city, country, rm_id, base_currency, deleted_at) values "
                     "(%s, 'Katherine Maher', 'San Francisco', 'US', 'RM-WEB', 'USD', now()), "  # deleted in the CRM
                     "(%s, 'Alexander Stodden', 'Rech', 'DE', 'RM-WEB', 'EUR', null)", (maher, stodden))
        try:
            book = client_book(stack, DAY)
            report = web_etl(settings, DAY, Gazetteer.from_clients(book))
        finally:
            conn.execute("delete from clients where client_id = any(%s)", ([maher, stodden],))
    assert stodden in set(book.client_id) and maher not in set(book.client_id)
    assert report.clients == {stodden: 1}  # the Wikimedia release names Katherine Maher: deleted, so no match
    assert client_book(settings, DAY, clients_from="silver").empty  # this lake has no silver.clients: a backfill finds none
