"""Warm a freshly started Spark Connect server: `python -m uhnw.ops.spark_warmup sc://HOST:PORT SCRATCH_DIR`.

The first session on a new server pays for JIT compilation and class loading (the planner, Parquet, Iceberg's
writer), which made the first cold-path job of a night several seconds slower than the next. `uhnw stack up` runs
this once, detached, right after the server listens. It writes a few rows through an Iceberg catalog of its own (a
Hadoop catalog in SCRATCH_DIR, defined for this session only, so the lake's catalog never sees it), overwrites one
partition as `daily_pnl` does, joins, aggregates, reads the result back as Arrow and drops the table."""
from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path


def warm(endpoint: str, scratch: Path) -> float:
    "Run the warm-up against `endpoint`; the seconds it took."
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    t0 = time.perf_counter()
    shutil.rmtree(scratch, ignore_errors=True)
    spark = SparkSession.builder.remote(endpoint).appName("uhnw-warmup").getOrCreate()
    try:
        spark.conf.set("spark.sql.catalog.uhnw_warmup", "org.apache.iceberg.spark.SparkCatalog")
        spark.conf.set("spark.sql.catalog.uhnw_warmup.type", "hadoop")
        spark.conf.set("spark.sql.catalog.uhnw_warmup.warehouse", scratch.resolve().as_uri())
        spark.sql("CREATE TABLE uhnw_warmup.w.pnl (client_id STRING, value DOUBLE, date DATE) USING iceberg PARTITIONED BY (date)")
        left = spark.range(2000).select((F.col("id") % 40).cast("string").alias("client_id"), (F.col("id") * 1.5).alias("value"))
        right = spark.range(40).select(F.col("id").cast("string").alias("client_id"), F.lit("USD").alias("ccy"))
        df = left.join(right, "client_id", "left").groupBy("client_id").agg(F.sum("value").alias("value"))
        for day in ("2000-01-01", "2000-01-01"):  # the second write overwrites the partition, as a re-run does
            (df.withColumn("date", F.lit(day).cast("date")).coalesce(1).writeTo("uhnw_warmup.w.pnl")
             .overwrite(F.col("date") == F.lit(day).cast("date")))
        spark.table("uhnw_warmup.w.pnl").toArrow()
        spark.sql("DROP TABLE uhnw_warmup.w.pnl")
    finally:
        spark.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return time.perf_counter() - t0


if __name__ == "__main__":
    print(f"warm-up took {warm(sys.argv[1], Path(sys.argv[2])):.1f} s", flush=True)
