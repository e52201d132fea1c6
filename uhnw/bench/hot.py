"""`uhnw bench hot`: the hot path end to end (webhook 202 → WebSocket frame) at a steady article rate, per stage, with CPU per process."""

import json
import math
import os
import time

from uhnw.bench.common import cpu_seconds, frozen_gc, process_age_s
from uhnw.config import Settings


def _stack_pids(settings: Settings) -> dict[str, list[int]]:
    out = {}
    for name in ("kafka", "postgres"):
        try:
            out[name] = [int((settings.stack_dir / f"{name}.pid").read_text().split()[0])]
        except (OSError, ValueError):
            pass
    return out


def quantile(xs: list[float], p: float) -> float | None:
    "The nearest-rank `p` quantile of `xs`, to 0.1 ms; None for no values."
    if not xs: return None
    ordered = sorted(xs)
    return round(ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))], 1)


def socket_expectations(settings: Settings, expected: set[tuple[str, str]], socket_rms: list[str]) -> list[set[tuple[str, str]]]:
    """What each open socket must receive: the expected (article, client) pairs whose client its RM covers now
    (`uhnw.alerts.audiences`, the rule the feed pushes by). RMs of the book with no socket open are not counted."""
    from uhnw.alerts import audiences
    from uhnw.ops.db import connect
    with connect(settings) as conn:
        covering = audiences(conn, {c for _, c in expected})
    return [{(a, c) for a, c in expected if rm in covering.get(c, ())} for rm in socket_rms]


def delivery_counts(wanted: list[set[tuple[str, str]]], frames: list[list[dict]]) -> dict:
    """Per socket, compared with what it had to receive: lost (never arrived), duplicated (an alert id, or an article +
    client, arriving more than once) and unexpected (arrived but not wanted)."""
    lost = dup_id = dup_pair = unexpected = delivered = 0
    samples: list[str] = []
    for want, got in zip(wanted, frames, strict=True):
        pairs = [(f["article_id"], f["client_id"]) for f in got]
        ids = [f["alert_id"] for f in got]
        seen = set(pairs)
        lost += len(want - seen); delivered += len(want & seen); unexpected += len(seen - want)
        samples += [f"lost {a}/{c}" for a, c in sorted(want - seen)][:3] + [f"unexpected {a}/{c}" for a, c in sorted(seen - want)][:3]
        dup_pair += len(pairs) - len(seen); dup_id += len(ids) - len(set(ids))
    return {"expected": sum(map(len, wanted)), "delivered": delivered, "lost": lost, "duplicated": max(dup_id, dup_pair),
            "duplicated_by_alert_id": dup_id, "duplicated_by_article_client": dup_pair, "unexpected": unexpected,
            "examples": samples[:6]}


WARM_BROKER_S = 240  # seconds of load a freshly started broker took to reach its steady CPU (BENCHMARKS.md, session 5)

STAGES = ("webhook (post -> 202)", "hot path (202 -> enriched)", "sink (enriched -> stored)", "push (stored -> frame)")


def _print_latency_table(rows: dict[str, list[float]]) -> None:
    print(f"  {'latency (ms)':<34}{'n':>7}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}")
    for name, xs in rows.items():
        print(f"  {name:<34}{len(xs):>7}{quantile(xs, .5) or '-':>8}{quantile(xs, .95) or '-':>8}{quantile(xs, .99) or '-':>8}"
              f"{quantile(xs, 1) or '-':>8}")


def bench_hot(settings: Settings, rate: float, duration: float, rms: int, senders: int = 8, warmup: float = 5.0,
              floor: bool = True, instances: int = 1, api_replicas: int = 1, rates: list[float] | None = None,
              target_p99_ms: float = 50.0,
              frames_out: str | None = None,  # a file to append one JSON line per frame to (`_frame_times`)
              ) -> dict:
    """End-to-end latency of the hot path (webhook 202 → WebSocket frame) at a steady article rate with `rms` RM sockets
    open (spread over `api_replicas` API processes; `instances` hot-path processes share `raw-news-events`), after
    `warmup` seconds at the same rate (reported apart), with the floor measured in the same run. With `rates`, one
    measured window per rate on the same running fleet, and the highest rate that met `target_p99_ms` with nothing lost."""
    import secrets

    from uhnw.bench.chaos import Fleet
    from uhnw.bench.floor import measure_floor
    from uhnw.bench.harness import RmListener, drop_run_topics, free_port, prepare_run, rm_token

    settings, stamp, clients = prepare_run(settings, "bench")
    broker_pids = _stack_pids(settings).get("kafka")
    broker_age = process_age_s(broker_pids[0]) if broker_pids else None
    rates = list(rates or [rate])
    with frozen_gc():  # (the floor's warm-up: the first seconds of new topics are slow)
        fl = measure_floor(settings, rates[0], min(duration, 15.0), warmup=5.0) if floor else None
    rm_ids = sorted(set(clients["rm_id"].dropna()))
    socket_rms = [rm_ids[i % len(rm_ids)] for i in range(rms)]
    fleet = Fleet(settings, settings.home / "runs" / "bench-hot" / stamp, secrets.token_hex(16), {},
                  [free_port() for _ in range(api_replicas)], [free_port() for _ in range(instances)])
    results = []
    try:
        fleet.start(api_replicas, instances)
        listeners = [RmListener(fleet.urls[i % api_replicas], rm, rm_token(settings, rm)).start() for i, rm in enumerate(socket_rms)]
        try:
            for k, r in enumerate(rates):
                with frozen_gc():
                    results.append(_one_rate(settings, fleet, listeners, clients, socket_rms, r, duration, warmup, senders,
                                             seed=int(stamp) % 1_000_003 + k, source=f"bench{stamp}-{k}",
                                             target_p99_ms=target_p99_ms, frames_out=frames_out))
        finally:
            for listener in listeners: listener.stop()
    finally:
        fleet.stop()
        drop_run_topics(settings)
    floor_lat = fl.latencies_ms if fl else []
    f50, f99 = quantile(floor_lat, .5), quantile(floor_lat, .99)
    load = os.getloadavg()
    print(f"uhnw bench hot: {warmup:g} s warm-up + {duration:g} s measured per rate, {rms} RM sockets over {api_replicas} API "
          f"replica(s) ({len(set(socket_rms))} of the book's {len(rm_ids)} RMs; alerts of RMs with no socket are not expected), "
          f"{instances} hot-path instance(s), {len(clients)} clients; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if broker_age is not None and broker_age < WARM_BROKER_S:
        print(f"  note: the broker had been up {broker_age:.0f} s when the run began; one needs about {WARM_BROKER_S // 60:.0f} minutes "
              "of load before its JIT has compiled what it runs, and until then its CPU and this run's tail are higher")
    for res in results:
        _print_rate(res, floor_lat)
    met = [res["rate"] for res in results if res["met_target"]]
    figures = {"bench": "hot", "instances": instances, "api_replicas": api_replicas, "rms": rms,
               "rms_with_socket": len(set(socket_rms)), "rms_in_book": len(rm_ids), "duration_s": duration, "warmup_s": warmup,
               "floor_p50_ms": f50, "floor_p99_ms": f99, "floor_max_ms": quantile(floor_lat, 1),
               "broker_uptime_s": round(broker_age) if broker_age is not None else None,
               "target_p99_ms": target_p99_ms, "sustained_rate": max(met) if met else None,
               **_json_row(results[-1]),
               "p99_over_floor": round(results[-1]["p99_ms"] / f99, 2) if results[-1]["p99_ms"] and f99 else None,
               "rates": [_json_row(res) for res in results] if len(results) > 1 else None,
               "loadavg": [round(x, 2) for x in load]}
    if len(results) > 1:
        print(f"  {'rate':>6}{'achieved':>10}{'p50':>8}{'p99':>8}{'max':>8}{'lost':>6}{'refused':>8}  p99 <= {target_p99_ms:g} ms")
        for res in results:
            print(f"  {res['rate']:>6g}{res['achieved_rate']:>10}{res['p50_ms'] or '-':>8}{res['p99_ms'] or '-':>8}"
                  f"{res['max_ms'] or '-':>8}{res['lost']:>6}{sum(res['refused'].values()):>8}  {'yes' if res['met_target'] else 'no'}")
        print(f"  sustained at the target: {figures['sustained_rate'] or 'none of these rates'} articles/s")
    print(json.dumps(figures))
    return figures


def _json_row(res: dict) -> dict:
    return {k: v for k, v in res.items() if k not in ("lat", "warm", "stages")}


def _frame_times(listeners, marks, acked) -> list[dict]:
    """Each frame received since `marks` whose article was accepted: its alert id, when its article was posted and
    acknowledged, processed by the hot path, stored, and received (epoch seconds), and whether it was in the measured
    window. The latency table is computed from these, and `--frames-out` writes them: where a tail comes from (a stage,
    a moment of the run) is read from them, not from the quantiles."""
    out = []
    for li, m in zip(listeners, marks, strict=True):
        for f in li.frames[m:]:
            if f.alert["article_id"] not in acked: continue
            sent, ack, measured = acked[f.alert["article_id"]]
            out.append({"alert_id": f.alert["alert_id"], "posted": sent, "acknowledged": ack, "processed": _ts(f.alert["processed_at"]),
                        "stored": _ts(f.alert["created_at"]), "received": f.received, "measured": measured})
    return out


def _one_rate(settings, fleet, listeners, clients, socket_rms, rate, duration, warmup, senders, seed, source,
              target_p99_ms: float, frames_out=None) -> dict:
    "Post `rate` articles/s for `warmup` + `duration` seconds to the running fleet; what the sockets received, per stage."
    import concurrent.futures as cf

    from uhnw.bench.harness import SignedPoster, expected_alerts, provider_payload
    from uhnw.synth import synth_news
    n_warm, n = int(rate * warmup), int(rate * (warmup + duration))
    articles = synth_news(clients, n, seed=seed, source=source)
    wanted = socket_expectations(settings, expected_alerts(settings, articles, clients), socket_rms)
    marks = [len(li.frames) for li in listeners]  # frames of earlier rates are not this one's
    pids = {"api": [p.pid for p in fleet.apis], "hotpath": [p.pid for p in fleet.hots], **_stack_pids(settings),
            "bench (client)": [os.getpid()]}
    cpu0, t_start = cpu_seconds(pids), time.perf_counter()
    acked: dict[str, tuple[float, float, bool]] = {}  # article id -> (sent, 202 received, in the measured window)
    statuses: dict[int, int] = {}
    posters = [SignedPoster(u, fleet.secret) for u in fleet.urls]

    def send(i: int):
        delay = t_start + i / rate - time.perf_counter()
        if delay > 0: time.sleep(delay)
        payload = provider_payload(articles[i])
        sent = time.time()
        status, t_ack = posters[i % len(posters)].post(payload)
        statuses[status] = statuses.get(status, 0) + 1
        if status == 202: acked[articles[i]["id"]] = (sent, t_ack, i >= n_warm)
    with cf.ThreadPoolExecutor(senders) as pool:
        list(pool.map(send, range(n)))
    send_seconds = time.perf_counter() - t_start
    accepted = set(acked)
    wanted = [{(a, c) for a, c in w if a in accepted} for w in wanted]  # a refused article is not owed to anyone
    frames = lambda: [[f.alert for f in li.frames[m:]] for li, m in zip(listeners, marks, strict=True)]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(w - {(f["article_id"], f["client_id"]) for f in got}
                                             for w, got in zip(wanted, frames(), strict=True)):
        time.sleep(0.2)
    elapsed = time.perf_counter() - t_start
    cpu1 = cpu_seconds(pids)
    counts = delivery_counts(wanted, frames())
    lat, warm = [], []
    stages: dict[str, list[float]] = {k: [] for k in STAGES}
    times = _frame_times(listeners, marks, acked)
    for t in times:
        if not t["measured"]:
            warm.append(1000 * (t["received"] - t["acknowledged"])); continue
        lat.append(1000 * (t["received"] - t["acknowledged"]))
        at = (t["posted"], t["acknowledged"], t["processed"], t["stored"], t["received"])  # each stage's start and end, in order
        for name, a, b in zip(STAGES, at[:-1], at[1:], strict=True): stages[name].append(1000 * (b - a))
    others = {k: v for k, v in statuses.items() if k != 202}
    if frames_out is not None:
        with open(frames_out, "a") as fh: fh.writelines(json.dumps({"rate": rate, **t}) + "\n" for t in times)
    p99 = quantile(lat, .99)
    achieved = round(n / send_seconds, 1)
    return {"rate": rate, "sent": n, "accepted": statuses.get(202, 0), "refused": others, "achieved_rate": achieved, **counts,
            "frames": len(lat), "p50_ms": quantile(lat, .5), "p95_ms": quantile(lat, .95), "p99_ms": p99, "max_ms": quantile(lat, 1),
            "warmup_p99_ms": quantile(warm, .99), "warmup_max_ms": quantile(warm, 1),
            "stages_p50_ms": {k: quantile(v, .5) for k, v in stages.items()},
            "stages_p99_ms": {k: quantile(v, .99) for k, v in stages.items()},
            "cpu_percent": {k: round(100 * (cpu1.get(k, 0) - cpu0.get(k, 0)) / elapsed, 1) for k in cpu0},
            "met_target": bool(p99 is not None and p99 <= target_p99_ms and not counts["lost"] and not others
                               and achieved >= 0.95 * rate),
            "lat": lat, "warm": warm, "stages": stages}


def _print_rate(res: dict, floor_lat: list[float]) -> None:
    c = res
    print(f"  {res['rate']:g} articles/s: sent {c['sent']} (202: {c['accepted']}, other: {c['refused']}), achieved "
          f"{c['achieved_rate']} articles/s; expected frames {c['expected']}, delivered {c['delivered']}, lost {c['lost']}, "
          f"duplicated {c['duplicated']}, unexpected {c['unexpected']}")
    _print_latency_table({"webhook 202 -> WebSocket frame": res["lat"], **{f"  {k}": v for k, v in res["stages"].items()},
                          "warm-up (first seconds), 202 -> frame": res["warm"],
                          "floor (ack -> socket, no enrichment)": floor_lat})
    f50, f99, p50, p99 = quantile(floor_lat, .5), quantile(floor_lat, .99), res["p50_ms"], res["p99_ms"]
    if p50 and f50 and p99 and f99: print(f"  p50 {p50} ms is {p50 / f50:.1f}x the floor's, p99 {p99} ms {p99 / f99:.1f}x")
    print("  CPU % of one core (process trees): " + ", ".join(f"{k} {v}" for k, v in res["cpu_percent"].items()))


def _ts(iso: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(iso).timestamp()
