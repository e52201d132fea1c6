"""The warm tier's Iceberg catalog (pyiceberg's SQL catalog on the session's PostgreSQL, Glue on a moto server) and
`uhnw sql` over it (DuckDB locally, Athena on moto).

Lake partitions are written with `uhnw.lake` (Iceberg commits) from Arrow tables built from the Athena DDL and queried in
Trino dialect the way a user does: `uhnw sql ...` as a subprocess. Each test has namespaces of its own (conftest).
The AWS tests run the real boto3 / pyathena calls against a moto server on a free local port.
"""
from __future__ import annotations

import csv
import io
import json
import subprocess
import urllib.request
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from uhnw.catalog import ensure_table, load_table, publications, publish, write_partition
from uhnw.config import load_settings
from uhnw.lake import lake_for
from uhnw.query import QueryError, run_athena, run_local
from uhnw.tables import arrow_schema, table_def

REPO = Path(__file__).resolve().parent.parent
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
           "AWS_DEFAULT_REGION": "eu-west-1"}
D1, D2, D3 = "2025-01-01", "2025-01-02", "2025-01-03"


# --- data


def rows_of(settings, table: str, rows: list[dict]) -> pa.Table:
    "An Arrow table of `table`'s DDL schema; columns not given are filled (source lineage) or null."
    td = table_def(settings, table)
    full = [{"source_file": "bronze/x.csv", "source_row": i + 1, **r} for i, r in enumerate(rows)]
    return pa.Table.from_pylist([{c: r.get(c) for c in td.column_names} for r in full], schema=arrow_schema(td))


def positions(*rows) -> list[dict]:
    return [dict(zip(["account_id", "client_id", "instrument_id", "quantity"], r, strict=True)) for r in rows]


def write(settings, table: str, day: str, rows: list[dict]) -> None:
    layer, name = table.split(".")
    lake_for(settings).ensure().replace_partition(layer, name, day, rows_of(settings, table, rows))


@pytest.fixture
def home(tmp_path, monkeypatch, stack):
    "Settings of a fresh local UHNW_HOME (its catalog: the session stack's PostgreSQL), also exported so that `uhnw` subprocesses use it."
    monkeypatch.setenv("UHNW_HOME", str(tmp_path))
    monkeypatch.setenv("UHNW_PROFILE", "local")
    return load_settings(home=tmp_path)


@pytest.fixture
def lake_data(home):
    "Two days of positions (the first and the second written, a third written and then corrected), clients, and gold metrics."
    write(home, "silver.positions", D1, positions(("A1", "C1", "AAPL", 10.0), ("A2", "C2", "MSFT", 5.0)))
    write(home, "silver.positions", D2, positions(("A1", "C1", "AAPL", 12.0), ("A2", "C2", "MSFT", 5.0), ("A3", "C2", "NVDA", 1.0)))
    write(home, "silver.clients", D2, [
        {"client_id": "C1", "full_name": "Ada Lovelace", "aliases": ["Ada", "Countess of Lovelace"], "rm_id": "RM1",
         "base_currency": "GBP", "extra": [("segment", "UHNW")], "extract_date": date(2025, 1, 1)},
        {"client_id": "C2", "full_name": "Alan Turing", "aliases": ["Prof"], "rm_id": "RM2", "base_currency": "USD",
         "extra": [], "extract_date": date(2025, 1, 1)}])
    write(home, "gold.client_metrics", D2, [
        {"client_id": "C1", "base_currency": "GBP", "market_value": 100.0, "daily_pnl": 2.0, "positions_count": 1, "unpriced_positions": 0},
        {"client_id": "C2", "base_currency": "USD", "market_value": None, "daily_pnl": None, "positions_count": 2,
         "unpriced_positions": 2}])
    return home


# --- the CLI as a user runs it


@pytest.fixture
def uhnw_sql(cli):
    "`uhnw sql ARGS...` exactly as a user runs it (fails if the command is not mounted)."
    def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return cli("sql", *args, env=env, timeout=120)
    return run


def test_sql_json_aggregates_by_date(lake_data, uhnw_sql):
    r = uhnw_sql("SELECT date, count(*) AS n, sum(quantity) AS qty FROM silver.positions "
                 "WHERE date BETWEEN DATE '2025-01-01' AND DATE '2025-12-31' GROUP BY date ORDER BY date", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"date": D1, "n": 2, "qty": 15.0}, {"date": D2, "n": 3, "qty": 18.0}]


def test_sql_table_format_unnests_client_aliases(lake_data, uhnw_sql):
    r = uhnw_sql("SELECT c.client_id, alias, element_at(c.extra, 'segment') AS segment "
                 "FROM silver.clients c CROSS JOIN UNNEST(c.aliases) AS t(alias) ORDER BY alias")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["client_id", "alias", "segment"]
    assert [ln.split(None, 1) for ln in lines[2:5]] == [["C1", "Ada                   UHNW"], ["C1", "Countess of Lovelace  UHNW"],
                                                       ["C2", "Prof                  NULL"]]
    assert lines[-1] == "(3 rows)"


def test_sql_csv_has_a_header_and_empty_cells_for_null(lake_data, uhnw_sql):
    r = uhnw_sql("SELECT client_id, market_value, positions_count FROM gold.client_metrics ORDER BY client_id", "--format", "csv")
    assert r.returncode == 0, r.stderr
    assert list(csv.reader(io.StringIO(r.stdout))) == [["client_id", "market_value", "positions_count"],
                                                       ["C1", "100.0", "1"], ["C2", "", "2"]]


def test_sql_refuses_a_statement_that_writes_in_one_line_with_the_reason(lake_data, uhnw_sql):
    for stmt in ("DROP TABLE silver.positions", "INSERT INTO silver.fx SELECT * FROM silver.fx", "CREATE TABLE t AS SELECT 1"):
        r = uhnw_sql(stmt)
        assert r.returncode == 1 and r.stdout == ""
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
        assert "statements are not allowed: uhnw sql only reads the lake" in r.stderr
    assert lake_for(lake_data).list_partitions("silver", "positions") == [D1, D2]


def test_sql_syntax_error_and_unknown_table_are_one_line_errors(lake_data, uhnw_sql):
    bad = uhnw_sql("SELECT * FROM silver.positions WHERE")
    unknown = uhnw_sql("SELECT * FROM silver.no_such_table")
    column = uhnw_sql("SELECT no_such_column FROM silver.positions")
    for r in (bad, unknown, column):
        assert r.returncode == 1 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert bad.stderr.startswith("error: syntax error at line 1, column 36 near 'WHERE'")
    assert unknown.stderr.startswith("error: unknown table silver.no_such_table; the lake has ")
    assert "_gold.client_metrics" in unknown.stderr
    assert "no_such_column" in column.stderr


# --- the query engine


def test_rewritten_partition_shows_only_the_new_data_and_as_of_the_old(lake_data, uhnw_sql):
    import time
    from datetime import UTC, datetime
    time.sleep(0.02); before = datetime.now(UTC); time.sleep(0.02)
    write(lake_data, "silver.positions", D2, positions(("A9", "C1", "TSLA", 7.0)))
    q = "SELECT account_id, quantity FROM silver.positions WHERE date = DATE '2025-01-02' ORDER BY 1"
    assert run_local(lake_data, q).rows == [("A9", 7.0)]
    assert run_local(lake_data, q, as_of=before).rows == [("A1", 12.0), ("A2", 5.0), ("A3", 1.0)]
    r = uhnw_sql(q, "--as-of", before.isoformat(), "--format", "csv")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["account_id,quantity", "A1,12.0", "A2,5.0", "A3,1.0"]
    assert lake_for(lake_data).list_partitions("silver", "positions") == [D1, D2]
    bad = uhnw_sql(q, "--as-of", "last tuesday")
    assert bad.returncode == 1 and "ISO 8601" in bad.stderr


def test_gold_day_is_read_through_its_publication_never_half_written(lake_data):
    "A P&L re-run writes position_pnl and dies before client_metrics and the publication: readers keep the published pair."
    q = ("SELECT (SELECT count(*) FROM gold.position_pnl WHERE date = DATE '2025-01-03'), "
         "(SELECT count(*) FROM gold.client_metrics WHERE date = DATE '2025-01-03')")
    two = rows_of(lake_data, "gold.position_pnl", [{"client_id": "C1"}, {"client_id": "C1"}])
    pp = write_partition(lake_data, "gold.position_pnl", D3, two)
    cm = write_partition(lake_data, "gold.client_metrics", D3, rows_of(lake_data, "gold.client_metrics", [{"client_id": "C1"}]))
    assert run_local(lake_data, q).rows == [(0, 0)]  # written, audited perhaps, not published: invisible
    publish(lake_data, "gold", D3, {"position_pnl": pp, "client_metrics": cm}, {"rows": 3}, "run-1")
    assert run_local(lake_data, q).rows == [(2, 1)]
    write_partition(lake_data, "gold.position_pnl", D3, rows_of(lake_data, "gold.position_pnl", [{"client_id": "C1"}] * 5))  # the crash
    assert run_local(lake_data, q).rows == [(2, 1)]
    assert load_table(lake_data, "gold.position_pnl").current_snapshot().snapshot_id != pp  # the table moved on; readers did not
    assert publications(lake_data, "gold")[D3] == {"position_pnl": pp, "client_metrics": cm}


def test_approx_percentile_try_cast_and_date_trunc_run_locally(lake_data):
    r = run_local(lake_data, "SELECT approx_percentile(quantity, 0.5) AS p50, try_cast('n/a' AS double) AS bad, "
                             "CAST(date_trunc('month', max(date)) AS date) AS month FROM positions")
    assert r.rows == [(5.0, None, date(2025, 1, 1))]
    assert "APPROX_QUANTILE" in r.sql


def test_table_without_partitions_is_an_empty_view_with_the_ddl_columns(home):
    r = run_local(home, "SELECT * FROM silver.prices_rejected")
    assert r.rows == [] and r.columns == table_def(home, "silver.prices_rejected").column_names + ["date"]


def test_column_added_to_the_ddl_reads_as_null_in_older_partitions(home, tmp_path):
    "Schema evolution: a DDL edit adds the column to the Iceberg table; the partitions written before it still read."
    import shutil
    from dataclasses import replace as _replace

    write(home, "silver.fx", D1, [{"currency": "EUR", "usd_per_unit": 1.1}])
    schemas = tmp_path / "schemas"
    shutil.copytree(home.schemas_dir, schemas)
    ddl = schemas / "athena" / "silver.fx.sql"
    ddl.write_text(ddl.read_text().replace("  `date`  date", "  publisher  string  COMMENT 'who published the rate',\n  `date`  date"))
    evolved = _replace(home, schemas_dir=schemas)
    assert table_def(evolved, "silver.fx").column_names[-1] == "publisher"
    write(evolved, "silver.fx", D2, [{"currency": "EUR", "usd_per_unit": 1.2, "publisher": "ECB"}])
    assert "publisher" in [f.name for f in load_table(evolved, "silver.fx").schema().fields]
    assert run_local(evolved, "SELECT date, usd_per_unit, publisher FROM silver.fx ORDER BY date").rows == [
        (date(2025, 1, 1), 1.1, None), (date(2025, 1, 2), 1.2, "ECB")]
    assert run_local(home, "SELECT count(*) FROM silver.fx").rows == [(2,)]  # the old DDL still reads the evolved table


def test_query_cannot_read_files_outside_the_catalog(lake_data, tmp_path):
    (tmp_path / "secret.csv").write_text("a\n1\n")
    with pytest.raises(QueryError, match="table functions"):
        run_local(lake_data, f"SELECT * FROM read_csv('{tmp_path / 'secret.csv'}')")


# --- the local catalog


def test_tables_are_iceberg_tables_in_the_postgres_catalog_that_spark_shares(home, stack):
    import psycopg
    write(home, "silver.positions", D1, positions(("A1", "C1", "AAPL", 1.0)))
    t = load_table(home, "silver.positions")
    assert t.location() == f"file://{home.home}/lake/silver/positions"
    assert [f.name for f in t.schema().fields][:4] == ["account_id", "client_id", "instrument_id", "quantity"]
    assert [str(f.transform) for f in t.spec().fields] == ["identity"] and t.properties["write.parquet.compression-codec"] == "zstd"
    assert ensure_table(home, table_def(home, "silver.positions")).metadata_location == t.metadata_location  # no change, no commit
    with psycopg.connect(stack.dsn()) as conn:  # Iceberg's JdbcCatalog tables: what Spark's `uhnw` catalog reads
        row = conn.execute("SELECT metadata_location FROM iceberg_tables WHERE catalog_name = 'uhnw' AND table_namespace = %s "
                           "AND table_name = 'positions'", (home.glue_database_silver,)).fetchone()
    assert row == (t.metadata_location,)
    assert not Path(home.home, "catalog.sqlite").exists()


# --- AWS: Glue and Athena on a moto server


@pytest.fixture(scope="module")
def moto_endpoint():
    "A moto server (S3, Glue, Athena) on a free local port for this module; yields its endpoint URL."
    from moto.server import ThreadedMotoServer
    with pytest.MonkeyPatch.context() as mp:
        for k, v in AWS_ENV.items(): mp.setenv(k, v)
        for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_GLUE", "AWS_ENDPOINT_URL_ATHENA"):
            mp.delenv(k, raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try: yield f"http://{host}:{port}"
        finally: server.stop()


@pytest.fixture
def aws(moto_endpoint, tmp_path, monkeypatch):
    "aws-profile settings on a freshly reset moto server; boto3 clients (and subprocesses) reach it through AWS_ENDPOINT_URL."
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    for k, v in AWS_ENV.items(): monkeypatch.setenv(k, v)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return load_settings(profile="aws", home=tmp_path, s3_endpoint_url=moto_endpoint, region="eu-west-1",
                         athena_workgroup="uhnw-analysts", athena_output="s3://uhnw-athena-results/adhoc/")


@pytest.mark.aws
def test_iceberg_tables_in_glue_over_s3_are_written_and_read_back(aws, moto_endpoint):
    "pyiceberg's Glue catalog and S3 FileIO against the emulator: the table Athena would query, its Iceberg parameters, a rewrite."
    import boto3
    lake_for(aws).ensure()
    write(aws, "silver.positions", D1, positions(("A1", "C1", "AAPL", 1.0)))
    write(aws, "silver.positions", D1, positions(("A1", "C1", "AAPL", 2.0), ("A2", "C2", "MSFT", 3.0)))
    glue = boto3.client("glue", region_name="eu-west-1", endpoint_url=moto_endpoint)
    raw = glue.get_table(DatabaseName=aws.glue_database_silver, Name="positions")["Table"]
    assert raw["Parameters"]["table_type"].upper() == "ICEBERG"  # what Athena needs to read it as an Iceberg table
    assert raw["Parameters"]["metadata_location"].startswith("s3://data-lake-silver/positions/metadata/")
    got = lake_for(aws).read_partition("silver", "positions", D1).select(["account_id", "quantity"]).to_pylist()
    assert got == [{"account_id": "A1", "quantity": 2.0}, {"account_id": "A2", "quantity": 3.0}]
    assert lake_for(aws).list_partitions("silver", "positions") == [D1]


def _athena_results(endpoint: str, columns: list[tuple[str, str]], rows: list[list[str]]) -> None:
    "Tell moto what the next Athena query answers (moto runs no SQL)."
    data = [{"Data": [{"VarCharValue": n} for n, _ in columns]}] + [{"Data": [{"VarCharValue": v} for v in r]} for r in rows]
    info = [{"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": n, "Label": n, "Type": t, "Precision": 0, "Scale": 0,
             "Nullable": "UNKNOWN", "CaseSensitive": False} for n, t in columns]
    body = {"account_id": "123456789012", "region": "eu-west-1", "results": [{"rows": data, "column_info": info}]}
    req = urllib.request.Request(f"{endpoint}/moto-api/static/athena/query-results", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()


@pytest.mark.aws
def test_athena_query_goes_to_the_profiles_workgroup_output_and_database(aws, moto_endpoint):
    import boto3
    athena = boto3.client("athena", region_name="eu-west-1", endpoint_url=moto_endpoint)
    athena.create_work_group(Name="uhnw-analysts", Configuration={})
    _athena_results(moto_endpoint, [("date", "date"), ("n", "bigint")], [["2025-01-02", "3"]])
    q = "SELECT date, count(*) AS n FROM positions GROUP BY date"
    r = run_athena(aws, q)
    assert (r.engine, r.columns, r.rows) == ("athena", ["date", "n"], [(date(2025, 1, 2), 3)])
    ex = athena.get_query_execution(QueryExecutionId=r.query_id)["QueryExecution"]
    assert (ex["Query"], ex["WorkGroup"], ex["QueryExecutionContext"]["Database"]) == (q, "uhnw-analysts", aws.glue_database_silver)
    assert ex["ResultConfiguration"]["OutputLocation"].startswith("s3://uhnw-athena-results/adhoc/")
    with pytest.raises(QueryError, match="DELETE statements are not allowed"):
        run_athena(aws, "DELETE FROM silver.positions")
    assert athena.list_query_executions()["QueryExecutionIds"] == [r.query_id]


@pytest.mark.aws
def test_sql_on_the_aws_profile_prints_athenas_answer_as_json(aws, moto_endpoint, uhnw_sql):
    import boto3
    boto3.client("athena", region_name="eu-west-1", endpoint_url=moto_endpoint).create_work_group(Name="uhnw-analysts", Configuration={})
    _athena_results(moto_endpoint, [("client_id", "varchar"), ("market_value", "double")], [["C1", "100.5"]])
    env = {"UHNW_PROFILE": "aws", "UHNW_ATHENA_WORKGROUP": "uhnw-analysts", "UHNW_ATHENA_OUTPUT": "s3://uhnw-athena-results/adhoc/",
           "UHNW_REGION": "eu-west-1"}
    r = uhnw_sql("SELECT client_id, market_value FROM gold.client_metrics", "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [{"client_id": "C1", "market_value": 100.5}]


@pytest.mark.parametrize("depth", [30, 59, 300])
def test_sql_nested_too_deeply_is_a_one_line_error_not_a_traceback(lake_data, uhnw_sql, depth):
    r = uhnw_sql("SELECT " + "(" * depth + "quantity" + ")" * depth + " AS q FROM silver.positions ORDER BY q LIMIT 1", "-f", "csv")
    if depth == 30:  # nesting a person writes still runs
        assert r.returncode == 0 and r.stdout.splitlines() == ["q", "1.0"], r.stderr
        return
    assert r.returncode == 1 and r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "nests too deeply" in r.stderr, r.stderr[:500]


@pytest.mark.parametrize("stmt, kind", [("INSTALL httpfs", "INSTALL"), ("LOAD httpfs", "LOAD"), ("SET threads = 1", "SET"),
                                        ("COPY silver.fx TO '/tmp/fx.csv'", "COPY"), ("DROP TABLE silver.positions", "DROP"),
                                        ("ATTACH 'other.db'", "ATTACH")])
def test_sql_refusal_names_the_statement_kind_as_written(lake_data, uhnw_sql, stmt, kind):
    r = uhnw_sql(stmt)
    assert r.returncode == 1 and r.stdout == "" and r.stderr.count("\n") == 1, r.stderr
    assert f"error: {kind} statements are not allowed: uhnw sql only reads the lake (SELECT, WITH … SELECT, SHOW, DESCRIBE)" \
        in r.stderr


# --- the analyst's API: DataFrames, bound parameters, the audit row, the %%sql cell

@pytest.mark.postgres
def test_sql_and_table_return_what_uhnw_sql_prints_bind_their_values_and_audit_each_query(lake_data, home, cli, stack, monkeypatch):
    import uuid

    from uhnw.ops.db import connect
    from uhnw.query import sql, table
    actor = f"quant-{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("UHNW_ANALYST", actor)
    (home.home / "stack").symlink_to(stack.stack_dir)  # the audit rows go to the session's PostgreSQL (its passfile)
    q = "SELECT account_id, instrument_id, quantity FROM silver.positions WHERE date = CAST(? AS DATE) ORDER BY account_id"
    frame = sql(q, [D2], settings=home)
    printed = json.loads(cli("sql", q.replace("?", f"'{D2}'"), "-f", "json").stdout)
    assert len(printed) == 3 and frame.to_dict("records") == printed
    read = table("silver.positions", D2, ["account_id", "instrument_id", "quantity"], settings=home)
    assert read.sort_values("account_id").to_dict("records") == printed
    injected = sql("SELECT count(*) AS n FROM silver.positions WHERE account_id = ?", ["A1' OR '1'='1"], settings=home)
    assert injected["n"].tolist() == [0], "the quote is part of the value: no row has that account id"
    assert sql("SELECT count(*) AS n FROM silver.positions WHERE account_id = ?", ["A1"], settings=home)["n"].tolist() == [2]
    with connect(stack) as conn:
        rows = conn.execute("select role, action, surface, operation, detail from audit_log where actor = %s order by id",
                            (actor,)).fetchall()
    assert [r[:4] for r in rows] == [("analyst", "query", "sql", "duckdb")] * 4
    assert (rows[0][4]["sql"], rows[0][4]["params"], rows[0][4]["rows"]) == (q, [D2], 3)
    assert rows[2][4]["params"] == ["A1' OR '1'='1"] and rows[2][4]["rows"] == 1


@pytest.mark.postgres
def test_a_sql_cell_in_a_kernel_answers_a_dataframe(lake_data, home, stack, monkeypatch):
    "`%load_ext uhnw.query`, then a `%%sql` cell with bound parameters, in a kernel the test starts (as JupyterLab would)."
    import os

    from jupyter_client.manager import start_new_kernel
    monkeypatch.setenv("UHNW_ANALYST", "quant-kernel")
    (home.home / "stack").symlink_to(stack.stack_dir)
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(home.home), env=dict(os.environ))
    out: list[str] = []
    def run(code: str) -> dict:
        reply = kc.execute_interactive(code, timeout=120, output_hook=lambda m: out.append(
            m["content"].get("text") or m["content"].get("data", {}).get("text/plain", "") or m["content"].get("evalue", "")))
        assert reply["content"]["status"] == "ok", (code, out)
        return reply
    try:
        run("%load_ext uhnw.query\nday = '2025-01-02'")
        run("%%sql --params [day] -o held\nSELECT account_id, quantity FROM silver.positions WHERE date = CAST(? AS DATE) ORDER BY 1")
        out.clear()
        run("print(type(held).__name__, held['account_id'].tolist(), held['quantity'].tolist())")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert "DataFrame ['A1', 'A2', 'A3'] [12.0, 5.0, 1.0]" in "".join(out)


@pytest.mark.aws
def test_sql_on_aws_goes_to_athena_through_awswrangler_with_its_values_as_execution_parameters(aws, moto_endpoint):
    import boto3

    from uhnw.query import sql
    boto3.client("s3", region_name="eu-west-1").create_bucket(Bucket="uhnw-athena-results",
                                                            CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    athena = boto3.client("athena", region_name="eu-west-1", endpoint_url=moto_endpoint)
    athena.create_work_group(Name="uhnw-analysts", Configuration={})
    _athena_results(moto_endpoint, [("client_id", "varchar"), ("n", "bigint")], [["C1", "3"]])
    audited = []
    q = "SELECT client_id, count(*) AS n FROM gold.client_metrics WHERE date = CAST(? AS DATE) AND client_id <> ? GROUP BY 1"
    frame = sql(q, [date(2025, 1, 2), "x' OR '1'='1"], settings=aws, actor="quant-aws", audit=lambda *a: audited.append(a))
    assert frame.to_dict("records") == [{"client_id": "C1", "n": 3}]
    (qid,) = athena.list_query_executions()["QueryExecutionIds"]
    ex = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
    assert ex["Query"] == q and ex["WorkGroup"] == "uhnw-analysts", "the statement is sent as written, its values apart"
    assert ex["ExecutionParameters"] == ["'2025-01-02'", "'x'' OR ''1''=''1'"], "each value one quoted literal"
    assert [(a[1], a[4], a[5]) for a in audited] == [("quant-aws", "athena", 1)]


@pytest.mark.postgres
def test_the_studio_audit_login_appends_query_rows_and_reads_nothing(stack, tmp_path):
    """`uhnw_query_audit` (schemas/sql/0011, 0012), the login SageMaker Studio reaches PostgreSQL as (with an IAM token on
    Aurora): `record_query` works through it (the one function it may call), and it can read no client, alert, metric,
    user or audit row, nor write an audit row of its own making, change or delete one."""
    import secrets

    import psycopg
    from psycopg import sql as pgsql

    from uhnw.ops.db import connect
    from uhnw.query import record_query
    password = secrets.token_urlsafe(16)
    with connect(stack, autocommit=True) as admin:  # locally it has no password; this test lends it one
        admin.execute(pgsql.SQL("alter role uhnw_query_audit password {}").format(pgsql.Literal(password)))
    try:
        home = tmp_path / "studio"
        (home / "stack" / "postgres").mkdir(parents=True)
        (home / "stack" / "postgres" / "pgpass").write_text(
            f"{stack.postgres_host}:{stack.postgres_port}:{stack.postgres_db}:uhnw_query_audit:{password}\n")
        (home / "stack" / "postgres" / "pgpass").chmod(0o600)
        studio = load_settings(env={"UHNW_HOME": str(home), "UHNW_POSTGRES_PORT": str(stack.postgres_port),
                                    "UHNW_POSTGRES_USER": "uhnw_query_audit"})
        audit_id = record_query(studio, "quant-7", "SELECT count(*) FROM silver.news WHERE date = ?", ["2026-12-03"], "athena", 1)
        with connect(stack) as admin:
            row = admin.execute("select actor, role, action, operation, detail from audit_log where id = %s", (audit_id,)).fetchone()
        assert row[:4] == ("quant-7", "analyst", "query", "athena") and row[4]["params"] == ["2026-12-03"]
        with psycopg.connect(studio.dsn(), autocommit=True) as conn:
            for statement in ("select * from clients limit 1", "select * from alerts limit 1", "select * from client_metrics limit 1",
                              "select * from users limit 1", "select actor, detail from audit_log limit 1", "select max(id) from audit_log",
                              "insert into audit_log (actor, role, action) values ('RM-01', 'rm', 'login')",  # no forged trail
                              f"update audit_log set actor = 'x' where id = {audit_id}", f"delete from audit_log where id = {audit_id}"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
    finally:
        with connect(stack, autocommit=True) as admin: admin.execute("alter role uhnw_query_audit password null")
