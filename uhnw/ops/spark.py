"""The Spark session factory and the lake-URI bridge (schemas come from `uhnw.tables.spark_schema`).

Only a job's `main`/`run_*` function calls `get_spark`; nothing here runs at import time.

- `local`: a `local[*]` session (2 cores on the team's machines), no UI, 4 shuffle partitions, UTC,
  Arrow for `toPandas`, and a driver heap sized for the 10 M-position benchmark on a 24 GiB machine.
- `aws` (EMR, Glue): the session the platform already started is reused. Elsewhere (a test on the moto
  server) a session is built with Iceberg's AWS bundle: silver and gold are Iceberg tables in Glue, read
  and written through the catalog's S3FileIO (pointed at the emulator when the settings name one), so
  Spark needs no Hadoop S3 file system.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uhnw.config import Settings

if TYPE_CHECKING:  # pyspark is an optional dependency (the `jobs` extra)
    from pyspark.sql import SparkSession

__all__ = ["LOCAL_CONF", "AWS_CONF", "connector_jars", "get_spark"]

LOCAL_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",  # 2 cores: more partitions only add scheduling overhead
    "spark.default.parallelism": "4",
    "spark.driver.memory": "8g",  # local mode runs the executors in the driver JVM; 10 M positions fit with room
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.driver.host": "127.0.0.1",  # local mode talks to itself only
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.autoBroadcastJoinThreshold": str(64 << 20),  # the explicit broadcast() hints matter more
}

AWS_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def _iceberg_conf(settings: Settings) -> dict[str, str]:
    "The warm tier's Iceberg catalog as Spark's `uhnw` catalog (none when the settings name a catalog Spark cannot reach)."
    from uhnw.catalog import spark_catalog_conf
    try: conf = spark_catalog_conf(settings)
    except ValueError: return {}  # a SQLite catalog (a notebook's demo): pyiceberg only
    return {**conf, "spark.sql.catalog.uhnw.cache-enabled": "false"}  # pyiceberg commits to the same tables: no stale cached metadata


def _session_conf(settings: Settings) -> dict[str, str]:
    "What a Spark Connect session sets for itself: the runtime settings of `LOCAL_CONF` and its home's Iceberg catalog."
    static = ("spark.ui.", "spark.driver.", "spark.default.parallelism", "spark.sql.extensions", "spark.jars")
    return {k: v for k, v in {**LOCAL_CONF, **_iceberg_conf(settings)}.items() if not k.startswith(static)}


def _artifact(jar: Path) -> str:
    "A jar's artifact name without its version: `kafka-clients-3.9.1.jar` -> `kafka-clients`."
    return re.sub(r"-\d[\w.]*$", "", jar.stem)


def connector_jars(settings: Settings) -> list[Path]:
    """The connectors `make setup` copied into `jar_cache/spark` (Kafka source, Avro, Iceberg runtime, PostgreSQL
    JDBC), and on `aws` those of `jar_cache/spark-aws` (MSK's IAM login handler), less what the pyspark wheel already
    ships (its Hadoop client, Scala library, ...): one copy of each class."""
    folders = [settings.jar_cache / "spark"] + ([settings.jar_cache / "spark-aws"] if settings.profile == "aws" else [])
    import pyspark
    shipped = {_artifact(j) for j in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    return sorted((j for folder in folders if folder.is_dir() for j in folder.glob("*.jar") if _artifact(j) not in shipped),
                  key=lambda j: j.name)


def get_spark(settings: Settings, app_name: str = "uhnw",
              master: str = "local[*]",  # local profile only
              conf: dict[str, Any] | None = None,  # extra settings, applied last
              connect: bool = False,  # local: a session of the stack's Spark Connect server when it has one (the jobs)
              ) -> SparkSession:
    """The Spark session of a profile: on `local` a session of the stack's Spark Connect server when
    `settings.spark_connect_port` is set (the JVM started once, by `uhnw stack up`), else a fresh `local[*]` one;
    the platform's (reused) one on `aws`."""
    from pyspark.sql import SparkSession
    if settings.profile == "local" and connect and settings.spark_connect_port and master == "local[*]":
        import socket
        try:  # the Connect client would retry a closed port for minutes: say at once what is missing
            socket.create_connection(("127.0.0.1", settings.spark_connect_port), timeout=2).close()
        except OSError:
            raise RuntimeError(f"no Spark Connect server listens on 127.0.0.1:{settings.spark_connect_port}: start it with "
                               "`uhnw stack up`, or set UHNW_SPARK_CONNECT_PORT=0 to start a local Spark in this process") from None
        spark = SparkSession.builder.remote(f"sc://127.0.0.1:{settings.spark_connect_port}").appName(app_name).getOrCreate()
        # this session's catalog and settings (the server's defaults are its home's; a session may be another home's)
        for k, v in {**_session_conf(settings), **(conf or {})}.items(): spark.conf.set(k, str(v))
        return spark
    if settings.profile == "local":
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # the JVM it launches stays on loopback, without a host-name warning
        builder = SparkSession.builder.master(master).appName(app_name)
        options = {**LOCAL_CONF, "spark.sql.warehouse.dir": str(settings.home / "spark-warehouse"), **_iceberg_conf(settings),
                   **(conf or {})}
        if jars := connector_jars(settings): options.setdefault("spark.jars", ",".join(map(str, jars)))
    elif settings.profile == "aws":
        active = SparkSession.getActiveSession()
        if active is not None:
            runtime = {k: v for k, v in _iceberg_conf(settings).items() if k != "spark.sql.extensions"}  # extensions are static
            for k, v in {**AWS_CONF, **runtime, **(conf or {})}.items():
                if not k.startswith("spark.hadoop."): active.conf.set(k, str(v))
            return active
        builder = SparkSession.builder.appName(app_name)
        options = {**AWS_CONF, **_iceberg_conf(settings), **(conf or {})}
        if jars := connector_jars(settings): options.setdefault("spark.jars", ",".join(map(str, jars)))  # a job image's cache
    else:
        raise ValueError(f"no Spark session for profile {settings.profile!r}")
    for k, v in options.items(): builder = builder.config(k, str(v))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
