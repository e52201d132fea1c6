"""The daily P&L (gold) on Spark and its DuckDB reference: the formula against hand-computed numbers, the two engines
against each other on synthetic data, and the job's gold partitions replaced (never duplicated) on a re-run."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from uhnw.config import Settings, load_settings
from uhnw.lake import PartitionNotFound, lake_for
from uhnw.pnl import POSITION_KEYS, load_inputs_arrow, pnl_mismatches, pnl_reference, pnl_spark, prev_positions_date, run_daily_pnl
from uhnw.tables import arrow_schema, spark_schema, table_def

pytestmark = [pytest.mark.spark,  # pyspark 4.3 warns on every pandas conversion that it does not fully support pandas 3
              pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

T0, T1 = "2025-01-02", "2025-01-03"


def frame(cols: str, *rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=cols.split())


# --- the hand-computed case --------------------------------------------------------------------------------
# C1 reports in USD, C2 in EUR. USD is absent from the FX files (it is 1).
# FX (USD per unit):  t-1: EUR 1.10, GBP 1.30      t: EUR 1.20, GBP 1.25   (CHF has no rate on t)
HAND = dict(
    positions_prev=frame("client_id account_id instrument_id quantity",
                         ("C1", "A1", "AAPL", 10.0), ("C1", "A1", "SAP", 20.0), ("C1", "A1", "MSFT", 5.0),
                         ("C2", "B1", "VOD", 100.0), ("C2", "B1", "BMW", 10.0)),        # BMW is closed at t
    positions_t=frame("client_id account_id instrument_id quantity",
                      ("C1", "A1", "AAPL", 10.0), ("C1", "A1", "SAP", 20.0), ("C1", "A1", "MSFT", 5.0),
                      ("C1", "A1", "NESN", 1.0),                                          # opened at t, CHF: no fx
                      ("C2", "B1", "VOD", 100.0), ("C2", "B1", "AAPL", 4.0)),            # AAPL opened at t
    prices_prev=frame("instrument_id close currency", ("AAPL", 100.0, "USD"), ("SAP", 50.0, "EUR"), ("MSFT", 300.0, "USD"),
                      ("VOD", 2.0, "GBP"), ("BMW", 80.0, "EUR")),
    prices_t=frame("instrument_id close currency", ("AAPL", 110.0, "USD"), ("SAP", 52.0, "EUR"),  # no MSFT price on t
                   ("VOD", 2.1, "GBP"), ("BMW", 82.0, "EUR"), ("NESN", 100.0, "CHF")),
    fx_prev=frame("currency usd_per_unit", ("EUR", 1.10), ("GBP", 1.30)),
    fx_t=frame("currency usd_per_unit", ("EUR", 1.20), ("GBP", 1.25)),
    clients_prev=frame("client_id base_currency", ("C1", "USD"), ("C2", "EUR")),
    clients_t=frame("client_id base_currency", ("C1", "USD"), ("C2", "EUR")),
    date=T1, prev_date=T0)

# C1 (USD)  market value at t:  AAPL 10*110*1 = 1100;  SAP 20*52*1.20 = 1248;  MSFT no price;  NESN no fx  -> 2348
#           daily P&L:          AAPL 10*(110 - 100) = 100;  SAP 20*(52*1.20 - 50*1.10) = 20*7.4 = 148;  MSFT excluded -> 248
# C2 (EUR)  fx to EUR on t: GBP 1.25/1.20, USD 1/1.20;  on t-1: GBP 1.30/1.10, EUR 1
#           market value at t:  VOD 100*2.1*1.25/1.20 = 218.75;  AAPL 4*110/1.20 = 366.666...  -> 7025/12 = 585.41666...
#           daily P&L:          VOD 100*(2.1*1.25/1.20 - 2*1.30/1.10) = 100*(2.1875 - 26/11) = -193.75/11
#                               BMW 10*(82 - 80) = 20 (closed at t, still moves);  AAPL opened at t: nothing
#                               -> 20 - 193.75/11 = 26.25/11 = 2.386363...
EXPECTED_CLIENTS = {"C1": ("USD", 2348.0, 248.0, 4, 2), "C2": ("EUR", 7025 / 12, 26.25 / 11, 2, 0)}
EXPECTED_POSITIONS = {  # (client, instrument): (market_value, pnl, unpriced_reason)
    ("C1", "AAPL"): (1100.0, 100.0, None), ("C1", "SAP"): (1248.0, 148.0, None),
    ("C1", "MSFT"): (None, None, "no price for MSFT on 2025-01-03"), ("C1", "NESN"): (None, None, "no fx for CHF on 2025-01-03"),
    ("C2", "VOD"): (218.75, -193.75 / 11, None), ("C2", "AAPL"): (4 * 110 / 1.2, None, None), ("C2", "BMW"): (None, 20.0, None)}


def close_or_null(got, want) -> bool:
    if want is None: return got is None or pd.isna(got)
    return got is not None and not pd.isna(got) and math.isclose(got, want, rel_tol=1e-12)


# Reporting currency R: value_R = value_base * usd_per_unit(base)_t / usd_per_unit(R)_t (USD is 1), the P&L translated at t.
USD_PER_UNIT_T = {"USD": 1.0, "EUR": 1.20, "GBP": 1.25}  # HAND's fx_t


def times(v, rate):
    return None if v is None or rate is None else v * rate


def check_hand_case(pp: pd.DataFrame, cm: pd.DataFrame, reporting: str = "USD"):
    rate = lambda base: USD_PER_UNIT_T[base] / USD_PER_UNIT_T[reporting] if reporting in USD_PER_UNIT_T else None
    assert sorted(cm.client_id) == ["C1", "C2"]
    for row in cm.itertuples():
        base, mv, pnl, count, unpriced = EXPECTED_CLIENTS[row.client_id]
        assert row.base_currency == base
        assert close_or_null(row.market_value, mv), (row.client_id, row.market_value, mv)
        assert close_or_null(row.daily_pnl, pnl), (row.client_id, row.daily_pnl, pnl)
        assert (row.positions_count, row.unpriced_positions) == (count, unpriced)
        assert row.reporting_currency == reporting
        assert close_or_null(row.market_value_reporting, times(mv, rate(base))), (row.client_id, row.market_value_reporting)
        assert close_or_null(row.daily_pnl_reporting, times(pnl, rate(base))), (row.client_id, row.daily_pnl_reporting)
    assert len(pp) == len(EXPECTED_POSITIONS)
    for row in pp.itertuples():
        mv, pnl, reason = EXPECTED_POSITIONS[(row.client_id, row.instrument_id)]
        assert close_or_null(row.market_value, mv), (row.instrument_id, row.market_value, mv)
        assert close_or_null(row.pnl, pnl), (row.instrument_id, row.pnl, pnl)
        assert (None if pd.isna(row.unpriced_reason) else row.unpriced_reason) == reason
        base = EXPECTED_CLIENTS[row.client_id][0]
        assert row.reporting_currency == reporting
        assert close_or_null(row.market_value_reporting, times(mv, rate(base))), (row.instrument_id, row.market_value_reporting)
        assert close_or_null(row.pnl_reporting, times(pnl, rate(base))), (row.instrument_id, row.pnl_reporting)
    bmw = pp.set_index(["client_id", "instrument_id"]).loc[("C2", "BMW")]
    assert pd.isna(bmw.quantity) and bmw.prev_quantity == 10.0  # closed: no q_t, still there with q_{t-1}


def to_spark(spark, inputs: dict) -> dict:
    return {k: spark.createDataFrame(v) if isinstance(v, pd.DataFrame) else v for k, v in inputs.items()}


def spark_result(spark, inputs: dict, reporting_currency: str = "USD") -> tuple[pd.DataFrame, pd.DataFrame]:
    pp, cm = pnl_spark(**to_spark(spark, inputs), reporting_currency=reporting_currency)
    return pp.toPandas(), cm.toPandas()


def test_reference_matches_hand_computed_multicurrency_pnl():
    check_hand_case(*pnl_reference(**HAND))


def test_spark_matches_hand_computed_multicurrency_pnl(spark):
    check_hand_case(*spark_result(spark, HAND))


@pytest.mark.parametrize("engine", ["reference", "spark"])
@pytest.mark.parametrize("reporting", ["GBP", "EUR", "CHF"])  # CHF has no rate on t: every reporting figure is null
def test_reporting_currency_figures_are_base_figures_at_ts_rate(engine, reporting, request):
    result = pnl_reference(**HAND, reporting_currency=reporting) if engine == "reference" else \
        spark_result(request.getfixturevalue("spark"), HAND, reporting)
    check_hand_case(*result, reporting=reporting)
    if reporting == "CHF":
        assert result[1].market_value_reporting.isna().all() and result[1].daily_pnl_reporting.isna().all()
    else:  # a one-currency total of a two-currency book
        assert math.isclose(result[1].market_value_reporting.sum(),
                            2348.0 * 1.0 / USD_PER_UNIT_T[reporting] + 7025 / 12 * 1.20 / USD_PER_UNIT_T[reporting], rel_tol=1e-12)


def test_a_reporting_currency_that_is_not_an_iso_code_is_refused():
    with pytest.raises(ValueError, match="ISO 4217"):
        pnl_reference(**HAND, reporting_currency="usd' OR 1=1")


FIRST = {**HAND, "positions_prev": None, "prices_prev": None, "fx_prev": None, "clients_prev": None, "prev_date": None}


@pytest.mark.parametrize("engine", ["reference", "spark"])
def test_first_date_has_market_value_but_null_pnl(engine, request):
    pp, cm = pnl_reference(**FIRST) if engine == "reference" else spark_result(request.getfixturevalue("spark"), FIRST)
    assert cm.daily_pnl.isna().all() and pp.pnl.isna().all() and pp.prev_date.isna().all()
    c1 = cm.set_index("client_id").loc["C1"]
    assert math.isclose(c1.market_value, 2348.0, rel_tol=1e-12) and c1.positions_count == 4
    assert "BMW" not in set(pp.instrument_id)  # only held at t-1, which does not exist


def test_client_missing_at_t_is_unpriced_and_its_closed_positions_use_the_prev_base(spark):
    # C2 left the CRM snapshot at t: its t positions cannot be valued, its BMW move is still converted to EUR (t-1 base).
    inputs = {**HAND, "clients_t": frame("client_id base_currency", ("C1", "USD"))}
    for pp, cm in (pnl_reference(**inputs), spark_result(spark, inputs)):
        c2 = cm.set_index("client_id").loc["C2"]
        assert c2.base_currency == "EUR" and pd.isna(c2.market_value) and c2.unpriced_positions == 2
        assert math.isclose(c2.daily_pnl, 26.25 / 11, rel_tol=1e-12)
        assert set(pp[pp.client_id == "C2"].unpriced_reason.dropna()) == {"no client C2 in silver.clients on 2025-01-03"}


def test_spark_output_has_the_gold_ddl_columns_and_types(spark):
    s = load_settings()
    pp, cm = pnl_spark(**to_spark(spark, HAND))
    for df, name in ((pp, "gold.position_pnl"), (cm, "gold.client_metrics")):
        assert [(f.name, f.dataType.simpleString()) for f in df.schema.fields] == \
               [(f.name, f.dataType.simpleString()) for f in spark.createDataFrame([], spark_schema(table_def(s, name))).schema.fields]
    ref_pp, ref_cm = pnl_reference(**HAND)
    assert list(ref_pp.columns) == table_def(s, "gold.position_pnl").column_names
    assert list(ref_cm.columns) == table_def(s, "gold.client_metrics").column_names


# --- Spark against the reference on synthetic data -------------------------------------------------------------
CCYS = np.array(["USD", "EUR", "GBP", "CHF", "JPY"])


def synthetic(seed: int = 7, n_positions: int = 3000, instruments: int = 400, clients: int = 120) -> dict:
    "Two days of positions with churn, missing prices, a currency without a rate on t, and a client gone from the CRM at t."
    rng = np.random.default_rng(seed)
    inst = np.array([f"I{i:04d}" for i in range(instruments)])
    inst_ccy = CCYS[rng.integers(0, len(CCYS), instruments)]
    cl = np.array([f"C{i:03d}" for i in range(clients)])
    def holdings(n):
        c = rng.integers(0, clients, n)
        df = pd.DataFrame({"client_id": cl[c], "account_id": [f"A{x:03d}-{y}" for x, y in zip(c, rng.integers(0, 2, n), strict=True)],
                           "instrument_id": inst[rng.integers(0, instruments, n)],
                           "quantity": np.round(rng.lognormal(5, 2, n) * rng.choice([1, 1, 1, -1], n), 4)})
        return df.drop_duplicates(["account_id", "instrument_id"]).reset_index(drop=True)
    prev = holdings(n_positions)
    keep = prev.sample(frac=0.85, random_state=seed)                       # 15 % closed at t
    moved = keep.assign(quantity=np.where(rng.random(len(keep)) < 0.3, keep.quantity * 1.5, keep.quantity))
    t = pd.concat([moved, holdings(n_positions // 6)]).drop_duplicates(["account_id", "instrument_id"]).reset_index(drop=True)
    def prices(drop):
        close = np.round(rng.lognormal(4, 1, instruments), 6)
        m = rng.random(instruments) >= drop
        return pd.DataFrame({"instrument_id": inst[m], "close": close[m], "currency": inst_ccy[m]})
    def fx(missing=()):
        c = [x for x in CCYS if x != "USD" and x not in missing]
        return pd.DataFrame({"currency": c, "usd_per_unit": rng.uniform(0.005, 1.6, len(c))})
    bases = CCYS[:3][rng.integers(0, 3, clients)]
    clients_prev = pd.DataFrame({"client_id": cl, "base_currency": bases})
    return dict(positions_t=t, positions_prev=prev, prices_t=prices(0.03), prices_prev=prices(0.03),
                fx_t=fx(missing=("JPY",)), fx_prev=fx(), clients_t=clients_prev.iloc[1:], clients_prev=clients_prev,
                date=T1, prev_date=T0)


@pytest.mark.parametrize("reporting", ["USD", "GBP"])
def test_spark_and_reference_agree_on_synthetic_positions_to_1e9_relative(spark, reporting):
    inputs = synthetic()
    ref_pp, ref_cm = pnl_reference(**inputs, reporting_currency=reporting)
    got_pp, got_cm = spark_result(spark, inputs, reporting)
    # the data exercises every branch, so agreement is not agreement on empty or all-null columns
    assert len(ref_pp) > 3000 and ref_pp.pnl.notna().sum() > 1000 and ref_pp.market_value.notna().sum() > 1000
    reasons = ref_pp.unpriced_reason.dropna()
    assert reasons.str.startswith("no price").any() and reasons.str.startswith("no fx for JPY").any()
    assert reasons.str.startswith("no client C000").any()
    assert ref_pp.quantity.isna().any() and ref_pp.prev_quantity.isna().any()  # closed and opened positions
    assert ref_cm.market_value_reporting.notna().sum() > 50 and ref_cm.daily_pnl_reporting.notna().sum() > 50
    assert pnl_mismatches(got_pp, ref_pp, POSITION_KEYS) == []
    assert pnl_mismatches(got_cm, ref_cm, ["client_id"]) == []


# --- the job through the lake ----------------------------------------------------------------------------------
def write_silver(settings: Settings, table: str, date: str, df: pd.DataFrame):
    "Write `df` as the silver partition, with the DDL's columns (lineage columns left null)."
    schema = arrow_schema(table_def(settings, f"silver.{table}"))
    t = pa.Table.from_pandas(df, preserve_index=False)
    t = pa.table({f.name: t[f.name] if f.name in t.column_names else pa.nulls(len(t)) for f in schema}).cast(schema)
    lake_for(settings).replace_partition("silver", table, date, t)


@pytest.fixture
def lake_settings(tmp_path: Path) -> Settings:
    s = load_settings(profile="local", home=tmp_path)
    for suffix, d in (("_prev", T0), ("_t", T1)):
        for table in ("positions", "prices", "fx", "clients"): write_silver(s, table, d, HAND[table + suffix])
    return s


def test_prev_positions_date_is_the_latest_earlier_silver_partition(lake_settings):
    lake = lake_for(lake_settings)
    assert prev_positions_date(lake, T1) == T0
    assert prev_positions_date(lake, "2025-01-06") == T1
    assert prev_positions_date(lake, T0) is None


def test_run_daily_pnl_twice_replaces_the_gold_partitions(spark, lake_settings):
    lake = lake_for(lake_settings)
    assert lake_settings.reporting_currency == "USD"
    first = run_daily_pnl(spark, lake_settings, T1)
    assert (first["prev_date"], first["clients"], first["positions"], first["unpriced_positions"]) == (T0, 2, 6, 2)
    second = run_daily_pnl(spark, lake_settings, T1)
    assert second["publication"]["publication_id"] > first["publication"]["publication_id"]  # published again...
    for table in ("position_pnl", "client_metrics"):  # ...at new snapshots of both tables
        assert second["publication"]["snapshots"][table] != first["publication"]["snapshots"][table]
    assert second["publication"]["audit"] == first["publication"]["audit"] | {"client_rows": 2}
    pp = lake.read_partition("gold", "position_pnl", T1).to_pandas()
    cm = lake.read_partition("gold", "client_metrics", T1).to_pandas()
    assert not pp.duplicated(POSITION_KEYS).any() and len(pp) == len(EXPECTED_POSITIONS)
    assert not cm.client_id.duplicated().any() and len(cm) == 2
    check_hand_case(pp, cm, reporting="USD")
    ref_pp, ref_cm = pnl_reference(*load_inputs_arrow(lake, T1))
    assert pnl_mismatches(cm, ref_cm, ["client_id"]) == [] and pnl_mismatches(pp, ref_pp, POSITION_KEYS) == []
    assert lake.read_table("gold", "client_metrics").column("date").to_pylist() == [pd.Timestamp(T1).date()] * 2


def test_run_daily_pnl_on_the_first_date_writes_null_pnl(spark, lake_settings):
    summary = run_daily_pnl(spark, lake_settings, T0)
    assert summary["prev_date"] is None and summary["daily_pnl_reporting_sum"] is None
    cm = lake_for(lake_settings).read_partition("gold", "client_metrics", T0).to_pandas()
    assert cm.daily_pnl.isna().all() and cm.market_value.notna().all()


def test_run_daily_pnl_takes_the_reporting_currency_from_the_settings(spark, lake_settings):
    s = dataclasses.replace(lake_settings, reporting_currency="GBP")
    summary = run_daily_pnl(spark, s, T1)
    lake = lake_for(s)
    pp = lake.read_partition("gold", "position_pnl", T1).to_pandas()
    cm = lake.read_partition("gold", "client_metrics", T1).to_pandas()
    check_hand_case(pp, cm, reporting="GBP")
    assert summary["reporting_currency"] == "GBP"
    assert math.isclose(summary["market_value_reporting_sum"], cm.market_value_reporting.sum(), rel_tol=1e-12)
    ref_pp, ref_cm = pnl_reference(*load_inputs_arrow(lake, T1), reporting_currency="GBP")
    assert pnl_mismatches(cm, ref_cm, ["client_id"]) == [] and pnl_mismatches(pp, ref_pp, POSITION_KEYS) == []


def test_missing_silver_partition_is_a_clear_error_and_writes_nothing(spark, tmp_path):
    s = load_settings(profile="local", home=tmp_path)
    write_silver(s, "positions", T1, HAND["positions_t"])
    with pytest.raises(PartitionNotFound, match=r"silver.prices has no partition for 2025-01-03.*positions_etl"):
        run_daily_pnl(spark, s, T1)
    assert lake_for(s).list_partitions("gold", "client_metrics") == []
