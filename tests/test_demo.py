"""`uhnw demo --once`, the main job behind `make demo`, end to end on a stack of its own: it starts Kafka and
PostgreSQL in a fresh home, runs the bus walk-through, the cold path and the hot path, and stops what it started."""
from __future__ import annotations

import json
import shutil
import socket

import pytest
from conftest import TEST_HOME, _free_port


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.kafka
@pytest.mark.postgres
@pytest.mark.spark
def test_demo_once_delivers_every_alert_writes_the_reports_and_stops_what_it_started(cli):
    home = TEST_HOME / "demo-home"  # under the repo, not pytest's 0700 tmp: the PostgreSQL user must traverse it
    shutil.rmtree(home, ignore_errors=True)
    ports = {"UHNW_KAFKA_PORT": _free_port(), "UHNW_KAFKA_CONTROLLER_PORT": _free_port(), "UHNW_POSTGRES_PORT": _free_port()}
    env = {"UHNW_HOME": str(home), **{k: str(v) for k, v in ports.items()}}
    try:
        p = cli("demo", "--once", env=env, timeout=900)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        summary = json.loads(p.stdout.splitlines()[-1])
        assert summary["dead_letters_this_run"] == 1 and summary["events_consumed"] >= summary["events_produced"] == 4
        assert summary["alerts_expected"] > 0 and summary["alerts_delivered"] == summary["alerts_expected"]
        assert summary["alerts_unexpected"] == 0
        assert summary["client_metrics_rows"] > 0 and len(summary["cold_dates"]) == 3
        for report in (summary["report"], summary["report_rm"]):
            assert "<html" in open(report).read(2000).lower()
        assert "stopped what the demo started: kafka, postgres" in p.stdout
        assert not any(_port_open(port) for port in ports.values()), "the demo left a port of its stack open"
        status = cli("stack", "status", "--json", env=env)
        assert status.returncode == 3 and not any(s["up"] for s in json.loads(status.stdout))
    finally:
        cli("stack", "down", env=env)
        shutil.rmtree(home, ignore_errors=True)
