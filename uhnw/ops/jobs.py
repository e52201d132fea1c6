"""Running the job and dashboard notebooks with papermill: `uhnw job run NAME --date D [-p key value ...]`.

A job notebook (jobs/NAME.ipynb, or dashboards/NAME.ipynb) has a cell tagged `parameters`;
papermill injects the run's values after it, executes the notebook in the package's kernel,
and the executed copy is kept under UHNW_HOME/runs/NAME/date=D/ as the run's record (never
written back into jobs/). Locally this is the Glue/EMR job itself; on aws the same notebook
is what the Glue/EMR step executes.
"""
from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import date as Date
from pathlib import Path

from uhnw.config import Settings, resource_path

NOTEBOOK_DIRS = ("jobs", "dashboards")
COLD_PATH = ("positions_etl", "daily_pnl", "rds_sync", "portfolio_health")


class JobError(RuntimeError):
    "A job could not be started, or it failed; the message names the job and the cell that failed."


@dataclass(frozen=True)
class JobRun:
    "One executed job notebook."
    name: str
    date: str
    output: Path  # the executed notebook
    seconds: float
    parameters: dict


def job_notebook(name: str, root: Path | None = None) -> Path:
    "The notebook of job `name` in jobs/ or dashboards/."
    root = root or resource_path()
    for folder in NOTEBOOK_DIRS:
        path = root / folder / f"{name}.ipynb"
        if path.exists(): return path
    known = sorted(p.stem for folder in NOTEBOOK_DIRS for p in (root / folder).glob("*.ipynb"))
    raise JobError(f"no job named {name!r}; known jobs: {', '.join(known)}")


TRUE, FALSE = ("true", "yes", "1"), ("false", "no", "0")


def coerce_parameter(name: str, type_name: str, value):
    "`value` (a `-p` text, or already a Python value) as the type the notebook declares; ValueError naming all three if it is not one."
    def bad(): return ValueError(f"parameter {name} expects {type_name}, got {value!r}")
    if type_name == "bool":
        if isinstance(value, bool): return value
        if isinstance(value, str) and value.strip().lower() in TRUE + FALSE: return value.strip().lower() in TRUE
        raise bad()
    if type_name in ("int", "float"):
        if isinstance(value, bool): raise bad()
        if isinstance(value, int) or (type_name == "float" and isinstance(value, float)):
            return int(value) if type_name == "int" else float(value)
        if not isinstance(value, str): raise bad()
        try:
            return int(value.strip()) if type_name == "int" else float(value.strip())
        except ValueError:
            raise bad() from None
    if type_name == "str":
        if isinstance(value, str): return value
        raise bad()
    if isinstance(value, str):  # no (known) annotation: JSON when it parses, else the text
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def check_parameters(name: str, parameters: dict, declared: dict | None = None) -> dict:
    "The `-p` parameters of job `name`, checked and typed against its `parameters` cell; JobError before any kernel starts."
    declared = notebook_parameters(job_notebook(name)) if declared is None else declared
    if "run_date" in parameters:
        raise JobError(f"job {name}: run_date is not a -p parameter, it comes from --date")
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise JobError(f"job {name} has no parameter(s) {', '.join(unknown)}; it takes: {', '.join(declared)}")
    try:
        return {k: coerce_parameter(k, declared[k]["inferred_type_name"], v) for k, v in parameters.items()}
    except ValueError as e:
        raise JobError(f"job {name}: {e}") from None


def notebook_parameters(path: Path) -> dict:
    "The parameters a notebook declares in its `parameters` cell (papermill's own inspection)."
    import papermill
    return papermill.inspect_notebook(str(path))


def run_job(settings: Settings, name: str, date: str, parameters: dict | None = None, timeout: int = 3600) -> JobRun:
    "Execute job `name` for `date` with papermill; raise JobError (with the failing cell's error) if it fails."
    import papermill
    try:
        Date.fromisoformat(date)
    except ValueError:
        raise JobError(f"date {date!r} is not a calendar date in YYYY-MM-DD form") from None
    path = job_notebook(name)
    params = {"run_date": date, **check_parameters(name, parameters or {}, notebook_parameters(path))}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    out = settings.home / "runs" / name / f"date={date}" / f"{name}-{stamp}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # the kernel inherits it: Spark stays on loopback, without a warning
    log = out.with_suffix(".log")
    t0 = time.perf_counter()
    try:
        with _stderr_to(log):  # the kernel's own stderr (JVM and Spark logging) goes to the run's log, not the console
            papermill.execute_notebook(str(path), str(out), parameters=params, kernel_name="python3", cwd=str(path.parent),
                                       progress_bar=False, log_output=False, execution_timeout=timeout)
    except papermill.PapermillExecutionError as e:
        raise JobError(f"job {name} failed for {date} in cell {e.exec_count}: {e.ename}: {e.evalue} "
                       f"(executed notebook: {out}; kernel log: {log})") from None
    return JobRun(name, date, out, round(time.perf_counter() - t0, 2), params)


@contextmanager
def _stderr_to(path: Path):
    "Point file descriptor 2 at `path` while the block runs, so child processes started in it inherit the file."
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "ab") as f:
            os.dup2(f.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def run_cold_path(settings: Settings, date: str, jobs: tuple[str, ...] = COLD_PATH, log=print) -> list[JobRun]:
    "The Portfolio Analysis Flow for one date: ETL to silver, P&L to gold, sync to PostgreSQL, dashboard."
    runs = []
    for name in jobs:
        run = run_job(settings, name, date)
        log(f"    {name:<18} {run.seconds:>6.1f} s  {run.output}")
        runs.append(run)
    return runs
