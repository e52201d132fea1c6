"""The niche-scraper leg of the demo: serve saved real pages from a loopback HTTP server, `uhnw scrape` them into
bronze, and run the web ETL (`jobs/web_etl.ipynb`'s transform) so that they land in `silver.web_articles`.

There is no internet here, so the "site" is an HTTP server on 127.0.0.1 serving pages saved from real sites
(`tests/data/web/`); the `local` profile's scraper policy allows loopback for exactly this (the `aws` one does not).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from uhnw.config import Settings, repo_root

__all__ = ["DEMO_PAGES", "serve_pages", "run_web_demo"]

DEMO_PAGES = ("press-wikimediafoundation.org.html", "news-phys.org.html")  # a press release and a news article


@contextmanager
def serve_pages(folder: Path):
    "An HTTP server on 127.0.0.1 (a free port) serving the files of `folder`; yields its base URL."
    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs): super().__init__(*args, directory=str(folder), **kwargs)
        def log_message(self, *args): pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_web_demo(settings: Settings, pages: tuple[str, ...] = DEMO_PAGES, folder: Path | None = None,
                 log: Callable[[str], object] = print) -> dict:
    """Scrape `pages` of `folder` (default: the repository's tests/data/web) from a loopback server into bronze, run the web ETL
    for today against the client master in PostgreSQL (both silver tables are Iceberg commits); returns what happened."""
    from uhnw.lake import lake_for
    from uhnw.resolve import Gazetteer
    from uhnw.scrape import Scraper, scrape_policy
    from uhnw.web import client_book, web_etl
    if settings.profile != "local": raise ValueError("the web demo serves pages from loopback: run it on the local profile")
    folder = Path(folder or repo_root() / "tests" / "data" / "web")
    missing = [p for p in pages if not (folder / p).is_file()]
    if missing: raise FileNotFoundError(f"demo pages {', '.join(missing)} are not in {folder} (a repository checkout has them)")
    lake = lake_for(settings).ensure()
    with serve_pages(folder) as base, Scraper(settings, lake, scrape_policy(settings, min_interval=0.2)) as scraper:
        results = scraper.scrape_all(f"{base}/{p}" for p in pages)
    for r in results: log(f"scrape {r.url}: {r.outcome}{' (' + r.reason + ')' if r.reason else ''}")
    landed = [r.page for r in results if r.page is not None]  # pages are filed under their fetch date
    date = (landed[0].fetched_at if landed else datetime.now(UTC)).date().isoformat()
    book = client_book(settings, date, lake)
    report = web_etl(settings, date, Gazetteer.from_clients(book), lake)
    log(f"{report.summary()}; client book of {len(book)} clients; query it with "
        f"`uhnw sql \"select title, client_ids from silver.web_articles where date = date '{date}'\"`")
    return {"date": date, "scraped": [r.to_dict() for r in results], "pages": report.pages, "articles": report.articles,
            "rejected": report.rejected, "clients_mentioned": sorted(report.clients)}
