"""`uhnw job run NAME --on emr-serverless|glue`: a job notebook as a job run of the managed service, submitted with boto3
and waited for, printing its state and where the executed notebook lands in S3.

Both services run the same entry, `uhnw.ops.job_entry` (uploaded once as `s3://<gold>/jobs/run_notebook.py`, the script
the schedule's Step Functions tasks name too), which executes the notebook in the driver's process so that a Spark job
uses the service's Spark. The parameters cell is the contract: the entry passes on only what the notebook declares.

- EMR Serverless (`daily_pnl`, the stream): `start_job_run` on the application `emr_serverless_application_id` with
  the role `emr_serverless_role_arn`; the entry's arguments are `NAME RUN_DATE --param K V ... --output URI`.
- Glue: one Glue job per notebook (`uhnw-<name>`), created or updated to the current definition (Glue 5.0, Python 3.11:
  Glue's Python shell runs 3.9 only, older than uhnw's 3.11), then `start_job_run` with `--run_date`, `--<param>` and
  `--uhnw_output`; the package itself comes from `glue_python_modules` (`--additional-python-modules`).

SageMaker training (`train_relevance`) keeps its own launcher, `uhnw.ops.sagemaker_train`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from uhnw.config import Settings
from uhnw.ops.sagemaker_train import parameter_text

EMR_DONE = {"SUCCESS": True, "FAILED": False, "CANCELLED": False}
GLUE_DONE = {"SUCCEEDED": True, "FAILED": False, "STOPPED": False, "TIMEOUT": False, "ERROR": False, "EXPIRED": False}
ENTRY_KEY = "jobs/run_notebook.py"
ENTRY_SCRIPT = '"""The managed services\' entry for uhnw job notebooks (see uhnw.ops.job_entry)."""\n' \
               "from uhnw.ops.job_entry import main\n\nmain()\n"


@dataclass
class AwsJobRun:
    "One submitted job run: where, its id, its last state, and where its executed notebook lands."
    service: str
    job: str
    run_date: str
    run_id: str
    state: str
    output: str
    succeeded: bool | None = None  # None while it runs


def _stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def run_output_uri(settings: Settings, name: str, run_date: str, now: datetime | None = None) -> str:
    "Where a managed run's executed notebook is written: beside gold, one object per run."
    return f"s3://{settings.gold_bucket}/_runs/{name}/date={run_date}/{name}-{_stamp(now)}.ipynb"


def entry_uri(settings: Settings) -> str:
    return f"s3://{settings.gold_bucket}/{ENTRY_KEY}"


def emr_serverless_request(settings: Settings, name: str, run_date: str, params: dict, output: str) -> dict:
    "The `start_job_run` request of EMR Serverless for one notebook run."
    if not settings.emr_serverless_application_id: raise ValueError("emr_serverless_application_id is not set")
    if not settings.emr_serverless_role_arn: raise ValueError("emr_serverless_role_arn is not set")
    args = [name, run_date, *[a for k, v in params.items() for a in ("--param", k, parameter_text(v))], "--output", output]
    return {"applicationId": settings.emr_serverless_application_id, "executionRoleArn": settings.emr_serverless_role_arn,
            "name": f"uhnw-{name}-{run_date}", "clientToken": output.rsplit("/", 1)[-1],  # a retried submit is one run
            "jobDriver": {"sparkSubmit": {"entryPoint": entry_uri(settings), "entryPointArguments": args}},
            "configurationOverrides": {"monitoringConfiguration": {"s3MonitoringConfiguration": {
                "logUri": f"s3://{settings.gold_bucket}/_runs/{name}/date={run_date}/logs/"}}},
            "tags": {"project": "uhnw", "job": name, "run_date": run_date}}


def glue_job_definition(settings: Settings, name: str) -> dict:
    "The Glue job of one notebook (create_job's request; update_job takes the same without `Name`)."
    if not settings.glue_role_arn: raise ValueError("glue_role_arn is not set")
    if not settings.glue_python_modules: raise ValueError("glue_python_modules is not set (the uhnw wheel's S3 URI, with its extras)")
    return {"Name": f"uhnw-{name}", "Role": settings.glue_role_arn, "GlueVersion": "5.0",
            "Command": {"Name": "glueetl", "ScriptLocation": entry_uri(settings), "PythonVersion": "3"},
            "WorkerType": "G.1X", "NumberOfWorkers": 2, "Timeout": 60, "MaxRetries": 0,
            "DefaultArguments": {"--uhnw_job": name, "--additional-python-modules": settings.glue_python_modules,
                                 "--UHNW_PROFILE": "aws"},
            "Tags": {"project": "uhnw", "job": name}}


def glue_run_arguments(name: str, run_date: str, params: dict, output: str) -> dict:
    return {"--run_date": run_date, **{f"--{k}": parameter_text(v) for k, v in params.items()}, "--uhnw_output": output}


def ensure_glue_job(glue, job: dict) -> str:
    "Create the Glue job, or update it when its definition differs from `job`; returns created / updated / unchanged."
    update = {k: v for k, v in job.items() if k not in ("Name", "Tags")}
    try:
        current = glue.get_job(JobName=job["Name"])["Job"]
    except glue.exceptions.EntityNotFoundException:
        glue.create_job(**job)
        return "created"
    if all(current.get(k) == v for k, v in update.items()): return "unchanged"
    glue.update_job(JobName=job["Name"], JobUpdate=update)
    return "updated"


def _client(settings: Settings, service: str):
    import boto3
    return boto3.client(service, region_name=settings.region)


def upload_entry(settings: Settings, s3=None) -> str:
    "Put the entry script at `s3://<gold>/jobs/run_notebook.py` (same bytes every time); returns its URI."
    s3 = s3 or _client(settings, "s3")
    s3.put_object(Bucket=settings.gold_bucket, Key=ENTRY_KEY, Body=ENTRY_SCRIPT.encode(), ContentType="text/x-python")
    return entry_uri(settings)


def submit(settings: Settings, service: str, name: str, run_date: str, params: dict, *, wait: bool = True,
           poll_seconds: float = 10, timeout_seconds: float = 4 * 3600, log=print, clients: dict | None = None,
           now: datetime | None = None) -> AwsJobRun:
    "Submit one job run to `service` and (with `wait`) follow it to the end, logging each state change."
    clients = clients or {}
    output = run_output_uri(settings, name, run_date, now)
    upload_entry(settings, clients.get("s3"))
    if service == "emr-serverless":
        emr = clients.get("emr-serverless") or _client(settings, "emr-serverless")
        req = emr_serverless_request(settings, name, run_date, params, output)
        run_id = emr.start_job_run(**req)["jobRunId"]
        state = lambda: emr.get_job_run(applicationId=req["applicationId"], jobRunId=run_id)["jobRun"]["state"]
        done = EMR_DONE
    elif service == "glue":
        glue = clients.get("glue") or _client(settings, "glue")
        job = glue_job_definition(settings, name)
        ensure_glue_job(glue, job)
        run_id = glue.start_job_run(JobName=job["Name"], Arguments=glue_run_arguments(name, run_date, params, output))["JobRunId"]
        state = lambda: glue.get_job_run(JobName=job["Name"], RunId=run_id)["JobRun"]["JobRunState"]
        done = GLUE_DONE
    else:
        raise ValueError(f"service is emr-serverless or glue, not {service!r} (train_relevance: --on sagemaker)")
    run = AwsJobRun(service, name, run_date, run_id, "SUBMITTED", output)
    log(f"{name} for {run_date}: {service} run {run_id} submitted; executed notebook -> {output}")
    deadline = time.monotonic() + timeout_seconds
    while wait:
        current = state()
        if current != run.state: log(f"    {service} run {run_id}: {current}")
        run.state = current
        if current in done:
            run.succeeded = done[current]
            break
        if time.monotonic() > deadline: raise TimeoutError(f"{service} run {run_id} still {current} after {timeout_seconds:g} s")
        time.sleep(poll_seconds)
    return run

