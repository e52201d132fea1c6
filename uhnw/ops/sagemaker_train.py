"""`uhnw job run train_relevance --on sagemaker`: the same job notebook as a SageMaker training job.

The training container is the uhnw image (the package with its `jobs` extra; `image_uri`); its entry
point is the very command a developer runs locally, `uhnw job run train_relevance --date D -p ...`,
with `UHNW_PROFILE=aws`, so the notebook reads the labels from the silver bucket and writes the
versioned model to the lake's `models` layer itself. SageMaker adds the managed compute, the
`labels` input channel (lineage: which silver prefix the job read), logs and the job record.

The request is made with boto3's `create_training_job`: the sagemaker v3 SDK's `ModelTrainer`
builds the same request but creates its own clients and default bucket, which a local AWS API
emulator (moto server) cannot stand in for without patching; a plain request against
`settings`-chosen endpoints is what the tests can check end to end.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime

from uhnw.config import Settings

JOB = "train_relevance"
DEFAULT_INSTANCE = "ml.m5.large"


def training_job_name(version: str, now: datetime | None = None) -> str:
    "A SageMaker-valid job name (≤ 63 chars of [a-zA-Z0-9-]) for a model version, unique per second."
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    base = re.sub(r"[^a-zA-Z0-9-]+", "-", f"uhnw-relevance-{version}").strip("-")
    return f"{base[: 63 - len(stamp) - 1]}-{stamp}"


def parameter_text(v) -> str:
    "A parameter value as the `-p` text `uhnw job run` parses back (JSON for bools, numbers and lists)."
    import json
    return v if isinstance(v, str) else json.dumps(v)


def job_command(run_date: str, version: str, params: dict) -> list[str]:
    "The container's command: the local job runner, with the version and the parameters."
    args = ["uhnw", "job", "run", JOB, "--date", run_date, "-p", "model_version", version]
    for k, v in params.items():
        args += ["-p", str(k), parameter_text(v)]
    return args


def training_request(settings: Settings, version: str, params: dict, *, run_date: str, image_uri: str, role_arn: str,
                     instance_type: str = DEFAULT_INSTANCE, max_runtime_s: int = 3600,
                     labels_table: str = "relevance_labels", now: datetime | None = None) -> dict:
    "The `create_training_job` request for one training run."
    if not image_uri: raise ValueError("image_uri is required: the uhnw training image in ECR")
    if not role_arn: raise ValueError("role_arn is required: the SageMaker execution role")
    params = {**params, "labels_table": params.get("labels_table", labels_table)}
    command = job_command(run_date, version, params)
    return {
        "TrainingJobName": training_job_name(version, now),
        "AlgorithmSpecification": {"TrainingImage": image_uri, "TrainingInputMode": "File",
                                   "ContainerEntrypoint": command[:1], "ContainerArguments": command[1:]},
        "RoleArn": role_arn,
        "HyperParameters": {k: parameter_text(v) for k, v in params.items()},
        "InputDataConfig": [{"ChannelName": "labels", "InputMode": "File", "ContentType": "application/x-parquet",
                             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3DataDistributionType": "FullyReplicated",
                                                             "S3Uri": f"s3://{settings.silver_bucket}/{params['labels_table']}/"}}}],
        "OutputDataConfig": {"S3OutputPath": f"s3://{settings.gold_bucket}/models/relevance/_sagemaker/"},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": int(max_runtime_s)},
        "Environment": {"UHNW_PROFILE": "aws", "UHNW_REGION": settings.region},
        "Tags": [{"Key": "project", "Value": "uhnw"}, {"Key": "model", "Value": "relevance"}, {"Key": "model_version", "Value": version}],
    }


def submit_training(settings: Settings, version: str, params: dict, *, run_date: str, image_uri: str, role_arn: str,
                    client=None, endpoint_url: str | None = None, **kw) -> dict:
    "Create the SageMaker training job; returns {'TrainingJobName', 'TrainingJobArn', 'request'}."
    if client is None:
        import boto3
        client = boto3.client("sagemaker", region_name=settings.region, endpoint_url=endpoint_url)
    req = training_request(settings, version, params, run_date=run_date, image_uri=image_uri, role_arn=role_arn, **kw)
    resp = client.create_training_job(**req)
    return {"TrainingJobName": req["TrainingJobName"], "TrainingJobArn": resp["TrainingJobArn"], "request": req}


def training_status(settings: Settings, job_name: str, client=None, endpoint_url: str | None = None) -> dict:
    "Status of a training job: name, status, secondary status, failure reason (if any)."
    if client is None:
        import boto3
        client = boto3.client("sagemaker", region_name=settings.region, endpoint_url=endpoint_url)
    d = client.describe_training_job(TrainingJobName=job_name)
    return {"TrainingJobName": d["TrainingJobName"], "TrainingJobStatus": d["TrainingJobStatus"],
            "SecondaryStatus": d.get("SecondaryStatus"), "FailureReason": d.get("FailureReason")}
