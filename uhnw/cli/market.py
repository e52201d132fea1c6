"""`uhnw ingest ticks` (a vendor file replayed, or the synthetic feed) and `uhnw ticks close --date D` (the feed's
end-of-day close into `silver.prices`): wiring over `uhnw.ingest.market` (mounted by `uhnw.cli`)."""
from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import typer

from uhnw.cli.common import checked_date, current_settings, fail

ticks_app = typer.Typer(help="Market ticks: the end-of-day close from the feed.", no_args_is_help=True)


def ingest_ticks(replay: Path | None = typer.Option(None, "--replay", help="CSV (with a header) or JSON-lines file of trades and quotes"),
                 synthetic: bool = typer.Option(False, "--synthetic", help="a random walk per instrument of the book, in session only"),
                 seconds: float = typer.Option(60.0, "--seconds", min=0.1, help="--synthetic: how long to publish"),
                 rate: float = typer.Option(20.0, "--rate", min=0.1, help="--synthetic: ticks per second over all instruments"),
                 start: str | None = typer.Option(None, "--start", help="--synthetic: the feed's clock at its first tick, ISO-8601 "
                                                  "with offset (default now); 'session': the latest session if none is open now"),
                 seed: int | None = typer.Option(None, "--seed", help="--synthetic: random seed (default: a new walk every run)")):
    "Publish MarketTicks to market-ticks keyed by instrument (bad rows to market-ticks.dlq with their reason); one JSON line."
    import psycopg

    from uhnw.bus import EventProducer, on_sigterm
    from uhnw.ingest.market import book_listings, replay_file, run_synthetic, session_start
    if (replay is None) == (not synthetic): fail("give exactly one of --replay FILE and --synthetic", 2)
    settings = current_settings()
    try:
        if replay is not None:
            with EventProducer(settings) as producer: report = replay_file(settings, replay, producer)
            typer.echo(json.dumps(report.to_dict()))
            if report.dead_lettered:
                typer.echo(f"warning: {report.dead_lettered} row(s) dead-lettered: `uhnw dlq show market-ticks` shows why", err=True)
            return
        from uhnw.ops.db import connect
        with connect(settings) as conn: listings = book_listings(conn)
        now = datetime.now(UTC)
        at = session_start(listings, now) if start == "session" and listings else _start(start) if start not in (None, "session") else now
        stop = threading.Event()
        restore = on_sigterm(stop)
        try:
            with EventProducer(settings) as producer:
                typer.echo(json.dumps(run_synthetic(settings, listings, seconds, rate, producer, start=at, seed=seed, stop=stop)))
        finally:
            restore()
    except (OSError, ValueError, RuntimeError, psycopg.OperationalError) as e:
        fail(str(e))


def _start(text: str) -> datetime:
    try: at = datetime.fromisoformat(text)
    except ValueError: fail(f"--start {text!r} is not an ISO-8601 time", 2)
    if at.tzinfo is None: fail(f"--start {text!r} has no UTC offset", 2)
    return at.astimezone(UTC)


@ticks_app.command("close")
def close(date: str = typer.Option(..., "--date", help="the trading day (YYYY-MM-DD) whose close to write"),
          force: bool = typer.Option(False, "--force", help="write it even if it closes fewer instruments than the last run")):
    """Write the feed's close of DATE (ticks from the topic and from bronze) to silver.tick_closes and fill silver.prices
    where the vendor file has no close; one JSON line."""
    from uhnw.ingest.market import eod_close
    day = checked_date(date)
    settings = current_settings()
    try:
        report, undecodable = eod_close(settings, day, force=force)
    except (LookupError, OSError, ValueError, RuntimeError) as e:
        fail(str(e))
    typer.echo(json.dumps({**report.to_dict(), "undecodable_messages": undecodable}))
    if report.official + report.last_trade == 0:
        typer.echo(f"warning: no trade or official close of {day} on the feed: silver.prices keeps only the vendor file's rows", err=True)
