"""gold → PostgreSQL sync and the portfolio-health dashboard, against the real PostgreSQL of the session stack."""
import dataclasses
import uuid
from datetime import date as Date

import pyarrow as pa
import pytest

from uhnw.lake import lake_for
from uhnw.ops.db import connect
from uhnw.sync import rds_sync
from uhnw.tables import arrow_schema, table_def

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def book(stack, tmp_path):
    "A lake of this test's own (under a temp home) and client ids no other test uses."
    lake = lake_for(dataclasses.replace(stack, home=tmp_path))
    lake.ensure()
    return lake, f"T{uuid.uuid4().hex[:6]}-"


def put_metrics(stack, lake, date, rows):
    td = table_def(stack, "gold.client_metrics")
    cols = ["client_id", "base_currency", "market_value", "daily_pnl", "positions_count", "unpriced_positions"]
    table = pa.Table.from_pylist([dict(zip(cols, r, strict=True)) for r in rows], schema=arrow_schema(td))
    lake.replace_partition("gold", "client_metrics", date, table)


def put_clients(stack, lake, date, rows):
    td = table_def(stack, "silver.clients")
    records = [{"client_id": cid, "full_name": name, "aliases": aliases, "rm_id": rm, "base_currency": ccy,
                "extra": [("city", "Mumbai"), ("organizations", "Saxena Logistics")], "extract_date": Date.fromisoformat(date),
                "source_file": "clients.csv", "source_row": i + 1} for i, (cid, name, aliases, rm, ccy) in enumerate(rows)]
    lake.replace_partition("silver", "clients", date, pa.Table.from_pylist(records, schema=arrow_schema(td)))


def pg_metrics(stack, prefix, date):
    with connect(stack) as conn:
        return conn.execute("select client_id, base_currency, market_value::float8, daily_pnl::float8, positions_count, unpriced_positions "
                            "from client_metrics where date = %s and client_id like %s order by client_id",
                            (Date.fromisoformat(date), prefix + "%")).fetchall()


def test_rds_sync_twice_gives_the_same_table_and_follows_a_recomputed_gold(stack, book):
    lake, p = book
    put_clients(stack, lake, "2030-01-02", [(p + "1", "Amit Saxena", ["A. Saxena"], "RM-01", "INR"),
                                           (p + "2", "Chen Wei", [], "RM-02", "HKD"), (p + "3", "Khalid Al-Rashid", [], "RM-01", "AED")])
    put_metrics(stack, lake, "2030-01-02", [(p + "1", "INR", 1000.5, 12.25, 3, 0), (p + "2", "HKD", 200.0, None, 1, 1),
                                           (p + "3", "AED", 50.0, -5.0, 2, 0)])
    first = rds_sync(stack, "2030-01-02", lake=lake)
    table1 = pg_metrics(stack, p, "2030-01-02")
    second = rds_sync(stack, "2030-01-02", lake=lake)
    assert pg_metrics(stack, p, "2030-01-02") == table1 == [(p + "1", "INR", 1000.5, 12.25, 3, 0), (p + "2", "HKD", 200.0, None, 1, 1),
                                                            (p + "3", "AED", 50.0, -5.0, 2, 0)]
    assert (first.upserted, second.upserted, second.deleted) == (3, 0, 0), "unchanged rows are not rewritten"

    put_metrics(stack, lake, "2030-01-02", [(p + "1", "INR", 999.0, 10.0, 3, 0), (p + "2", "HKD", 200.0, None, 1, 1)])
    third = rds_sync(stack, "2030-01-02", lake=lake)
    assert pg_metrics(stack, p, "2030-01-02") == [(p + "1", "INR", 999.0, 10.0, 3, 0), (p + "2", "HKD", 200.0, None, 1, 1)]
    assert (third.upserted, third.deleted) == (1, 1)

    with connect(stack) as conn:
        clients = conn.execute("select client_id, full_name, aliases, organizations, city, rm_id from clients "
                               "where client_id like %s order by client_id", (p + "%",)).fetchall()
        coverage = conn.execute("select rm_id, client_id from rm_coverage where client_id like %s order by client_id",
                                (p + "%",)).fetchall()
    assert clients[0] == (p + "1", "Amit Saxena", ["A. Saxena"], ["Saxena Logistics"], "Mumbai", "RM-01")
    assert coverage == [("RM-01", p + "1"), ("RM-02", p + "2"), ("RM-01", p + "3")]


def test_rds_sync_of_a_date_without_gold_is_refused_and_deletes_nothing(stack, book):
    lake, p = book
    with pytest.raises(LookupError, match="no gold.client_metrics partition for 2030-02-01"):
        rds_sync(stack, "2030-02-01", lake=lake)


def test_dashboard_metrics_for_an_rm_hold_only_that_rms_clients_and_the_report_renders(stack, book, tmp_path):
    from uhnw.portfolio_health import load_metrics, render_report
    lake, p = book
    put_clients(stack, lake, "2030-03-02", [(p + "1", "Amit Saxena", [], "RM-A" + p, "INR"), (p + "2", "Chen Wei", [], "RM-B" + p, "HKD")])
    put_metrics(stack, lake, "2030-03-02", [(p + "1", "INR", 100.0, 1.0, 1, 0), (p + "2", "HKD", 200.0, 2.0, 1, 0)])
    rds_sync(stack, "2030-03-02", lake=lake)
    mine = load_metrics(stack, "2030-03-02", rm_id="RM-A" + p)
    assert list(mine["client_id"]) == [p + "1"]
    everyone = load_metrics(stack, "2030-03-02")
    assert {p + "1", p + "2"} <= set(everyone["client_id"])
    html = render_report(mine, tmp_path / "r.html", "2030-03-02", "RM-A" + p).read_text()
    assert "Amit Saxena" in html and "Chen Wei" not in html
