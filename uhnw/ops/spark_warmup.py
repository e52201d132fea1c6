"""Warm a freshly started Spark Connect server: `python -m uhnw.ops.spark_warmup sc://HOST:PORT SCRATCH_DIR [ROUNDS]`.

The first sessions on a new server pay for JIT compilation, class loading and code generation (the planner, Parquet,
Iceberg's writer, the P&L's own generated code), which made the cold-path jobs of a night seconds slower than the same
jobs on a server that had run a few of them. `uhnw stack up` runs this detached, right after the server listens.

Each round runs the P&L itself (`uhnw.pnl.pnl_spark`, `overwrite_day`, `client_metrics_spark`) on two small
silver-shaped days read as `load_inputs` reads them (Parquet with the DDL's schema), and overwrites both gold
partitions as `run_daily_pnl` does: the
server compiles and caches the very plans and generated classes a night needs. Nothing touches the lake: the inputs are
files in SCRATCH_DIR, the tables live in an Iceberg catalog of this session only (a Hadoop catalog in SCRATCH_DIR), and
both are deleted at the end. The settings (the DDL folder, the reporting currency) come from the environment, as in
the jobs."""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

CATALOG = "uhnw_warmup"
DAYS = ("2000-01-03", "2000-01-04")  # the first has no previous day (the P&L's other branch)
ROUNDS = 8  # rounds after the first: a night's P&L stopped getting faster after about this many runs on a new server
BUDGET_S = 90.0  # stop earlier than ROUNDS past this (a slow machine)


def _silver_day(spark, settings, scratch: Path, day: str, rows: int = 400) -> dict:
    "Small Parquet files shaped as the silver tables of `day`, read back as `uhnw.pnl.load_inputs` reads them."
    import pyarrow as pa
    import pyarrow.parquet as pq

    from uhnw.pnl import _INPUT_COLUMNS
    from uhnw.tables import arrow_schema, spark_schema, table_def
    ccys = ["USD", "EUR", "CHF", "GBP", "JPY"]
    cols = {"positions": {"client_id": [f"C{i % 40}" for i in range(rows)], "account_id": [f"A{i % 60}" for i in range(rows)],
                          "instrument_id": [f"I{i % 90}" for i in range(rows)], "quantity": [float(i % 17) for i in range(rows)]},
            "prices": {"instrument_id": [f"I{i}" for i in range(85)], "close": [10.0 + i for i in range(85)],
                       "currency": [ccys[i % 5] for i in range(85)]},
            "fx": {"currency": ccys[1:], "usd_per_unit": [1.1, 1.2, 1.3, 0.007]},
            "clients": {"client_id": [f"C{i}" for i in range(38)], "base_currency": [ccys[i % 5] for i in range(38)]}}
    out = {}
    for table, values in cols.items():
        td = table_def(settings, f"silver.{table}")
        n = len(next(iter(values.values())))
        data = pa.table({f.name: pa.array(values.get(f.name, [None] * n), f.type) for f in arrow_schema(td)})
        path = scratch / "silver" / table / f"date={day}" / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data, path)
        out[table] = spark.read.schema(spark_schema(td)).parquet(str(path)).select(*_INPUT_COLUMNS[table])
    return out


def _night(spark, settings, days: dict) -> None:
    """The P&L of each day written to both gold tables with a partition overwrite, as `run_daily_pnl` does: `position_pnl`,
    then `client_metrics` aggregated from the snapshot just written, read back at that snapshot."""
    from pyspark.sql import functions as F

    from uhnw.pnl import client_metrics_spark, overwrite_day, pnl_spark
    prev = None
    for day, cur in days.items():
        p = days.get(prev)
        position_pnl, _ = pnl_spark(
            cur["positions"], p and p["positions"], cur["prices"], p and p["prices"], cur["fx"], p and p["fx"],
            cur["clients"], p and p["clients"], date=day, prev_date=prev, reporting_currency=settings.reporting_currency)
        overwrite_day(position_pnl, settings, "gold.position_pnl", f"{CATALOG}.gold.position_pnl", day, 4, "warmup")
        snapshot = spark.sql(f"SELECT snapshot_id FROM {CATALOG}.gold.position_pnl.snapshots ORDER BY committed_at DESC LIMIT 1").first()[0]
        written = (spark.read.option("snapshot-id", str(snapshot)).table(f"{CATALOG}.gold.position_pnl")
                   .where(F.col("date") == F.lit(day).cast("date")))
        overwrite_day(client_metrics_spark(written), settings, "gold.client_metrics", f"{CATALOG}.gold.client_metrics", day, 1, "warmup")
        prev = day


def warm(endpoint, scratch: Path, settings=None, rounds: int = ROUNDS, budget_s: float = BUDGET_S) -> list[float]:
    """Run the warm-up against `endpoint` (`sc://HOST:PORT`, or a session to warm and leave open, e.g. `uhnw bench cold`'s
    in-process one): one round, then up to `rounds` more within `budget_s`; each round's seconds."""
    from pyspark.sql import SparkSession

    from uhnw.tables import spark_schema, table_def
    if settings is None:
        from uhnw.config import load_settings
        settings = load_settings()
    t0 = time.perf_counter()
    shutil.rmtree(scratch, ignore_errors=True)
    own = isinstance(endpoint, str)
    spark = SparkSession.builder.remote(endpoint).appName("uhnw-warmup").getOrCreate() if own else endpoint
    took = []
    try:
        spark.conf.set(f"spark.sql.catalog.{CATALOG}", "org.apache.iceberg.spark.SparkCatalog")
        spark.conf.set(f"spark.sql.catalog.{CATALOG}.type", "hadoop")
        spark.conf.set(f"spark.sql.catalog.{CATALOG}.warehouse", (scratch / "warehouse").resolve().as_uri())
        for table in ("position_pnl", "client_metrics"):
            schema = spark_schema(table_def(settings, f"gold.{table}"), with_partitions=True)
            spark.sql(f"CREATE TABLE {CATALOG}.gold.{table} ({schema}) USING iceberg PARTITIONED BY (`date`)")
        days = {day: _silver_day(spark, settings, scratch, day) for day in DAYS}
        while len(took) <= rounds and (not took or time.perf_counter() - t0 < budget_s):
            t = time.perf_counter()
            _night(spark, settings, days)
            took.append(time.perf_counter() - t)
        spark.table(f"{CATALOG}.gold.client_metrics").toArrow()
        for table in ("position_pnl", "client_metrics"): spark.sql(f"DROP TABLE {CATALOG}.gold.{table}")
    finally:
        if own: spark.stop()
        else: spark.conf.unset(f"spark.sql.catalog.{CATALOG}")
        shutil.rmtree(scratch, ignore_errors=True)
    return took


if __name__ == "__main__":
    t0 = time.perf_counter()
    took = warm(sys.argv[1], Path(sys.argv[2]), rounds=int(sys.argv[3]) if len(sys.argv) > 3 else ROUNDS)
    print(f"warm-up took {time.perf_counter() - t0:.1f} s: {len(took)} round{'' if len(took) == 1 else 's'} of the P&L "
          f"on two days, {', '.join(f'{s:.1f}' for s in took)} s", flush=True)
