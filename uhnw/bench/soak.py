"""`uhnw bench soak`: the hot path at a steady rate for minutes, watching each service's resident memory.

A leak that costs a kilobyte an article is invisible in a 20-second bench and fatal in a week. This runs one API
replica and one hot-path instance at `rate` articles/s for `minutes`, with RM sockets open, samples the memory of
each process tree every `sample_s` seconds (PSS: shared pages divided among their processes, so PostgreSQL's shared
buffers count once), and reports the curve per minute, the end-to-end latency per minute, and each service's growth
from the end of the warm-up to the end (target: under 10 %).
"""
from __future__ import annotations

import json
import os
import secrets
import threading
import time

from uhnw.bench.common import tree_pss
from uhnw.bench.hot import _stack_pids, quantile
from uhnw.config import Settings

GROWTH_TARGET = 0.10


def bench_soak(settings: Settings, rate: float = 100, minutes: float = 10, rms: int = 10, warmup_minutes: float = 2,
               sample_s: float = 5, out=print) -> dict:
    "Steady load for `minutes`; resident memory per service per minute and its growth after the warm-up."
    import concurrent.futures as cf

    from uhnw.bench.chaos import Fleet
    from uhnw.bench.harness import RmListener, SignedPoster, drop_run_topics, free_port, prepare_run, provider_payload, rm_token
    from uhnw.synth import synth_news

    if warmup_minutes >= minutes: raise ValueError("the warm-up must be shorter than the run")
    settings, stamp, clients = prepare_run(settings, "soak", log=out)
    n = int(rate * minutes * 60)
    articles = synth_news(clients, n, seed=int(stamp) % 1_000_003, source=f"soak{stamp}")
    rm_ids = sorted(set(clients["rm_id"].dropna()))
    fleet = Fleet(settings, settings.home / "runs" / "bench-soak" / stamp, secrets.token_hex(16), {}, [free_port()], [free_port()])
    samples: list[tuple[float, dict[str, int]]] = []
    acked: dict[str, float] = {}
    statuses: dict[int, int] = {}
    stop = threading.Event()
    listeners = []
    try:
        fleet.start(1, 1)
        listeners = [RmListener(fleet.urls[0], rm_ids[i % len(rm_ids)], rm_token(settings, rm_ids[i % len(rm_ids)])).start()
                     for i in range(rms)]
        pids = {"api": fleet.apis[0].pid, "hotpath": fleet.hots[0].pid, **{k: v[0] for k, v in _stack_pids(settings).items()}}
        t0 = time.perf_counter()

        def sample():
            while True:
                samples.append((time.perf_counter() - t0, {k: tree_pss(p) for k, p in pids.items()}))
                if stop.wait(sample_s): return
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        poster = SignedPoster(fleet.urls[0], fleet.secret)

        def send(i: int):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0: time.sleep(delay)
            status, at = poster.post(provider_payload(articles[i]))
            statuses[status] = statuses.get(status, 0) + 1
            if status == 202: acked[articles[i]["id"]] = at
        out(f"uhnw bench soak: {rate:g} articles/s for {minutes:g} min ({n} articles), {rms} RM sockets, warm-up "
            f"{warmup_minutes:g} min; logs in {fleet.logs}")
        with cf.ThreadPoolExecutor(8) as pool:
            list(pool.map(send, range(n)))
        time.sleep(5)  # the last alerts
        stop.set(); sampler.join()
    finally:
        stop.set()
        for li in listeners: li.stop()
        fleet.stop()
        drop_run_topics(settings, out)
    return _report(samples, listeners, acked, statuses, rate, minutes, warmup_minutes, out)


def _report(samples, listeners, acked, statuses, rate, minutes, warmup_minutes, out) -> dict:
    t_first = min(acked.values()) if acked else 0.0
    per_minute: dict[int, list[float]] = {}
    for li in listeners:
        for f in li.frames:
            at = acked.get(f.alert["article_id"])
            if at is not None: per_minute.setdefault(int((at - t_first) // 60), []).append(1000 * (f.received - at))
    names = list(samples[0][1]) if samples else []
    out(f"  {'minute':>6}" + "".join(f"{n + ' PSS MB':>16}" for n in names) + f"{'frames':>8}{'p50 ms':>8}{'p99 ms':>8}")
    curve = []
    for m in range(int(minutes + 0.999)):
        in_minute = [s for t, s in samples if m * 60 <= t < (m + 1) * 60]
        if not in_minute: continue
        pss = {k: round(max(s[k] for s in in_minute) / 2**20, 1) for k in names}
        lat = per_minute.get(m, [])
        curve.append({"minute": m, "pss_mb": pss, "frames": len(lat), "p50_ms": quantile(lat, .5), "p99_ms": quantile(lat, .99)})
        out(f"  {m:>6}" + "".join(f"{pss[k]:>16}" for k in names) + f"{len(lat):>8}{quantile(lat, .5) or '-':>8}"
            f"{quantile(lat, .99) or '-':>8}")
    warm = [s for t, s in samples if t >= warmup_minutes * 60]
    growth = {k: round((warm[-1][k] - warm[0][k]) / warm[0][k], 4) if len(warm) > 1 and warm[0][k] else None for k in names}
    services_ok = all(g is not None and g < GROWTH_TARGET for k, g in growth.items() if k in ("api", "hotpath"))
    out("  growth after the warm-up: " + ", ".join(f"{k} {100 * g:+.1f} %" if g is not None else f"{k} -" for k, g in growth.items())
        + f"  (target under {100 * GROWTH_TARGET:.0f} % for api and hotpath: {'met' if services_ok else 'NOT met'})")
    figures = {"bench": "soak", "rate": rate, "minutes": minutes, "warmup_minutes": warmup_minutes, "sent": sum(statuses.values()),
               "accepted": statuses.get(202, 0), "refused": {k: v for k, v in statuses.items() if k != 202},
               "frames": sum(len(li.frames) for li in listeners), "growth": growth, "growth_target": GROWTH_TARGET,
               "met": services_ok, "curve": curve, "loadavg": [round(x, 2) for x in os.getloadavg()]}
    out(json.dumps(figures))
    return figures
