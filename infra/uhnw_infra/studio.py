"""SageMaker Studio for analysts: what a customer's Studio domain needs so that a notebook reaches this deployment's
lake through Athena with the `uhnw` package (`from uhnw.query import sql`, `%load_ext uhnw.query`), and writes the
audit row of each query into PostgreSQL `audit_log` as an insert-only database user.

- The JupyterLab lifecycle configuration: `infra/studio/on-start.sh` as it is (base64). Its name carries a digest of
  the script (CloudFormation replaces the resource when the script changes, and a replaced resource needs a new
  name); the old one is retained, since SageMaker refuses to delete one still attached to a domain.
- The kernel settings the script reads at every start: SSM parameter `/<prefix>/studio/kernel-env`, JSON
  `{"wheel": "s3://<gold>/wheels/uhnw-<version>-py3-none-any.whl", "wheel_sha256": "<hex>", "env": {...}}`. The
  `env` is the services' own `UHNW_*` variables (`ServicesStack.settings_env`) for the region, the lake buckets, the
  Glue databases, Athena and the Aurora endpoint (host, port, database), then the audit login:
  `UHNW_POSTGRES_USER=uhnw_query_audit`, `UHNW_POSTGRES_IAM_AUTH=true` (the password is an RDS IAM token the app
  makes at each connection), `UHNW_POSTGRES_SSLMODE=require`. No password and no secret reference; nothing of Kafka;
  no `UHNW_ANALYST` (the script takes it from each space's Studio user profile). The wheel lives beside the app's
  other deploy-time files in gold (`jobs/`, `reference/`, `models/`): no separate artifacts bucket.
- The wheel's `wheel_sha256`, which the script checks before it installs anything (gold is writable by the Glue and
  EMR job roles; the parameter is not): that of `make wheel`'s `dist/<wheel_file()>` in the Docker build context (the
  file the images' Dockerfiles copy) at synth, or context `studio_wheel_sha256` (a wheel built elsewhere). With
  neither, the stack carries an error annotation, so the CDK CLI refuses to synthesize or deploy it (an in-process
  synth, as the tests', goes on), and the parameter an empty digest, which the script refuses.
- The analysts' execution role (trusted by SageMaker): Athena queries in the uhnw workgroup; the Glue catalog read on
  the silver and gold databases and their tables; S3 read of the silver and gold buckets (the wheel included); read
  and write of the Athena result location; the kernel-settings parameter; `rds-db:connect` on the cluster as
  `uhnw_query_audit` only. No bronze or archive, no write to the lake, no database secret, no other database user,
  no Kafka.
- The network: the app's VPC and its private subnets (Aurora has no public endpoint, so the domain must be `VpcOnly`
  there) and a security group for Studio that Aurora's group lets in on 5432. A group of its own, not the jobs'
  `ClientsSg`: that one also reaches MSK and lets its members (Glue workers, EMR) reach each other on every port.

No `AWS::SageMaker::Domain`: the customer attaches the lifecycle configuration and the role to their own domain, which
runs `VpcOnly` in this VPC with this group (outputs `LifecycleConfigArn`, `ExecutionRoleArn`, `VpcId`,
`PrivateSubnetIds`, `SecurityGroupId`)."""
from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_ssm as ssm
from constructs import Construct

import uhnw

from .config import INFRA_DIR, SETTINGS, InfraConfig
from .data import DataStack
from .database import QUERY_AUDIT_USER, DatabaseStack
from .network import POSTGRES_PORT, NetworkStack
from .services import ServicesStack

ON_START = INFRA_DIR / "studio" / "on-start.sh"
APP_TYPE = "JupyterLab"
WHEEL_PREFIX = "wheels/"  # in the gold bucket
WHEEL_SHA256_CONTEXT = "studio_wheel_sha256"  # the wheel's digest when its file is not in dist/ at synth
# the services' settings a notebook needs: the aws profile, where the lake and its catalog are, Athena, where Aurora is
KERNEL_ENV = ("UHNW_PROFILE", "UHNW_REGION", "UHNW_BRONZE_BUCKET", "UHNW_SILVER_BUCKET", "UHNW_GOLD_BUCKET",
              "UHNW_ARCHIVE_BUCKET", "UHNW_GLUE_DATABASE_SILVER", "UHNW_GLUE_DATABASE_GOLD", "UHNW_ATHENA_WORKGROUP",
              "UHNW_ATHENA_OUTPUT", "UHNW_POSTGRES_HOST", "UHNW_POSTGRES_PORT", "UHNW_POSTGRES_DB")
# ... then the analysts' own database login: the insert-only audit user, an IAM token for a password, over TLS
AUDIT_ENV = {"UHNW_POSTGRES_USER": QUERY_AUDIT_USER, "UHNW_POSTGRES_IAM_AUTH": "true", "UHNW_POSTGRES_SSLMODE": "require"}
# Studio (JupyterServer and kernel apps of one user) talks to itself within its security group on these ports
STUDIO_SELF_PORTS = (8192, 65535)
ATHENA_QUERY_ACTIONS = ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults",
                        "athena:StopQueryExecution", "athena:GetWorkGroup"]
GLUE_READ_ACTIONS = ["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables", "glue:GetPartition",
                     "glue:GetPartitions", "glue:BatchGetPartition"]


def wheel_file(version: str = uhnw.__version__) -> str:
    "The file name `make wheel` gives the package (PEP 427: the normalized version)."
    from packaging.version import Version
    return f"uhnw-{str(Version(version)).replace('-', '_')}-py3-none-any.whl"


def file_sha256(path: Path) -> str:
    "The sha256 (hex) of a file."
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""): h.update(block)
    return h.hexdigest()


def wheel_sha256(dist: Path, given: str | None = None) -> str | None:
    """The sha256 (hex) the kernels check the wheel against: `given` (context `studio_wheel_sha256`: a wheel built
    elsewhere, e.g. by CI), else that of `dist/<wheel_file()>` (`make wheel`'s), else None (no wheel to check)."""
    if given:
        digest = str(given).strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError(f"context {WHEEL_SHA256_CONTEXT} must be a sha256 (64 hex digits), not {given!r}")
        return digest
    path = dist / wheel_file()
    return file_sha256(path) if path.is_file() else None


def catalog_arns(databases: tuple[str, ...] | list[str]) -> list[str]:
    "The Glue catalog, the `databases` and their tables (what Athena and pyiceberg check on a read)."
    region, account, partition = cdk.Aws.REGION, cdk.Aws.ACCOUNT_ID, cdk.Aws.PARTITION
    return [f"arn:{partition}:glue:{region}:{account}:catalog",
            *[f"arn:{partition}:glue:{region}:{account}:database/{d}" for d in databases],
            *[f"arn:{partition}:glue:{region}:{account}:table/{d}/*" for d in databases]]


class StudioStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, cfg: InfraConfig, network: NetworkStack, data: DataStack,
                 database: DatabaseStack, services: ServicesStack, **kw) -> None:
        super().__init__(scope, id, **kw)
        script = ON_START.read_bytes()
        digest = hashlib.sha256(script).hexdigest()[:8]
        self.lifecycle_config = sagemaker.CfnStudioLifecycleConfig(
            self, "AnalystLifecycleConfig", studio_lifecycle_config_name=f"{cfg.prefix}-analysts-{digest}",
            studio_lifecycle_config_app_type=APP_TYPE,
            studio_lifecycle_config_content=base64.b64encode(script).decode("ascii"))
        self.lifecycle_config.apply_removal_policy(RemovalPolicy.RETAIN)

        self.wheel_uri = f"s3://{data.gold.bucket_name}/{WHEEL_PREFIX}{wheel_file()}"
        # the wheel's digest, checked by the script before it installs anything: the job roles can write gold
        dist = cfg.docker_root / "dist"
        given = self.node.try_get_context(WHEEL_SHA256_CONTEXT)
        self.wheel_sha256 = wheel_sha256(dist, given) or ""
        local = dist / wheel_file()
        if not self.wheel_sha256:
            cdk.Annotations.of(self).add_error(
                f"no {local} to take the Studio wheel's sha256 from: run `make wheel` at the repository root, or give "
                f"-c {WHEEL_SHA256_CONTEXT}=<sha256 of {wheel_file()}>. Without it the kernel settings carry no "
                f"checksum and infra/studio/on-start.sh refuses to install the wheel.")
        elif given and local.is_file() and file_sha256(local) != self.wheel_sha256:
            cdk.Annotations.of(self).add_warning(
                f"-c {WHEEL_SHA256_CONTEXT} is not the sha256 of {local}: the kernels will refuse that file; upload "
                f"the wheel whose sha256 you gave")
        self.kernel_env = {**{k: services.app_env[k] for k in KERNEL_ENV}, **AUDIT_ENV}
        self.parameter = ssm.StringParameter(
            self, "KernelSettings", parameter_name=f"/{cfg.prefix}/studio/kernel-env",
            description="uhnw Studio kernel: the wheel, its sha256 and the UHNW_* variables (infra/studio/on-start.sh)",
            string_value=self.to_json_string({"wheel": self.wheel_uri, "wheel_sha256": self.wheel_sha256,
                                              "env": self.kernel_env}))

        self.role = iam.Role(self, "AnalystRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                             description=f"uhnw analysts in SageMaker Studio: Athena on silver and gold, read-only lake, "
                                         f"audit rows as {QUERY_AUDIT_USER}")
        region, account, partition = cdk.Aws.REGION, cdk.Aws.ACCOUNT_ID, cdk.Aws.PARTITION
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="AthenaWorkgroup", actions=ATHENA_QUERY_ACTIONS,
            resources=[f"arn:{partition}:athena:{region}:{account}:workgroup/{data.workgroup_name}"]))
        self.role.add_to_principal_policy(iam.PolicyStatement(
            sid="GlueCatalogRead", actions=GLUE_READ_ACTIONS,
            resources=catalog_arns((SETTINGS.glue_database_silver, SETTINGS.glue_database_gold))))
        data.silver.grant_read(self.role)  # objects and listing; kms:Decrypt on the lake key
        data.gold.grant_read(self.role)  # ... the wheel under wheels/ included
        data.athena_results.grant_read(self.role)  # the workgroup's result location (enforced: the bucket's root)
        data.athena_results.grant_put(self.role)  # Athena writes results with the caller's permissions
        self.parameter.grant_read(self.role)
        # the audit rows: log in as the insert-only user with an IAM token (rds-db:connect on that db user alone)
        database.cluster.grant_connect(self.role, QUERY_AUDIT_USER)

        # the domain's network: VpcOnly in the app's VPC (private subnets), this group on its apps; Aurora lets it in
        self.sg = ec2.SecurityGroup(self, "StudioSg", vpc=network.vpc, allow_all_outbound=True,
                                    description="uhnw analysts SageMaker Studio domain (VpcOnly): Aurora, AWS APIs via NAT")
        self.sg.add_ingress_rule(self.sg, ec2.Port.tcp_range(*STUDIO_SELF_PORTS), "Studio apps of the domain talk to each other")
        network.db_sg.add_ingress_rule(self.sg, ec2.Port.tcp(POSTGRES_PORT),
                                       f"PostgreSQL from SageMaker Studio (as {QUERY_AUDIT_USER})", True)  # rule in this stack
        subnets = network.vpc.select_subnets(subnet_type=network.private_subnets.subnet_type).subnet_ids

        for name, value in {"LifecycleConfigArn": self.lifecycle_config.attr_studio_lifecycle_config_arn,
                            "LifecycleConfigName": self.lifecycle_config.studio_lifecycle_config_name,
                            "ExecutionRoleArn": self.role.role_arn, "WheelUri": self.wheel_uri,
                            "KernelSettingsParameter": self.parameter.parameter_name, "VpcId": network.vpc.vpc_id,
                            "PrivateSubnetIds": cdk.Fn.join(",", subnets),
                            "SecurityGroupId": self.sg.security_group_id}.items():
            cdk.CfnOutput(self, name, value=value)
