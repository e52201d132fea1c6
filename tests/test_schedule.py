"""Scheduled runs: a night in dependency order with retries and the run history in PostgreSQL, a failure that stops what
runs after it, holidays and weekends skipped with their reason, an idempotent backfill, a missing EOD file as a reported
failure of the real job, `uhnw schedule run|status` and `uhnw job backfill` as a user runs them, and the export to AWS
(Step Functions and EventBridge Scheduler on moto).

Each test writes a schedule of its own whose job names carry the test's tag: the run history is the session's PostgreSQL.
"""
from __future__ import annotations

import json
import uuid

import pytest

from uhnw.ops.scheduler import backfill, history, run_night
from uhnw.schedule import load_schedule

FRI, SAT, XMAS = "2026-12-04", "2026-12-05", "2026-12-25"


def schedule_file(tmp_path, tag: str, retries: int = 1, command=None) -> object:
    "A cold-path-shaped chain a -> b -> c (business days, mon-fri) plus a daily job d, named for this test."
    cmd = json.dumps(command or ["config", "show"])
    text = f"""
[calendar]
time_zone = "Europe/London"
holidays = ["{XMAS}"]
[job.{tag}_a]
command = {cmd}
cron = "30 22 * * mon-fri"
business_days = true
retries = {retries}
retry_delay_seconds = 0
[job.{tag}_b]
command = {cmd}
after = ["{tag}_a"]
business_days = true
[job.{tag}_c]
command = {cmd}
after = ["{tag}_b"]
business_days = true
[job.{tag}_d]
command = {cmd}
cron = "0 23 * * *"
"""
    path = tmp_path / "schedule.toml"
    path.write_text(text)
    return path


def fake_runner(fail: dict[str, int]):
    "A runner that fails job `name` its first `fail[name]` attempts (a large number: always), and records every call."
    calls = []
    def run(settings, job, run_date):
        calls.append((job.name, run_date))
        if sum(c == (job.name, run_date) for c in calls) <= fail.get(job.name.split("_", 1)[1], 0):
            raise RuntimeError(f"{job.name} could not reach its input")
        return f"ran {job.name} {run_date}"
    run.calls = calls
    return run


@pytest.fixture
def tag():
    return f"t{uuid.uuid4().hex[:8]}"


def test_a_night_runs_in_order_retries_a_failure_and_records_every_attempt(stack, tmp_path, tag):
    s = load_schedule(schedule_file(tmp_path, tag))
    runner = fake_runner({"a": 1})  # the ETL fails once (its input was late), then succeeds
    records = run_night(stack, s, FRI, runner=runner, log=lambda *_: None, sleep=lambda _: None)
    assert sorted((r.job, r.status, r.attempts) for r in records) == [
        (f"{tag}_a", "succeeded", 2), (f"{tag}_b", "succeeded", 1), (f"{tag}_c", "succeeded", 1), (f"{tag}_d", "succeeded", 1)]
    chain = [c[0] for c in runner.calls if c[0] != f"{tag}_d"]
    assert chain == [f"{tag}_a", f"{tag}_a", f"{tag}_b", f"{tag}_c"]  # dependency order, the retry before what follows
    mine = {(r["job"], r["status"], r["attempt"]) for r in history(stack, 500) if r["job"].startswith(tag)}
    assert (f"{tag}_a", "succeeded", 2) in mine and len(mine) == 4


def test_a_job_that_keeps_failing_is_reported_and_what_runs_after_it_is_skipped(stack, tmp_path, tag):
    s = load_schedule(schedule_file(tmp_path, tag, retries=2))
    records = run_night(stack, s, FRI, runner=fake_runner({"b": 99}), log=lambda *_: None, sleep=lambda _: None)
    by_job = {r.job: r for r in records}
    assert (by_job[f"{tag}_b"].status, by_job[f"{tag}_b"].attempts) == ("failed", 1)  # b has no retries
    assert by_job[f"{tag}_b"].error == f"{tag}_b could not reach its input"
    assert (by_job[f"{tag}_c"].status, by_job[f"{tag}_c"].error) == ("skipped", f"{tag}_b did not succeed for {FRI}")
    assert by_job[f"{tag}_d"].status == "succeeded"  # not after b: unaffected


def test_weekends_and_holidays_produce_no_business_day_run_and_say_so(stack, tmp_path, tag):
    s = load_schedule(schedule_file(tmp_path, tag))
    runner = fake_runner({})
    sat = run_night(stack, s, SAT, runner=runner, log=lambda *_: None)
    assert [(r.job, r.status) for r in sat] == [(f"{tag}_d", "succeeded")]  # the chain's cron is mon-fri; d runs daily
    xmas = run_night(stack, s, XMAS, runner=runner, log=lambda *_: None)
    assert {(r.job, r.status, r.error) for r in xmas if r.job != f"{tag}_d"} == {
        (f"{tag}_{j}", "skipped", "not a business day (holiday)") for j in "abc"}
    assert (f"{tag}_a", XMAS) not in runner.calls


def test_backfill_runs_the_missed_business_days_in_order_once(stack, tmp_path, tag):
    s = load_schedule(schedule_file(tmp_path, tag))
    runner = fake_runner({})
    run_night(stack, s, "2026-12-22", runner=runner, log=lambda *_: None)  # one night ran; the others were missed
    first = backfill(stack, s, f"{tag}_b", "2026-12-21", "2026-12-31", runner=runner, log=lambda *_: None)
    assert [r.run_date for r in first] == ["2026-12-21", "2026-12-23", "2026-12-24", "2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31"]
    assert backfill(stack, s, f"{tag}_b", "2026-12-21", "2026-12-31", runner=runner, log=lambda *_: None) == []  # nothing twice


def test_the_cli_runs_a_night_shows_the_history_and_backfills(stack, cli, tmp_path, tag):
    path = schedule_file(tmp_path, tag)
    run = cli("schedule", "run", "--night", FRI, "--schedule", str(path), "--jobs", f"{tag}_a")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "3 job(s): 3 succeeded, 0 skipped, 0 failed"
    status = cli("schedule", "status", "--schedule", str(path), "--json", "--limit", "500")
    runs = [r for r in json.loads(status.stdout)["runs"] if r["job"].startswith(tag)]
    assert sorted((r["job"], r["status"]) for r in runs) == [(f"{tag}_{j}", "succeeded") for j in "abc"]
    # the command's output (uhnw config show) is kept: its last 2,000 characters, where the table's last setting is
    assert all("jar_cache" in r["output"] for r in runs)
    assert json.loads(status.stdout)["next"][f"{tag}_a"]
    back = cli("job", "backfill", f"{tag}_a", "--from", "2026-12-03", "--to", FRI, "--schedule", str(path))
    assert back.returncode == 0, back.stderr
    assert back.stdout.strip().splitlines()[-1] == f"backfill {tag}_a: 1 day(s) run, 0 failed"  # the 4th was done above
    bad = cli("schedule", "run", "--night", FRI, "--schedule", str(path.with_name("nope.toml")))
    assert bad.returncode == 1 and "nope.toml" in bad.stderr


def test_a_missing_eod_file_on_a_business_day_is_a_reported_failure_of_the_real_job(stack, tmp_path, tag, monkeypatch):
    "positions_etl (the real notebook, papermill) for a business day with nothing landed: failed, with the job's reason."
    from uhnw.config import load_settings
    path = tmp_path / "s.toml"
    path.write_text(f'[job.{tag}_etl]\nnotebook = "positions_etl"\ncron = "30 22 * * mon-fri"\nbusiness_days = true\n')
    monkeypatch.setenv("UHNW_HOME", str(tmp_path))
    (tmp_path / "stack").symlink_to(stack.stack_dir)
    (rec,) = run_night(load_settings(home=tmp_path), load_schedule(path), "2031-03-03", log=lambda *_: None)
    assert rec.status == "failed" and "positions" in rec.error and "2031-03-03" in rec.error, rec.error


@pytest.mark.aws
def test_the_schedule_exports_to_step_functions_and_eventbridge_scheduler_on_moto(moto_endpoint, monkeypatch):
    import boto3

    from uhnw.config import load_settings
    from uhnw.ops.scheduler import apply_aws
    from uhnw.schedule import aws_resources
    s = load_schedule()
    resources = aws_resources(s, load_settings(profile="aws"), "arn:aws:iam::123456789012:role/uhnw-scheduler")
    sfn = boto3.client("stepfunctions", region_name="eu-west-1", endpoint_url=moto_endpoint)
    sched = boto3.client("scheduler", region_name="eu-west-1", endpoint_url=moto_endpoint)
    arns = apply_aws(resources, sfn, sched)
    assert set(arns) == {f"uhnw-{n}" for n, j in s.jobs.items() if j.cron}
    cold = sched.get_schedule(Name="uhnw-positions_etl")
    assert (cold["ScheduleExpression"], cold["ScheduleExpressionTimezone"]) == ("cron(30 22 ? * MON-FRI *)", "Europe/London")
    assert cold["Target"]["Arn"] == arns["uhnw-positions_etl"]
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=arns["uhnw-positions_etl"])["definition"])
    chain, state = [], definition["States"][definition["StartAt"]]
    while True:  # follow the chain from the start: the business day, the holiday check, then the four jobs in order
        nxt = state.get("Next") or state.get("Default")
        if nxt is None: break
        chain.append(nxt); state = definition["States"][nxt]
    assert chain == ["Calendar", "positions_etl", "daily_pnl", "rds_sync", "portfolio_health"]
    assert apply_aws(resources, sfn, sched) == arns  # applying again updates in place
