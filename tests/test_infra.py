"""The CDK app of infra/ (the platform on AWS): synthesized once per module, offline and without a Docker daemon, then
asserted stack by stack with `aws_cdk.assertions` and the templates' JSON, and linted with cfn-lint (zero errors).

cfn-lint runs in a subprocess started right after the synth, so it lints while the assertions run; its test comes last.
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
STACKS = ("Network", "Data", "Streaming", "Database", "Services", "Jobs", "Monitoring")
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
    "The synthesized app: assertion templates and raw JSON by short stack name, the cloud assembly, the running lint."
    def __init__(self, app, assembly, outdir: Path, root: Path, lint):
        import aws_cdk
        from aws_cdk.assertions import Template
        self.app, self.assembly, self.outdir, self.root, self.lint = app, assembly, outdir, root, lint
        stacks = {s.stack_name.removeprefix("Uhnw-"): s for s in app.node.children if isinstance(s, aws_cdk.Stack)}
        self.t = {k: Template.from_stack(s) for k, s in stacks.items()}
        self.j = {k: json.loads((outdir / f"Uhnw-{k}.template.json").read_text()) for k in stacks}

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
    s = Synth(app, assembly, outdir, root, lint)
    yield s
    if lint.poll() is None: lint.kill(); lint.wait()


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

def test_the_seven_stacks_synthesize(synth):
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


def test_aurora_serverless_v2_is_encrypted_with_its_secret(synth):
    t = synth.t["Database"]
    t.has_resource_properties("AWS::RDS::DBCluster", {
        "Engine": "aurora-postgresql", "StorageEncrypted": True, "KmsKeyId": Match.object_like({"Fn::GetAtt": Match.any_value()}),
        "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 4}, "DatabaseName": "uhnw",
        "MasterUserPassword": Match.any_value()})
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
