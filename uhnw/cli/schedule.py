"""`uhnw schedule run|status|export` and `uhnw job backfill`: wiring over `uhnw.schedule` (exported from
`nbs/28_schedule.ipynb`) and `uhnw.ops.scheduler` (mounted by `uhnw.cli`)."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from uhnw.cli.common import checked_date, current_settings, fail

schedule_app = typer.Typer(help="Scheduled runs (jobs/schedule.toml): run them, see what ran, export them to AWS.", no_args_is_help=True)


def _schedule(path: Path | None):
    from uhnw.schedule import ScheduleError, load_schedule
    try: return load_schedule(path)
    except (ScheduleError, ValueError, OSError) as e: fail(str(e))


@schedule_app.command("run")
def schedule_run(night: str = typer.Option(None, "--night", help="run what the schedule runs for this business day (YYYY-MM-DD), "
                                                                   "in order, and exit; without it: serve the schedule until Ctrl-C"),
                 jobs: str = typer.Option("", "--jobs", help="--night: only these cron jobs (comma-separated) and what runs after them"),
                 schedule: Path = typer.Option(None, "--schedule", help="the schedule file (default: jobs/schedule.toml)")):
    "Run the schedule: the jobs of one night (--night), or every cron job on its trigger (APScheduler)."
    from uhnw.ops.scheduler import run_night, serve
    settings, s = current_settings(), _schedule(schedule)
    if night is None:
        serve(settings, s, log=typer.echo)
        return
    records = run_night(settings, s, checked_date(night, "--night"), [j for j in jobs.split(",") if j] or None, log=typer.echo)
    failed = [r for r in records if r.status == "failed"]
    typer.echo(f"{len(records)} job(s): {sum(r.status == 'succeeded' for r in records)} succeeded, "
               f"{sum(r.status == 'skipped' for r in records)} skipped, {len(failed)} failed")
    if failed: raise typer.Exit(1)


@schedule_app.command("status")
def schedule_status(limit: int = typer.Option(20, help="the latest this many job days"),
                    schedule: Path = typer.Option(None, "--schedule"), as_json: bool = typer.Option(False, "--json")):
    "The run history (latest attempt per job and day: status, attempts, times, output) and when each cron job fires next."
    from uhnw.ops.scheduler import history
    from uhnw.schedule import next_fires
    settings, s = current_settings(), _schedule(schedule)
    rows, nxt = history(settings, limit), next_fires(s)
    if as_json:
        typer.echo(json.dumps({"runs": rows, "next": nxt}, default=str))
        return
    typer.echo(f"{'job':<18} {'date':<10}  {'status':<9} {'try':>3}  {'started':<19}  {'took':>7}  output / reason")
    for r in rows:
        took = f"{(r['finished_at'] - r['started_at']).total_seconds():.1f} s" if r["finished_at"] else "-"
        typer.echo(f"{r['job']:<18} {r['run_date'].isoformat():<10}  {r['status']:<9} {r['attempt']:>3}  "
                   f"{r['started_at'].strftime('%Y-%m-%d %H:%M:%S'):<19}  {took:>7}  {(r['output'] or r['error'] or '')[:90]}")
    typer.echo("next: " + ", ".join(f"{k} {v[:16]}" for k, v in nxt.items()))


@schedule_app.command("export")
def schedule_export(role_arn: str = typer.Option(..., "--role-arn", help="the role EventBridge and Step Functions run as"),
                    apply: bool = typer.Option(False, "--apply", help="create or update the resources (boto3, the aws profile's region)"),
                    schedule: Path = typer.Option(None, "--schedule")):
    "The schedule as AWS resources: a Step Functions chain per cron job and the EventBridge Scheduler schedule that starts it."
    from uhnw.schedule import aws_resources
    settings, s = current_settings(), _schedule(schedule)
    resources = aws_resources(s, settings, role_arn)
    if not apply:
        typer.echo(json.dumps(resources, indent=1))
        return
    import boto3

    from uhnw.ops.scheduler import apply_aws
    region = settings.region
    arns = apply_aws(resources, boto3.client("stepfunctions", region_name=region), boto3.client("scheduler", region_name=region))
    typer.echo(json.dumps(arns))


def job_backfill(job: str = typer.Argument(..., help="a job of the schedule"),
                 start: str = typer.Option(..., "--from", help="first day YYYY-MM-DD"),
                 end: str = typer.Option(..., "--to", help="last day"),
                 schedule: Path = typer.Option(None, "--schedule")):
    "Run JOB for every day from --from to --to it should have run for (its cron, business days) and has not succeeded for, in order."
    from uhnw.ops.scheduler import backfill
    from uhnw.schedule import ScheduleError
    settings, s = current_settings(), _schedule(schedule)
    try: records = backfill(settings, s, job, checked_date(start, "--from"), checked_date(end, "--to"), log=typer.echo)
    except (KeyError, ScheduleError) as e: fail(str(e).strip("'\""))
    failed = [r for r in records if r.status == "failed"]
    typer.echo(f"backfill {job}: {len(records)} day(s) run, {len(failed)} failed" + ("" if records else " (nothing missing)"))
    if failed: raise typer.Exit(1)
