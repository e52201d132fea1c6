"""uhnw works outside a checkout: built as a wheel (not editable), installed into a fresh virtual environment, run
with `python -I` from a folder outside the repository, it finds every schema, migration, table definition, job
notebook, seed label and its default settings as package data.

The fresh environment holds only the wheel; the third-party dependencies (pandas, confluent-kafka, ...) are borrowed
from the development venv by a `.pth` line, which adds that folder to `sys.path` without running its `.pth` files, so
the editable uhnw of the checkout is never importable there (asserted).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
AVSC = sorted(p.stem for p in (REPO / "schemas" / "avro").glob("*.avsc"))
SQL_MIGRATIONS = sorted(p.name for p in (REPO / "schemas" / "sql").glob("*.sql"))
ATHENA_DDL = sorted(p.stem for p in (REPO / "schemas" / "athena").glob("*.sql"))
JOB_NOTEBOOKS = sorted(p.stem for folder in ("jobs", "dashboards") for p in (REPO / folder).glob("*.ipynb"))
COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", ".test-home", "data", "build", "dist", "*.egg-info", "__pycache__",
                                     ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", ".readme-home*")


@pytest.fixture(scope="session")
def fresh_venv(tmp_path_factory) -> Path:
    "A fresh virtual environment with uhnw installed from a wheel built from a copy of this checkout; returns its python."
    root = tmp_path_factory.mktemp("package")
    src = root / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=COPY_IGNORE)  # the resource links are relative: they still point inside the copy
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"),
                            str(src)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (root / "dist").glob("uhnw-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.check_output([str(python), "-c", purelib], text=True).strip())
    (site / "zz_dev_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.fixture
def outside(tmp_path) -> Path:
    "A working directory with no repository anywhere above it."
    return tmp_path


def run(python: Path, *args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "UHNW_HOME": str(cwd / "home")}  # nothing of the checkout's UHNW_* settings
    return subprocess.run([str(python), "-I", *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=300)


def test_the_installed_package_is_the_wheel_not_the_checkout(fresh_venv, outside):
    p = run(fresh_venv, "-c", "import uhnw, uhnw.config as c; print(uhnw.__file__); print(c.resource_path('schemas'))", cwd=outside)
    assert p.returncode == 0, p.stderr
    module, schemas = p.stdout.split()
    venv = fresh_venv.parent.parent
    assert Path(module).is_relative_to(venv) and Path(schemas).is_relative_to(venv)
    assert not Path(module).is_relative_to(REPO)


def test_every_avro_schema_of_the_repo_loads_from_the_installed_package(fresh_venv, outside):
    code = ("import json; from uhnw.config import load_settings; from uhnw.schemas import schema_names, load_schema\n"
            "d = load_settings().schemas_dir\n"
            "print(json.dumps({n: load_schema(n, d)['name'] for n in schema_names(d)}))")
    p = run(fresh_venv, "-c", code, cwd=outside)
    assert p.returncode == 0, p.stderr
    loaded = json.loads(p.stdout)
    assert len(AVSC) == 6 and sorted(loaded) == AVSC  # as many schemas loaded as there are .avsc files in the repo


def test_schemas_check_from_outside_the_repo_checks_every_schema(fresh_venv, outside):
    p = run(fresh_venv, "-m", "uhnw", "schemas", "check", cwd=outside)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"all {len(AVSC)} schemas match their registered versions" in p.stdout
    assert sum(line.startswith("ok ") for line in p.stdout.splitlines()) == len(AVSC)


def test_schemas_check_that_finds_nothing_to_check_fails(fresh_venv, outside):
    empty = outside / "no-schemas"
    (empty / "avro").mkdir(parents=True)
    env_code = ("import os, sys; os.environ['UHNW_SCHEMAS_DIR'] = sys.argv[1]; from uhnw.cli import main; "
                "main(['schemas', 'check'])")
    p = run(fresh_venv, "-c", env_code, str(empty), cwd=outside)
    assert p.returncode == 1
    assert "no Avro schemas found" in p.stderr and "all 0 schemas" not in p.stdout


def test_config_show_from_outside_the_repo_uses_the_packaged_defaults(fresh_venv, outside):
    p = run(fresh_venv, "-m", "uhnw", "config", "show", "--json", cwd=outside)
    assert p.returncode == 0, p.stderr
    cfg = json.loads(p.stdout)
    assert cfg["profile"] == "local" and cfg["default_partitions"] == 6 and cfg["postgres_port"] == 5433  # from the packaged settings.ini
    assert Path(cfg["schemas_dir"]).is_relative_to(fresh_venv.parent.parent) and cfg["home"] == str(outside / "home")


def test_resolve_from_outside_the_repo(fresh_venv, outside):
    clients = outside / "clients.csv"
    shutil.copy(REPO / "tests" / "data" / "resolve" / "clients.csv", clients)
    article = {"id": "n1", "headline": "Amit Saxena sells stake", "body": "Mr Saxena declined to comment."}
    p = run(fresh_venv, "-m", "uhnw", "resolve", "--clients", str(clients), cwd=outside, stdin=json.dumps(article) + "\n")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.splitlines()[0])
    assert out["id"] == "n1" and [m["mention"] for m in out["matches"]][:1] == ["Amit Saxena"]


def test_migrations_tables_jobs_and_seed_labels_are_package_data(fresh_venv, outside):
    code = """
import json
from uhnw.config import load_settings
from uhnw.ops.db import find_migrations
from uhnw.ops.jobs import job_notebook
from uhnw.relevance import read_seed
from uhnw.retention import load_policy
from uhnw.schedule import load_schedule
from uhnw.tables import table_defs
s = load_settings()
labels, clients = read_seed()
print(json.dumps({"migrations": [m.path.name for m in find_migrations(s.schemas_dir / "sql")],
                  "tables": sorted(table_defs(s)), "labels": len(labels), "clients": len(clients),
                  "jobs": sorted(n for n in JOBS if job_notebook(n).exists()),
                  "scheduled": sorted(load_schedule().jobs), "warm_days": load_policy(s).days("warm", "silver.news")}))
""".replace("JOBS", repr(JOB_NOTEBOOKS))
    p = run(fresh_venv, "-c", code, cwd=outside)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["migrations"] == SQL_MIGRATIONS and len(SQL_MIGRATIONS) >= 2
    assert got["tables"] == ATHENA_DDL and len(ATHENA_DDL) >= 10
    assert got["jobs"] == JOB_NOTEBOOKS and "positions_etl" in JOB_NOTEBOOKS
    assert got["labels"] > 500 and got["clients"] > 30
    assert "positions_etl" in got["scheduled"] and got["warm_days"] == 365  # the schedule and the retention policy ship too
