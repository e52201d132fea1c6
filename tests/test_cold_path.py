"""The cold path end to end, as an analyst or the scheduler runs it: synthetic EOD files landed in
bronze, `uhnw job run` for positions_etl → daily_pnl → rds_sync → portfolio_health, `uhnw sql` over
the lake — on a UHNW_HOME of this test's own, against the session's PostgreSQL."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from uhnw.config import load_settings, passfile_password
from uhnw.lake import lake_for
from uhnw.ops.jobs import job_notebook, notebook_parameters

REPO = Path(__file__).resolve().parent.parent
JOBS = {"positions_etl": {"run_date", "require_prices_and_fx"}, "daily_pnl": {"run_date", "verify_with_reference", "spark_master"},
        "rds_sync": {"run_date"}, "portfolio_health": {"run_date", "rm_id", "days"}}


@pytest.mark.parametrize("name", sorted(JOBS))
def test_job_notebook_declares_its_parameters_in_a_tagged_cell(name):
    params = notebook_parameters(job_notebook(name))
    assert set(params) == JOBS[name]
    assert all(p["help"] for p in params.values()), "every parameter says what it is for"


@pytest.fixture(scope="module")
def cold_home(stack, tmp_path_factory):
    "A home with its own lake and runs; PostgreSQL is the session stack's (the stack settings are in the environment)."
    home = tmp_path_factory.mktemp("cold")
    return home


LOCAL_RUN: dict[str, str] = {}  # the namespaces of the local run's tables: the reference of the run on S3


def run(cli, home, *args, timeout=600):
    return cli(*args, env={"UHNW_HOME": str(home), "UHNW_POSTGRES_PORT": os.environ["UHNW_POSTGRES_PORT"]}, timeout=timeout)


@pytest.mark.postgres
@pytest.mark.spark
def test_cold_path_from_bronze_to_report(cli, cold_home, stack):
    # the session stack's passfile lives in the session home: point this home's stack dir at it
    (cold_home / "stack" / "postgres").mkdir(parents=True, exist_ok=True)
    (cold_home / "stack" / "postgres" / "pgpass").symlink_to(stack.pg_passfile)
    LOCAL_RUN.update({k: os.environ[k] for k in ("UHNW_GLUE_DATABASE_SILVER", "UHNW_GLUE_DATABASE_GOLD")})

    synth = run(cli, cold_home, "synth", "cold", "--days", "2", "--clients", "12", "--positions", "300", "--bad-rows", "2",
                "--start", "2032-09-06", "--ingest", "--json")  # dates no other test writes to PostgreSQL
    assert synth.returncode == 0, synth.stderr
    manifest = json.loads(synth.stdout)
    day1, day2 = manifest["dates"]

    # bronze is immutable: landing different bytes at an existing object is refused and changes nothing
    landed = cold_home / "lake" / "bronze" / "positions" / f"date={day1}" / f"positions_{day1}.csv"
    before = landed.read_bytes()
    other = cold_home / f"positions_{day1}.csv"
    other.write_text("as_of_date,account_id,client_id,instrument_id,quantity\n")
    refused = run(cli, cold_home, "ingest", "positions", str(other), "--date", day1)
    assert refused.returncode == 1 and f"positions_{day1}.csv" in refused.stderr
    assert landed.read_bytes() == before

    # day one needs only its silver positions (day two's P&L compares with them): the nightly flow runs for day two
    # (the first date's own P&L run, empty, is the demo's and tests/test_workspace.py's)
    first = run(cli, cold_home, "job", "run", "positions_etl", "--date", day1)
    assert first.returncode == 0, first.stdout + first.stderr
    result = run(cli, cold_home, "cold-path", "--date", day2)
    assert result.returncode == 0, result.stdout + result.stderr

    out = run(cli, cold_home, "sql", "SELECT date, count(*) AS n, count(daily_pnl) AS with_pnl, sum(unpriced_positions) AS unpriced "
                                     "FROM gold.client_metrics GROUP BY date ORDER BY date", "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["date"] for r in rows] == [day2] and [r["n"] for r in rows] == [12]
    assert rows[0]["with_pnl"] > 0, "P&L on the second date, against the first date's positions"
    assert rows[0]["unpriced"] > 0, "the synthetic book has instruments without a price"

    rejected = json.loads(run(cli, cold_home, "sql", "SELECT reason, count(*) AS n FROM silver.positions_rejected "
                                                      f"WHERE date = DATE '{day2}' GROUP BY reason", "--format", "json").stdout)
    assert sum(r["n"] for r in rejected) == 2, "the two injected bad rows are quarantined with a reason"

    from uhnw.ops.db import connect
    with connect(stack) as conn:
        n = conn.execute("select count(*) from client_metrics where date = %s", (day2,)).fetchone()[0]
    assert n == 12
    report = cold_home / "reports" / f"portfolio_health_{day2}.html"
    assert report.exists() and report.stat().st_size > 1_000_000
    assert "Market value (USD)" in report.read_text(), "cross-client figures are in the reporting currency"

    # gold → PostgreSQL: every client's figures also in the reporting currency (USD), base × the date's USD rate
    lake = lake_for(load_settings(home=cold_home))
    usd_per_unit = {r["currency"]: r["usd_per_unit"] for r in lake.read_partition("silver", "fx", day2).to_pylist()}
    rate = lambda ccy: usd_per_unit.get(ccy, 1.0 if ccy == "USD" else None)
    positions_sql = ("select base_currency, market_value::float8, pnl::float8, reporting_currency, market_value_reporting::float8, "
                     "pnl_reporting::float8, loaded_at from position_pnl where date = %s")
    with connect(stack) as conn:
        metrics = conn.execute("select base_currency, market_value::float8, daily_pnl::float8, reporting_currency, "
                               "market_value_reporting::float8, daily_pnl_reporting::float8 from client_metrics where date = %s",
                               (day2,)).fetchall()
        positions = conn.execute(positions_sql, (day2,)).fetchall()
    assert len({m[0] for m in metrics}) > 1, "the synthetic book has several base currencies"
    assert sum(m[4] is not None for m in metrics) > 6 and sum(m[5] is not None for m in metrics) > 6
    for rows in (metrics, positions):
        for base, mv, pnl, rep_ccy, mv_rep, pnl_rep, *_ in rows:
            r = rate(base)
            assert rep_ccy == "USD"
            for value, converted in ((mv, mv_rep), (pnl, pnl_rep)):
                if value is None or r is None: assert converted is None
                else: assert math.isclose(converted, value * r, rel_tol=1e-9, abs_tol=1e-6), (base, value, converted)
    assert len(positions) == lake.read_partition("gold", "position_pnl", day2).num_rows > 300

    again = run(cli, cold_home, "job", "run", "rds_sync", "--date", day2)
    assert again.returncode == 0, again.stderr
    with connect(stack) as conn:
        assert conn.execute("select count(*) from client_metrics where date = %s", (day2,)).fetchone()[0] == 12
        again_positions = conn.execute(positions_sql, (day2,)).fetchall()
    assert sorted(again_positions, key=repr) == sorted(positions, key=repr), "a re-run rewrites no position (loaded_at unchanged)"


def test_positions_etl_exits_1_naming_a_file_rejected_whole_and_a_recorded_correction_fixes_the_day(cli, tmp_path):
    home = tmp_path / "home"
    env = {"UHNW_HOME": str(home)}
    synth = cli("synth", "cold", "--days", "1", "--clients", "6", "--positions", "60", "--start", "2031-05-05", "--seed", "3",
                "--out", str(tmp_path / "in"), "--ingest", "--json", env=env)
    assert synth.returncode == 0, synth.stderr
    day = json.loads(synth.stdout)["dates"][0]
    eod = Path(json.loads(synth.stdout)["files"][day]["positions"])
    assert cli("job", "run", "positions_etl", "--date", day, env=env).returncode == 0
    count = f"SELECT count(*) AS n, sum(quantity) AS q FROM silver.positions WHERE date = DATE '{day}'"
    (before,) = json.loads(cli("sql", count, "-f", "json", env=env).stdout)
    assert before["n"] == 60

    # the corrected file under a new name (what the refusal said to do), beside a file with a wrong header
    lines = eod.read_text().splitlines(keepends=True)
    acct, instr = lines[1].split(",")[1], lines[1].split(",")[3]
    fixed = tmp_path / "positions_fixed.csv"
    fixed.write_text(lines[0] + "".join(lines[1:]).replace(lines[1], f"{day},{acct},{lines[1].split(',')[2]},{instr},999\n"))
    wrong = tmp_path / "wrong.csv"; wrong.write_text("date,acct,qty\n")
    for f in (fixed, wrong):
        assert cli("ingest", "positions", str(f), "--date", day, env=env).returncode == 0
    run = cli("job", "run", "positions_etl", "--date", day, env=env)
    assert run.returncode == 1 and "wrong.csv rejected: not a positions file" in run.stderr
    assert "positions_fixed.csv rejected: repeats 60 key(s)" in run.stderr and "--supersedes" in run.stderr
    assert json.loads(cli("sql", count, "-f", "json", env=env).stdout) == [before], "the day keeps every good row it had"
    rejected = json.loads(cli("sql", "SELECT file_name, reason, source_file FROM silver.positions_rejected_files "
                                     f"WHERE date = DATE '{day}' ORDER BY file_name", "-f", "json", env=env).stdout)
    assert [r["file_name"] for r in rejected] == ["positions_fixed.csv", "wrong.csv"]
    assert rejected[1]["source_file"].endswith(f"bronze/positions/date={day}/wrong.csv")

    # record the correction and withdraw the stray file: the run uses the correction and succeeds
    assert cli("ingest", "supersede", "positions", fixed.name, "--date", day, "--supersedes", eod.name, env=env).returncode == 0
    assert cli("ingest", "withdraw", "positions", "wrong.csv", "--date", day, "--reason", "no header", env=env).returncode == 0
    run = cli("job", "run", "positions_etl", "--date", day, env=env)
    assert run.returncode == 0, run.stderr
    (after,) = json.loads(cli("sql", count, "-f", "json", env=env).stdout)
    assert after["n"] == 60 and after["q"] != before["q"]
    status = {r["file"]: r for r in map(json.loads, cli("ingest", "status", "--date", day, "--json", env=env).stdout.splitlines())}
    assert (status[eod.name]["status"], status[eod.name]["detail"]) == ("superseded", f"by {fixed.name}")
    assert (status[fixed.name]["status"], status[fixed.name]["valid"]) == ("used", 60)
    assert status["wrong.csv"]["status"] == "withdrawn"


def test_job_run_refuses_unknown_jobs_parameters_and_dates(cli):
    assert "no job named 'nope'" in cli("job", "run", "nope", "--date", "2025-01-01").stderr
    bad = cli("job", "run", "rds_sync", "--date", "2025-01-01", "-p", "colour", "red")
    assert bad.returncode == 1 and "has no parameter(s) colour" in bad.stderr
    assert "not a calendar date" in cli("job", "run", "rds_sync", "--date", "2025-13-01").stderr


def same_figures(got, want, rel: float = 1e-12) -> bool:
    "Equal rows, floats to the last bits Spark's summation order may change (the two runs read their files in other orders)."
    def same(a, b):
        if isinstance(a, float) and isinstance(b, float): return math.isclose(a, b, rel_tol=rel)
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)): return len(a) == len(b) and all(map(same, a, b))
        if isinstance(a, dict) and isinstance(b, dict): return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        return a == b
    return same(got, want)


@pytest.fixture
def aws_cold_env(stack, cold_home, moto_endpoint, tmp_path):
    """The `aws` profile on the moto server: buckets, Glue and S3 of the emulator, a PostgreSQL database of its own on the
    session's server standing in for RDS (migrated as `uhnw db migrate` would at deploy), and a home holding nothing but runs."""
    import uuid

    from uhnw.ops.db import connect, migrate
    home = tmp_path / "aws-home"
    database = f"aws_{uuid.uuid4().hex[:8]}"
    with connect(stack, autocommit=True) as conn: conn.execute(f'create database "{database}"')
    password = passfile_password(stack.pg_passfile, stack.postgres_user)
    env = {"UHNW_PROFILE": "aws", "UHNW_HOME": str(home), "UHNW_S3_ENDPOINT_URL": moto_endpoint, "UHNW_REGION": "eu-west-1",
           "AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "eu-west-1", "UHNW_POSTGRES_HOST": "127.0.0.1", "UHNW_POSTGRES_PORT": str(stack.postgres_port),
           "UHNW_POSTGRES_DB": database, "UHNW_POSTGRES_USER": stack.postgres_user, "UHNW_POSTGRES_PASSWORD": password,
           "UHNW_POSTGRES_SSLMODE": "disable"}
    settings = load_settings(env={**os.environ, **env})  # and the test's own Glue databases (warm_namespaces)
    migrate(settings)
    lake_for(settings).ensure()  # on AWS the buckets come from the CDK app (infra/)
    yield settings, env
    from uhnw.catalog import _CATALOGS
    for k in [k for k in _CATALOGS if k[0] == "publications" and database in k[1]]: _CATALOGS.pop(k).dispose()
    with connect(stack, autocommit=True) as conn: conn.execute(f'drop database "{database}" with (force)')


@pytest.mark.aws
@pytest.mark.postgres
@pytest.mark.spark
def test_cold_path_on_s3_glue_and_rds_equals_the_local_run(cli, cold_home, aws_cold_env, stack):
    """The same EOD files as the local test, on the `aws` profile against the emulator: bronze objects in S3, positions_etl
    (Arrow) and daily_pnl (Spark through Iceberg's Glue catalog and S3FileIO) as papermill notebooks, rds_sync from gold in S3
    into PostgreSQL, then `uhnw sql`. The emulator's Athena runs no SQL (it answers what a test tells it), so the SQL
    goes to DuckDB over the same S3 objects (`--engine duckdb`). The local test above ran first and is the reference."""
    import boto3

    from uhnw.ops.db import connect
    if not LOCAL_RUN: pytest.skip("the reference is test_cold_path_from_bronze_to_report's run: run the module")
    settings, env = aws_cold_env
    day1, day2 = "2032-09-06", "2032-09-07"
    synth = cli("synth", "cold", "--days", "2", "--clients", "12", "--positions", "300", "--bad-rows", "2", "--start", day1,
                "--out", env["UHNW_HOME"] + "/inbox", "--ingest", "--json", env=env)
    assert synth.returncode == 0, synth.stderr
    assert not (Path(env["UHNW_HOME"]) / "lake").exists(), "nothing lands on local disk"
    s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url=settings.s3_endpoint_url)
    for table in ("positions", "prices", "fx"):  # the local run's very inputs
        key = f"{table}/date={day2}/{table}_{day2}.csv"
        assert s3.get_object(Bucket="data-lake-bronze", Key=key)["Body"].read() == (cold_home / "lake" / "bronze" / key).read_bytes()

    # day 1 needs only its silver (the P&L of day 2 reads the previous positions): run by the entry a Glue Python shell
    # job runs (uhnw.ops.job_entry), which executes the notebook in its own process and writes it to S3; day 2 runs the flow
    first = subprocess.run([sys.executable, "-m", "uhnw.ops.job_entry", "positions_etl", day1], env={**os.environ, **env},
                           cwd=env["UHNW_HOME"].rsplit("/", 1)[0], capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    executed = first.stdout.strip().rsplit(" ", 1)[-1]
    assert executed.startswith(f"s3://data-lake-gold/_runs/positions_etl/date={day1}/")
    ran = json.loads(s3.get_object(Bucket="data-lake-gold", Key=executed.split("/", 3)[3])["Body"].read())
    assert any("parameters" in c["metadata"].get("tags", []) for c in ran["cells"]), "the executed notebook, parameters and all"
    result = cli("cold-path", "--date", day2, env=env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr

    glue = boto3.client("glue", region_name="eu-west-1", endpoint_url=settings.s3_endpoint_url)
    gold = glue.get_table(DatabaseName=settings.glue_database_gold, Name="client_metrics")["Table"]["Parameters"]
    assert gold["table_type"].upper() == "ICEBERG" and gold["metadata_location"].startswith("s3://data-lake-gold/client_metrics/")

    query = ("SELECT client_id, positions_count, unpriced_positions, market_value, daily_pnl, market_value_reporting "
             f"FROM gold.client_metrics WHERE date = DATE '{day2}' ORDER BY client_id")
    on_s3 = cli("sql", query, "--engine", "duckdb", "--format", "json", env=env)
    assert on_s3.returncode == 0, on_s3.stderr
    local = cli("sql", query, "--format", "json", env={"UHNW_HOME": str(cold_home), **LOCAL_RUN})
    assert local.returncode == 0, local.stderr
    assert len(json.loads(on_s3.stdout)) == 12 and same_figures(json.loads(on_s3.stdout), json.loads(local.stdout))
    rejected = f"SELECT count(*) AS n FROM silver.positions_rejected WHERE date = DATE '{day2}'"
    assert json.loads(cli("sql", rejected, "--engine", "duckdb", "-f", "json", env=env).stdout) == [{"n": 2}]

    metrics_sql = ("select client_id, market_value::float8, daily_pnl::float8, market_value_reporting::float8 "
                   "from client_metrics where date = %s order by client_id")
    with connect(settings) as conn: rds = conn.execute(metrics_sql, (day2,)).fetchall()
    with connect(stack) as conn: reference = conn.execute(metrics_sql, (day2,)).fetchall()
    assert len(rds) == 12 and same_figures(rds, reference)
