"""MSK IAM authentication on the `aws` profile: every librdkafka client (producer, consumer, admin) asks `uhnw.bus`'s
`oauth_cb` for a token and gets a SigV4-presigned `kafka-cluster:Connect` signed with the process's credentials; Spark's
Kafka source gets the same from MSK's own Java login handler, found on the classpath a Spark session on `aws` is given
(`connector_jars`). No MSK here: what can be checked offline is that the clients call the callback and that both
tokens are well-formed requests signed by the expected key in the expected region."""
import base64
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from uhnw.bus import client_config, consumer_config, jvm_client_config, producer_config
from uhnw.config import load_settings
from uhnw.ops.spark import connector_jars

ACCESS_KEY = "AKIAUHNWMSKIAMTEST"
REGION = "eu-central-1"


@pytest.fixture
def static_credentials(monkeypatch, tmp_path):
    "Credentials from the environment only (no profile, no config file, no instance metadata)."
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "uhnw-test-secret")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def msk_settings(bootstrap: str, protocol: str = "SASL_SSL"):
    return load_settings("aws", env={}, region=REGION, kafka_bootstrap_servers=bootstrap, kafka_security_protocol=protocol,
                         kafka_sasl_mechanism="OAUTHBEARER")


def decode(token: str) -> tuple[str, dict]:
    url = urlparse(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
    return url.netloc, parse_qs(url.query)


def assert_signed_connect(token: str) -> None:
    host, query = decode(token)
    assert host == f"kafka.{REGION}.amazonaws.com"
    assert query["Action"] == ["kafka-cluster:Connect"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    key, _day, region, service, _ = query["X-Amz-Credential"][0].split("/")
    assert (key, region, service) == (ACCESS_KEY, REGION, "kafka-cluster")
    assert len(query["X-Amz-Signature"][0]) == 64


def test_every_librdkafka_client_asks_the_callback_for_a_signed_msk_token(static_credentials):
    # SASL over plaintext to a port nobody listens on: librdkafka still needs a token before its first connection attempt
    settings = msk_settings("127.0.0.1:1", protocol="SASL_PLAINTEXT")
    calls: dict[str, list] = {"producer": [], "consumer": [], "admin": []}
    errors: list = []

    def recording(kind: str, conf: dict) -> dict:
        inner = conf["oauth_cb"]
        def oauth_cb(oauthbearer_config):
            token = inner(oauthbearer_config)
            calls[kind].append((threading.current_thread().name, token))
            return token
        return {**conf, "oauth_cb": oauth_cb, "error_cb": errors.append}

    clients = [Producer(recording("producer", producer_config(settings))),
               Consumer(recording("consumer", consumer_config(settings, "uhnw-msk-test"))),
               AdminClient(recording("admin", client_config(settings)))]
    deadline = time.monotonic() + 15
    while not all(calls.values()) and time.monotonic() < deadline:
        time.sleep(0.1)  # no poll(): confluent-kafka serves token refreshes from its background thread
    assert all(calls.values()), f"clients that never asked for a token: {[k for k, v in calls.items() if not v]}"
    for kind, made in calls.items():
        token, expiry = made[0][1]
        assert_signed_connect(token)
        assert 0 < expiry - time.time() <= 900, (kind, expiry)
    assert not [e for e in errors if "oauthbearer" in str(e).lower() or "token" in str(e).lower()], errors
    clients[1].close()


JAVA_CHECK = """
import java.util.*;
import javax.security.auth.callback.*;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerTokenCallback;

/** The Java Kafka client's side of MSK IAM: the login handler named by the settings, loaded by name, signs a token. */
public class MskIamCheck {
    public static void main(String[] args) throws Exception {
        AuthenticateCallbackHandler handler =
            (AuthenticateCallbackHandler) Class.forName(args[0]).getDeclaredConstructor().newInstance();
        AppConfigurationEntry entry = new AppConfigurationEntry(args[1], AppConfigurationEntry.LoginModuleControlFlag.REQUIRED,
                                                                new HashMap<String, Object>());
        handler.configure(new HashMap<String, Object>(), args[2], List.of(entry));
        OAuthBearerTokenCallback cb = new OAuthBearerTokenCallback();
        handler.handle(new Callback[]{cb});
        System.out.println(cb.token().value());
    }
}
"""


def test_spark_kafka_source_settings_name_a_handler_on_the_aws_classpath_that_signs_the_same_token(static_credentials,
                                                                                                   tmp_path):
    settings = msk_settings("b-1.uhnw-msk.example:9098")
    conf = jvm_client_config(settings)
    assert (conf["security.protocol"], conf["sasl.mechanism"]) == ("SASL_SSL", "OAUTHBEARER")
    assert not any(callable(v) for v in conf.values()), "Spark options are strings"
    jars = connector_jars(settings)
    assert any(j.name.startswith("aws-msk-iam-auth-") for j in jars), "make setup copies jvm/spark-aws into the jar cache"
    assert not any(j.name.startswith("aws-msk-iam-auth-") for j in connector_jars(load_settings("local", env={}))), \
        "a local session does not carry the AWS-only connectors"
    import pyspark
    classpath = [*map(str, jars), str(Path(pyspark.__file__).parent / "jars" / "*")]  # what a Spark session on aws loads
    login_module = conf["sasl.jaas.config"].split()[0]
    (tmp_path / "MskIamCheck.java").write_text(JAVA_CHECK)
    run = subprocess.run(["java", "-cp", ":".join(classpath), str(tmp_path / "MskIamCheck.java"),
                          conf["sasl.login.callback.handler.class"], login_module, conf["sasl.mechanism"]],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert_signed_connect(run.stdout.strip().splitlines()[-1])
    assert conf["sasl.client.callback.handler.class"] == conf["sasl.login.callback.handler.class"]
