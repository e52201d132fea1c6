"""`uhnw bench …`: wiring over the benchmarks (each prints a table and ends with one JSON line)."""
from __future__ import annotations

import typer

from uhnw.config import load_settings

bench_app = typer.Typer(help="Benchmarks: human table, then one JSON line of figures (record them in BENCHMARKS.md).",
                        no_args_is_help=True)


@bench_app.command("cold")
def bench_cold_cmd(positions: str = typer.Option("1000000,10000000", "--positions", help="comma-separated sizes (positions per day)"),
                   keep: bool = typer.Option(False, "--keep", help="keep the bench lakes under UHNW_HOME/bench/")):
    "The cold path per stage (synth, ingest, validate, Spark P&L, DuckDB reference, compare): wall time and peak memory."
    from uhnw.bench import bench_cold
    try:
        sizes = [int(p.replace("_", "")) for p in positions.split(",") if p.strip()]
    except ValueError:
        raise typer.BadParameter(f"--positions must be integers separated by commas, got {positions!r}") from None
    figures = bench_cold(load_settings(), sizes, keep=keep)
    failed = [s for s, r in figures["sizes"].items() if not (r["agree_position_pnl"]["agree"] and r["agree_client_metrics"]["agree"])]
    if failed:
        typer.echo(f"error: Spark and the reference disagree for {', '.join(failed)} positions", err=True)
        raise typer.Exit(1)


def bench_enrich_cmd(articles: int = typer.Option(2000, "--articles", help="articles to enrich (seed set, cycled)"),
                     promoted: bool = typer.Option(False, "--promoted", help="use the promoted model of the lake instead of training one")):
    "Entity resolution + relevance + summary per article: throughput, latency percentiles and peak memory."
    from uhnw.enrich import bench_enrich
    bench_enrich(load_settings(), n_articles=articles, use_promoted=promoted)


@bench_app.command("hot")
def bench_hot_cmd(rate: float = typer.Option(200, "--rate", help="articles per second posted to the webhook"),
                  duration: float = typer.Option(20, "--duration", help="seconds of posting"),
                  rms: int = typer.Option(10, "--rms", help="RM WebSocket sessions open")):
    "Hot path end to end: webhook 202 → WebSocket frame latency p50/p95/p99/max, throughput, losses, CPU per process."
    from uhnw.bench import bench_hot
    figures = bench_hot(load_settings(), rate, duration, rms)
    if figures["lost"]:
        typer.echo(f"error: {figures['lost']} expected alert(s) never delivered", err=True)
        raise typer.Exit(1)
