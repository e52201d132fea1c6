"""The web ETL's rate: real web pages extracted (trafilatura), language-detected and resolved against a client book per second.

The pages are the real corpus in `shared/corpora/web_pages/pages/` beside the repository (else the five saved pages of
`tests/data/web/`), landed in a temporary lake's bronze exactly as `uhnw scrape` lands them (cycled, each copy made
distinct by an HTML comment so that the content dedupe keeps it), then `uhnw.web.web_etl` runs over that day. Fetching is
not measured (it is bounded by the sites and the politeness interval, not by us); building the gazetteer is reported
apart. Prints nothing: `uhnw bench ingest` prints the figures.
"""
from __future__ import annotations

import hashlib
import tempfile
import time
import uuid
from datetime import UTC, datetime
from itertools import cycle, islice
from pathlib import Path

from uhnw.catalog import drop_namespaces, scratch_settings
from uhnw.config import Settings, repo_root
from uhnw.lake import Lake, lake_for, partition_key
from uhnw.resolve import Gazetteer
from uhnw.scrape import RawPage, land_page
from uhnw.web import web_etl

__all__ = ["corpus_pages", "measure_pages"]

DAY = "2026-01-05"


def corpus_pages(corpus: Path | None = None) -> list[Path]:
    "The saved real pages to measure on (non-empty files only)."
    shared, saved = repo_root().parent / "shared" / "corpora" / "web_pages" / "pages", repo_root() / "tests" / "data" / "web"
    for folder in [corpus] if corpus else [shared, saved]:
        pages = sorted(p for p in Path(folder).glob("*.html") if p.stat().st_size)
        if pages: return pages
    raise FileNotFoundError(f"no saved .html pages in {corpus or 'shared/corpora/web_pages/pages or tests/data/web'}")


def _land(lake: Lake, pages: list[Path], n_pages: int) -> None:
    when = datetime.fromisoformat(f"{DAY}T08:00:00+00:00").astimezone(UTC)
    for i, path in enumerate(islice(cycle(pages), n_pages)):
        body = path.read_bytes() + (f"\n<!-- copy {i // len(pages)} -->\n".encode() if i >= len(pages) else b"")
        sha = hashlib.sha256(body).hexdigest()
        url = f"https://corpus.test/{path.name}?copy={i // len(pages)}"
        land_page(lake, RawPage(url, url, when, 200, "text/html", sha, partition_key("web", DAY, f"{sha}.html"), len(body), "bench"), body)


def measure_pages(settings: Settings, n_pages: int, clients: int = 10_000, corpus: Path | None = None) -> dict:
    "Pages per second through the web ETL (extraction, language, entity resolution, silver write) on the real corpus."
    from uhnw.synth import client_book
    pages = corpus_pages(corpus)
    t0 = time.perf_counter()
    gazetteer = Gazetteer.from_clients(client_book(clients, seed=0))
    build = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="uhnw-bench-pages-") as home:
        scratch = scratch_settings(settings, Path(home), f"bench_pages_{uuid.uuid4().hex[:8]}")  # the settings' own lake is untouched
        lake = lake_for(scratch).ensure()
        _land(lake, pages, n_pages)
        t0 = time.perf_counter()
        try:
            report = web_etl(scratch, DAY, gazetteer, lake)
            seconds = time.perf_counter() - t0
        finally:
            drop_namespaces(scratch)
    return {"rate_per_s": round(report.pages / seconds, 2), "unit": "pages/s extracted and resolved", "seconds": round(seconds, 2),
            "pages": report.pages, "articles": report.articles, "rejected": report.rejected, "rejected_reasons": dict(report.reasons),
            "client_mentions": sum(report.clients.values()), "distinct_pages": len(pages), "clients": clients,
            "gazetteer_build_seconds": round(build, 2)}
