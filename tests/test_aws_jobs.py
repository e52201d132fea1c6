"""Job notebooks as runs of the managed services: the entry a service runs executes the notebook in its own process (so
a Spark job uses the service's Spark, and a local master is refused), and `uhnw job run NAME --on emr-serverless|glue`
submits through boto3 and follows the run to its end, against the moto server (which runs no code: the run's state
goes straight to success there, so what is checked is the request a service receives and the launcher's handling)."""
import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import nbformat
import pytest

from uhnw.config import load_settings
from uhnw.ops.aws_jobs import ENTRY_KEY, ENTRY_SCRIPT, ensure_glue_job, glue_job_definition, submit
from uhnw.ops.job_entry import execute_in_process, main, parse_entry_args
from uhnw.ops.jobs import JobError

UHNW = str(Path(sys.executable).parent / "uhnw")


def test_the_entry_reads_both_calling_forms_and_ignores_glues_own_arguments():
    assert parse_entry_args(["daily_pnl", "2025-01-02", "--param", "verify_with_reference", "false", "--output", "s3://b/k"]) == \
        ("daily_pnl", "2025-01-02", {"verify_with_reference": "false"}, "s3://b/k", False)
    glue = ["--JOB_ID", "j_1", "--uhnw_job", "positions_etl", "--run_date", "2025-01-02", "--require_prices_and_fx", "false",
            "--uhnw_output", "s3://b/o.ipynb", "--TempDir", "s3://t/", "--job-bookmark-option", "job-bookmark-disable"]
    name, day, params, out, _ = parse_entry_args(glue)
    assert (name, day, out, params["require_prices_and_fx"]) == ("positions_etl", "2025-01-02", "s3://b/o.ipynb", "false")
    with pytest.raises(SystemExit):
        parse_entry_args(["--run_date", "2025-01-02"])


def _notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell('run_date = ""\nn = 1', metadata={"tags": ["parameters"]}),
                *map(nbformat.v4.new_code_cell, cells)]
    nbformat.write(nb, path)
    return path


@pytest.mark.spark
def test_a_notebook_runs_in_this_process_with_its_spark_and_keeps_its_outputs(spark, tmp_path):
    nb = _notebook(tmp_path / "in.ipynb",
                   "from pyspark.sql import SparkSession\nprint('app', SparkSession.getActiveSession().sparkContext.applicationId)",
                   "n * 2")
    out = tmp_path / "out.ipynb"
    execute_in_process(nb, str(out), {"run_date": "2025-01-02", "n": 5})
    cells = nbformat.read(out, as_version=4).cells
    assert "injected-parameters" in cells[1].metadata.get("tags", [])  # papermill's own parameterization
    assert cells[2].outputs[0]["text"].strip() == f"app {spark.sparkContext.applicationId}", "the caller's Spark session"
    assert cells[3].outputs[0]["data"]["text/plain"] == "10"

    bad = _notebook(tmp_path / "bad.ipynb", "print('before')", "1 / 0", "print('never')")
    with pytest.raises(JobError, match="failed in cell 4: ZeroDivisionError"):
        execute_in_process(bad, str(tmp_path / "bad-out.ipynb"), {"run_date": "2025-01-02"})
    written = nbformat.read(tmp_path / "bad-out.ipynb", as_version=4).cells
    assert written[3].outputs[-1]["output_type"] == "error" and not written[4].outputs, "written up to the failing cell"


@pytest.mark.spark
def test_a_spark_job_refuses_a_local_master_inside_a_managed_service(spark, tmp_path):
    with pytest.raises(SystemExit, match="spark.master is 'local"):
        main(["daily_pnl", "2025-01-02", "--output", str(tmp_path / "x.ipynb")])
    assert not (tmp_path / "x.ipynb").exists()


@pytest.mark.spark
def test_inside_a_managed_service_get_spark_returns_the_services_session_pointed_at_glue(spark):
    """On `aws` a job's `get_spark` takes the session EMR (or Glue) already started, and points its Iceberg catalog at
    Glue with S3FileIO at run time (the static SQL extensions stay the service's). The session fixture stands in for
    EMR's; its catalog settings are put back afterwards for the other tests."""
    from uhnw.catalog import spark_catalog_conf
    from uhnw.ops.spark import get_spark
    aws = load_settings("aws", env={}, region="eu-west-1", s3_endpoint_url="http://127.0.0.1:1")
    keys = {k for k, _ in spark.sparkContext.getConf().getAll() if k.startswith("spark.sql.catalog.uhnw")}
    saved = {k: spark.conf.get(k, None) for k in keys | set(spark_catalog_conf(aws)) if k != "spark.sql.extensions"}
    try:
        got = get_spark(aws)
        assert got is spark, "the service's session, not a new one"
        assert (spark.conf.get("spark.sql.catalog.uhnw.type"), spark.conf.get("spark.sql.catalog.uhnw.io-impl")) == \
            ("glue", "org.apache.iceberg.aws.s3.S3FileIO")
        assert spark.conf.get("spark.sql.catalog.uhnw.glue.endpoint") == "http://127.0.0.1:1"
    finally:
        for k, v in saved.items():
            if v is None: spark.conf.unset(k)
            else: spark.conf.set(k, v)


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    "The aws profile against the moto server: the gold bucket, an EMR Serverless application, roles."
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    gold = f"uhnw-gold-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", region_name="eu-west-1").create_bucket(Bucket=gold, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    app = boto3.client("emr-serverless", region_name="eu-west-1").create_application(
        name="uhnw-spark", releaseLabel="emr-7.9.0", type="SPARK")["applicationId"]  # moto knows emr-N.N.0 labels only
    env = {"UHNW_PROFILE": "aws", "UHNW_REGION": "eu-west-1", "UHNW_GOLD_BUCKET": gold, "UHNW_EMR_SERVERLESS_APPLICATION_ID": app,
           "UHNW_EMR_SERVERLESS_ROLE_ARN": "arn:aws:iam::123456789012:role/uhnw-emr-job",
           "UHNW_GLUE_ROLE_ARN": "arn:aws:iam::123456789012:role/uhnw-glue-job",
           "UHNW_GLUE_PYTHON_MODULES": f"s3://{gold}/wheels/uhnw-1.0-py3-none-any.whl"}
    return load_settings("aws", env=env), env


def test_an_emr_serverless_run_carries_the_entry_the_notebooks_arguments_and_is_followed_to_success(aws):
    settings, _ = aws
    lines = []
    run = submit(settings, "emr-serverless", "daily_pnl", "2025-01-02", {"verify_with_reference": False}, poll_seconds=0,
                 log=lines.append)
    assert (run.succeeded, run.state) == (True, "SUCCESS")
    assert run.output.startswith(f"s3://{settings.gold_bucket}/_runs/daily_pnl/date=2025-01-02/daily_pnl-")
    emr = boto3.client("emr-serverless", region_name="eu-west-1")
    job = emr.get_job_run(applicationId=settings.emr_serverless_application_id, jobRunId=run.run_id)["jobRun"]
    assert job["executionRole"] == settings.emr_serverless_role_arn
    driver = job["jobDriver"]["sparkSubmit"]
    assert driver["entryPoint"] == f"s3://{settings.gold_bucket}/{ENTRY_KEY}"
    assert driver["entryPointArguments"] == ["daily_pnl", "2025-01-02", "--param", "verify_with_reference", "false",
                                             "--output", run.output]
    body = boto3.client("s3", region_name="eu-west-1").get_object(Bucket=settings.gold_bucket, Key=ENTRY_KEY)["Body"].read()
    assert body.decode() == ENTRY_SCRIPT and "from uhnw.ops.job_entry import main" in body.decode()
    assert any("SUCCESS" in line for line in lines) and run.output in lines[0]


def test_a_glue_run_creates_its_job_once_and_passes_the_parameters_as_arguments(aws):
    settings, _ = aws
    first = submit(settings, "glue", "positions_etl", "2025-01-02", {"require_prices_and_fx": False}, poll_seconds=0, log=lambda _: None)
    again = submit(settings, "glue", "positions_etl", "2025-01-03", {}, poll_seconds=0, log=lambda _: None)
    assert (first.succeeded, again.succeeded, again.state) == (True, True, "SUCCEEDED")
    glue = boto3.client("glue", region_name="eu-west-1")
    job = glue.get_job(JobName="uhnw-positions_etl")["Job"]
    want = glue_job_definition(settings, "positions_etl")
    assert (job["GlueVersion"], job["Command"]["ScriptLocation"], job["Role"]) == \
        ("5.0", want["Command"]["ScriptLocation"], settings.glue_role_arn)
    assert job["DefaultArguments"]["--uhnw_job"] == "positions_etl"
    assert job["DefaultArguments"]["--additional-python-modules"] == settings.glue_python_modules
    args = glue.get_job_run(JobName="uhnw-positions_etl", RunId=first.run_id)["JobRun"]["Arguments"]
    assert args.items() >= {"--run_date": "2025-01-02", "--require_prices_and_fx": "false", "--uhnw_output": first.output}.items()


def test_job_run_on_a_managed_service_prints_states_and_the_notebooks_s3_uri_and_needs_the_aws_profile(aws, moto_endpoint):
    settings, env = aws
    full = {**os.environ, **env, "AWS_ENDPOINT_URL": moto_endpoint}
    r = subprocess.run([UHNW, "job", "run", "daily_pnl", "--date", "2025-01-02", "--on", "emr-serverless"], capture_output=True,
                       text=True, timeout=120, env=full)
    assert r.returncode == 0, r.stderr
    assert "SUCCESS" in r.stdout and f"s3://{settings.gold_bucket}/_runs/daily_pnl/date=2025-01-02/" in r.stdout
    local = subprocess.run([UHNW, "job", "run", "positions_etl", "--date", "2025-01-02", "--on", "emr-serverless"],
                           capture_output=True, text=True, timeout=120, env={**os.environ, "UHNW_PROFILE": "local"})
    assert local.returncode == 2 and "needs the aws profile" in local.stderr
    missing = subprocess.run([UHNW, "job", "run", "positions_etl", "--date", "2025-01-02", "--on", "glue"], capture_output=True,
                             text=True, timeout=120, env={**full, "UHNW_GLUE_ROLE_ARN": ""})
    assert missing.returncode == 1 and "glue_role_arn is not set" in missing.stderr


def test_a_glue_job_whose_definition_changed_is_updated_in_place(aws):
    "moto has no UpdateJob: botocore's Stubber checks the request real Glue would get."
    from botocore.stub import Stubber
    settings, _ = aws
    job = glue_job_definition(settings, "positions_etl")
    glue = boto3.client("glue", region_name="eu-west-1")
    stale = {**{k: v for k, v in job.items() if k != "Tags"}, "GlueVersion": "4.0"}
    update = {k: v for k, v in job.items() if k not in ("Name", "Tags")}
    with Stubber(glue) as stub:
        stub.add_response("get_job", {"Job": stale}, {"JobName": job["Name"]})
        stub.add_response("update_job", {"JobName": job["Name"]}, {"JobName": job["Name"], "JobUpdate": update})
        stub.add_response("get_job", {"Job": {**stale, "GlueVersion": "5.0"}}, {"JobName": job["Name"]})
        assert ensure_glue_job(glue, job) == "updated"
        assert ensure_glue_job(glue, job) == "unchanged"
        stub.assert_no_pending_responses()

