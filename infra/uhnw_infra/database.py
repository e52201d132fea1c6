"""The serving store: Aurora Serverless v2 PostgreSQL (one serverless writer, no reader: add one for a multi-AZ
failover target, at twice the idle cost), storage encrypted with its own customer key, credentials generated into
Secrets Manager as `uhnw/rds` (the JSON RDS writes: the app reads `secretsmanager:<arn>#password`). The migrations
of `schemas/sql/` are applied at deploy by the Services stack's bootstrap trigger (`uhnw.ops.db.migrate`).

IAM database authentication is on for one purpose: the analysts in SageMaker Studio write `uhnw.query`'s audit rows as
`QUERY_AUDIT_USER`, a role the migrations create with `INSERT` on `audit_log` only (and `rds_iam`), with a token from
`rds.generate_db_auth_token` instead of a password (Studio stack: `rds-db:connect` for that user alone). The services
keep the password from the secret."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct

from .config import SETTINGS, InfraConfig
from .network import POSTGRES_PORT, NetworkStack

# the insert-only PostgreSQL role of the analysts' audit rows (a migration of schemas/sql/ creates it); Studio logs in as it
QUERY_AUDIT_USER = "uhnw_query_audit"


class DatabaseStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, cfg: InfraConfig, network: NetworkStack, **kw) -> None:
        super().__init__(scope, id, **kw)
        self.key = kms.Key(self, "DbKey", alias=f"alias/{cfg.prefix}-db", enable_key_rotation=True,
                           description="uhnw Aurora storage", removal_policy=RemovalPolicy.RETAIN)
        self.db_name, self.username = SETTINGS.postgres_db, SETTINGS.postgres_user
        self.cluster = rds.DatabaseCluster(
            self, "Cluster",
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_17_5),
            writer=rds.ClusterInstance.serverless_v2("writer", publicly_accessible=False),
            serverless_v2_min_capacity=cfg.db_min_acu, serverless_v2_max_capacity=cfg.db_max_acu,
            vpc=network.vpc, vpc_subnets=network.private_subnets, security_groups=[network.db_sg], port=POSTGRES_PORT,
            credentials=rds.Credentials.from_generated_secret(self.username, secret_name=f"{cfg.prefix}/rds",
                                                              exclude_characters=" %+~`#$&*()|[]{}:;<>?!'/@\"\\"),
            default_database_name=self.db_name, storage_encrypted=True, storage_encryption_key=self.key,
            backup=rds.BackupProps(retention=Duration.days(7)), deletion_protection=cfg.db_deletion_protection,
            cloudwatch_logs_exports=["postgresql"], iam_authentication=True,
            removal_policy=RemovalPolicy.SNAPSHOT)
        self.secret = self.cluster.secret
        self.endpoint = self.cluster.cluster_endpoint.hostname
        cdk.CfnOutput(self, "Endpoint", value=self.endpoint)
        cdk.CfnOutput(self, "SecretArn", value=self.secret.secret_arn)
