"""Shared fixtures: the session's own UHNW_HOME and ports, the local stack, and the `uhnw` CLI as a subprocess.

Every test runs with `UHNW_HOME=<repo>/.test-home` (never the user's data) and its own ports, set as
`UHNW_*` env vars so that subprocesses see the same settings. The stack is started once per session
(or reused if already up) and stopped at the end only if this session started it; set
`UHNW_KEEP_STACK=1` to leave it running for the next session.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TEST_HOME = REPO / ".test-home"  # not pytest's tmp dirs: those are 0700 and the PostgreSQL user must traverse the path
TEST_ENV = {"UHNW_PROFILE": "local", "UHNW_HOME": str(TEST_HOME), "UHNW_KAFKA_PORT": "19092",
            "UHNW_KAFKA_CONTROLLER_PORT": "19093", "UHNW_POSTGRES_PORT": "15433"}


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
