"""`uhnw demo`, the main job behind `make demo`, end to end on a stack of its own: in a fresh home it starts Kafka and
PostgreSQL, runs the bus walk-through, the cold path and the hot path, creates the demo users, serves the RM
workstation until Ctrl-C, and then stops what it started, quietly.

One run covers both modes: the interactive one (URL and logins printed, the workstation answering them, live news,
Ctrl-C) and the figures `--once` ends with, which the interactive run prints too when Ctrl-C ends it (the two modes
differ only in what happens after the first burst of news). The run starts from the session's promoted relevance
model (`model_home`), so it does not spend ~80 s training one; a fresh `make demo` trains it.
"""
from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import httpx
import pytest
from conftest import CATALOG_KEYS, DEMO_RUN, REPO, TEST_HOME, _free_port, _uhnw_cmd

BANNER_URL = re.compile(r"^==> the RM workstation is up: (http://\S+?)/?$")
BANNER_LOGIN = re.compile(r"^ {6}(\S+)\s+(rm|compliance)\s+(\S+)\s+(.+), (\d+) clients$")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class _Output:
    "A process's stdout and stderr, read in threads as they come, so the test can wait for a line."
    def __init__(self, proc: subprocess.Popen):
        self.out: list[str] = []
        self.err: list[str] = []
        self._threads = [threading.Thread(target=self._read, args=(pipe, lines), daemon=True)
                         for pipe, lines in ((proc.stdout, self.out), (proc.stderr, self.err))]
        for t in self._threads: t.start()

    @staticmethod
    def _read(pipe, lines: list[str]) -> None:
        for line in pipe: lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: re.Pattern, proc: subprocess.Popen, timeout: float) -> re.Match:
        "The first stdout line matching `pattern`; fails when the process ends or `timeout` passes first."
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.out):
                if m := pattern.match(line): return m
            assert proc.poll() is None, f"uhnw demo exited with {proc.returncode} before printing it\n{self.tail()}"
            time.sleep(0.5)
        raise AssertionError(f"uhnw demo did not print {pattern.pattern!r} within {timeout:g} s\n{self.tail()}")

    def join(self) -> None:
        for t in self._threads: t.join(10)

    def tail(self, n: int = 60) -> str:
        return "--- stdout\n" + "\n".join(self.out[-n:]) + "\n--- stderr\n" + "\n".join(self.err[-n:])


@contextlib.contextmanager
def _login(api: str, user_id: str, password: str):
    "An HTTP client logged in to the workstation with the session cookie, as the page is."
    with httpx.Client(base_url=api, timeout=10) as client:
        r = client.post("/auth/login", json={"user_id": user_id, "password": password})
        assert r.status_code == 200, (user_id, r.status_code, r.text)
        yield client


def _wait_live_alert(client: httpx.Client, timeout: float = 60) -> dict:
    "The first alert of the news streamed after the banner (its source is `live<run>-<n>`), as the caller sees it."
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alerts = client.get("/api/alerts", params={"limit": 100}).json()["alerts"]
        live = [a for a in alerts if a["source"].startswith("live")]
        if live: return live[0]
        time.sleep(1)
    raise AssertionError(f"no alert of the live news reached /api/alerts within {timeout:g} s")


def test_an_rm_listener_ends_quietly_when_the_server_closes_with_1012(monkeypatch):
    "What Ctrl-C on `uhnw demo` does to the console's RM sockets: the API shuts down and closes them with 1012."
    from websockets.frames import CloseCode
    from websockets.sync.server import serve

    from uhnw.bench.harness import RmListener
    uncaught = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)

    def restart_after_one_alert(ws):
        ws.send(json.dumps({"type": "hello"}))
        ws.send(json.dumps({"type": "alert", "alert_id": 1, "client_id": "C1", "article_id": "a1"}))
        ws.close(CloseCode.SERVICE_RESTART, "service restart")

    with serve(restart_after_one_alert, "127.0.0.1", 0, subprotocols=["uhnw.bearer"]) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        listener = RmListener(f"http://127.0.0.1:{server.socket.getsockname()[1]}", "RM-01", "token").start()
        listener._thread.join(10)
        server.shutdown()
    assert not listener._thread.is_alive() and uncaught == []
    assert listener.ended_by.rcvd.code == 1012 and [f.alert["alert_id"] for f in listener.frames] == [1]
    listener.stop()  # after the server went away: returns at once


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.spark
def test_demo_serves_the_workstation_with_live_alerts_and_ctrl_c_stops_everything_quietly(cli, model_home):
    home = TEST_HOME / "demo-home"  # under the repo, not pytest's 0700 tmp: the PostgreSQL user must traverse it
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(model_home / "lake" / "models", home / "lake" / "models")  # a promoted model: no training in this run
    ports = {"UHNW_KAFKA_PORT": _free_port(), "UHNW_KAFKA_CONTROLLER_PORT": _free_port(), "UHNW_POSTGRES_PORT": _free_port(),
                 "UHNW_SPARK_CONNECT_PORT": _free_port()}
    api_port = _free_port()
    stack_env = {"UHNW_HOME": str(home), **{k: str(v) for k, v in ports.items()}}
    env = {**os.environ, **stack_env, "PYTHONUNBUFFERED": "1"}
    # its own session, so that the SIGINT below reaches the demo and its services as Ctrl-C in a terminal does
    proc = subprocess.Popen([*_uhnw_cmd(), "demo", "--port", str(api_port)], env=env, cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    output = _Output(proc)
    try:
        url = output.wait_for(BANNER_URL, proc, timeout=900).group(1)
        assert url == f"http://127.0.0.1:{api_port}"
        logins = {m[1]: m for line in output.out if (m := BANNER_LOGIN.match(line))}
        assert {u: m[2] for u, m in logins.items()} == {"RM-01": "rm", "RM-02": "rm", "CO-01": "compliance"}, output.tail()

        books = {}
        for rm in ("RM-01", "RM-02"):
            with _login(url, rm, logins[rm][3]) as client:
                me = client.get("/api/me").json()
                assert me["user_id"] == rm and me["book_size"] == int(logins[rm][5]) > 0
                books[rm] = set(me["coverage"])
                alerts = client.get("/api/alerts", params={"limit": 500}).json()["alerts"]
                assert alerts and {a["client_id"] for a in alerts} <= books[rm], f"{rm} sees no alert, or another RM's"
        assert not books["RM-01"] & books["RM-02"], "the two demo RMs share clients"
        with _login(url, "CO-01", logins["CO-01"][3]) as compliance:
            assert compliance.get("/api/me").json()["role"] == "compliance"
            live = _wait_live_alert(compliance)
            assert live["client_id"] in books["RM-01"] | books["RM-02"]
            page = compliance.get("/")
            if importlib.util.find_spec("uhnw.serve.page") is None:
                assert page.status_code == 404  # the page module is not built yet
            else:
                assert page.status_code == 200 and "text/html" in page.headers["content-type"], page.status_code

        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the demo's terminal
        proc.wait(180)
        output.join()
        everything = "\n".join(output.out + output.err)
        assert proc.returncode == 0, output.tail()  # Ctrl-C is how a serving demo ends: not an error
        assert "Traceback" not in everything and "ConnectionClosed" not in everything, output.tail()
        assert "stopped what the demo started: kafka, postgres" in everything
        assert not any(_port_open(port) for port in [*ports.values(), api_port]), "the demo left a port open"
        status = cli("stack", "status", "--json", env=stack_env)
        assert status.returncode == 3 and not any(s["up"] for s in json.loads(status.stdout))

        summary = json.loads(output.out[-1])
        assert summary["dead_letters_this_run"] == 1 and summary["events_consumed"] >= summary["events_produced"] == 4
        assert summary["alerts_expected"] > 0 and summary["alerts_delivered"] == summary["alerts_expected"]
        assert summary["alerts_unexpected"] == 0 and summary["live_articles_posted"] >= 1
        assert summary["client_metrics_rows"] > 0 and len(summary["cold_dates"]) == 3
        assert summary["demo_users"] == 3 and summary["workstation_url"] == url + "/"
        books_n = summary["demo_books"]
        assert books_n["RM-01"] == len(books["RM-01"]) and books_n["RM-01"] + books_n["RM-02"] == books_n["CO-01"] == 40
        assert "model relevance-hotpath-test" in everything, "the demo trained a model instead of using the pre-seeded one"
        sources = summary["sources"]  # the other three sources and the stream into the lake, counted by the demo
        assert sources["crm_events_applied"] >= 2 and len(sources["crm_client_covered_by"]) == 2
        assert sources["crm_client"] in books["RM-01"] | books["RM-02"]
        assert sources["ticks_published"] > 0 and sources["web_articles"] >= 1 and sources["web_pages_scraped"] >= 2
        assert sources["silver_news_rows"] >= summary["events_produced"] and sources["silver_alerts_rows"] > 0
        for report in (summary["report"], summary["report_rm"]):
            assert "<html" in open(report).read(2000).lower()
        # the demo's lake, for the notebooks of tests/test_workspace.py: its home, stack and Iceberg catalog (this test's namespaces)
        DEMO_RUN.update(home=home, env={**stack_env, **{k: os.environ[k] for k in CATALOG_KEYS}})
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        cli("stack", "down", env=stack_env)
        if not DEMO_RUN: shutil.rmtree(home, ignore_errors=True)
