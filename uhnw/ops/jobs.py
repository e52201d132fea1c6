"""Running the job and dashboard notebooks with papermill: `uhnw job run NAME --date D [-p key value ...]`.

A job notebook (jobs/NAME.ipynb, or dashboards/NAME.ipynb) has a cell tagged `parameters`;
papermill injects the run's values after it, executes the notebook in the package's kernel,
and the executed copy is kept under UHNW_HOME/runs/NAME/date=D/ as the run's record (never
written back into jobs/). Locally this is the Glue/EMR job itself; on aws the same notebook
is what the Glue/EMR step executes.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections import deque
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


# What a job kernel does before its notebook runs (a spare kernel does it while the previous job runs): imports, and one
# throw-away figure, because plotly builds its validators on first use (about 0.5 s). It runs inside a function that is
# then deleted, so the job's namespace is as empty as a fresh kernel's: a notebook that forgets an import still fails
# here as it would on Glue or EMR. No settings are read and no session is opened.
PRELOAD = """
def _uhnw_preload():
    import pandas, pyarrow, pyarrow.compute, plotly.express, plotly.graph_objects, plotly.io
    import pyspark.sql, pyspark.sql.functions
    import pyspark.sql.connect.session
    import pyiceberg.catalog.sql, sqlalchemy, psycopg, duckdb
    import uhnw.config, uhnw.lake, uhnw.catalog, uhnw.tables, uhnw.validate, uhnw.pnl, uhnw.sync, uhnw.portfolio_health
    import uhnw.ops.spark
    import pyiceberg.table, pyiceberg.io.pyarrow, sqlalchemy.dialects.postgresql.psycopg, sqlglot.dialects.athena
    plotly.io.to_json(plotly.express.bar(x=[0], y=[0]))
    try:  # the lake's DDL, parsed once per process (0.25 s of sqlglot in each job); the settings of the job's environment
        uhnw.tables.table_defs(uhnw.config.load_settings())
    except Exception:
        pass
_uhnw_preload()
del _uhnw_preload
"""
SPARE_NICENESS = 10  # spares warm at this much lower priority than ours, so the job running now keeps the CPU

log = logging.getLogger(__name__)


class WarmKernels:
    """Spare job kernels (two by default), started ahead (a fresh process per job, as papermill would start it) and warmed
    with `PRELOAD` at lower priority while the previous job runs, so a night of jobs does not wait for kernel start-up
    and imports one job after another. The spare moves to the job's notebook folder (as papermill's `cwd=` would start
    it); one started under another environment, or no longer alive, is shut down and the job starts its own kernel as
    usual. Use it through `kernel_pool()`."""

    def __init__(self, spare_dir: Path, preload: str = PRELOAD, kernel_name: str = "python3",
                 ahead: int = 2):  # spares kept warming: a kernel takes longer to start and import than a small job runs
        self.spare_dir, self.preload, self.kernel_name, self.ahead = spare_dir, preload, kernel_name, ahead
        self._lock = threading.Lock()
        self._spares: deque[tuple] = deque()  # (thread, box): box gets (km, cwd, env, log path) or an error
        self._closed = False
        self.started = self.used = 0

    def _start(self, cwd: Path, env: dict[str, str]) -> tuple:
        from jupyter_client import AsyncKernelManager
        self.spare_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.spare_dir / f"kernel-{uuid.uuid4().hex}.log"
        km = AsyncKernelManager(kernel_name=self.kernel_name)  # the kind nbclient (papermill) drives
        try:
            with open(log_path, "ab") as err:  # the kernel's stderr (JVM and Spark logging): renamed to the run's log when used
                run_sync(km.start_kernel)(cwd=str(cwd), stderr=err, env=env)
            _renice(km, os.getpriority(os.PRIO_PROCESS, 0) + SPARE_NICENESS)
            _run_silently(km, self.preload)
        except Exception:
            _discard((km, cwd, env, log_path))
            raise
        return km, cwd, env, log_path

    def prepare(self, cwd: Path) -> None:
        "Start warming spare kernels for notebooks in `cwd`, in the background, until `ahead` of them are there."
        while self._prepare_one(cwd): pass

    def _prepare_one(self, cwd: Path) -> bool:
        with self._lock:
            if len(self._spares) >= self.ahead or self._closed: return False
            _job_environment()
            env, box = dict(os.environ), []  # the environment as of now, which a job must still have to use this kernel
            def warm():
                try: got = self._start(cwd, env)
                except Exception as e:  # noqa: BLE001 - a failed spare only means the job starts its own kernel
                    log.warning("a spare job kernel did not start; jobs start their own: %s", e)
                    got = e
                with self._lock:
                    box.append(got)
                    if not self._closed: return
                _discard(got)  # the pool closed while this spare was starting: nobody will take it
            thread = threading.Thread(target=warm, name="uhnw-warm-kernel", daemon=True)
            thread.start()
            self._spares.append((thread, box))
            self.started += 1
            return True

    def take(self, cwd: Path) -> tuple | None:
        """The warmed spare as (kernel manager, its stderr log), moved to `cwd`; None if there is none, or if it started
        under another environment or has died (it is then shut down)."""
        with self._lock:
            if not self._spares: return None
            thread, box = self._spares.popleft()
        thread.join()
        if not box or isinstance(box[0], Exception): return None
        km, started_cwd, env, log_path = box[0]
        try:
            if env != dict(os.environ): raise RuntimeError("started under another environment")
            if not run_sync(km.is_alive)(): raise RuntimeError("the spare kernel died")
            if started_cwd != cwd: _run_silently(km, f"__import__('os').chdir({str(cwd)!r})")  # as papermill's cwd=
        except Exception:  # noqa: BLE001 - the job then starts its own kernel
            _discard(box[0])
            return None
        _renice(km, os.getpriority(os.PRIO_PROCESS, 0))  # back to ours where the OS lets us raise it (CAP_SYS_NICE)
        self.used += 1
        return km, log_path

    def close(self) -> None:
        """Shut the spare kernels down. One still starting shuts itself down when it is up; close does not wait for it,
        but the process does at exit (`_join_starting_spares`), so no kernel and no log outlives it."""
        with self._lock:
            self._closed = True
            spares, self._spares = list(self._spares), deque()
            ready = [box[0] for _, box in spares if box]
            _STARTING[:] = [t for t in _STARTING if t.is_alive()] + [thread for thread, box in spares if not box]
        for spare in ready: _discard(spare)


_STARTING: list[threading.Thread] = []  # spares of closed pools still starting (each shuts itself down when up)


@atexit.register
def _join_starting_spares(timeout: float = 60) -> None:
    for thread in _STARTING: thread.join(timeout)


def _run_silently(km, code: str) -> None:
    "Run `code` in the kernel silently (not stored: the job's first cell is still execution count 1; output dropped)."
    from jupyter_client import BlockingKernelClient
    kc = BlockingKernelClient()
    kc.load_connection_info(km.get_connection_info())
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive(code, silent=True, store_history=False, timeout=120, output_hook=lambda msg: None)
        if reply["content"]["status"] != "ok": raise RuntimeError(f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}")
    finally:
        kc.stop_channels()


def _discard(spare) -> None:
    if isinstance(spare, Exception): return
    km, _, _, log_path = spare
    _shutdown(km)
    log_path.unlink(missing_ok=True)


def _renice(km, niceness: int) -> None:
    "Every thread of the kernel (Linux sets priority per thread), to `niceness`; silently not where the OS refuses."
    pid = getattr(km.provisioner, "pid", None)
    if pid is None: return
    threads = [int(t.name) for t in Path(f"/proc/{pid}/task").glob("*")] or [pid]
    for tid in threads:
        try: os.setpriority(os.PRIO_PROCESS, tid, niceness)
        except OSError: pass  # noqa: S110 - raising it back needs CAP_SYS_NICE; the job then runs at the spare's


def _warm_kernel_engine() -> str:
    """papermill's nbclient engine, for a kernel the pool started: the same execution, and afterwards it stops its kernel
    client's channels (nbclient leaves them, and their heartbeat thread, running for a kernel it did not start)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args
    name = "uhnw-warm-kernel"
    try:
        papermill_engines.get_engine(name)
        return name
    except Exception:  # noqa: BLE001, S110 - not registered yet
        pass

    class WarmKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None, stderr_file=None,
                                     start_timeout=60, execution_timeout=None, **kwargs):
            kwargs = remove_args(["input_path"], **kwargs)  # as NBClientEngine.execute_managed_notebook
            final = merge_kwargs(remove_args(["timeout", "startup_timeout"], **kwargs),
                                 timeout=execution_timeout or kwargs.get("timeout"), startup_timeout=start_timeout,
                                 kernel_name=kernel_name, log=logger, log_output=log_output, stdout_file=stdout_file,
                                 stderr_file=stderr_file)
            client = PapermillNotebookClient(nb_man, **final)
            try:
                return client.execute()
            finally:
                if client.kc is not None: client.kc.stop_channels()

    papermill_engines.register(name, WarmKernelEngine)
    return name


def run_sync(coro_fn):
    "jupyter_core's runner of a coroutine function from synchronous code (imported late: job images lack Jupyter)."
    from jupyter_core.utils import run_sync as run
    return run(coro_fn)


def _job_environment() -> None:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # the kernel inherits it: Spark stays on loopback, without a warning


def _shutdown(km) -> None:
    "Shut a kernel down; kill its process if the manager cannot."
    try:
        run_sync(km.shutdown_kernel)(now=True)
    except Exception:  # noqa: BLE001 - the manager failed: make sure the process is gone
        pid = getattr(km.provisioner, "pid", None) if km.provisioner is not None else None
        if pid is not None:
            try: os.kill(pid, signal.SIGKILL)
            except OSError: pass  # noqa: S110 - already gone


_POOL: WarmKernels | None = None
_POOL_USERS = 0
_POOL_LOCK = threading.Lock()


@contextmanager
def kernel_pool(settings: Settings, warm_now: bool = False):  # start the first spares at once (a job follows soon)
    """Within the block, `run_job` runs each notebook in a kernel warmed while the previous job ran (`WarmKernels`),
    and warms the next. Blocks that overlap (nested, or nights in the scheduler's threads) share one pool, which the
    last of them to end closes."""
    global _POOL, _POOL_USERS
    with _POOL_LOCK:
        if _POOL is None: _POOL = WarmKernels(settings.home / "runs" / ".kernels")
        pool, _POOL_USERS = _POOL, _POOL_USERS + 1
    if warm_now: pool.prepare(resource_path() / NOTEBOOK_DIRS[0])
    try:
        yield pool
    finally:
        with _POOL_LOCK:
            _POOL_USERS -= 1
            last = _POOL_USERS == 0
            if last: _POOL = None
        if last: pool.close()


def run_job(settings: Settings, name: str, date: str, parameters: dict | None = None, timeout: int = 3600) -> JobRun:
    """Execute job `name` for `date` with papermill; raise JobError (with the failing cell's error) if it fails.
    Inside `kernel_pool`, the kernel is the pool's warmed spare when it has one."""
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
    _job_environment()
    log = out.with_suffix(".log")
    t0 = time.perf_counter()
    pool = _POOL
    warm = pool.take(path.parent) if pool is not None else None
    engine = {}
    try:
        if warm is not None:
            engine = {"km": warm[0], "engine_name": _warm_kernel_engine()}
            os.replace(warm[1], log)  # the kernel keeps writing to the same file, now under the run's name
        if pool is not None: pool.prepare(path.parent)  # the next jobs' kernels warm while this one runs
        with _stderr_to(log):  # the kernel's own stderr (JVM and Spark logging) goes to the run's log, not the console
            papermill.execute_notebook(str(path), str(out), parameters=params, kernel_name="python3", cwd=str(path.parent),
                                       progress_bar=False, log_output=False, execution_timeout=timeout, **engine)
    except papermill.PapermillExecutionError as e:
        raise JobError(f"job {name} failed for {date} in cell {e.exec_count}: {e.ename}: {e.evalue} "
                       f"(executed notebook: {out}; kernel log: {log})") from None
    finally:
        if "km" in engine: _shutdown(engine["km"])  # papermill leaves a kernel it did not start running
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
