"""`uhnw bench hot`: the hot path end to end (webhook 202 → WebSocket frame) at a steady article rate, per stage, with CPU per process."""

import dataclasses
import json
import os
import time

import psutil

from uhnw.config import Settings


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

    from uhnw.ops.db import connect
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

    from uhnw.bench.harness import (
        RmListener,
        clients_from_db,
        ensure_relevance_model,
        expected_alerts,
        post_signed,
        provider_payload,
        rm_token,
        start_hot_services,
    )
    from uhnw.bus import client_config, ensure_topics, topic_specs
    from uhnw.ops import stack
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
