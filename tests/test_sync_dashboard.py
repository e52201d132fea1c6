"""gold → PostgreSQL sync and the portfolio-health dashboard, against the real PostgreSQL of the session stack."""
import math
import uuid
from datetime import date as Date

import pyarrow as pa
import pytest

from uhnw.config import load_settings
from uhnw.lake import lake_for
from uhnw.ops.db import connect
from uhnw.sync import rds_sync
from uhnw.tables import arrow_schema, table_def

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def book(stack, tmp_path):
    "A lake of this test's own (under a temp home) and client ids no other test uses."
    lake = lake_for(load_settings(home=tmp_path))  # this test's lake, its tables in the test's namespaces of the session catalog
    lake.ensure()
    return lake, f"T{uuid.uuid4().hex[:6]}-"


USD_PER_UNIT = {"INR": 0.012, "HKD": 0.1287, "AED": 0.2723, "GBP": 1.25, "USD": 1.0}  # reporting currency: USD


def put_metrics(stack, lake, date, rows, positions=()):
    "A gold client_metrics partition with the reporting figures (base × the USD rate) and a position_pnl partition (None: not written)."
    td = table_def(stack, "gold.client_metrics")
    cols = ["client_id", "base_currency", "market_value", "daily_pnl", "positions_count", "unpriced_positions"]
    records = [dict(zip(cols, r, strict=True)) for r in rows]
    for r in records:
        rate = USD_PER_UNIT[r["base_currency"]]
        r.update(reporting_currency="USD", market_value_reporting=r["market_value"] and r["market_value"] * rate,
                 daily_pnl_reporting=r["daily_pnl"] and r["daily_pnl"] * rate)
    lake.replace_partition("gold", "client_metrics", date, pa.Table.from_pylist(records, schema=arrow_schema(td)))
    if positions is not None: put_positions(stack, lake, date, positions)


def put_positions(stack, lake, date, rows):
    "A gold position_pnl partition from (client_id, instrument_id, base_currency, market_value, pnl) rows."
    td = table_def(stack, "gold.position_pnl")
    records = [{"client_id": c, "account_id": "ACC-1", "instrument_id": i, "base_currency": ccy, "currency": "USD", "quantity": 10.0,
                "close": mv and mv / 10, "fx_to_base": 1 / USD_PER_UNIT[ccy], "market_value": mv, "pnl": pnl,
                "unpriced_reason": None if mv is not None else f"no price for {i} on {date}", "reporting_currency": "USD",
                "market_value_reporting": mv and mv * USD_PER_UNIT[ccy], "pnl_reporting": pnl and pnl * USD_PER_UNIT[ccy]}
               for c, i, ccy, mv, pnl in rows]
    lake.replace_partition("gold", "position_pnl", date, pa.Table.from_pylist(records, schema=arrow_schema(td)))


def put_clients(stack, lake, date, rows):
    td = table_def(stack, "silver.clients")
    records = [{"client_id": cid, "full_name": name, "aliases": aliases, "rm_id": rm, "base_currency": ccy,
                "extra": [("city", "Mumbai"), ("organizations", "Saxena Logistics")], "extract_date": Date.fromisoformat(date),
                "source_file": "clients.csv", "source_row": i + 1} for i, (cid, name, aliases, rm, ccy) in enumerate(rows)]
    lake.replace_partition("silver", "clients", date, pa.Table.from_pylist(records, schema=arrow_schema(td)))


def pg_metrics(stack, prefix, date, reporting=False):
    extra = ", reporting_currency, market_value_reporting::float8, daily_pnl_reporting::float8" if reporting else ""
    with connect(stack) as conn:
        return conn.execute("select client_id, base_currency, market_value::float8, daily_pnl::float8, positions_count, unpriced_positions"
                            f"{extra} from client_metrics where date = %s and client_id like %s order by client_id",
                            (Date.fromisoformat(date), prefix + "%")).fetchall()


def pg_positions(stack, prefix, date):
    with connect(stack) as conn:
        return conn.execute("select client_id, instrument_id, base_currency, market_value::float8, pnl::float8, unpriced_reason, "
                            "reporting_currency, market_value_reporting::float8, pnl_reporting::float8, loaded_at from position_pnl "
                            "where date = %s and client_id like %s order by client_id, instrument_id",
                            (Date.fromisoformat(date), prefix + "%")).fetchall()


def close(a, b):
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12))


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


def test_rds_sync_carries_the_reporting_currency_figures_and_the_positions_idempotently(stack, book):
    lake, p = book
    day = "2030-04-01"
    put_clients(stack, lake, day, [(p + "1", "Khalid Al-Rashid", [], "RM-01", "AED"), (p + "2", "Chen Wei", [], "RM-01", "HKD"),
                                   (p + "3", "Olivia Hart", [], "RM-02", "GBP")])
    metrics = [(p + "1", "AED", 9.3e9, 2.0e8, 2, 0), (p + "2", "HKD", 8.1e9, -1.0e8, 1, 1), (p + "3", "GBP", 2.0e9, None, 1, 0)]
    positions = [(p + "1", "SAP", "AED", 6.0e9, 1.5e8), (p + "1", "VOD", "AED", 3.3e9, 5.0e7), (p + "2", "HSBA", "HKD", 8.1e9, -1.0e8),
                 (p + "2", "NOPX", "HKD", None, None), (p + "3", "AZN", "GBP", 2.0e9, None)]
    put_metrics(stack, lake, day, metrics, positions)
    first = rds_sync(stack, day, lake=lake)
    assert (first.gold_rows, first.positions, first.positions_upserted) == (3, 5, 5)  # (rows of an earlier session's run are deleted)

    got = pg_metrics(stack, p, day, reporting=True)
    assert [r[:6] for r in got] == metrics
    for (_, ccy, mv, pnl, *_), row in zip(metrics, got, strict=True):  # gold → PostgreSQL: base × the date's USD rate
        assert row[6] == "USD" and close(row[7], mv * USD_PER_UNIT[ccy]) and close(row[8], pnl and pnl * USD_PER_UNIT[ccy]), row
    pos = pg_positions(stack, p, day)
    assert [(r[0], r[1], r[2]) for r in pos] == sorted((c, i, ccy) for c, i, ccy, _, _ in positions)
    want = {(c, i): (mv, pnl, ccy) for c, i, ccy, mv, pnl in positions}
    for cid, instr, ccy, mv, pnl, reason, rep_ccy, mv_rep, pnl_rep, _ in pos:
        w_mv, w_pnl, _ = want[(cid, instr)]
        assert close(mv, w_mv) and close(pnl, w_pnl) and rep_ccy == "USD"
        assert close(mv_rep, w_mv and w_mv * USD_PER_UNIT[ccy]) and close(pnl_rep, w_pnl and w_pnl * USD_PER_UNIT[ccy])
        assert (reason is None) == (w_mv is not None)

    second = rds_sync(stack, day, lake=lake)  # idempotent: nothing rewritten, the same rows
    assert (second.upserted, second.deleted, second.positions_upserted, second.positions_deleted) == (0, 0, 0, 0)
    assert pg_positions(stack, p, day) == pos and pg_metrics(stack, p, day, reporting=True) == got

    # gold recomputed: a position closed, one revalued; PostgreSQL follows exactly, in the same sync as the metrics
    recomputed = [r if r[1] != "SAP" else (p + "1", "SAP", "AED", 6.1e9, 2.5e8) for r in positions if r[1] != "VOD"]
    put_metrics(stack, lake, day, metrics, recomputed)
    third = rds_sync(stack, day, lake=lake)
    assert (third.positions, third.positions_upserted, third.positions_deleted) == (4, 1, 1)
    after = {(r[0], r[1]): r for r in pg_positions(stack, p, day)}
    assert (p + "1", "VOD") not in after and close(after[(p + "1", "SAP")][7], 6.1e9 * USD_PER_UNIT["AED"])


def test_rds_sync_of_a_date_with_metrics_but_no_positions_is_refused(stack, book):
    lake, p = book
    put_metrics(stack, lake, "2030-05-01", [(p + "1", "GBP", 1.0, None, 1, 0)], positions=None)
    with pytest.raises(LookupError, match="no gold.position_pnl partition for 2030-05-01"):
        rds_sync(stack, "2030-05-01", lake=lake)
    assert pg_metrics(stack, p, "2030-05-01") == []


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
    html = render_report(mine, tmp_path / "r.html", "2030-03-02", "RM-A" + p, "USD").read_text()
    assert "Amit Saxena" in html and "Chen Wei" not in html and "Market value (USD)" in html


def test_book_health_view_of_synced_rows_draws_one_currency_and_is_json(stack, book):
    import json

    from uhnw.portfolio_health import book_health_view, load_metrics
    lake, p = book
    rm = "RM-V" + p
    put_clients(stack, lake, "2030-03-09", [(p + c, n, [], rm, ccy) for c, n, ccy in
                                           (("1", "Khalid Al-Rashid", "AED"), ("2", "Chen Wei", "HKD"), ("3", "Amit Saxena", "USD"),
                                            ("4", "Olivia Hart", "GBP"))])
    for day, move in (("2030-03-06", None), ("2030-03-09", 1.0e6)):  # over a weekend: daily ticks on a date axis
        put_metrics(stack, lake, day, [(p + "1", "AED", 9.0e9, move, 10, 0), (p + "2", "HKD", 8.0e9, move, 10, 2),
                                       (p + "3", "USD", 1.5e9, move, 10, 0), (p + "4", "GBP", 2.0e9, move, 10, 0)])
        rds_sync(stack, day, lake=lake)
    view = book_health_view(load_metrics(stack, "2030-03-09", rm_id=rm, days=7), "2030-03-09", "USD")
    json.dumps(view)
    mv = view["figures"]["market_value"]
    assert mv["layout"]["yaxis"]["title"]["text"] == "Market value (USD)"
    want = sorted([9.0e9 * USD_PER_UNIT["AED"], 8.0e9 * USD_PER_UNIT["HKD"], 1.5e9, 2.0e9 * USD_PER_UNIT["GBP"]], reverse=True)
    assert all(close(a, b) for a, b in zip(mv["data"][0]["y"], want, strict=True))
    # in USD Olivia Hart (2.0e9 GBP) leads Khalid Al-Rashid (9.0e9 AED): ranked by base figures it would be the other way
    assert [c[1] for c in mv["data"][0]["customdata"]] == ["GBP", "AED", "USD", "HKD"]  # each bar's base currency for its tooltip
    pnl = view["figures"]["daily_pnl"]
    assert pnl["layout"]["xaxis"]["type"] == "date" and pnl["layout"]["xaxis"]["dtick"] == 86_400_000
    assert pnl["data"][0]["x"] == ["2030-03-09"]
    assert close(pnl["data"][0]["y"][0], 1.0e6 * sum(USD_PER_UNIT[c] for c in ("AED", "HKD", "USD", "GBP")))
    assert set(view["figures"]) == {"market_value", "daily_pnl"}, "unpriced positions are a table, not a chart"
    assert view["tables"]["unpriced"] == [{"client_id": p + "2", "full_name": "Chen Wei", "unpriced_positions": 2, "positions_count": 10}]
