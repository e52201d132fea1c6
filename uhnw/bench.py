"""Benchmarks: `uhnw bench cold …` (and the other benches' wiring).

Speed and memory targets are met here, never in timed unit tests. Every bench prints
a human table and, as its last line, one JSON object with the figures; results are
recorded in BENCHMARKS.md with the machine and the command.
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import threading
import time
from contextlib import contextmanager

import psutil

from uhnw.config import Settings


class PeakRss:
    "Samples the resident memory of this process and all its children (the Spark JVM included) in a thread."

    def __init__(self, interval: float = 0.05):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._proc = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = self._proc.memory_info().rss
        for child in self._proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            self._stop.wait(self.interval)

    def __enter__(self):
        self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


@contextmanager
def stage(rows: list, size: int, name: str):
    "Time a stage and record its wall time and peak RSS (process tree) in `rows`."
    t0 = time.perf_counter()
    with PeakRss() as mem:
        yield
    rows.append({"positions": size, "stage": name, "seconds": round(time.perf_counter() - t0, 3),
                 "peak_rss_mb": round(mem.peak / 2**20)})
    print(f"  {size:>12,}  {name:<22} {rows[-1]['seconds']:>9.2f} s  {rows[-1]['peak_rss_mb']:>8,} MB", flush=True)


def compare_results(got, want, keys: list[str], rtol: float = 1e-9) -> dict:
    "Vectorised agreement check of two results (Arrow or pandas) with DuckDB: missing keys, null mismatches, max relative error."
    import duckdb
    con = duckdb.connect()
    con.register("g", got)
    con.register("w", want)
    cols = [r[0] for r in con.execute("DESCRIBE w").fetchall()]
    types = dict(con.execute("DESCRIBE w").fetchall()[i][:2] for i in range(len(cols)))
    doubles = [c for c in cols if types[c] == "DOUBLE" and c not in keys]
    on = " AND ".join(f"g.{k} = w.{k}" for k in keys)
    parts = [f"count(*) FILTER (WHERE g.{keys[0]} IS NULL OR w.{keys[0]} IS NULL) AS missing_keys"]
    for c in doubles:
        parts.append(f"count(*) FILTER (WHERE (g.{c} IS NULL) <> (w.{c} IS NULL)) AS null_{c}")
        parts.append(f"max(CASE WHEN w.{c} = 0 THEN abs(g.{c}) ELSE abs(g.{c} - w.{c}) / abs(w.{c}) END) AS rel_{c}")
    row = con.execute(f"SELECT count(*) AS rows, {', '.join(parts)} FROM g FULL OUTER JOIN w ON {on}").fetchone()
    names = ["rows", "missing_keys"] + [n for c in doubles for n in (f"null_{c}", f"rel_{c}")]
    out = dict(zip(names, row, strict=True))
    max_rel = max((out[f"rel_{c}"] or 0.0) for c in doubles) if doubles else 0.0
    nulls = sum(out[f"null_{c}"] for c in doubles)
    return {"rows": out["rows"], "missing_keys": out["missing_keys"], "null_mismatches": nulls, "max_rel_error": max_rel,
            "agree": out["missing_keys"] == 0 and nulls == 0 and max_rel <= rtol}


def bench_cold(settings: Settings, sizes: list[int], keep: bool = False) -> dict:
    "Wall time and peak memory per cold-path stage for each size, Spark vs the DuckDB reference, with agreement checked."
    from uhnw.cli_lake import land_synth
    from uhnw.lake import lake_for
    from uhnw.pnl import POSITION_KEYS, load_inputs_arrow, pnl_reference, run_daily_pnl
    from uhnw.spark import get_spark
    from uhnw.synth import synth_cold
    from uhnw.validate import etl_date

    rows: list[dict] = []
    results: dict[str, dict] = {}
    print(f"uhnw bench cold on {platform.node()}: {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB")
    print(f"  {'positions':>12}  {'stage':<22} {'wall':>11}  {'peak RSS':>11}")
    spark, spark_start = None, 0.0
    for size in sizes:
        home = settings.home / "bench" / f"cold-{size}"
        shutil.rmtree(home, ignore_errors=True)
        s = dataclasses.replace(settings, home=home)
        lake = lake_for(s)
        clients = max(50, size // 200)
        with stage(rows, size, "synth (2 days)"):
            manifest = synth_cold(home / "inbox", days=2, clients=clients, positions=size, seed=42)
        day1, day2 = manifest["dates"]
        with stage(rows, size, "ingest to bronze"):
            land_synth(s, manifest, lake)
        with stage(rows, size, "validate to silver"):
            for d in (day1, day2):
                etl_date(s, d, lake)
        if spark is None:
            t0 = time.perf_counter()
            with stage(rows, size, "spark session start"):
                spark = get_spark(s, app_name="bench-cold")
            spark_start = time.perf_counter() - t0
        with stage(rows, size, "spark P&L (day 2)"):
            summary = run_daily_pnl(spark, s, day2)
        with stage(rows, size, "reference P&L (duckdb)"):
            want_positions, want_metrics = pnl_reference(*load_inputs_arrow(lake, day2))
        with stage(rows, size, "compare"):
            got_positions = lake.read_partition("gold", "position_pnl", day2)
            got_metrics = lake.read_partition("gold", "client_metrics", day2)
            agree_positions = compare_results(got_positions, want_positions, POSITION_KEYS)
            agree_metrics = compare_results(got_metrics, want_metrics, ["client_id"])
        by_stage = {r["stage"]: r for r in rows if r["positions"] == size}
        spark_s, ref_s = by_stage["spark P&L (day 2)"]["seconds"], by_stage["reference P&L (duckdb)"]["seconds"]
        results[str(size)] = {
            "clients": clients, "position_rows": summary["positions"], "unpriced_positions": summary["unpriced_positions"],
            "stages": {r["stage"]: {"seconds": r["seconds"], "peak_rss_mb": r["peak_rss_mb"]} for r in by_stage.values()},
            "spark_over_reference": round(spark_s / ref_s, 2) if ref_s else None,
            "agree_position_pnl": agree_positions, "agree_client_metrics": agree_metrics}
        print(f"  {size:>12,}  spark/reference {results[str(size)]['spark_over_reference']}x; agree: position_pnl "
              f"{agree_positions['agree']} (max rel {agree_positions['max_rel_error']:.1e}), client_metrics "
              f"{agree_metrics['agree']} (max rel {agree_metrics['max_rel_error']:.1e})", flush=True)
        if not keep:
            shutil.rmtree(home, ignore_errors=True)
    if spark is not None:
        spark.stop()
    figures = {"bench": "cold", "machine": {"cores": psutil.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30)},
               "spark_session_start_s": round(spark_start, 2), "sizes": results}
    print(json.dumps(figures))
    return figures


def _cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        try:
            t = psutil.Process(pid).cpu_times()
            out[name] = t.user + t.system
        except psutil.Error:
            pass
    return out


def _stack_pids(settings: Settings) -> dict[str, int]:
    out = {}
    for name in ("kafka", "postgres"):
        try:
            out[name] = int((settings.stack_dir / f"{name}.pid").read_text().split()[0])
        except (OSError, ValueError):
            pass
    return out


def _seed_clients_if_empty(settings: Settings, n: int = 100) -> int:
    "Load a synthetic client book into PostgreSQL when it has none (the hot path matches against it)."
    import numpy as np

    from uhnw.db import connect
    from uhnw.sync import sync_clients
    from uhnw.synth import make_clients
    with connect(settings) as conn:
        have = conn.execute("select count(*) from clients").fetchone()[0]
        if have: return have
        t = make_clients(n, np.random.default_rng(11)).to_pylist()
        rows = [(r["client_id"], r["full_name"], [a for a in r["aliases"].split("|") if a], [o for o in r["organizations"].split("|") if o],
                 r["city"], r["country"], r["rm_id"], r["base_currency"]) for r in t]
        with conn.transaction():
            sync_clients(conn, rows)
        return n


def bench_hot(settings: Settings, rate: float, duration: float, rms: int, senders: int = 8) -> dict:
    "End-to-end latency of the hot path (webhook 202 → WebSocket frame) at a steady article rate with `rms` RM sockets open."
    import concurrent.futures as cf

    import httpx
    from confluent_kafka.admin import AdminClient

    from uhnw import stack
    from uhnw.bus import client_config, ensure_topics, topic_specs
    from uhnw.hot_harness import (
        RmListener,
        clients_from_db,
        ensure_relevance_model,
        expected_alerts,
        post_signed,
        provider_payload,
        rm_token,
        start_hot_services,
    )
    from uhnw.synth import synth_news

    stamp = time.strftime("%Y%m%d%H%M%S")
    settings = dataclasses.replace(settings, topic_prefix=f"{settings.topic_prefix}bench{stamp}.")
    stack.up(settings)
    ensure_topics(AdminClient(client_config(settings)), topic_specs(settings))
    _seed_clients_if_empty(settings)
    ensure_relevance_model(settings, time.strftime("%Y-%m-%d"))
    clients = clients_from_db(settings)
    n = int(rate * duration)
    articles = synth_news(clients, n, seed=int(stamp) % 1_000_003, source=f"bench{stamp}")
    expected = expected_alerts(settings, articles, clients)
    services = start_hot_services(settings, settings.home / "runs" / "bench-hot" / stamp, instance=f"bench{stamp}")
    rm_ids = sorted(set(clients["rm_id"].dropna()))
    listeners = [RmListener(services.api_url, rm_ids[i % len(rm_ids)], rm_token(settings, rm_ids[i % len(rm_ids)])).start()
                 for i in range(rms)]
    pids = {"api": services.api.pid, "hotpath": services.hotpath.pid, **_stack_pids(settings), "bench (client)": os.getpid()}
    cpu0, t_start = _cpu_seconds(pids), time.perf_counter()
    acked: dict[str, tuple[float, float]] = {}  # article id -> (sent, 202 received)
    statuses: dict[int, int] = {}
    try:
        with httpx.Client(timeout=10, limits=httpx.Limits(max_connections=senders)) as client:
            def send(i: int):
                delay = t_start + i / rate - time.perf_counter()
                if delay > 0: time.sleep(delay)
                payload = provider_payload(articles[i])
                sent = time.time()
                status, t_ack = post_signed(client, services.api_url, services.secret, payload)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 202: acked[articles[i]["id"]] = (sent, t_ack)
            with cf.ThreadPoolExecutor(senders) as pool:
                list(pool.map(send, range(n)))
        send_seconds = time.perf_counter() - t_start
        deadline = time.monotonic() + 30
        covered = {(a, c) for a, c in expected}
        while time.monotonic() < deadline and not covered <= _frames_seen(listeners):
            time.sleep(0.2)
        elapsed = time.perf_counter() - t_start
        cpu1 = _cpu_seconds(pids)
    finally:
        for listener in listeners: listener.stop()
        services.stop()
    seen = _frames_seen(listeners)
    lat, stages = [], {"webhook (post -> 202)": [], "hot path (202 -> enriched)": [], "sink (enriched -> stored)": [],
                       "push (stored -> frame)": []}
    for listener in listeners:
        for f in listener.frames:
            if f.alert["article_id"] not in acked: continue
            sent, ack = acked[f.alert["article_id"]]
            processed, created = _ts(f.alert["processed_at"]), _ts(f.alert["created_at"])
            lat.append(1000 * (f.received - ack))
            stages["webhook (post -> 202)"].append(1000 * (ack - sent))
            stages["hot path (202 -> enriched)"].append(1000 * (processed - ack))
            stages["sink (enriched -> stored)"].append(1000 * (created - processed))
            stages["push (stored -> frame)"].append(1000 * (f.received - created))
    q = lambda xs, p: round(sorted(xs)[min(len(xs) - 1, int(p * len(xs)))], 1) if xs else None
    cpu = {k: round(100 * (cpu1.get(k, 0) - cpu0.get(k, 0)) / elapsed, 1) for k in cpu0}
    lost = len(expected - seen)
    print(f"uhnw bench hot: {rate:g} articles/s for {duration:g} s, {rms} RM sockets ({len(rm_ids)} RMs), {len(clients)} clients")
    print(f"  sent {n} (202: {statuses.get(202, 0)}, other: { {k: v for k, v in statuses.items() if k != 202} }), "
          f"achieved {n / send_seconds:.1f} articles/s; expected alerts {len(expected)}, delivered {len(expected & seen)}, "
          f"lost {lost}, unexpected {len(seen - expected)}")
    print(f"  {'latency (ms)':<30}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}")
    print(f"  {'webhook 202 -> WebSocket frame':<30}{q(lat, .5):>8}{q(lat, .95):>8}{q(lat, .99):>8}{q(lat, 1):>8}")
    for name, xs in stages.items():
        print(f"    {name:<28}{q(xs, .5):>8}{q(xs, .95):>8}{q(xs, .99):>8}{q(xs, 1):>8}")
    print(f"  CPU % of one core over {elapsed:.1f} s: " + ", ".join(f"{k} {v}" for k, v in cpu.items()))
    figures = {"bench": "hot", "rate": rate, "duration_s": duration, "rms": rms, "sent": n, "accepted": statuses.get(202, 0),
               "achieved_rate": round(n / send_seconds, 1), "expected": len(expected), "delivered": len(expected & seen),
               "lost": lost, "unexpected": len(seen - expected), "frames": len(lat),
               "p50_ms": q(lat, .5), "p95_ms": q(lat, .95), "p99_ms": q(lat, .99), "max_ms": q(lat, 1),
               "stages_p50_ms": {k: q(v, .5) for k, v in stages.items()}, "stages_p99_ms": {k: q(v, .99) for k, v in stages.items()},
               "cpu_percent": cpu}
    print(json.dumps(figures))
    return figures


def _ts(iso: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(iso).timestamp()


def _frames_seen(listeners) -> set[tuple[str, str]]:
    return {(f.alert["article_id"], f.alert["client_id"]) for listener in listeners for f in listener.frames}
