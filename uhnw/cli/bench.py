"""`uhnw bench cold|hot|api|resolve|enrich|ingest`: wiring over `uhnw.bench` (each bench prints a table and ends with one JSON line)."""
from __future__ import annotations

from pathlib import Path

import typer

from uhnw.cli.common import current_settings, fail

FAULT_NAMES = ("kill-hotpath", "kill-api", "restart-kafka", "restart-postgres", "pause-hotpath")  # uhnw.bench.chaos.FAULTS

app = typer.Typer(help="Benchmarks: human table, then one JSON line of figures (record them in BENCHMARKS.md).",
                  no_args_is_help=True)


@app.command("cold")
def cold(positions: str = typer.Option("1000000,10000000", "--positions", help="comma-separated sizes (positions per day)"),
         keep: bool = typer.Option(False, "--keep", help="keep the bench lakes under UHNW_HOME/bench/"),
         archive: bool = typer.Option(True, "--archive/--no-archive",
                                      help="archive the gold day to the cold tier (its JSON is held in memory: ~7 GB a million rows)"),
         warm_up: bool = typer.Option(True, "--warm-up/--no-warm-up",
                                      help="run the stack's Spark warm-up (a tiny P&L, its own stage) before the P&L is timed")):
    "The cold path per stage (synth, ingest, validate, Spark P&L, DuckDB reference, compare): wall time and peak memory."
    from uhnw.bench.cold import bench_cold
    try:
        sizes = [int(p.replace("_", "")) for p in positions.split(",") if p.strip()]
    except ValueError:
        raise typer.BadParameter(f"--positions must be integers separated by commas, got {positions!r}") from None
    figures = bench_cold(current_settings(), sizes, keep=keep, archive=archive, warm_up=warm_up)
    failed = [s for s, r in figures["sizes"].items() if not (r["agree_position_pnl"]["agree"] and r["agree_client_metrics"]["agree"])]
    if failed:
        fail(f"Spark and the reference disagree for {', '.join(failed)} positions")


@app.command("hot")
def hot(rate: float = typer.Option(200, "--rate", help="articles per second posted to the webhook"),
        duration: float = typer.Option(20, "--duration", help="seconds of posting"),
        rms: int = typer.Option(10, "--rms", help="RM WebSocket sessions open (RMs of the book in turn)"),
        warmup: float = typer.Option(5, "--warmup", help="seconds at the same rate before the measured window (reported apart)"),
        no_floor: bool = typer.Option(False, "--no-floor", help="skip the floor baseline (ack -> socket with no enrichment)"),
        instances: int = typer.Option(1, "--instances", help="`uhnw serve hotpath` processes sharing raw-news-events"),
        api_replicas: int = typer.Option(1, "--api-replicas", help="`uhnw serve api` processes (sockets and posts spread over them)"),
        rates: str = typer.Option("", "--rates", help="comma-separated rates, one window each on the same fleet (instead of --rate)"),
        target_p99_ms: float = typer.Option(50, "--target-p99-ms", help="the latency target a rate must meet to count as sustained"),
        frames_out: str = typer.Option(None, "--frames-out", help="append one JSON line per frame (its stage times) to this file")):
    "Hot path end to end: webhook 202 → WebSocket frame latency p50/p95/p99/max, throughput, losses, CPU per process."
    from uhnw.bench.hot import bench_hot
    try:
        rate_list = [float(r) for r in rates.split(",") if r.strip()] or None
    except ValueError:
        raise typer.BadParameter(f"--rates must be numbers separated by commas, got {rates!r}") from None
    if instances < 1 or api_replicas < 1: raise typer.BadParameter("--instances and --api-replicas must be at least 1")
    figures = bench_hot(current_settings(), rate, duration, rms, warmup=warmup, floor=not no_floor, instances=instances,
                        api_replicas=api_replicas, rates=rate_list, target_p99_ms=target_p99_ms, frames_out=frames_out)
    results = figures["rates"] or [figures]
    lost, dup = sum(r["lost"] for r in results), sum(r["duplicated"] for r in results)
    if lost or dup:
        fail(f"{lost} expected alert frame(s) never delivered, {dup} duplicated")


@app.command("chaos")
def chaos(rate: float = typer.Option(100, "--rate", help="articles per second posted during the whole run"),
          gap: float = typer.Option(36, "--gap", help="seconds between two faults (and after the last)"),
          faults: str = typer.Option(",".join(FAULT_NAMES), "--faults", help="comma-separated faults, in this order"),
          rms: int = typer.Option(10, "--rms", help="RM WebSocket sessions, spread over the API replicas"),
          api_replicas: int = typer.Option(2, "--api-replicas", help="`uhnw serve api` processes"),
          instances: int = typer.Option(2, "--instances", help="`uhnw serve hotpath` processes in one consumer group"),
          warmup: float = typer.Option(10, "--warmup", help="seconds of steady stream before the first fault")):
    "Faults in turn during a sustained stream (kill -9s, broker and database restarts, a paused instance): lost, duplicated, recovery."
    from uhnw.bench.chaos import bench_chaos
    try:
        figures = bench_chaos(current_settings(), rate, gap, tuple(f.strip() for f in faults.split(",") if f.strip()), rms,
                              api_replicas, instances, warmup, out=typer.echo)
    except ValueError as e:
        fail(f"{e}")
    if figures["lost"] or figures["duplicated"]:
        fail(f"{figures['lost']} alert frame(s) lost, {figures['duplicated']} duplicated")


@app.command("soak")
def soak(rate: float = typer.Option(100, "--rate", help="articles per second"),
         minutes: float = typer.Option(10, "--minutes", help="length of the run"),
         rms: int = typer.Option(10, "--rms", help="RM WebSocket sessions open"),
         warmup_minutes: float = typer.Option(2, "--warmup-minutes", help="growth is measured from the end of this")):
    "A steady stream for minutes: resident memory of each service per minute and its growth after the warm-up (target < 10 %)."
    from uhnw.bench.soak import bench_soak
    try:
        figures = bench_soak(current_settings(), rate, minutes, rms, warmup_minutes, out=typer.echo)
    except ValueError as e:
        fail(f"{e}")
    if not figures["met"]:
        fail("resident memory of a service grew by 10 % or more after the warm-up")


@app.command("api")
def api(clients: int = typer.Option(10_000, "--clients", help="clients in the synthetic book (deleted after the run)"),
        rms: int = typer.Option(50, "--rms", help="RMs the clients are spread over; each request is a random one of them"),
        rate: float = typer.Option(200, "--rate", help="requests per second per surface, sent at fixed instants (open loop)"),
        seconds: float = typer.Option(20, "--seconds", help="seconds of sending per surface"),
        procs: int = typer.Option(1, "--procs", help="client processes sharing the schedule (when one process cannot keep the rate)"),
        connections: int = typer.Option(64, "--connections", help="HTTP connection pool size per client process"),
        profile: Path = typer.Option(None, "--profile", help="run the API under cProfile and write its stats here"),
        surface: str = typer.Option("both", "--surface", help="rest, graphql or both (one after the other)")):
    "REST GET /api/clients and the GraphQL book query under concurrent RMs: p50/p95/p99/max, errors, achieved rate, per surface."
    from uhnw.bench.api import bench_api
    if rate <= 0 or seconds <= 0 or procs < 1 or connections < 1:
        raise typer.BadParameter("--rate, --seconds, --procs and --connections must be positive")
    if surface not in ("rest", "graphql", "both"): raise typer.BadParameter("--surface must be rest, graphql or both")
    try:
        figures = bench_api(current_settings(), clients, rms, rate, seconds, procs, connections, profile_to=profile, out=typer.echo,
                            surfaces_run=("rest", "graphql") if surface == "both" else (surface,))
    except ValueError as e:
        fail(f"{e}")
    errors = sum(s.get("errors", 0) for s in figures["surfaces"].values())
    if errors:
        fail(f"{errors} request(s) failed (non-2xx, timeout or a body that is not the RM's book)")


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


@app.command("ingest")
def ingest(crm: int = typer.Option(20_000, "--crm", help="CDC events to apply (0: skip)"),
           ticks: int = typer.Option(200_000, "--ticks", help="market ticks to publish and conflate (0: skip)"),
           pages: int = typer.Option(111, "--pages", help="real web pages to extract and resolve (0: skip)"),
           stream: int = typer.Option(50_000, "--stream", help="news events + alerts for the Spark stream into silver (0: skip)")):
    "The four sources' throughput on the running stack: CDC events/s applied, ticks/s published and conflated, pages/s, stream rows/s."
    from uhnw.bench.ingest import bench_ingest
    sizes = {k: v for k, v in (("crm", crm), ("ticks", ticks), ("pages", pages), ("stream", stream)) if v > 0}
    if not sizes: raise typer.BadParameter("every source is skipped: give at least one positive size")
    try:
        bench_ingest(current_settings(), sizes, out=typer.echo)
    except ValueError as e:
        fail(f"{e}")
