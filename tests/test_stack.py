"""`uhnw stack up | down | status` as a user runs them, and the DB migrations applied at `up`.

The CLI tests drive their own stack (own UHNW_HOME and ports) so they never disturb the session
stack that other tests share; the migration tests use the session stack.
"""
from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from uhnw.config import load_settings
from uhnw.ops import db, stack
from uhnw.ops.stack import status as stack_status

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

TEST_HOME = Path(__file__).resolve().parent.parent / ".test-home"
CLI_ENV = {"UHNW_HOME": str(TEST_HOME / "stack-cli"), "UHNW_KAFKA_PORT": "29092", "UHNW_KAFKA_CONTROLLER_PORT": "29093",
           "UHNW_POSTGRES_PORT": "25433", "UHNW_SPARK_CONNECT_PORT": "0"}  # Kafka and PostgreSQL only (Spark: the session's stack)


@pytest.fixture(scope="module")
def user_stack(uhnw_env):
    "Settings of the stack these tests drive through the CLI; stopped before (leftovers) and after, whatever happens."
    settings = load_settings(env={**os.environ, **CLI_ENV})
    stack.down(settings)
    yield settings
    stack.down(settings)


def _up(cli) -> subprocess.CompletedProcess:
    r = cli("stack", "up", env=CLI_ENV)
    assert r.returncode == 0, r.stderr
    return r


def _statuses(cli) -> dict[str, dict]:
    r = cli("stack", "status", "--json", env=CLI_ENV)
    return {s["name"]: s for s in json.loads(r.stdout)}


def _wait_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z": return True
        time.sleep(0.1)
    return False


def test_up_starts_kafka_and_postgres_and_prints_their_endpoints(cli, user_stack):
    r = _up(cli)
    assert "127.0.0.1:29092" in r.stdout
    assert user_stack.dsn() in r.stdout
    assert "already running" not in r.stdout
    assert (user_stack.stack_dir / "kafka.pid").exists() and (user_stack.stack_dir / "postgres.pid").exists()


def test_second_up_finds_the_running_stack_and_says_so(cli, user_stack):
    _up(cli)
    pids = {name: s["pid"] for name, s in _statuses(cli).items()}
    r = _up(cli)
    assert r.stdout.count("already running") == 2, r.stdout
    assert {name: s["pid"] for name, s in _statuses(cli).items()} == pids


def test_status_shows_both_up_and_the_broker_is_a_kraft_node(cli, user_stack):
    _up(cli)
    r = cli("stack", "status", env=CLI_ENV)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = {line.split()[0]: line.split()[1] for line in r.stdout.splitlines()}
    assert lines == {"kafka": "up", "postgres": "up"}
    st = _statuses(cli)
    assert st["kafka"]["up"] and st["kafka"]["endpoint"] == "127.0.0.1:29092"
    assert st["postgres"]["up"] and "port=25433" in st["postgres"]["endpoint"]
    from confluent_kafka.admin import AdminClient
    md = AdminClient({"bootstrap.servers": "127.0.0.1:29092"}).list_topics(timeout=10)
    assert list(md.brokers) == [1]
    assert md.cluster_id == (user_stack.stack_dir / "kafka" / "cluster.id").read_text().strip()


def test_psql_reaches_postgres_with_the_dsn_from_config_show(cli, user_stack):
    _up(cli)
    shown = cli("config", "show", "--json", env=CLI_ENV)
    assert shown.returncode == 0, shown.stderr
    dsn = json.loads(shown.stdout)["postgres_dsn"]
    psql = shutil.which("psql") or str(stack.pg_bin("psql"))
    r = subprocess.run([psql, dsn, "-tAc", "select count(*) from schema_migrations"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout.strip()) == len(db.find_migrations(user_stack.schemas_dir / "sql")) >= 1


def test_down_stops_the_stack_and_status_then_exits_3(cli, user_stack):
    _up(cli)
    pids = [s["pid"] for s in _statuses(cli).values()]
    r = cli("stack", "down", env=CLI_ENV)
    assert r.returncode == 0, r.stderr
    assert all(_wait_gone(pid) for pid in pids)
    r = cli("stack", "status", env=CLI_ENV)
    assert r.returncode == 3
    assert {line.split()[0]: line.split()[1] for line in r.stdout.splitlines()} == {"kafka": "down", "postgres": "down"}
    assert not (user_stack.stack_dir / "kafka.pid").exists()


def test_down_leaves_a_process_it_did_not_start_alone(cli, user_stack):
    stack.down(user_stack)
    stranger = subprocess.Popen(["sleep", "120"])
    try:
        (user_stack.stack_dir / "kafka.pid").write_text(f"{stranger.pid}\n")  # a stale pid file now naming someone else
        r = cli("stack", "down", env=CLI_ENV)
        assert r.returncode == 0, r.stderr
        time.sleep(0.3)
        assert stranger.poll() is None, "down signalled a process it did not start"
    finally:
        stranger.kill()
        stranger.wait()


def test_up_with_a_taken_port_fails_naming_the_port_and_starts_nothing(cli, user_stack):
    stack.down(user_stack)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the broker just stopped: its port may be in TIME_WAIT
        squatter.bind(("127.0.0.1", 29092))
        squatter.listen()
        r = cli("stack", "up", env=CLI_ENV)
    assert r.returncode == 1
    assert "port 29092" in r.stderr and "UHNW_KAFKA_PORT" in r.stderr
    assert not any(s.up for s in stack.status(user_stack))


def test_migrations_are_recorded_and_rerunning_applies_nothing(stack):
    expected = [(m.version, m.name, m.checksum) for m in db.find_migrations(stack.schemas_dir / "sql")]
    with db.connect(stack) as conn:
        recorded = conn.execute("select version, name, checksum from schema_migrations order by version").fetchall()
        tables = {r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'public'")}
    assert recorded == expected and (1, "core") in [r[:2] for r in recorded]
    assert {"clients", "rm_coverage", "client_metrics", "alerts", "alert_feedback", "audit_log"} <= tables
    assert db.migrate(stack) == []


def test_migrate_applies_new_files_in_order_and_refuses_an_edited_one(stack, tmp_path):
    scratch = dataclasses.replace(stack, postgres_db=f"migtest_{secrets.token_hex(4)}")
    with db.connect(stack, autocommit=True) as conn:
        conn.execute(f"create database {scratch.postgres_db}")
    try:
        (tmp_path / "0002_more.sql").write_text("alter table t add column y int;")
        (tmp_path / "0001_first.sql").write_text("create table t (x int);")
        (tmp_path / "notes.sql").write_text("this is not a migration")
        assert db.migrate(scratch, tmp_path) == [1, 2]
        (tmp_path / "0003_last.sql").write_text("insert into t values (1, 2);")
        assert db.migrate(scratch, tmp_path) == [3]
        (tmp_path / "0001_first.sql").write_text("create table t (x bigint);")
        with pytest.raises(db.MigrationError, match="0001_first.sql was changed after it was applied"):
            db.migrate(scratch, tmp_path)
        (tmp_path / "0001_first.sql").write_text("create table t (x int);")
        (tmp_path / "0004_broken.sql").write_text("insert into t values (3, 4); select no_such_column from t;")
        with pytest.raises(db.MigrationError, match="0004_broken.sql failed"):
            db.migrate(scratch, tmp_path)
        with db.connect(scratch) as conn:  # the failed file left nothing behind
            assert conn.execute("select count(*) from t").fetchone() == (1,)
            assert conn.execute("select max(version) from schema_migrations").fetchone() == (3,)
    finally:
        with db.connect(stack, autocommit=True) as conn:
            conn.execute(f"drop database if exists {scratch.postgres_db} with (force)")


@pytest.mark.postgres
def test_the_session_stack_serves_spark_connect_sessions_on_its_home_catalog(stack):
    import sys
    spark_status = {s.name: s for s in stack_status(stack)}["spark"]
    assert spark_status.up and spark_status.endpoint == f"sc://127.0.0.1:{stack.spark_connect_port}"
    # in a process of its own, as a job's kernel is: pyspark refuses a remote session beside the session's local one
    probe = """
from uhnw.config import load_settings
from uhnw.ops.spark import get_spark
spark = get_spark(load_settings(), "stack-test", connect=True)
assert type(spark).__module__.startswith("pyspark.sql.connect"), type(spark)
assert spark.range(5).selectExpr("sum(id) as s").first()["s"] == 10
assert spark.conf.get("spark.sql.catalog.uhnw.uri").startswith("jdbc:postgresql://127.0.0.1:")
assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
spark.stop()
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stdout[-2000:] + r.stderr[-3000:]
    assert stack_status(stack)[2].up, "stopping a session leaves the server running for the next job"


@pytest.mark.postgres
def test_the_spark_warm_up_runs_the_pnl_in_a_catalog_of_its_own_and_leaves_nothing_behind(stack, tmp_path):
    import sys

    from uhnw.catalog import catalog_for
    assert {s.name: s for s in stack_status(stack)}["spark"].up
    namespaces = sorted(catalog_for(stack).list_namespaces())
    scratch = tmp_path / "warmup"
    # rounds 0: the first round only (what `stack up` runs, minus the repetitions), in a process of its own as there
    r = subprocess.run([sys.executable, "-m", "uhnw.ops.spark_warmup", f"sc://127.0.0.1:{stack.spark_connect_port}", str(scratch), "0"],
                       capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "1 round of the P&L on two days" in r.stdout, r.stdout
    assert not scratch.exists(), "the warm-up's inputs and Iceberg tables are deleted"
    assert sorted(catalog_for(stack).list_namespaces()) == namespaces, "the lake's catalog never sees the warm-up"
    assert stack_status(stack)[2].up
