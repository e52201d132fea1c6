"""`uhnw bench cold|hot|resolve|enrich`: wiring over `uhnw.bench` (each bench prints a table and ends with one JSON line)."""
from __future__ import annotations

import typer

from uhnw.cli.common import current_settings, fail

app = typer.Typer(help="Benchmarks: human table, then one JSON line of figures (record them in BENCHMARKS.md).",
                  no_args_is_help=True)


@app.command("cold")
def cold(positions: str = typer.Option("1000000,10000000", "--positions", help="comma-separated sizes (positions per day)"),
         keep: bool = typer.Option(False, "--keep", help="keep the bench lakes under UHNW_HOME/bench/")):
    "The cold path per stage (synth, ingest, validate, Spark P&L, DuckDB reference, compare): wall time and peak memory."
    from uhnw.bench.cold import bench_cold
    try:
        sizes = [int(p.replace("_", "")) for p in positions.split(",") if p.strip()]
    except ValueError:
        raise typer.BadParameter(f"--positions must be integers separated by commas, got {positions!r}") from None
    figures = bench_cold(current_settings(), sizes, keep=keep)
    failed = [s for s, r in figures["sizes"].items() if not (r["agree_position_pnl"]["agree"] and r["agree_client_metrics"]["agree"])]
    if failed:
        fail(f"Spark and the reference disagree for {', '.join(failed)} positions")


@app.command("hot")
def hot(rate: float = typer.Option(200, "--rate", help="articles per second posted to the webhook"),
        duration: float = typer.Option(20, "--duration", help="seconds of posting"),
        rms: int = typer.Option(10, "--rms", help="RM WebSocket sessions open")):
    "Hot path end to end: webhook 202 → WebSocket frame latency p50/p95/p99/max, throughput, losses, CPU per process."
    from uhnw.bench.hot import bench_hot
    figures = bench_hot(current_settings(), rate, duration, rms)
    if figures["lost"]:
        fail(f"{figures['lost']} expected alert(s) never delivered")


@app.command("resolve")
def resolve(clients: int = typer.Option(100_000, "--clients", help="size of the synthetic client book"),
            articles: int = typer.Option(3000, "--articles", help="synthetic articles (~3 KB each) to resolve"),
            seed: int = typer.Option(7, help="random seed")):
    "Build a synthetic gazetteer, resolve synthetic articles on one core, print a table and one JSON line."
    from uhnw.bench.resolve import bench_resolve
    bench_resolve(clients, articles, seed, out=typer.echo)


@app.command("enrich")
def enrich(articles: int = typer.Option(2000, "--articles", help="articles to enrich (seed set, cycled)"),
           promoted: bool = typer.Option(False, "--promoted", help="use the promoted model of the lake instead of training one")):
    "Entity resolution + relevance + summary per article: throughput, latency percentiles and peak memory."
    from uhnw.bench.enrich import bench_enrich
    bench_enrich(current_settings(), n_articles=articles, use_promoted=promoted)
