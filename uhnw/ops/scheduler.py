"""Running the schedule (`uhnw.schedule`) on this machine: a night's jobs in dependency order with retries, backfills,
the run history in PostgreSQL (`job_runs`), the APScheduler daemon, and the export to AWS (Step Functions + EventBridge
Scheduler). Wiring: the decisions (what runs when, in which order, what AWS gets) are in `nbs/28_schedule.ipynb`."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from uhnw.config import Settings
from uhnw.schedule import PlannedRun, Schedule, ScheduledJob, backfill_dates, night

__all__ = ["RunRecord", "execute", "run_planned", "run_night", "backfill", "history", "done_dates", "serve", "apply_aws"]


@dataclass(frozen=True)
class RunRecord:
    "How one job of one day ended (its last attempt)."
    job: str
    run_date: str
    status: str  # succeeded | failed | skipped
    attempts: int
    output: str = ""
    error: str = ""
    seconds: float = 0.0


def execute(settings: Settings, job: ScheduledJob, run_date: str) -> str:
    "Run one attempt of `job` for `run_date`: its notebook with papermill, or its `uhnw` command; the output's path or text."
    if job.notebook:
        from uhnw.ops.jobs import run_job
        return str(run_job(settings, job.notebook, run_date, job.parameters).output)
    args = [a.replace("{date}", run_date) for a in job.command]
    r = subprocess.run([sys.executable, "-m", "uhnw", *args], capture_output=True, text=True, timeout=6 * 3600)
    if r.returncode != 0: raise RuntimeError(f"uhnw {' '.join(args)} exited {r.returncode}: {(r.stderr or r.stdout).strip()[-500:]}")
    return r.stdout.strip()[-2000:]


def _record(conn, job: str, run_date: str, attempt: int, trigger: str, params: dict, status: str, error: str = "") -> int:
    return conn.execute("INSERT INTO job_runs (job, run_date, attempt, trigger, parameters, status, error, finished_at) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, CASE WHEN %s <> 'running' THEN clock_timestamp() END) RETURNING run_id",
                        (job, run_date, attempt, trigger, json.dumps(params), status, error or None, status)).fetchone()[0]


def _finish(conn, run_id: int, status: str, output: str = "", error: str = "") -> None:
    conn.execute("UPDATE job_runs SET status = %s, output = %s, error = %s, finished_at = clock_timestamp() WHERE run_id = %s",
                 (status, output or None, error or None, run_id))


def run_planned(settings: Settings, schedule: Schedule, planned: list[PlannedRun], trigger: str = "schedule",
                runner: Callable[[Settings, ScheduledJob, str], str] = execute, log=print, sleep=time.sleep) -> list[RunRecord]:
    """Run planned jobs in order, each with its retries; a job whose predecessor did not succeed (that day) is skipped and
    says why. Every attempt is a row of `job_runs`."""
    from uhnw.ops.db import connect
    from uhnw.ops.jobs import kernel_pool
    out: dict[tuple[str, str], RunRecord] = {}
    # each notebook job still gets a kernel of its own; the pool starts the next one while the current job runs
    with connect(settings, autocommit=True) as conn, kernel_pool(settings):
        for p in planned:
            job = schedule.jobs[p.job]
            blocked = [a for a in job.after if (a, p.run_date) in out and out[(a, p.run_date)].status != "succeeded"]
            skip = p.skip or (f"{', '.join(blocked)} did not succeed for {p.run_date}" if blocked else "")
            if skip:
                _record(conn, p.job, p.run_date, 1, trigger, job.parameters, "skipped", skip)
                out[(p.job, p.run_date)] = RunRecord(p.job, p.run_date, "skipped", 0, error=skip)
                log(f"  {p.run_date}  {p.job:<18} skipped: {skip}")
                continue
            t0 = time.perf_counter()
            for attempt in range(1, job.retries + 2):
                run_id = _record(conn, p.job, p.run_date, attempt, trigger, job.parameters, "running")
                try: output = runner(settings, job, p.run_date)
                except Exception as e:  # noqa: BLE001 - any failure of a job is recorded and retried, never the scheduler's end
                    error = str(e).splitlines()[0] if str(e) else type(e).__name__
                    _finish(conn, run_id, "failed", error=error)
                    rec = RunRecord(p.job, p.run_date, "failed", attempt, error=error, seconds=round(time.perf_counter() - t0, 1))
                    log(f"  {p.run_date}  {p.job:<18} attempt {attempt}/{job.retries + 1} failed: {error}")
                    if attempt <= job.retries: sleep(job.retry_delay_seconds)
                    continue
                _finish(conn, run_id, "succeeded", output)
                rec = RunRecord(p.job, p.run_date, "succeeded", attempt, output, seconds=round(time.perf_counter() - t0, 1))
                log(f"  {p.run_date}  {p.job:<18} succeeded in {rec.seconds:.1f} s (attempt {attempt})  {output[:120]}")
                break
            out[(p.job, p.run_date)] = rec
    return list(out.values())


def run_night(settings: Settings, schedule: Schedule, day: str | date, jobs: list[str] | None = None, **kw) -> list[RunRecord]:
    "Everything the schedule runs for business day `day` (or `jobs` and what runs after them), in order."
    return run_planned(settings, schedule, night(schedule, day, jobs), **kw)


def done_dates(settings: Settings, job: str) -> set[str]:
    "The days `job` has a succeeded run for."
    from uhnw.ops.db import connect
    with connect(settings) as conn:
        rows = conn.execute("SELECT DISTINCT run_date FROM job_runs WHERE job = %s AND status = 'succeeded'", (job,)).fetchall()
    return {r[0].isoformat() for r in rows}


def backfill(settings: Settings, schedule: Schedule, job: str, start: str, end: str, **kw) -> list[RunRecord]:
    "Run `job` for each day from `start` to `end` it should have run for and has not, oldest first."
    if job not in schedule.jobs: raise KeyError(f"no job {job!r} in the schedule; it has {', '.join(sorted(schedule.jobs))}")
    days = backfill_dates(schedule, job, start, end, done_dates(settings, job))
    return run_planned(settings, schedule, [PlannedRun(job, d) for d in days], trigger="backfill", **kw)


def history(settings: Settings, limit: int = 50) -> list[dict]:
    "The latest attempt of each job and day, newest first."
    from uhnw.ops.db import connect
    with connect(settings) as conn:
        cur = conn.execute("SELECT DISTINCT ON (job, run_date) job, run_date, attempt, trigger, status, started_at, finished_at, "
                           "output, error FROM job_runs ORDER BY job, run_date, run_id DESC")
        cols = [d.name for d in cur.description]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    rows.sort(key=lambda r: (r["started_at"], r["run_date"]), reverse=True)
    return rows[:limit]


def serve(settings: Settings, schedule: Schedule, log=print) -> None:
    "The local scheduler: each cron job fires on its trigger (APScheduler) and runs its night for the fire's business day."
    from apscheduler.schedulers.blocking import BlockingScheduler
    sched = BlockingScheduler(timezone=schedule.calendar.time_zone)
    for name, job in schedule.jobs.items():
        if not job.cron: continue
        def fire(name=name, job=job):
            day = datetime.now(UTC).astimezone(job.trigger().timezone).date()
            run_night(settings, schedule, day, [name], log=log)
        sched.add_job(fire, job.trigger(), id=name, name=name, max_instances=1, coalesce=True, misfire_grace_time=3600)
    log(f"uhnw schedule: {len(sched.get_jobs())} cron jobs; Ctrl-C to stop")
    sched.start()


def apply_aws(resources: dict, stepfunctions, scheduler) -> dict:
    "Create (or update) the state machines, then the schedules that start them; returns their ARNs by name."
    arns = {}
    existing = {m["name"]: m["stateMachineArn"] for m in stepfunctions.list_state_machines()["stateMachines"]}
    for m in resources["state_machines"]:
        body = json.dumps(m["definition"])
        if m["name"] in existing:
            stepfunctions.update_state_machine(stateMachineArn=existing[m["name"]], definition=body, roleArn=m["roleArn"])
            arns[m["name"]] = existing[m["name"]]
        else:
            made = stepfunctions.create_state_machine(name=m["name"], definition=body, roleArn=m["roleArn"])
            arns[m["name"]] = made["stateMachineArn"]
    have = {s["Name"] for s in scheduler.list_schedules()["Schedules"]}
    for s in resources["schedules"]:
        req = {**s, "Target": {**s["Target"], "Arn": arns[s["Name"]]}}
        (scheduler.update_schedule if s["Name"] in have else scheduler.create_schedule)(**req)
    return arns


