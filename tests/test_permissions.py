"""Client data is readable by this account only: what uhnw writes is 0600/0700, and the local stack never opens a
folder above `UHNW_HOME` (CI's clone may sit under a 0700 folder) for the PostgreSQL user to reach its data.

Root reads everything, so the "another account cannot read it" checks run as an unprivileged user (`nobody`)."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess

import pytest
from conftest import TEST_HOME, _free_port

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user (runuser)")


def _as_nobody(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "nobody", "--", *cmd], capture_output=True, text=True, timeout=30)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def private_parent():
    "A 0700 folder holding the home, as a checkout under /root would be."
    parent = TEST_HOME / "private-parent"
    shutil.rmtree(parent, ignore_errors=True)
    parent.mkdir(mode=0o700)
    os.chmod(parent, 0o700)
    yield parent
    shutil.rmtree(parent, ignore_errors=True)


@as_root
def test_a_landed_file_and_the_lake_are_private_to_this_account(cli, tmp_path):
    home = TEST_HOME / "perm-home"
    shutil.rmtree(home, ignore_errors=True)
    os.chmod(TEST_HOME, 0o755)  # even with every folder above it open, the lake's own modes keep others out
    src = tmp_path / "prices_2025-01-02.csv"
    src.write_text("price_date,instrument_id,close,currency\n2025-01-02,XS1,101.5,USD\n")
    os.chmod(src, 0o644)
    try:
        p = cli("ingest", "prices", str(src), "--date", "2025-01-02", env={"UHNW_HOME": str(home)})
        assert p.returncode == 0, p.stderr
        landed = home / "lake" / "bronze" / "prices" / "date=2025-01-02" / "prices_2025-01-02.csv"
        assert landed.read_text() == src.read_text()
        assert _mode(landed) == 0o400 and _mode(landed.parent) == 0o700 and _mode(home / "lake") == 0o700  # write-once, private
        read = _as_nobody("cat", str(landed))
        assert read.returncode != 0 and "Permission denied" in read.stderr and "XS1" not in read.stdout
        assert _as_nobody("ls", str(home / "lake" / "bronze")).returncode != 0
    finally:
        shutil.rmtree(home, ignore_errors=True)


@as_root
@pytest.mark.postgres
@pytest.mark.kafka
def test_the_stack_runs_under_a_private_folder_without_opening_it_and_purge_deletes_the_database(cli, private_parent):
    home = private_parent / "home"
    ports = {"UHNW_KAFKA_PORT": _free_port(), "UHNW_KAFKA_CONTROLLER_PORT": _free_port(), "UHNW_POSTGRES_PORT": _free_port(),
             "UHNW_SPARK_CONNECT_PORT": 0}  # no Spark server: this test is about PostgreSQL's folders
    env = {"UHNW_HOME": str(home), **{k: str(v) for k, v in ports.items()}}
    try:
        up = cli("stack", "up", env=env, timeout=180)
        assert up.returncode == 0, up.stdout + up.stderr
        assert _mode(private_parent) == 0o700 and _mode(home) == 0o700 and _mode(home / "stack") == 0o700  # nothing widened
        q = cli("stack", "psql", "-At", "-c", "select count(*) from schema_migrations", env=env)
        assert q.returncode == 0 and int(q.stdout.strip()) >= 2, q.stderr
        server = (home / "stack" / "postgres" / "server-dir").read_text().strip()
        assert os.path.isdir(os.path.join(server, "data")) and not server.startswith(str(home))
        assert _as_nobody("ls", str(home)).returncode != 0  # the home stays closed to other accounts
        down = cli("stack", "down", "--purge", "--json", env=env)
        assert down.returncode == 0 and not any(s["up"] for s in json.loads(down.stdout))
        assert not os.path.exists(server) and not (home / "stack" / "postgres").exists()
    finally:
        cli("stack", "down", "--purge", env=env)
