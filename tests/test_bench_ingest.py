"""`uhnw bench ingest` run tiny: the CRM, tick and page sources on the session's stack (topics of the bench's own, its
synthetic clients removed afterwards); the table first, the JSON line last. The stream's measure is the Spark stream of
tests/test_stream.py, which runs the same code: it is left out here to keep one Spark session start out of the suite."""
from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]


def test_bench_ingest_tiny_run_prints_a_row_per_source_and_the_figures_last(cli, stack):
    from uhnw.ops.db import connect
    with connect(stack) as conn:
        clients_before = conn.execute("select count(*) from clients").fetchone()[0]
    r = cli("bench", "ingest", "--crm", "200", "--ticks", "2000", "--pages", "6", "--stream", "0", timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    lines = r.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["bench"] == "ingest" and set(figures["sources"]) == {"crm", "ticks", "pages"}
    crm, ticks, pages = (figures["sources"][s] for s in ("crm", "ticks", "pages"))
    assert crm["events"] == 200 and crm["dead_lettered"] == 0 and sum(crm["actions"].values()) >= 200 and crm["rate_per_s"] > 0
    assert ticks["ticks"] == 2000 and ticks["rate_per_s"] > 0 and 0 < ticks["frames_out"] <= 2000
    assert pages["pages"] == 6 == pages["articles"] + pages["rejected"] and pages["rate_per_s"] > 0
    assert [line.split()[0] for line in lines[1:4]] == ["crm", "ticks", "pages"]  # the table, under its header
    with connect(stack) as conn:  # the bench's synthetic accounts are gone again
        assert conn.execute("select count(*) from clients").fetchone()[0] == clients_before


def test_bench_ingest_refuses_when_every_source_is_skipped(cli):
    r = cli("bench", "ingest", "--crm", "0", "--ticks", "0", "--pages", "0", "--stream", "0")
    assert r.returncode != 0 and "every source is skipped" in r.stderr
