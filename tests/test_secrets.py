"""Secrets from AWS Secrets Manager, against the moto server: the RDS password (a key of an RDS-style JSON secret), the
webhook providers' secrets and the RM-token secret are references in the environment, resolved when the process
starts, and never shown: not in the settings' repr or `uhnw config show`, not in an error about a missing secret."""
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from fastapi.testclient import TestClient

from uhnw.auth import LocalVerifier, local_secret
from uhnw.config import load_settings

pytestmark = pytest.mark.aws

RDS_PASSWORD = "rds-" + uuid.uuid4().hex
AUTH_SECRET = "auth-" + uuid.uuid4().hex  # >= 32 bytes


@pytest.fixture(scope="module")
def secrets(moto_endpoint):
    "Three secrets in the emulator, named under a prefix of this run; the environment points boto3 at the emulator."
    prefix = f"uhnw-test-{uuid.uuid4().hex[:6]}"
    client = boto3.client("secretsmanager", region_name="eu-west-1", endpoint_url=moto_endpoint)
    client.create_secret(Name=f"{prefix}/rds", SecretString=json.dumps({"username": "uhnw_app", "password": RDS_PASSWORD}))
    client.create_secret(Name=f"{prefix}/webhooks", SecretString=json.dumps({"newswire": "s-news", "wire2": "s-two"}))
    client.create_secret(Name=f"{prefix}/auth", SecretString=AUTH_SECRET)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", moto_endpoint)
        yield prefix, moto_endpoint


def test_a_settings_secret_names_a_key_of_a_json_secret_and_is_never_shown(secrets):
    prefix, endpoint = secrets
    env = {"UHNW_POSTGRES_PASSWORD": f"secretsmanager:{prefix}/rds#password", "UHNW_REGION": "eu-west-1"}
    settings = load_settings("aws", env=env)
    assert settings.postgres_password == RDS_PASSWORD
    assert f"password={RDS_PASSWORD}" in settings.dsn()  # what psycopg is given
    assert RDS_PASSWORD not in repr(settings) + json.dumps(settings.public()) + settings.dsn(masked=True)
    uhnw = str(Path(sys.executable).parent / "uhnw")
    shown = subprocess.run([uhnw, "config", "show", "--profile", "aws"], capture_output=True, text=True, timeout=60,
                           env={**os.environ, **env, "AWS_ENDPOINT_URL": endpoint})
    assert shown.returncode == 0, shown.stderr
    assert "postgres_password" in shown.stdout and RDS_PASSWORD not in shown.stdout + shown.stderr


def test_a_missing_secret_or_key_is_an_error_naming_it_and_no_value(secrets):
    prefix, _ = secrets
    with pytest.raises(ValueError, match=f"cannot read secret '{prefix}/nope'"):
        load_settings("aws", env={"UHNW_POSTGRES_PASSWORD": f"secretsmanager:{prefix}/nope"})
    with pytest.raises(ValueError, match="has no JSON key 'pwd'") as e:
        load_settings("aws", env={"UHNW_POSTGRES_PASSWORD": f"secretsmanager:{prefix}/rds#pwd"})
    assert RDS_PASSWORD not in str(e.value)


def test_the_api_reads_its_webhook_and_token_secrets_from_secrets_manager_at_start_up(secrets, monkeypatch, stack):
    from uhnw.serve.app import create_app
    prefix, _ = secrets
    settings = load_settings()  # the API's own settings: the stack's, local; the references are what is under test
    monkeypatch.setenv("UHNW_WEBHOOK_SECRETS", f"secretsmanager:{prefix}/webhooks")
    monkeypatch.setenv("UHNW_AUTH_SECRET", f"secretsmanager:{prefix}/auth")
    assert local_secret(settings) == AUTH_SECRET.encode()
    app = create_app(settings, verifier=LocalVerifier(b"k" * 48), start_feed=False)
    with TestClient(app):
        assert app.state.webhook_secrets == {"newswire": "s-news", "wire2": "s-two"}
