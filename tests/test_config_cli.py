"""`uhnw config show` as a user runs it: effective settings, precedence, and no secret in the output."""
import json


def test_config_show_json_has_the_documented_keys_and_the_session_settings(cli, uhnw_env):
    result = cli("config", "show", "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert {"profile", "home", "kafka_bootstrap_servers", "postgres_dsn"} <= set(shown)
    assert shown["profile"] == "local" and shown["home"] == uhnw_env["UHNW_HOME"]
    assert shown["kafka_bootstrap_servers"] == f"127.0.0.1:{uhnw_env['UHNW_KAFKA_PORT']}"
    assert shown["postgres_dsn"].startswith(f"host=127.0.0.1 port={uhnw_env['UHNW_POSTGRES_PORT']} dbname=uhnw user=uhnw passfile=")


def test_env_var_beats_settings_file_which_beats_defaults(cli, tmp_path):
    ini = tmp_path / "s.ini"
    ini.write_text("[common]\nregion = ap-south-1\n[local]\nkafka_heap = 768m\npostgres_port = 6000\n")
    shown = json.loads(cli("config", "show", "--json", env={"UHNW_SETTINGS": str(ini), "UHNW_POSTGRES_PORT": "7000"}).stdout)
    assert (shown["region"], shown["kafka_heap"], shown["postgres_port"]) == ("ap-south-1", "768m", 7000)


def test_aws_profile_uses_the_seeds_buckets_and_never_prints_the_password(cli):
    secret = "Zx9-very-secret"
    env = {"UHNW_PROFILE": "aws", "UHNW_POSTGRES_PASSWORD": secret, "UHNW_SCHEMA_REGISTRY_PASSWORD": secret}
    table = cli("config", "show", env=env)
    as_json = cli("config", "show", "--json", env=env)
    assert table.returncode == as_json.returncode == 0
    assert secret not in table.stdout + table.stderr + as_json.stdout + as_json.stderr
    shown = json.loads(as_json.stdout)
    assert shown["profile"] == "aws" and "password=*****" in shown["postgres_dsn"]
    buckets = (shown["bronze_bucket"], shown["silver_bucket"], shown["gold_bucket"])
    assert buckets == ("data-lake-bronze", "data-lake-silver", "data-lake-gold")


def test_bad_values_give_a_clear_error_naming_the_variable(cli):
    result = cli("config", "show", env={"UHNW_KAFKA_PORT": "ninety"})
    assert result.returncode == 1 and "UHNW_KAFKA_PORT: kafka_port must be an integer" in result.stderr
    result = cli("config", "show", env={"UHNW_PROFILE": "gcp"})
    assert result.returncode == 1 and "unknown profile 'gcp'" in result.stderr


def test_credentials_inside_url_settings_never_print(cli):
    env = {"UHNW_SCHEMA_REGISTRY_URL": "https://sr-user:Sr-Pa55@registry.example:8081",
           "UHNW_S3_ENDPOINT_URL": "http://key:S3-Pa55@127.0.0.1:5000/?X-Amz-Signature=Sig-Pa55",
           "UHNW_KAFKA_BOOTSTRAP_SERVERS": "SASL_SSL://msk-user:Kafka-Pa55@b-1.msk.example:9096,b-2.msk.example:9096"}
    table = cli("config", "show", env=env)
    as_json = cli("config", "show", "--json", env=env)
    assert table.returncode == as_json.returncode == 0, table.stderr + as_json.stderr
    for secret in ("Sr-Pa55", "S3-Pa55", "Sig-Pa55", "Kafka-Pa55"):
        assert secret not in table.stdout + table.stderr + as_json.stdout + as_json.stderr
    shown = json.loads(as_json.stdout)
    assert shown["schema_registry_url"] == "https://*****@registry.example:8081"  # the endpoint itself stays readable
    assert shown["kafka_bootstrap_servers"] == "SASL_SSL://*****@b-1.msk.example:9096,b-2.msk.example:9096"
    assert "https://*****@registry.example:8081" in table.stdout
