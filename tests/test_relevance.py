"""The relevance model end to end: seed set → silver → training job → versioned skops artifact → load → score;
RM feedback from PostgreSQL as labels; the SageMaker training request against a moto server."""
from __future__ import annotations

import hashlib
import json
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from uhnw.config import load_settings
from uhnw.lake import lake_for
from uhnw.relevance import (
    LABEL_SCHEMA,
    RAW_LABEL_COLUMNS,
    PartitionNotFound,
    land_labels,
    land_seed,
    load_model,
    model_key,
    read_labels,
    read_seed,
    resolve_labels,
)
from uhnw.resolve import Gazetteer, load_clients

DATA = Path(__file__).resolve().parent.parent / "jobs" / "seeds" / "relevance"


@pytest.fixture(scope="module")
def gazetteer():
    "The real entity resolver over the seed set's clients."
    return Gazetteer.from_clients(load_clients(DATA / "clients.csv"))


def test_seed_set_is_a_few_hundred_labelled_pairs_of_every_event_type_for_known_clients():
    labels, clients = read_seed()
    assert 300 <= len(labels) <= 1000
    assert set(labels.label) == {0, 1} and 0.3 < labels.label.mean() < 0.6
    assert {"liquidity", "m_and_a", "legal_regulatory", "family_succession", "philanthropy", "large_purchase",
            "leadership_change"} <= set(labels.event_type)
    assert set(labels.client_id) <= set(clients.client_id)
    assert not labels.duplicated(["article_id", "client_id"]).any()
    # every labelled client is named in its article
    names = dict(zip(clients.client_id, clients.full_name, strict=True))
    assert all(names[c] in h + " " + b for c, h, b in zip(labels.client_id, labels.headline, labels.body, strict=True))


def test_seed_set_lands_in_silver_resolved_and_reads_back(tmp_path, gazetteer):
    lake = lake_for(load_settings(home=tmp_path)).ensure()
    out = land_seed(lake, "2026-05-01", gazetteer)
    assert out["landed"] + out["unresolved"] == out["labels"] and out["landed"] >= 0.95 * out["labels"]
    back = read_labels(lake)
    assert len(back) == out["landed"] and list(back.columns) == LABEL_SCHEMA.names
    assert (back.resolution_score > 0).all() and back.mention_spans.str.startswith("[[").all()


def test_labels_without_resolution_are_refused_by_the_lake_writer(tmp_path):
    lake = lake_for(load_settings(home=tmp_path)).ensure()
    raw, _ = read_seed()
    with pytest.raises(ValueError, match="run resolve_labels first"):
        land_labels(lake, raw, "2026-05-01")


# The training job's success path (a versioned artifact that loads, scores and classifies, promoted, immutable) is
# asserted on the run of jobs/train_relevance.ipynb under nbval in tests/test_workspace.py: one training, not two.


def test_training_job_fails_below_the_quality_floor_and_writes_nothing(tmp_path, monkeypatch, gazetteer):
    from uhnw.ops.jobs import JobError, run_job
    monkeypatch.setenv("UHNW_HOME", str(tmp_path))
    settings = load_settings()
    lake = lake_for(settings).ensure()
    land_seed(lake, "2026-05-01", gazetteer)
    with pytest.raises(JobError, match="below the floor"):
        run_job(settings, "train_relevance", "2026-05-02", {"min_auc": 0.9999, "cv": 3})
    assert lake.store.list_keys("models", "relevance/") == []
    with pytest.raises(PartitionNotFound, match="no promoted relevance model"):
        load_model(lake)


def test_job_declares_typed_parameters_with_help():
    from uhnw.ops.jobs import job_notebook, notebook_parameters
    params = notebook_parameters(job_notebook("train_relevance"))
    assert {"run_date", "labels_table", "model_version", "C", "cv", "promote", "min_auc"} <= set(params)
    assert params["promote"]["inferred_type_name"] == "bool" and params["C"]["inferred_type_name"] == "float"
    assert all(p["help"] for p in params.values())


# --- RM feedback from the session's PostgreSQL

@pytest.mark.postgres
def test_rm_feedback_becomes_training_labels_by_majority_vote(stack):
    from uhnw.ops.db import connect
    from uhnw.relevance import feedback_labels
    with connect(stack) as conn, conn.cursor() as cur:
        try:
            ids = []
            for art, client, headline, summary in [
                    ("fb-a1", "UHNW-102", "Amit Saxena sued by partners", "Amit Saxena was sued in the High Court."),
                    ("fb-a2", "UHNW-103", "Markets close lower", "Guests included Helena Vogt."),
                    ("fb-a3", "UHNW-104", "Tie", "Marcus Whitfield spoke.")]:
                cur.execute("insert into alerts (article_id, client_id, rm_id, headline, summary, relevance) "
                            "values (%s, %s, 'RM-1', %s, %s, 0.9) returning alert_id", (art, client, headline, summary))
                ids.append(cur.fetchone()[0])
            votes = [(ids[0], "RM-1", "useful"), (ids[0], "RM-2", "useful"), (ids[0], "RM-3", "not_useful"), (ids[1], "RM-1", "not_useful"),
                     (ids[2], "RM-1", "useful"), (ids[2], "RM-2", "not_useful"),
                     (ids[2], "RM-4", "wrong_person"), (ids[1], "RM-5", "wrong_person")]  # an entity-resolution label: no relevance vote
            cur.executemany("insert into alert_feedback (alert_id, rm_id, verdict) values (%s,%s,%s)", votes)
            labels, counts = feedback_labels(cur, since=datetime(2000, 1, 1, tzinfo=UTC))
            mine = labels[labels.article_id.str.startswith("fb-")].set_index("article_id")
            assert counts["ties"] >= 1
            assert mine.loc["fb-a1", "label"] == 1 and mine.loc["fb-a1", "event_type"] == "legal_regulatory"
            assert mine.loc["fb-a2", "label"] == 0 and "fb-a3" not in mine.index
            assert (mine.label_source == "rm_feedback").all() and (mine.text_source == "alert_summary").all()
            assert list(labels.columns[: len(RAW_LABEL_COLUMNS)]) == RAW_LABEL_COLUMNS
        finally:
            conn.rollback()


def test_feedback_labels_resolve_like_the_seed_set(gazetteer):
    import pandas as pd
    raw = pd.DataFrame([{"article_id": "x", "client_id": "UHNW-102", "headline": "Amit Saxena sued", "body": "Amit Saxena was sued.",
                         "label": 1, "event_type": "legal_regulatory", "label_source": "rm_feedback", "labelled_at": datetime.now(UTC)},
                        {"article_id": "y", "client_id": "UHNW-102", "headline": "Nothing", "body": "No client here.",
                         "label": 0, "event_type": "other", "label_source": "rm_feedback", "labelled_at": datetime.now(UTC)}])
    good, bad = resolve_labels(raw, gazetteer)
    assert list(good.article_id) == ["x"] and list(bad.article_id) == ["y"] and "finds no mention" in bad.reason[0]


@pytest.mark.postgres
def test_uhnw_labels_feedback_lands_votes_beside_the_days_labels_and_quarantines_the_unfound(stack, cli):
    "The CLI path: votes committed in PostgreSQL → resolved labels in the session lake, twice without doubling."
    from uhnw.ops.db import connect
    date, ids = "2031-01-06", []
    with connect(stack) as conn, conn.cursor() as cur:
        for art, client, headline, summary in [("fbcli-1", "UHNW-102", "Amit Saxena sued by partners", "Amit Saxena was sued."),
                                               ("fbcli-2", "UHNW-103", "Gala", "Guests included Helena Vogt."),
                                               ("fbcli-3", "UHNW-104", "A sale", "The founder sold the firm.")]:
            cur.execute("insert into alerts (article_id, client_id, rm_id, headline, summary, relevance) "
                        "values (%s, %s, 'RM-1', %s, %s, 0.9) returning alert_id", (art, client, headline, summary))
            ids.append(cur.fetchone()[0])
        cur.executemany("insert into alert_feedback (alert_id, rm_id, verdict) values (%s, 'RM-1', %s)",
                        [(ids[0], "useful"), (ids[1], "not_useful"), (ids[2], "useful")])
        cur.execute("insert into alert_feedback (alert_id, rm_id, verdict) values (%s, 'RM-2', 'wrong_person')", (ids[1],))
        conn.commit()
    try:
        for _ in range(2):
            r = cli("labels", "feedback", "--clients", str(DATA / "clients.csv"), "--date", date, "--since", "2000-01-01T00:00:00+00:00")
            assert r.returncode == 0, r.stderr
        lake = lake_for(load_settings())
        day = lake.read_partition("silver", "relevance_labels", date).to_pandas()
        mine = day[day.article_id.str.startswith("fbcli-")].set_index("article_id")
        assert sorted(mine.index) == ["fbcli-1", "fbcli-2"] and len(day) == len(set(day.article_id))
        assert (mine.loc["fbcli-1", "label"], mine.loc["fbcli-2", "label"]) == (1, 0)
        rejected = lake.read_partition("silver", "relevance_labels_rejected", date).to_pandas()
        assert "fbcli-3" in set(rejected.article_id)
        assert "quarantined in silver.relevance_labels_rejected" in r.stdout
        # "wrong person" is an entity-resolution label, never a relevance one: RM-2's verdict did not change fbcli-2's label
        wrong = lake.read_partition("silver", "resolution_labels", date).to_pandas()
        assert [(a, c, lab) for a, c, lab in zip(wrong.article_id, wrong.client_id, wrong.label, strict=True) if a.startswith("fbcli-")] \
            == [("fbcli-2", "UHNW-103", 0)]
        bad = cli("labels", "feedback", "--clients", str(DATA / "clients.csv"), "--date", date, "--since", "2026-01-01")
        assert bad.returncode != 0 and "time zone" in bad.stderr
    finally:
        with connect(stack) as conn, conn.cursor() as cur:
            cur.execute("delete from alert_feedback where alert_id = any(%s)", (ids,))
            cur.execute("delete from alerts where alert_id = any(%s)", (ids,))
            conn.commit()


# --- SageMaker training request against a moto server

@pytest.mark.aws
def test_sagemaker_training_job_is_created_with_the_job_command_and_lake_locations(moto_endpoint, monkeypatch):
    import boto3

    from uhnw.ops.sagemaker_train import submit_training, training_status
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items(): monkeypatch.setenv(k, v)
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    settings = load_settings("aws", env={}, region="eu-west-1")
    out = submit_training(settings, "relevance-2026-05-02", {"C": 1.5, "promote": True}, run_date="2026-05-02",
                          image_uri="123456789012.dkr.ecr.eu-west-1.amazonaws.com/uhnw:latest",
                          role_arn="arn:aws:iam::123456789012:role/uhnw-sagemaker", endpoint_url=moto_endpoint)
    assert out["TrainingJobArn"].endswith(out["TrainingJobName"])
    sm = boto3.client("sagemaker", region_name="eu-west-1", endpoint_url=moto_endpoint)
    d = sm.describe_training_job(TrainingJobName=out["TrainingJobName"])
    assert d["AlgorithmSpecification"]["TrainingImage"].endswith("/uhnw:latest")
    assert d["HyperParameters"] == {"C": "1.5", "promote": "true", "labels_table": "relevance_labels"}
    assert d["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://data-lake-silver/relevance_labels/"
    assert d["OutputDataConfig"]["S3OutputPath"] == "s3://data-lake-gold/models/relevance/_sagemaker/"
    assert d["ResourceConfig"]["InstanceType"] == "ml.m5.large" and d["RoleArn"].endswith("role/uhnw-sagemaker")
    args = out["request"]["AlgorithmSpecification"]["ContainerArguments"]
    assert args[:9] == ["job", "run", "train_relevance", "--date", "2026-05-02", "-p", "model_version", "relevance-2026-05-02", "-p"]
    pairs = dict(zip(args[9::3], args[10::3], strict=True))
    assert pairs == {"C": "1.5", "promote": "true", "labels_table": "relevance_labels"}
    assert training_status(settings, out["TrainingJobName"], endpoint_url=moto_endpoint)["TrainingJobStatus"]


def test_sagemaker_request_needs_an_image_and_a_role():
    from uhnw.ops.sagemaker_train import training_request
    with pytest.raises(ValueError, match="image_uri"):
        training_request(load_settings("aws", env={}), "v1", {}, run_date="2026-05-02", image_uri="", role_arn="arn:x")


@pytest.mark.aws
def test_job_run_on_sagemaker_submits_the_training_job_from_the_cli(moto_endpoint, cli):
    import boto3
    env = {"UHNW_PROFILE": "aws", "AWS_ENDPOINT_URL_SAGEMAKER": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "UHNW_REGION": "eu-west-1",
           "UHNW_SAGEMAKER_TRAINING_IMAGE": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/uhnw:cli",
           "UHNW_SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/uhnw-sagemaker"}
    out = cli("job", "run", "train_relevance", "--date", "2026-05-03", "--on", "sagemaker", "-p", "C", "2.0", env=env)
    assert out.returncode == 0, out.stderr
    name = out.stdout.split()[1].rstrip(":")
    d = boto3.client("sagemaker", region_name="eu-west-1", endpoint_url=moto_endpoint).describe_training_job(TrainingJobName=name)
    assert d["AlgorithmSpecification"]["TrainingImage"].endswith("/uhnw:cli") and d["HyperParameters"]["C"] == "2.0"
    missing = cli("job", "run", "train_relevance", "--date", "2026-05-03", "--on", "sagemaker",
                  env={**env, "UHNW_SAGEMAKER_ROLE_ARN": ""})
    assert missing.returncode == 1 and "role_arn is required" in missing.stderr


def test_label_schema_in_code_is_the_athena_ddl_of_silver_relevance_labels():
    from uhnw.relevance import LABEL_SCHEMA
    from uhnw.tables import arrow_schema, table_def
    assert arrow_schema(table_def(load_settings(env={}), "silver.relevance_labels")).equals(LABEL_SCHEMA)


def test_labels_seed_lands_the_seed_set_in_silver_and_registers_it_for_sql(cli, tmp_path):
    env = {"UHNW_HOME": str(tmp_path)}
    out = cli("labels", "seed", "--date", "2026-02-02", "--sets", "seed", env=env)
    assert out.returncode == 0, out.stderr
    assert "landed 594 labels in silver.relevance_labels date=2026-02-02: seed 594 of 594" in out.stdout
    unknown = cli("labels", "seed", "--date", "2026-02-02", "--sets", "seed,nope", env=env)
    assert unknown.returncode == 1 and "unknown training set 'nope'" in unknown.stderr
    counts = json.loads(cli("sql", "SELECT label, count(*) AS n FROM silver.relevance_labels GROUP BY label ORDER BY label",
                            "--format", "json", env=env).stdout)
    assert [(r["label"], r["n"]) for r in counts] == [(0, 322), (1, 272)]


@pytest.mark.aws
def test_a_model_on_s3_is_found_through_secrets_manager_and_refused_when_its_bytes_change(moto_endpoint, model_home, monkeypatch):
    """The alert path's model on the aws profile: saved to the models prefix of the gold bucket with its sha256, the version
    to serve named by a Secrets Manager secret (`UHNW_RELEVANCE_MODEL`), loaded by `load_runtime`'s own call, and refused
    when the object's bytes are not the ones saved."""
    import boto3

    from uhnw.lake import lake_for
    from uhnw.relevance import ModelIntegrityError, checksum_key, load_model, promote, save_model
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).read()
    trained = load_model(lake_for(load_settings(home=model_home)))
    env = {"UHNW_PROFILE": "aws", "UHNW_REGION": "eu-west-1", "UHNW_S3_ENDPOINT_URL": moto_endpoint,
           "UHNW_RELEVANCE_MODEL": "secretsmanager:uhnw/relevance-model"}
    for k, v in {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(k, v)
    lake = lake_for(load_settings(env={**env, "UHNW_RELEVANCE_MODEL": "latest"})).ensure()
    for version in ("v-old", "v-serve"): save_model(trained, trained.metrics, lake, version)
    promote(lake, "v-old")
    boto3.client("secretsmanager", region_name="eu-west-1").create_secret(Name="uhnw/relevance-model", SecretString="v-serve")

    settings = load_settings(env=env)
    assert settings.relevance_model == "v-serve", "the version comes from the secret, not the promoted pointer"
    s3 = boto3.client("s3", region_name="eu-west-1")
    stored = s3.get_object(Bucket=settings.gold_bucket, Key="models/" + model_key("v-serve"))["Body"].read()
    saved_sha = s3.get_object(Bucket=settings.gold_bucket, Key="models/" + checksum_key("v-serve"))["Body"].read().decode()
    assert hashlib.sha256(stored).hexdigest() == saved_sha
    served = load_model(lake_for(settings), settings.relevance_model)  # what load_runtime does
    assert served.version == "v-serve" and served.spec == trained.spec

    s3.put_object(Bucket=settings.gold_bucket, Key="models/" + model_key("v-serve"), Body=stored[:-1] + bytes([stored[-1] ^ 1]))
    with pytest.raises(ModelIntegrityError, match="has sha256"):
        load_model(lake_for(settings), settings.relevance_model)
    assert load_model(lake_for(settings), "latest").version == "v-old", "an intact version still loads"
