"""The lake: one customer KMS key; the bronze, silver, gold, archive and Athena-results buckets (SSE-KMS with that key,
TLS-only bucket policies, every public access blocked, versioned); the Glue databases `silver` and `gold` (Iceberg
creates its tables at first write); the Glue Schema Registry `uhnw` with every subject of `schemas/registry/index.json`
(each registered version, read at synth time, so the registry's latest version of a subject is the `schemas/avro/`
file of its record); the Athena workgroup (results SSE-KMS, settings enforced, a per-query scan cutoff).

The archive bucket is the cold tier: Object Lock in COMPLIANCE mode for `archive_retain_years` (7) by default, and
the app's own lifecycle rule (`uhnw.lake.ARCHIVE_LIFECYCLE`: to GLACIER after 30 days; `archive_storage_class` may
choose DEEP_ARCHIVE)."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .config import SETTINGS, InfraConfig, glue_schema_name, registry_entries


class DataStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, cfg: InfraConfig, **kw) -> None:
        super().__init__(scope, id, **kw)
        self.key = kms.Key(self, "LakeKey", alias=f"alias/{cfg.prefix}-lake", enable_key_rotation=True,
                           description="uhnw lake: S3 buckets and Athena results", removal_policy=RemovalPolicy.RETAIN)

        def bucket(logical: str, base: str, **extra) -> s3.Bucket:
            b = s3.Bucket(self, logical, bucket_name=cfg.bucket_name(base), encryption=s3.BucketEncryption.KMS,
                          encryption_key=self.key, bucket_key_enabled=True, enforce_ssl=True, minimum_tls_version=1.2,
                          block_public_access=s3.BlockPublicAccess.BLOCK_ALL, versioned=True,
                          object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED, removal_policy=RemovalPolicy.RETAIN,
                          **extra)
            cdk.CfnOutput(self, f"{logical}Name", value=b.bucket_name)
            return b

        old_versions = s3.LifecycleRule(id="old-versions", noncurrent_version_expiration=Duration.days(30),
                                        abort_incomplete_multipart_upload_after=Duration.days(7))
        self.bronze = bucket("Bronze", cfg.bronze_bucket)  # append-only: versions keep every overwrite attempt
        self.silver = bucket("Silver", cfg.silver_bucket, lifecycle_rules=[old_versions])
        self.gold = bucket("Gold", cfg.gold_bucket, lifecycle_rules=[old_versions])
        storage = {"GLACIER": s3.StorageClass.GLACIER, "DEEP_ARCHIVE": s3.StorageClass.DEEP_ARCHIVE}[cfg.archive_storage_class]
        self.archive = bucket(
            "Archive", cfg.archive_bucket, object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.compliance(Duration.days(cfg.archive_retain_years * 365)),
            lifecycle_rules=[s3.LifecycleRule(id="cold-tier-to-glacier", transitions=[
                s3.Transition(storage_class=storage, transition_after=Duration.days(cfg.archive_transition_days))])])
        self.athena_results = bucket("AthenaResults", cfg.athena_results_bucket, lifecycle_rules=[
            s3.LifecycleRule(id="expire-results", expiration=Duration.days(30), noncurrent_version_expiration=Duration.days(1))])
        self.buckets = {"bronze": self.bronze, "silver": self.silver, "gold": self.gold, "archive": self.archive,
                        "athena": self.athena_results}

        # --- Glue Data Catalog: the databases only; pyiceberg / Spark create the tables at first write
        self.databases = {}
        for layer, name, b in (("silver", SETTINGS.glue_database_silver, self.silver), ("gold", SETTINGS.glue_database_gold, self.gold)):
            self.databases[layer] = glue.CfnDatabase(self, f"{layer.title()}Database", catalog_id=self.account,
                                                     database_input=glue.CfnDatabase.DatabaseInputProperty(
                                                         name=name, location_uri=f"s3://{b.bucket_name}/",
                                                         description=f"uhnw {layer}: Iceberg tables (created by the app)"))

        # --- Glue Schema Registry: every registered version of every subject, in order
        self.registry = glue.CfnRegistry(self, "SchemaRegistry", name=SETTINGS.glue_registry_name,
                                         description="uhnw Avro schemas (schemas/registry)")
        self.registry_name = SETTINGS.glue_registry_name
        self.schema_subjects: list[str] = []
        entries = registry_entries()
        if not entries: raise ValueError("schemas/registry/index.json lists no schema")
        first: dict[str, glue.CfnSchema] = {}
        previous: dict[str, cdk.CfnResource] = {}
        for e in entries:
            subject, safe = e["subject"], "".join(c for c in e["subject"].title() if c.isalnum())
            if subject not in first:
                # Glue names a topic's schema after the topic (uhnw.schemas.GlueRegistry), Confluent after its `-value` subject
                schema = glue.CfnSchema(self, f"Schema{safe}", name=glue_schema_name(subject), data_format="AVRO", compatibility="BACKWARD",
                                        registry=glue.CfnSchema.RegistryProperty(arn=self.registry.attr_arn),
                                        schema_definition=e["definition"], description=f"{e['name']} (uhnw {subject})")
                first[subject] = previous[subject] = schema
                self.schema_subjects.append(subject)
                continue
            version = glue.CfnSchemaVersion(self, f"Schema{safe}V{e['version']}", schema_definition=e["definition"],
                                            schema=glue.CfnSchemaVersion.SchemaProperty(schema_arn=first[subject].attr_arn))
            if previous[subject] is not first[subject]:  # versions register in order (v2 after the schema: its GetAtt)
                version.node.add_dependency(previous[subject])
            previous[subject] = version

        # --- Athena: the analysts' workgroup, results encrypted with the lake key, its settings enforced
        self.workgroup_name = SETTINGS.athena_workgroup
        self.workgroup = athena.CfnWorkGroup(
            self, "Workgroup", name=self.workgroup_name, state="ENABLED", recursive_delete_option=False,
            description="uhnw ad-hoc SQL on silver and gold",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True, publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=cfg.athena_bytes_scanned_cutoff,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(selected_engine_version="Athena engine version 3"),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.athena_results.bucket_name}/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=self.key.key_arn))))
        cdk.CfnOutput(self, "SchemaRegistryName", value=self.registry_name)
        cdk.CfnOutput(self, "AthenaWorkgroup", value=self.workgroup_name)
