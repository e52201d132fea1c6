"""`uhnw bench chaos`: the hot path under faults, with nothing lost and nothing duplicated as the RM sees it.

A fleet of `instances` hot-path processes (one consumer group) and `api_replicas` API processes runs on the local
stack while a provider posts articles at a steady rate (round-robin over the replicas, retrying a refusal after its
`Retry-After` and a dropped connection on the next replica, as a provider should) and RM sockets stay open (each on
one replica, reconnecting with `last_alert_id` to the next when theirs goes away). In turn, `gap` seconds apart:

- `kill-hotpath`: kill -9 a hot-path instance; a supervisor (here: this bench, on ECS: the service) starts it again;
- `kill-api`: kill -9 an API replica, started again a second later; its sockets reconnect elsewhere;
- `restart-kafka`: stop and start the broker;
- `restart-postgres`: stop and start the database;
- `pause-hotpath`: SIGSTOP a hot-path instance past its session timeout, then SIGCONT: the group moved its partitions
  to the other instance meanwhile, and the resumed one must not commit what it had in hand.

Per fault: recovery time (from the fault until articles accepted from then on arrive within a second again),
frames lost and duplicated (by alert id and by article + client, per socket), refusals, and the end-to-end latency
while recovering. Last line: one JSON object with the totals `lost` and `duplicated` and the `faults` list.
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from uhnw.bench.hot import delivery_counts, quantile
from uhnw.config import Settings

FAULTS = ("kill-hotpath", "kill-api", "restart-kafka", "restart-postgres", "pause-hotpath")
ON_TIME_S = 1.0  # an alert within this of its 202 is delivered "in time": the seeds' sub-second promise
SESSION_TIMEOUT_MS = 6000  # the broker's smallest allowed group session timeout: the pause outlasts it


@dataclass
class Fleet:
    "The service processes of a chaos run, restartable one by one on the same ports and instance names."
    settings: Settings
    logs: Path
    secret: str
    env: dict
    api_ports: list[int]
    metrics_ports: list[int]
    apis: list = field(default_factory=list)
    hots: list = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.api_ports]

    def instance(self, i: int) -> str:
        return f"chaos{i}"

    def spawn_api(self, i: int):
        from uhnw.bench.harness import spawn_api
        return spawn_api(self.settings, self.logs, self.secret, self.api_ports[i], self.env, f"api{i}.log")

    def spawn_hot(self, i: int):
        from uhnw.bench.harness import spawn_hotpath
        return spawn_hotpath(self.settings, self.logs, self.secret, self.metrics_ports[i], self.instance(i), self.env,
                             f"hotpath{i}.log")

    def start(self, api_replicas: int, instances: int) -> Fleet:
        self.apis = [self.spawn_api(i) for i in range(api_replicas)]
        self.hots = [self.spawn_hot(i) for i in range(instances)]
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 120) -> None:
        from uhnw.bench.harness import wait_http
        for url, p in zip(self.urls, self.apis, strict=True): wait_http(url + "/health", timeout, p)
        for port, p in zip(self.metrics_ports, self.hots, strict=True): wait_http(f"http://127.0.0.1:{port}/health", timeout, p)

    def stop(self) -> None:
        procs = [*self.hots, *self.apis]
        for p in procs:
            if p.poll() is None:
                try: os.kill(p.pid, signal.SIGCONT)  # a paused process cannot act on SIGTERM
                except ProcessLookupError: pass
                p.terminate()
        for p in procs:
            try: p.wait(20)
            except Exception: p.kill()

    def pids(self) -> list[int]:
        return [p.pid for p in [*self.apis, *self.hots]]


class ReconnectingListener(threading.Thread):
    "An RM's socket that survives its replica: on any close it reconnects to the next replica with `last_alert_id`."

    def __init__(self, urls: list[str], first: int, rm_id: str, token: str):
        super().__init__(daemon=True, name=f"chaos-ws-{rm_id}-{first}")
        self.urls, self.first, self.rm_id, self.token = urls, first, rm_id, token
        self.frames: list[tuple[float, dict]] = []  # (time.time() on arrival, alert frame)
        self.last_id: int | None = None
        self.reconnects = 0
        self.live = threading.Event()  # the first session reached its live frame
        self.stopping = threading.Event()

    def run(self) -> None:
        from websockets.sync.client import connect
        i = self.first
        while not self.stopping.is_set():
            query = f"?last_alert_id={self.last_id}" if self.last_id is not None else ""
            try:
                with connect(self.urls[i % len(self.urls)].replace("http://", "ws://") + "/ws" + query,
                             subprotocols=["uhnw.bearer", self.token], open_timeout=5, close_timeout=1) as ws:
                    while not self.stopping.is_set():
                        try: frame = json.loads(ws.recv(timeout=0.2))
                        except TimeoutError: continue
                        if frame.get("type") == "live":
                            if self.last_id is None: self.last_id = frame["last_alert_id"]
                            self.live.set()
                        elif frame.get("type") == "alert":
                            self.frames.append((time.time(), frame))
                            self.last_id = max(self.last_id or 0, frame["alert_id"])
            except Exception:  # closed, refused, reset: the replica went away or answered 1013
                pass
            if self.stopping.wait(0.2): break
            self.reconnects += 1
            i += 1

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)


class Provider:
    """Posts `articles` at `rate` per second from `workers` threads, round-robin over the replicas; a 429/503 is retried
    after its Retry-After, a dropped connection at once on the next replica. Records the 202 time of each article."""

    def __init__(self, fleet: Fleet, articles: list[dict], rate: float, workers: int = 8):
        self.fleet, self.articles, self.rate, self.workers = fleet, articles, rate, workers
        self.acked: dict[str, float] = {}
        self.refused: list[tuple[float, int]] = []  # (time, status)
        self.dropped: list[float] = []
        self.t0 = 0.0
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Provider:
        self.t0 = time.perf_counter()
        self._threads = [threading.Thread(target=self._work, args=(k,), daemon=True) for k in range(self.workers)]
        for t in self._threads: t.start()
        return self

    def join(self) -> None:
        for t in self._threads: t.join()

    def _work(self, k: int) -> None:
        from uhnw.bench.harness import SignedPoster, provider_payload
        posters = [SignedPoster(u, self.fleet.secret, timeout=10) for u in self.fleet.urls]
        for i in range(k, len(self.articles), self.workers):
            delay = self.t0 + i / self.rate - time.perf_counter()
            if delay > 0 and self.stopping.wait(delay): return
            r = i
            while not self.stopping.is_set():
                try:
                    status, at = posters[r % len(posters)].post(provider_payload(self.articles[i]))
                except OSError:
                    self.dropped.append(time.time()); r += 1
                    if self.stopping.wait(0.05): return
                    continue
                if status == 202:
                    self.acked[self.articles[i]["id"]] = at; break
                self.refused.append((at, status))
                if status not in (429, 503): break  # a refusal no retry mends: the article is not accepted, and says so
                if self.stopping.wait(1.0): return  # (Retry-After asks for 1-5 s; a provider polls at its own pace)


def bench_chaos(settings: Settings, rate: float = 100, gap: float = 36, faults: tuple[str, ...] = FAULTS, rms: int = 10,
                api_replicas: int = 2, instances: int = 2, warmup: float = 10, out=print) -> dict:
    "Run the faults in turn during a sustained stream; returns (and prints last, as JSON) the figures."
    from uhnw.bench.harness import drop_run_topics, expected_alerts, free_port, prepare_run, rm_token
    from uhnw.bench.hot import socket_expectations
    from uhnw.synth import synth_news

    unknown = set(faults) - set(FAULTS)
    if unknown: raise ValueError(f"unknown fault(s) {', '.join(sorted(unknown))}; known: {', '.join(FAULTS)}")
    if "kill-api" in faults and api_replicas < 2: raise ValueError("kill-api needs --api-replicas 2 or more")
    settings, stamp, clients = prepare_run(settings, "chaos", log=out)
    duration = warmup + gap * len(faults)
    articles = synth_news(clients, int(rate * duration), seed=int(stamp) % 1_000_003, source=f"chaos{stamp}")
    expected = expected_alerts(settings, articles, clients)
    rm_ids = sorted(set(clients["rm_id"].dropna()))
    socket_rms = [rm_ids[i % len(rm_ids)] for i in range(rms)]
    wanted_all = socket_expectations(settings, expected, socket_rms)
    logs = settings.home / "runs" / "bench-chaos" / stamp
    import secrets as _secrets
    fleet = Fleet(settings, logs, _secrets.token_hex(16), {"UHNW_HOTPATH_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS)},
                  [free_port() for _ in range(api_replicas)], [free_port() for _ in range(instances)])
    listeners: list[ReconnectingListener] = []
    injected: list[dict] = []
    provider = None
    try:
        fleet.start(api_replicas, instances)
        listeners = [ReconnectingListener(fleet.urls, i, rm, rm_token(settings, rm)) for i, rm in enumerate(socket_rms)]
        for li in listeners: li.start()
        for li in listeners:
            if not li.live.wait(30): raise TimeoutError(f"the socket of {li.rm_id} did not reach its live frame")
        out(f"uhnw bench chaos: {rate:g} articles/s for {duration:.0f} s, {len(faults)} faults {gap:g} s apart, "
            f"{rms} RM sockets over {api_replicas} API replicas, {instances} hot-path instances; logs in {logs}")
        provider = Provider(fleet, articles, rate).start()
        time.sleep(warmup)
        for name in faults:
            t_fault = time.time()
            _inject(fleet, settings, name)
            injected.append({"fault": name, "at": t_fault, "injected_s": round(time.time() - t_fault, 2)})
            out(f"  {time.strftime('%H:%M:%S')} {name} (took {injected[-1]['injected_s']} s)")
            time.sleep(max(0.0, gap - (time.time() - t_fault)))
        provider.join()
        # everything accepted must arrive: wait for it (the sockets reconnect on their own)
        accepted = set(provider.acked)
        wanted = [{(a, c) for a, c in w if a in accepted} for w in wanted_all]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(w - {(f["article_id"], f["client_id"]) for _, f in li.frames}
                                                 for w, li in zip(wanted, listeners, strict=True)):
            time.sleep(0.5)
    finally:
        if provider is not None: provider.stopping.set()
        for li in listeners: li.stopping.set()
        for li in listeners: li.join(5)
        fleet.stop()
        drop_run_topics(settings, out)
    figures = _figures(provider, listeners, wanted, injected, articles, rate, gap, rms, api_replicas, instances)
    _report(figures, out)
    return figures


def _inject(fleet: Fleet, settings: Settings, name: str) -> None:
    from uhnw.ops import stack
    if name == "kill-hotpath":
        p = fleet.hots[0]
        os.kill(p.pid, signal.SIGKILL); p.wait()
        fleet.hots[0] = fleet.spawn_hot(0)  # the supervisor's restart; it fences its killed predecessor's transaction
    elif name == "kill-api":
        p = fleet.apis[0]
        os.kill(p.pid, signal.SIGKILL); p.wait()
        time.sleep(1.0)
        fleet.apis[0] = fleet.spawn_api(0)
    elif name == "restart-kafka":
        stack.down(settings, ("kafka",)); stack.up(settings)
    elif name == "restart-postgres":
        stack.down(settings, ("postgres",)); stack.up(settings)
    elif name == "pause-hotpath":
        p = fleet.hots[-1]
        os.kill(p.pid, signal.SIGSTOP)
        time.sleep(SESSION_TIMEOUT_MS / 1000 + 3)  # past the session timeout: the group gives its partitions away
        os.kill(p.pid, signal.SIGCONT)
    else:
        raise ValueError(name)


def _figures(provider, listeners, wanted, injected, articles, rate, gap, rms, api_replicas, instances) -> dict:
    acked = provider.acked if provider else {}
    counts = delivery_counts(wanted, [[f for _, f in li.frames] for li in listeners])
    arrival: dict[tuple[int, str, str], float] = {}  # (socket, article, client) -> first arrival
    for k, li in enumerate(listeners):
        for t, f in li.frames: arrival.setdefault((k, f["article_id"], f["client_id"]), t)
    bounds = [f["at"] for f in injected] + [float("inf")]
    faults = []
    for n, fault in enumerate(injected):
        start, end = bounds[n], bounds[n + 1]
        # (ack time, latency or inf) of every frame a socket had to receive for articles accepted in this fault's window
        lat = []
        lost = 0
        for k, want in enumerate(wanted):
            for a, c in want:
                t_ack = acked.get(a)
                if t_ack is None or not (start - 1.0 <= t_ack < end): continue  # a second before: those in flight at the fault
                got = arrival.get((k, a, c))
                if got is None and t_ack >= start: lost += 1
                lat.append((t_ack, (got - t_ack) if got is not None else float("inf")))
        late = [t for t, ms in lat if t >= start and ms > ON_TIME_S]
        recovery = (max(late) - start) if late else 0.0
        during = [ms * 1000 for t, ms in lat if t <= start + max(recovery, 5.0) and ms != float("inf")]
        dups = _duplicates_between(listeners, start, end)
        faults.append({"fault": fault["fault"], "injected_s": fault["injected_s"], "recovery_s": round(recovery, 2),
                       "lost": lost, "duplicated": dups, "refused": sum(1 for t, _ in (provider.refused if provider else [])
                                                                       if start <= t < end),
                       "latency_p50_ms": quantile(during, .5), "latency_p99_ms": quantile(during, .99),
                       "latency_max_ms": quantile(during, 1), "frames": len(lat)})
    return {"bench": "chaos", "rate": rate, "gap_s": gap, "rms": rms, "api_replicas": api_replicas, "instances": instances,
            "articles": len(articles), "accepted": len(acked), "refused": len(provider.refused) if provider else 0,
            "connections_dropped": len(provider.dropped) if provider else 0,
            "reconnects": sum(li.reconnects for li in listeners), **counts, "faults": faults,
            "loadavg": [round(x, 2) for x in os.getloadavg()]}


def _duplicates_between(listeners, start: float, end: float) -> int:
    "Frames arriving in [start, end) that repeat an alert id or an article + client the same socket had already received."
    n = 0
    for li in listeners:
        seen_ids, seen_pairs = set(), set()
        for t, f in li.frames:
            again = f["alert_id"] in seen_ids or (f["article_id"], f["client_id"]) in seen_pairs
            if again and start <= t < end: n += 1
            seen_ids.add(f["alert_id"]); seen_pairs.add((f["article_id"], f["client_id"]))
    return n


def _report(figures: dict, out) -> None:
    out(f"  accepted {figures['accepted']} of {figures['articles']} articles (refusals retried: {figures['refused']}, "
        f"dropped connections: {figures['connections_dropped']}), socket reconnects {figures['reconnects']}")
    out(f"  frames expected {figures['expected']}, delivered {figures['delivered']}, lost {figures['lost']}, "
        f"duplicated {figures['duplicated']}, unexpected {figures['unexpected']}")
    out(f"  {'fault':<18}{'inject s':>9}{'recovery s':>11}{'lost':>6}{'dup':>5}{'refused':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for f in figures["faults"]:
        out(f"  {f['fault']:<18}{f['injected_s']:>9}{f['recovery_s']:>11}{f['lost']:>6}{f['duplicated']:>5}{f['refused']:>8}"
            f"{f['latency_p50_ms'] or '-':>9}{f['latency_p99_ms'] or '-':>9}{f['latency_max_ms'] or '-':>9}")
    out(json.dumps(figures))
