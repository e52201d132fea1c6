"""`uhnw bench api` run tiny end to end: a real `uhnw serve api` process, a synthetic book written and deleted, both
surfaces driven open loop; the last line is the JSON figures with every request answered 2xx with the caller's book."""
from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]  # the API process opens its alert feed on the broker


def test_bench_api_tiny_run_answers_every_request_with_the_rms_book_and_cleans_up(cli, stack):
    from uhnw.ops.db import connect
    r = cli("bench", "api", "--clients", "200", "--rms", "5", "--rate", "20", "--seconds", "3", timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    lines = r.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["bench"] == "api" and figures["clients"] == 200 and figures["rms"] == 5 and figures["book_per_rm"] == 40
    assert figures["target"]["met"] is None  # 20 requests/s is not the target's rate: no verdict
    assert len(figures["load_avg_before"]) == 3 and figures["dropped_clients"] == 200
    measured = {name: s for name, s in figures["surfaces"].items() if "skipped" not in s}
    assert "rest" in measured
    for name, s in measured.items():
        assert s["requests"] == 60 and s["ok"] == 60 and s["errors"] == 0 and s["error_kinds"] == {}, (name, s)
        assert 0 < s["p50_ms"] <= s["p95_ms"] <= s["p99_ms"] <= s["max_ms"], (name, s)
        assert 15 <= s["achieved_rate"] <= 25, (name, s)
        assert s["cpu_percent"]["api"] > 0, (name, s)
    assert any(line.lstrip().startswith("rest ") for line in lines[:-1]), "the human table precedes the JSON line"
    with connect(stack) as conn:
        left = conn.execute("select count(*) from clients where client_id like %s", (figures["prefix"] + "%",)).fetchone()[0]
        users = conn.execute("select count(*) from users where user_id like %s", (figures["prefix"] + "%",)).fetchone()[0]
    assert (left, users) == (0, 0), "the bench's book is deleted after the run"
