"""`uhnw scrape URL... | --sitemap URL | --from-file FILE`: wiring over `uhnw.scrape` (one JSON line per URL)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from uhnw.cli.common import current_settings, fail


def scrape(urls: Annotated[list[str] | None, typer.Argument(help="pages to fetch (http/https)", show_default=False)] = None,
           sitemap: Annotated[list[str] | None, typer.Option("--sitemap", help="fetch every page a sitemap (or index) lists")] = None,
           from_file: Annotated[Path | None, typer.Option("--from-file", help="a file of URLs, one per line (# comments)")] = None,
           max_bytes: Annotated[int, typer.Option("--max-bytes", min=1, help="largest body kept")] = 5 * 2**20,
           interval: Annotated[float, typer.Option("--interval", min=0.0, help="seconds between two requests to one host")] = 1.0):
    """Fetch pages politely (robots.txt, per-host rate limit, retries) and land each new one in bronze/web/date=D/.

    Prints one JSON line per URL (outcome: landed, duplicate, refused or failed) and a summary on stderr;
    exits 1 when a URL was refused or failed, 2 when no URL was given."""
    from uhnw.scrape import FetchFailed, Scraper, UrlRefused, read_url_file, scrape_policy
    settings = current_settings()
    todo = list(urls or [])
    if from_file is not None:
        try: todo += read_url_file(from_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as e: fail(f"--from-file {from_file}: {e}")
    counts: dict[str, int] = {}

    def emit(result):
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
        typer.echo(json.dumps(result.to_dict()))

    with Scraper(settings, policy=scrape_policy(settings, max_bytes=max_bytes, min_interval=interval)) as scraper:
        for url in sitemap or []:
            try: todo += scraper.sitemap_urls(url)
            except (UrlRefused, FetchFailed, ValueError) as e: fail(f"--sitemap {url}: {e}")
        todo = list(dict.fromkeys(todo))
        if not todo: fail("no URL to fetch: give URLs, --sitemap URL or --from-file FILE", 2)
        scraper.scrape_all(todo, on_result=emit)
    typer.echo("scraped " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), err=True)
    if counts.get("refused") or counts.get("failed"): raise typer.Exit(1)
