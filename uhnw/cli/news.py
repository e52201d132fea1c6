"""`uhnw ingest news-poll`: wiring over `uhnw.ingest.poll` (mounted by `uhnw.cli` as `ingest news-poll`)."""
from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path

import typer

from uhnw.cli.common import current_settings, fail


def news_poll(url: str = typer.Option(..., "--url", help="RSS/Atom feed or JSON news API (a list of articles, or {\"articles\": [...]})"),
              interval: float = typer.Option(60.0, "--interval", min=1.0, help="seconds between polls"),
              once: bool = typer.Option(False, "--once", help="poll once (retrying failures with backoff, at most 5 times) and exit"),
              source: str | None = typer.Option(None, "--source", help="NewsEvent.source for feed articles (default: the URL's host)"),
              state: Path | None = typer.Option(None, "--state", help="dedupe state file (default: UHNW_HOME/state/news-poll.sqlite)"),
              timeout: float = typer.Option(20.0, "--timeout", help="HTTP timeout in seconds")):
    "Poll URL with conditional requests and produce each new article once to raw-news-events; one JSON line per poll."
    import httpx

    from uhnw.bus import EventProducer
    from uhnw.ingest.poll import NewsPoller, PollError, PollState, state_path
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = current_settings()
    producer = EventProducer(settings)
    headers = {"User-Agent": "uhnw-news-poll/1", "Accept": "application/rss+xml, application/atom+xml, application/json;q=0.9, */*;q=0.5"}
    emit = lambda result: typer.echo(json.dumps(asdict(result)))
    try:
        with PollState(state or state_path(settings)) as st, httpx.Client(timeout=timeout, follow_redirects=True, headers=headers) as http:
            NewsPoller(settings, url, st, producer, http, source=source).run(interval=interval, once=once, on_result=emit)
    except PollError as e:
        fail(f"{e}")
    finally:
        try: producer.flush(10)
        except RuntimeError as e: typer.echo(f"warning: {e}", err=True)
        producer.close(0)
