"""Shared fixtures: the session's own UHNW_HOME and ports, the local stack, and the `uhnw` CLI as a subprocess.

Every test runs with `UHNW_HOME=<repo>/.test-home` (never the user's data) and its own ports, set as
`UHNW_*` env vars so that subprocesses see the same settings. The stack is started once per session
(or reused if already up) and stopped at the end only if this session started it; set
`UHNW_KEEP_STACK=1` to leave it running for the next session.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TEST_HOME = REPO / ".test-home"  # not pytest's tmp dirs: those are 0700 and the PostgreSQL user must traverse the path
# `uhnw demo`'s home and stack settings once tests/test_demo.py saw it succeed: tests/test_workspace.py runs the notebooks
# on that lake instead of building another (its stack is stopped; the workspace test starts it again and removes the home)
DEMO_RUN: dict = {}
CATALOG_KEYS = ("UHNW_GLUE_DATABASE_SILVER", "UHNW_GLUE_DATABASE_GOLD", "UHNW_CATALOG_URI")  # set per test by warm_namespaces
TEST_ENV = {"UHNW_PROFILE": "local", "UHNW_HOME": str(TEST_HOME), "UHNW_KAFKA_PORT": "19092",
            "UHNW_KAFKA_CONTROLLER_PORT": "19093", "UHNW_POSTGRES_PORT": "15433", "UHNW_SPARK_CONNECT_PORT": "19002"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session_env() -> dict[str, str]:
    """TEST_ENV, unless its ports are held by something other than this home's own stack
    (another checkout's test session, say): then free ports, so the session never fails on a busy port."""
    from uhnw.config import load_settings
    from uhnw.ops.stack import _port_free, status
    env = dict(TEST_ENV)
    ours = any(s.up for s in status(load_settings(env=env)))
    ports = [k for k in env if k.endswith("_PORT")]
    if not ours and not all(_port_free("127.0.0.1", int(env[k])) for k in ports):
        env.update({k: str(_free_port()) for k in ports})
    return env


@pytest.fixture(scope="session", autouse=True)
def demo_run_removed():
    "test_demo's home, when tests/test_workspace.py did not run to remove it (deselected, or failed before its fixture)."
    yield
    if DEMO_RUN: shutil.rmtree(DEMO_RUN["home"], ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def uhnw_env():
    "The session's `UHNW_*` settings, exported to os.environ (and so to every subprocess) for the whole session."
    env = _session_env()
    saved = {k: os.environ.get(k) for k in env}
    for k in ("UHNW_SETTINGS", "UHNW_KAFKA_BOOTSTRAP_SERVERS"): saved[k] = os.environ.pop(k, None)
    os.environ.update(env)
    TEST_HOME.mkdir(exist_ok=True)
    yield dict(env)
    for k, v in saved.items():
        if v is None: os.environ.pop(k, None)
        else: os.environ[k] = v


@pytest.fixture(scope="session")
def stack(uhnw_env):
    "`Settings` of the session's local stack (Kafka + PostgreSQL), started once or reused if already up."
    from uhnw.config import load_settings
    from uhnw.ops.stack import down, up
    settings = load_settings()
    started = any(s.started for s in up(settings))
    yield settings
    if started and not os.environ.get("UHNW_KEEP_STACK"): down(settings)


_SESSION_SALT = uuid.uuid4().hex


@pytest.fixture(autouse=True)
def warm_namespaces(request, monkeypatch, uhnw_env):
    """Each test's silver and gold Iceberg tables in namespaces of its own, in the session stack's catalog: tests share one
    PostgreSQL catalog (as jobs share one in production) without seeing each other's tables. Exported, so the `uhnw`
    subprocesses, job notebooks and tmp-path homes of the test (which read the environment) use the same ones."""
    import hashlib

    from uhnw.catalog import postgres_catalog_uri
    from uhnw.config import load_settings
    # new names each session: the tables a kept stack still holds from an earlier session stay apart
    tag = "t" + hashlib.sha1(f"{_SESSION_SALT}/{request.node.nodeid}".encode()).hexdigest()[:10]
    monkeypatch.setenv("UHNW_GLUE_DATABASE_SILVER", f"{tag}_silver")
    monkeypatch.setenv("UHNW_GLUE_DATABASE_GOLD", f"{tag}_gold")
    monkeypatch.setenv("UHNW_CATALOG_URI", postgres_catalog_uri(load_settings(profile="local")))  # the session stack's passfile
    return tag


def _uhnw_cmd() -> list[str]:
    exe = REPO / ".venv" / "bin" / "uhnw"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "uhnw"]


@pytest.fixture
def cli(uhnw_env):
    "Run `uhnw ARGS...` as a subprocess with the session env (plus `env` overrides); returns the CompletedProcess."
    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
        full_env = {**os.environ, **(env or {})}
        return subprocess.run([*_uhnw_cmd(), *args], env=full_env, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    return run


@pytest.fixture(scope="session")
def spark(uhnw_env):
    "One local Spark session (2 cores, the jobs' connectors on its classpath) for the whole test session: one start, ~8 s."
    pytest.importorskip("pyspark")
    from uhnw.config import load_settings
    from uhnw.ops.spark import get_spark
    session = get_spark(load_settings(profile="local"), "uhnw-tests", master="local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def model_home(tmp_path_factory, stack):
    "A UHNW_HOME whose lake holds a promoted relevance model trained on the seed set; `stack/` points at the session's stack."
    from uhnw.config import load_settings
    from uhnw.lake import lake_for
    from uhnw.relevance import promote, read_seed, resolve_labels, save_model, train
    from uhnw.resolve import Gazetteer
    home = tmp_path_factory.mktemp("hotpath-home")
    (home / "stack").symlink_to(stack.stack_dir)  # the PostgreSQL passfile of the session stack
    lake = lake_for(load_settings(home=home)).ensure()
    raw, clients = read_seed()
    model, metrics = train(resolve_labels(raw, Gazetteer.from_clients(clients))[0], {"cv": 3})
    save_model(model, metrics, lake, "relevance-hotpath-test")
    promote(lake, "relevance-hotpath-test")
    return home


@pytest.fixture
def bus(stack):
    "Settings with a topic prefix of this test's own, and its topics created."
    import dataclasses
    import uuid

    from confluent_kafka.admin import AdminClient

    from uhnw.bus import client_config, ensure_topics, topic_specs
    settings = dataclasses.replace(stack, topic_prefix=f"t{uuid.uuid4().hex[:10]}.")
    ensure_topics(AdminClient(client_config(settings)), topic_specs(settings))
    return settings


@pytest.fixture(scope="module")
def moto_endpoint():
    "A local AWS API emulator (moto server) on a free port, with test credentials in the environment."
    from moto.server import ThreadedMotoServer
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1"}.items():
            mp.setenv(k, v)
        mp.delenv("AWS_PROFILE", raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try: yield f"http://{host}:{port}"
        finally: server.stop()


@dataclasses.dataclass(frozen=True)
class WorkstationBook:
    "Two RMs, a compliance officer and their clients on the session's PostgreSQL (ids unique to this session)."
    rm1: str
    rm2: str
    compliance: str
    passwords: dict[str, str]
    clients: dict[str, list[str]]  # RM id -> the client ids they cover
    alerts: dict[str, list[int]]  # client id -> alert ids, oldest first
    dates: tuple[str, ...]

    def login(self, client, user_id: str) -> str:
        "Log a TestClient (or httpx client) in as `user_id` with the session cookie; returns the CSRF token."
        r = client.post("/auth/login", json={"user_id": user_id, "password": self.passwords[user_id]})
        assert r.status_code == 200, r.text
        return r.json()["csrf_token"]


@pytest.fixture(scope="session")
def workstation_book(stack) -> WorkstationBook:
    """A small book for the workstation's API tests: RM-1 covers 3 clients, RM-2 covers 2 others, compliance covers none
    and reads all; each client has metrics on two dates (base GBP/HKD/AED, reporting USD), positions and two alerts."""
    import uuid

    from uhnw.access import upsert_user
    from uhnw.ops.db import connect
    run = uuid.uuid4().hex[:6].upper()
    rm1, rm2, co = f"RM-T{run}-1", f"RM-T{run}-2", f"CO-T{run}"
    passwords = {rm1: f"pw-{run}-first", rm2: f"pw-{run}-second", co: f"pw-{run}-compliance"}
    book = {rm1: [f"WS{run}-{i}" for i in range(3)], rm2: [f"WS{run}-{i}" for i in range(3, 5)]}
    dates = ("2031-03-03", "2031-03-04")
    ccys = ["GBP", "HKD", "AED", "USD", "GBP"]
    alerts: dict[str, list[int]] = {}
    with connect(stack) as conn, conn.transaction():
        upsert_user(conn, rm1, "Test RM One", "rm", passwords[rm1])
        upsert_user(conn, rm2, "Test RM Two", "rm", passwords[rm2])
        upsert_user(conn, co, "Test Compliance", "compliance", passwords[co])
        for rm, ids in book.items():
            for cid in ids:
                i = int(cid.rsplit("-", 1)[1])
                conn.execute("insert into clients (client_id, full_name, rm_id, base_currency, city) values (%s, %s, %s, %s, 'London')",
                             (cid, f"Client {run} {i}", rm, ccys[i]))
                for d, (mv, pnl) in zip(dates, [(1000.0 * (i + 1), None), (1100.0 * (i + 1), 100.0 * (i + 1))], strict=True):
                    conn.execute("""insert into client_metrics (client_id, date, base_currency, market_value, daily_pnl, positions_count,
                        unpriced_positions, reporting_currency, market_value_reporting, daily_pnl_reporting)
                        values (%s, %s, %s, %s, %s, 2, %s, 'USD', %s, %s)""",
                                 (cid, d, ccys[i], mv, pnl, i % 2, mv * 1.25, pnl and pnl * 1.25))
                    conn.execute("""insert into position_pnl (client_id, date, account_id, instrument_id, base_currency, currency, quantity,
                        close, market_value, pnl, reporting_currency, market_value_reporting) values
                        (%s, %s, 'ACC1', 'XS123', %s, 'USD', 10, 100, %s, %s, 'USD', %s)""", (cid, d, ccys[i], mv, pnl, mv * 1.25))
                alerts[cid] = [conn.execute("""insert into alerts (article_id, client_id, rm_id, headline, summary, event_type, relevance,
                    resolution_score, mention, matched_name, match_reasons, source, published_at, processed_at)
                    values (%s, %s, %s, %s, 'summary', %s, 0.91, 0.97, %s, %s, 'organisation named', 'newswire', %s, now())
                    returning alert_id""", (f"ws-{run}-{cid}-{k}", cid, rm, f"Headline {k} about Client {run} {i}",
                                           ("m_and_a", "liquidity")[k], f"Client {run} {i}", f"Client {run} {i}",
                                           f"{dates[k]}T09:00:00Z")).fetchone()[0] for k in range(2)]
    return WorkstationBook(rm1, rm2, co, passwords, book, alerts, dates)


@pytest.fixture
def web_site():
    """An HTTP server on 127.0.0.1 for the scraper and web ETL tests: `site.route(path, *answers, host=None)` with answers
    `(status, headers, body)` (the last one repeats; a header set to None is not sent), every request in `site.log`
    as (host, path). Tests reach it under made-up names through a stub resolver; nothing else is contacted."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from types import SimpleNamespace
    routes: dict = {}
    log: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
            log.append((host, self.path))
            answers = routes.get((host, self.path)) or routes.get((None, self.path)) or [(404, {}, b"not found")]
            status, headers, body = answers.pop(0) if len(answers) > 1 else answers[0]
            self.send_response(status)
            for k, v in {"Content-Length": str(len(body)), **headers}.items():
                if v is not None: self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args): pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)  # quick shutdown
    thread.start()
    site = SimpleNamespace(port=server.server_address[1], log=log,
                           route=lambda path, *answers, host=None: routes.__setitem__((host, path), list(answers)))
    yield site
    server.shutdown()
    server.server_close()
