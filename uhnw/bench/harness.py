"""Driving the hot path end to end from outside, as a news provider and as RMs would:
start `uhnw serve api` and `uhnw serve hotpath` as processes, open RM WebSockets, post signed
articles to the webhook at a steady rate, and time each alert from the webhook's 202 to the
WebSocket frame. Used by `make demo` and `uhnw bench hot`; plumbing only.
"""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from uhnw.config import Settings

PROVIDER = "newswire"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _uhnw() -> list[str]:
    exe = Path(sys.executable).parent / "uhnw"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "uhnw"]


@dataclass
class HotServices:
    "The API and hot-path processes of one run, with their endpoints and logs."
    api: subprocess.Popen
    hotpath: subprocess.Popen
    api_url: str
    metrics_url: str
    secret: str
    logs: Path

    def stop(self) -> None:
        for p in (self.hotpath, self.api):
            if p.poll() is None:
                p.terminate()
        for p in (self.hotpath, self.api):
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


def wait_http(url: str, timeout: float = 60, proc: subprocess.Popen | None = None) -> None:
    "Wait until `url` answers (any status below 500 counts as up); fail early if `proc` died."
    import httpx
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{' '.join(map(str, proc.args))} exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=2).status_code < 500: return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def service_env(settings: Settings, secret: str, extra: dict | None = None) -> dict:
    "The environment of a service process of this run: its home, topic prefix and the provider's webhook secret."
    return {**os.environ, "UHNW_HOME": str(settings.home), "UHNW_TOPIC_PREFIX": settings.topic_prefix,
            # the stack of these settings, whatever the environment says (a chaos run has one of its own)
            "UHNW_KAFKA_PORT": str(settings.kafka_port), "UHNW_KAFKA_CONTROLLER_PORT": str(settings.kafka_controller_port),
            "UHNW_POSTGRES_PORT": str(settings.postgres_port),
            "UHNW_WEBHOOK_SECRETS": f"{PROVIDER}={secret}", "SPARK_LOCAL_IP": "127.0.0.1", **(extra or {})}


def spawn_hotpath(settings: Settings, logs: Path, secret: str, metrics_port: int, instance: str = "demo",
                  extra_env: dict | None = None, log_name: str = "hotpath.log") -> subprocess.Popen:
    "Start `uhnw serve hotpath` (log appended to `logs/<log_name>`); the caller waits for its /health."
    logs.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([*_uhnw(), "serve", "hotpath", "--instance", instance, "--metrics-port", str(metrics_port)],
                            env=service_env(settings, secret, extra_env), stdout=open(logs / log_name, "ab"), stderr=subprocess.STDOUT)


def spawn_api(settings: Settings, logs: Path, secret: str, port: int, extra_env: dict | None = None,
              log_name: str = "api.log") -> subprocess.Popen:
    "Start `uhnw serve api` on `port` (log appended to `logs/<log_name>`); the caller waits for its /health."
    logs.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([*_uhnw(), "serve", "api", "--port", str(port), "--log-level", "warning"],
                            env=service_env(settings, secret, extra_env), stdout=open(logs / log_name, "ab"), stderr=subprocess.STDOUT)


def start_hot_services(settings: Settings, logs: Path, api_port: int | None = None, metrics_port: int | None = None,
                       instance: str = "demo") -> HotServices:
    "Start `uhnw serve api` and `uhnw serve hotpath` (logs under `logs/`) and wait until both answer."
    logs.mkdir(parents=True, exist_ok=True)
    api_port, metrics_port = api_port or free_port(), metrics_port or free_port()
    secret = secrets.token_hex(16)
    api = spawn_api(settings, logs, secret, api_port)
    hot = spawn_hotpath(settings, logs, secret, metrics_port, instance)
    services = HotServices(api, hot, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{metrics_port}", secret, logs)
    try:
        wait_http(services.api_url + "/health", proc=api)
        wait_http(services.metrics_url + "/health", timeout=120, proc=hot)
    except BaseException:  # Ctrl-C while waiting too: never leave the two processes behind
        services.stop()
        raise
    return services


@dataclass
class Frame:
    "An alert frame as an RM's browser received it."
    rm_id: str
    received: float  # time.time() on arrival
    alert: dict


@dataclass
class RmListener:
    """One RM's WebSocket session in a thread, collecting alert frames. A server that goes away (1012 when `uhnw serve api`
    shuts down on Ctrl-C, or any closed socket) ends the session quietly: `ended_by` says why, `frames` keeps what arrived."""
    url: str
    rm_id: str
    token: str
    frames: list[Frame] = field(default_factory=list)
    on_frame: object = None
    ended_by: Exception | None = None  # the ConnectionClosed (or failed opening) that ended the session; None while open or stopped
    _stop: threading.Event = field(default_factory=threading.Event)
    _ready: threading.Event = field(default_factory=threading.Event)
    _hello: threading.Event = field(default_factory=threading.Event)  # the server's hello arrived (the socket may close right after)
    _thread: threading.Thread | None = None

    def start(self) -> RmListener:
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"ws-{self.rm_id}")
        self._thread.start()
        if not self._ready.wait(30): raise TimeoutError(f"WebSocket of {self.rm_id} did not open")
        if not self._hello.is_set():  # (not `ended_by`: a server may greet, send and close before this thread wakes)
            raise ConnectionError(f"WebSocket of {self.rm_id} closed before its hello: {self.ended_by}") from self.ended_by
        return self

    def _run(self) -> None:
        from websockets.exceptions import ConnectionClosed, InvalidHandshake
        from websockets.sync.client import connect
        ws_url = self.url.replace("http://", "ws://") + "/ws"
        try:
            with connect(ws_url, subprotocols=["uhnw.bearer", self.token], open_timeout=30) as ws:
                while not self._stop.is_set():
                    try:
                        msg = ws.recv(timeout=0.2)
                    except TimeoutError:
                        continue
                    frame = json.loads(msg)
                    if frame.get("type") == "hello": self._hello.set(); self._ready.set()
                    if frame.get("type") == "alert":
                        self.frames.append(Frame(self.rm_id, time.time(), frame))
                        if self.on_frame: self.on_frame(self.frames[-1])
        except (ConnectionClosed, InvalidHandshake, OSError) as e:  # the server closed or went away: the session is over
            self.ended_by = e
        finally:
            self._ready.set()  # wakes `start` at once when the socket never opened

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None: self._thread.join(5)


def rm_token(settings: Settings, rm_id: str, ttl: float = 7200) -> str:
    from uhnw.auth import issue_token, local_secret
    return issue_token(rm_id, local_secret(settings), ttl=ttl)


def provider_payload(article: dict) -> dict:
    "What a news provider posts for a `synth_news` article (published now, so the frame carries the send time)."
    return {"id": article["id"], "source": article["source"], "url": article["url"], "headline": article["headline"],
            "body": article["body"], "published_at": datetime.now(UTC).isoformat(timespec="milliseconds")}


def post_signed(client, api_url: str, secret: str, payload: dict) -> tuple[int, float]:
    "POST one signed article to the webhook; returns (status, time.time() when the answer arrived)."
    from uhnw.ingest.news import PROVIDER_HEADER, SIGNATURE_HEADER, signature_header
    body = json.dumps(payload).encode()
    r = client.post(api_url + "/webhooks/news", content=body, headers={
        "content-type": "application/json", PROVIDER_HEADER: PROVIDER, SIGNATURE_HEADER: signature_header(secret, body)})
    return r.status_code, time.time()


class SignedPoster:
    """Posts signed articles over one keep-alive `http.client` connection per calling thread: a bench that posts 200
    articles a second through httpx spent a core of the machine it measures on the client alone."""

    def __init__(self, api_url: str, secret: str, timeout: float = 10):
        from urllib.parse import urlsplit
        u = urlsplit(api_url)
        self.host, self.port, self.secret, self.timeout = u.hostname, u.port, secret, timeout
        self._local = threading.local()

    def _conn(self):
        import http.client
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return conn

    def post(self, payload: dict) -> tuple[int, float]:
        """POST one signed article; (status, time.time() when the answer arrived). A dropped connection is re-opened once;
        dropped twice, `ConnectionError`. A server killed mid-answer (`http.client.IncompleteRead`, a bad status line)
        counts as dropped, and the article is posted again, as a provider would: an article accepted twice gives the
        same alert ids (`uhnw.enrich.alert_id`), which the alert store keeps once."""
        import http.client

        from uhnw.ingest.news import PROVIDER_HEADER, SIGNATURE_HEADER, signature_header
        body = json.dumps(payload).encode()
        headers = {"content-type": "application/json", PROVIDER_HEADER: PROVIDER, SIGNATURE_HEADER: signature_header(self.secret, body)}
        for attempt in (1, 2):
            conn = self._conn()
            try:
                conn.request("POST", "/webhooks/news", body=body, headers=headers)
                r = conn.getresponse()
                r.read()
                return r.status, time.time()
            except (OSError, http.client.HTTPException) as e:
                conn.close(); self._local.conn = None
                if attempt == 2: raise e if isinstance(e, OSError) else ConnectionError(f"answer cut off: {e!r}") from e
        raise AssertionError("unreachable")


def expected_alerts(settings: Settings, articles: list[dict], clients) -> set[tuple[str, str]]:
    "(article id, client id) pairs the hot path must deliver: what `enrich` gives offline with the promoted model."
    from uhnw.enrich import client_directory, enrich
    from uhnw.lake import lake_for
    from uhnw.relevance import load_model
    from uhnw.resolve import Gazetteer
    from uhnw.summarize import summarizer_for
    gaz, model, summ, directory = Gazetteer.from_clients(clients), load_model(lake_for(settings)), summarizer_for(settings), \
        client_directory(clients)
    out = set()
    for a in articles:
        event = {"article_id": a["id"], "source": a["source"], "url": a["url"], "headline": a["headline"], "body": a["body"],
                 "received_at": datetime.now(UTC), "published_at": None}
        out |= {(x["article_id"], x["client_id"]) for x in enrich(event, gaz, model, summ, settings.relevance_threshold, directory)}
    return out


def clients_from_db(settings: Settings):
    "The client master as the hot path sees it (PostgreSQL `clients` not deleted), as a DataFrame for `Gazetteer.from_clients`."
    import pandas as pd

    from uhnw.ops.db import connect
    with connect(settings) as conn:
        rows = conn.execute("select client_id, full_name, array_to_string(aliases, '|'), array_to_string(organizations, '|'), "
                            "city, country, rm_id, base_currency from clients where deleted_at is null order by client_id").fetchall()
    return pd.DataFrame(rows, columns=["client_id", "full_name", "aliases", "organizations", "city", "country", "rm_id",
                                       "base_currency"])


def ensure_relevance_model(settings: Settings, date: str, log=print) -> str:
    "The promoted relevance model's version; lands the training sets and trains + promotes one when none is promoted."
    from uhnw.lake import lake_for
    from uhnw.relevance import load_model
    try:
        return load_model(lake_for(settings)).version
    except (FileNotFoundError, LookupError):
        pass
    from uhnw.ops.jobs import run_job
    from uhnw.relevance import land_training_sets
    land_training_sets(lake_for(settings).ensure(), date)
    version = f"relevance-{date}"
    run = run_job(settings, "train_relevance", date, {"model_version": version, "promote": True})
    log(f"    trained and promoted {version} ({run.seconds} s): {run.output}")
    return version


def seed_clients_if_empty(settings: Settings, n: int = 100) -> int:
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


def prepare_run(settings: Settings, kind: str, log=print):
    """What every hot-path bench starts with: a topic prefix of the run's own (`<kind><stamp>.`), the stack up, the
    topics, a client book (seeded when PostgreSQL has none) and a promoted relevance model. Returns (settings of the
    run, its stamp, the clients as the hot path serves them)."""
    import dataclasses

    from confluent_kafka.admin import AdminClient

    from uhnw.bus import client_config, ensure_topics, topic_specs
    from uhnw.ops import stack
    stamp = time.strftime("%Y%m%d%H%M%S")
    settings = dataclasses.replace(settings, topic_prefix=f"{settings.topic_prefix}{kind}{stamp}.")
    stack.up(settings)
    ensure_topics(AdminClient(client_config(settings)), topic_specs(settings))
    seed_clients_if_empty(settings)
    ensure_relevance_model(settings, time.strftime("%Y-%m-%d"), log=log)
    return settings, stamp, clients_from_db(settings)


def drop_run_topics(settings: Settings, log=print) -> list[str]:
    """Delete the topics of a run made by `prepare_run` (those under its own prefix); returns their names. Otherwise a
    stack that runs bench after bench keeps every run's partitions, and the broker's background work (and with it the
    next runs' latency) grows with their number. A failure is reported, not raised: the run's figures stand."""
    from confluent_kafka.admin import AdminClient

    from uhnw.bus import client_config
    try:
        admin = AdminClient(client_config(settings))
        topics = sorted(t for t in admin.list_topics(timeout=10).topics if t.startswith(settings.topic_prefix))
        for f in admin.delete_topics(topics, operation_timeout=30).values() if topics else (): f.result(60)
        return topics
    except Exception as e:
        log(f"  note: the run's topics ({settings.topic_prefix}*) were not deleted: {type(e).__name__}: {e}")
        return []
