"""`uhnw job …` and `uhnw cold-path`: wiring over `uhnw.ops.jobs`."""
from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from uhnw.cli.common import current_settings, fail

job_app = typer.Typer(help="Papermill job notebooks (jobs/, dashboards/): the Glue/EMR/SageMaker jobs of the platform.",
                      no_args_is_help=True)


def parse_params(args: list[str]) -> dict:
    "`-p key value` pairs (papermill's own syntax) from the extra command-line arguments, values as text (typed by the job)."
    params, rest = {}, list(args)
    while rest:
        flag = rest.pop(0)
        if flag not in ("-p", "--parameters") or len(rest) < 2:
            raise typer.BadParameter(f"expected `-p key value`, got {' '.join([flag, *rest[:2]])!r}")
        key, value = rest.pop(0), rest.pop(0)
        params[key] = value
    return params


def reports_of(executed: Path) -> list[str]:
    "The paths a job printed as `report: <path>` lines (a dashboard's standalone HTML), read from its executed notebook."
    try:
        cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return []
    texts = ("".join(o.get("text", "")) for c in cells for o in c.get("outputs", []) if o.get("output_type") == "stream")
    return [line[len("report: "):].strip() for text in texts for line in text.splitlines() if line.startswith("report: ")]


@job_app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def job_run(ctx: typer.Context,
            name: str = typer.Argument(..., help="notebook name in jobs/ or dashboards/ (without .ipynb)"),
            date: str = typer.Option(..., "--date", help="partition date YYYY-MM-DD (the run_date parameter)"),
            on: str = typer.Option("local", "--on", help="where to run: local (papermill here), emr-serverless, glue, or "
                                                           "sagemaker (train_relevance)"),
            wait: bool = typer.Option(True, "--wait/--no-wait", help="follow a managed run to its end (exit 1 if it fails)")):
    """Run job NAME for --date with papermill (more parameters as `-p key value`, repeatable);
    the executed notebook is kept under UHNW_HOME/runs/ and a report the job wrote is printed as `report: <path>`.
    `--on emr-serverless|glue` submits the notebook to the managed service (aws profile), which executes it in its driver
    with its own Spark, and prints the run's states and the S3 URI of the executed notebook.
    `--on sagemaker` submits train_relevance as a SageMaker training job whose container runs this same command locally."""
    from uhnw.ops.jobs import JobError, check_parameters, run_job
    try:
        params = check_parameters(name, parse_params(ctx.args))
    except typer.BadParameter as e:
        fail(f"{e}", 2)
    except JobError as e:
        fail(f"{e}")
    if on == "sagemaker":
        _submit_sagemaker(name, date, params)
        return
    if on in ("emr-serverless", "glue"):
        _submit_managed(on, name, date, params, wait)
        return
    if on != "local":
        fail(f"--on must be local, emr-serverless, glue or sagemaker, not {on!r}", 2)
    try:
        run = run_job(current_settings(), name, date, params)
    except (JobError, ValueError) as e:
        fail(f"{e}")
    typer.echo(f"{name} for {date} done in {run.seconds} s; executed notebook: {run.output}")
    for report in reports_of(run.output): typer.echo(f"report: {report}")


@job_app.command("params")
def job_params(name: str = typer.Argument(..., help="job name")):
    "Show the parameters a job declares (name, type, default, help)."
    from uhnw.ops.jobs import job_notebook, notebook_parameters
    for p in notebook_parameters(job_notebook(name)).values():
        typer.echo(json.dumps({k: p[k] for k in ("name", "inferred_type_name", "default", "help")}))


def cold_path(date: str = typer.Option(..., "--date", help="EOD date YYYY-MM-DD")):
    "Run the Portfolio Analysis Flow for one date: positions_etl → daily_pnl → rds_sync → portfolio_health."
    from uhnw.ops.jobs import JobError, run_cold_path
    try:
        runs = run_cold_path(current_settings(), date)
    except (JobError, ValueError) as e:
        fail(f"{e}")
    for report in (r for run in runs for r in reports_of(run.output)): typer.echo(f"report: {report}")


def _submit_sagemaker(name: str, date: str, params: dict) -> None:
    "Submit `train_relevance` to SageMaker (image and role from the settings); print the job's name and ARN."
    from uhnw.ops.sagemaker_train import submit_training
    if name != "train_relevance":
        fail(f"only train_relevance runs on SageMaker, not {name}", 2)
    settings = current_settings()
    version = params.pop("model_version", f"relevance-{date}")
    try:
        job = submit_training(settings, str(version), params, run_date=date, image_uri=settings.sagemaker_training_image,
                              role_arn=settings.sagemaker_role_arn, endpoint_url=os.environ.get("AWS_ENDPOINT_URL_SAGEMAKER"))
    except ValueError as e:
        fail(f"{e} (set UHNW_SAGEMAKER_TRAINING_IMAGE / UHNW_SAGEMAKER_ROLE_ARN)")
    typer.echo(f"submitted {job['TrainingJobName']}: {job['TrainingJobArn']}")


def _submit_managed(service: str, name: str, date: str, params: dict, wait: bool) -> None:
    "Submit job NAME to EMR Serverless or Glue and follow it; exit 1 when the run does not succeed."
    from uhnw.ops.aws_jobs import submit
    settings = current_settings()
    if settings.profile != "aws": fail(f"--on {service} needs the aws profile (UHNW_PROFILE=aws)", 2)
    try:
        run = submit(settings, service, name, date, params, wait=wait, log=typer.echo)
    except (ValueError, TimeoutError) as e:
        fail(f"{e}")
    if run.succeeded is False: fail(f"{service} run {run.run_id} ended {run.state}; executed notebook: {run.output}")
    typer.echo(f"{name} for {date}: {service} run {run.run_id} {run.state}; executed notebook: {run.output}")
