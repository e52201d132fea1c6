"""`uhnw bench cold`: the cold path per stage (synth, ingest, validate, Spark P&L, DuckDB reference, compare), wall time and peak memory.

Speed and memory targets are met here, never in timed unit tests. Every bench prints a human table and, as its
last line, one JSON object with the figures; results are recorded in BENCHMARKS.md with the machine and the command.
"""

import json
import platform
import shutil
import time
import uuid

import psutil

from uhnw.bench.common import stage
from uhnw.config import Settings


def compare_results(got, want, keys: list[str], rtol: float = 1e-9) -> dict:
    "Vectorised agreement check of two results (Arrow or pandas) with DuckDB: missing keys, null mismatches, max relative error."
    import duckdb
    con = duckdb.connect()
    con.register("g", got)
    con.register("w", want)
    cols = [r[0] for r in con.execute("DESCRIBE w").fetchall()]
    types = dict(con.execute("DESCRIBE w").fetchall()[i][:2] for i in range(len(cols)))
    doubles = [c for c in cols if types[c] == "DOUBLE" and c not in keys]
    on = " AND ".join(f"g.{k} = w.{k}" for k in keys)
    parts = [f"count(*) FILTER (WHERE g.{keys[0]} IS NULL OR w.{keys[0]} IS NULL) AS missing_keys"]
    for c in doubles:
        parts.append(f"count(*) FILTER (WHERE (g.{c} IS NULL) <> (w.{c} IS NULL)) AS null_{c}")
        parts.append(f"max(CASE WHEN w.{c} = 0 THEN abs(g.{c}) ELSE abs(g.{c} - w.{c}) / abs(w.{c}) END) AS rel_{c}")
    row = con.execute(f"SELECT count(*) AS rows, {', '.join(parts)} FROM g FULL OUTER JOIN w ON {on}").fetchone()
    names = ["rows", "missing_keys"] + [n for c in doubles for n in (f"null_{c}", f"rel_{c}")]
    out = dict(zip(names, row, strict=True))
    max_rel = max((out[f"rel_{c}"] or 0.0) for c in doubles) if doubles else 0.0
    nulls = sum(out[f"null_{c}"] for c in doubles)
    return {"rows": out["rows"], "missing_keys": out["missing_keys"], "null_mismatches": nulls, "max_rel_error": max_rel,
            "agree": out["missing_keys"] == 0 and nulls == 0 and max_rel <= rtol}


def write_reference(folder, tables: dict) -> None:
    "The reference's results as zstd Parquet files (one per table, written by DuckDB on all cores): the write Spark's side also does."
    import duckdb
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for name, table in tables.items():
        con.register("result", table)
        con.execute(f"COPY result TO '{folder / (name + '.parquet')}' (FORMAT parquet, COMPRESSION zstd)")
        con.unregister("result")


def bench_cold(settings: Settings, sizes: list[int], keep: bool = False,
               archive: bool = True,  # False: no cold-tier archive stage (its encoding is not streamed: ~7 GB a million rows)
               warm_up: bool = True) -> dict:  # False: time the P&L on a Spark that has run nothing yet
    "Wall time and peak memory per cold-path stage for each size, Spark vs the DuckDB reference, with agreement checked."
    from uhnw.catalog import drop_namespaces, scratch_settings
    from uhnw.lake import lake_for
    from uhnw.ops.spark import get_spark
    from uhnw.ops.spark_warmup import warm
    from uhnw.pnl import POSITION_KEYS, load_inputs_arrow, pnl_reference, run_daily_pnl
    from uhnw.retention import archive_warm_day, load_policy
    from uhnw.synth import land_synth, synth_cold
    from uhnw.validate import etl_date

    rows: list[dict] = []
    results: dict[str, dict] = {}
    print(f"uhnw bench cold on {platform.node()}: {psutil.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB")
    print(f"  {'positions':>12}  {'stage':<22} {'wall':>11}  {'peak RSS':>11}")
    spark, spark_start = None, 0.0
    for size in sizes:
        home = settings.home / "bench" / f"cold-{size}"
        shutil.rmtree(home, ignore_errors=True)
        s = scratch_settings(settings, home, f"bench_cold_{size}_{uuid.uuid4().hex[:6]}")  # tables of its own in the catalog
        lake = lake_for(s)
        clients = max(50, size // 200)
        with stage(rows, size, "synth (2 days)"):
            manifest = synth_cold(home / "inbox", days=2, clients=clients, positions=size, seed=42)
        day1, day2 = manifest["dates"]
        with stage(rows, size, "ingest to bronze"):
            land_synth(lake.ensure(), manifest)
        with stage(rows, size, "validate to silver"):
            for d in (day1, day2):
                etl_date(s, d, lake)
        if spark is None:
            t0 = time.perf_counter()
            with stage(rows, size, "spark session start"):
                spark = get_spark(s, app_name="bench-cold", connect=False)  # in-process: its peak RSS is in the tree measured
            spark_start = time.perf_counter() - t0
            if warm_up:  # what `uhnw stack up` does for the jobs' server: JIT and code generation paid before the P&L is timed
                with stage(rows, size, "spark warm-up (tiny P&L)"):
                    warm(spark, home / "spark-warmup", s)
        with stage(rows, size, "spark P&L (day 2)"):
            summary = run_daily_pnl(spark, s, day2)
        with stage(rows, size, "reference P&L (duckdb)"):
            want_positions, want_metrics = pnl_reference(*load_inputs_arrow(lake, day2), reporting_currency=settings.reporting_currency)
        with stage(rows, size, "reference write (duckdb)"):  # the same two results to zstd Parquet, as Spark writes gold
            write_reference(home / "reference", {"position_pnl": want_positions, "client_metrics": want_metrics})
        with stage(rows, size, "warm read (Iceberg → Arrow)"):  # the published gold day, as rds_sync and uhnw sql read it
            got_positions = lake.read_partition("gold", "position_pnl", day2)
            got_metrics = lake.read_partition("gold", "client_metrics", day2)
        archived = None
        if archive:
            with stage(rows, size, "archive (gold position_pnl)"):  # the cold tier: JSON lines, zstd, write-once, verified
                archived = archive_warm_day(s, lake, "gold.position_pnl", day2, load_policy(s))
        with stage(rows, size, "compare"):
            agree_positions = compare_results(got_positions, want_positions, POSITION_KEYS)
            agree_metrics = compare_results(got_metrics, want_metrics, ["client_id"])
        by_stage = {r["stage"]: r for r in rows if r["positions"] == size}
        spark_s, ref_compute_s = by_stage["spark P&L (day 2)"]["seconds"], by_stage["reference P&L (duckdb)"]["seconds"]
        ref_s = ref_compute_s + by_stage["reference write (duckdb)"]["seconds"]
        results[str(size)] = {
            "clients": clients, "position_rows": summary["positions"], "unpriced_positions": summary["unpriced_positions"],
            "stages": {r["stage"]: {"seconds": r["seconds"], "peak_rss_mb": r["peak_rss_mb"]} for r in by_stage.values()},
            "spark_over_reference": round(spark_s / ref_s, 2) if ref_s else None,  # the same work: compute and write both tables
            "spark_over_reference_compute": round(spark_s / ref_compute_s, 2) if ref_compute_s else None,  # the reference writing nothing
            "archive": archived and {
                "rows": archived.rows, "rows_per_s": round(archived.rows / by_stage["archive (gold position_pnl)"]["seconds"]),
                "json_bytes": archived.content_bytes, "stored_bytes": archived.object_bytes,
                "compression_ratio": round(archived.content_bytes / archived.object_bytes, 1)},
            "agree_position_pnl": agree_positions, "agree_client_metrics": agree_metrics}
        print(f"  {size:>12,}  spark/reference {results[str(size)]['spark_over_reference']}x (reference computing only: "
              f"{results[str(size)]['spark_over_reference_compute']}x); agree: position_pnl "
              f"{agree_positions['agree']} (max rel {agree_positions['max_rel_error']:.1e}), client_metrics "
              f"{agree_metrics['agree']} (max rel {agree_metrics['max_rel_error']:.1e}); archive "
              + (f"{results[str(size)]['archive']['rows_per_s']:,} rows/s, {results[str(size)]['archive']['compression_ratio']}x"
                 if archived else "not run (--no-archive)"), flush=True)
        if not keep:
            drop_namespaces(s)
            shutil.rmtree(home, ignore_errors=True)
    if spark is not None:
        spark.stop()
    figures = {"bench": "cold", "machine": {"cores": psutil.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30)},
               "spark_session_start_s": round(spark_start, 2), "sizes": results}
    print(json.dumps(figures))
    return figures
