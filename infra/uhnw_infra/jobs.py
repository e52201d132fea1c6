"""The cold path's compute and its schedule.

- EMR Serverless (`emr_release_label`, Spark) in the private subnets, with the job runtime role of its runs
  (`uhnw job run NAME --on emr-serverless`, the schedule's EMR tasks).
- The role of the Glue jobs (`uhnw.ops.aws_jobs.ensure_glue_job` creates `uhnw-<job>` at run time with it), a Glue
  NETWORK connection for jobs that must reach Aurora, and the customer-managed policy a launcher (a person or CI
  running `uhnw job run --on glue|emr-serverless|sagemaker`) needs.
- The SageMaker training role and image (`docker/jobs.Dockerfile`) of `train_relevance`.
- Step Functions + EventBridge Scheduler: `uhnw.schedule.aws_resources` (what `uhnw schedule export` prints) turned into
  `AWS::StepFunctions::StateMachine` and `AWS::Scheduler::Schedule` resources, one per cron job of jobs/schedule.toml.
  The cron translation, the holiday choice and the task chain are the app's; this stack only substitutes the ARNs
  (`aws_resources` takes one role for everything: here the states, scheduler, EMR and SageMaker roles are separate)."""
from __future__ import annotations

import dataclasses
import json

import aws_cdk as cdk
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_emrserverless as emr
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from uhnw.schedule import aws_resources, load_schedule

from .config import ALERTS, CRM, DOCKER_EXCLUDE, NEWS, SETTINGS, TICKS, InfraConfig
from .data import DataStack
from .database import DatabaseStack
from .network import NetworkStack
from .services import ENI_ACTIONS
from .streaming import StreamingStack

SCHEDULE_PREFIX = "uhnw-"  # the app's: Glue jobs are `uhnw-<job>` (uhnw.ops.aws_jobs), state machines and schedules alike
SPARK_GROUPS = ("spark-kafka-source-*",)  # Spark's Kafka source names its consumer groups itself


def schedule_resources(schedule_path=None) -> dict:
    """`uhnw.schedule.aws_resources` with `${...}` placeholders where this stack's ARNs go (Step Functions
    definition substitutions), and each task's role set to the role of its service."""
    settings = dataclasses.replace(SETTINGS, gold_bucket="${GoldBucket}")
    res = aws_resources(load_schedule(schedule_path), settings, role_arn="${StatesRoleArn}",
                        emr_application_id="${EmrApplicationId}", training_image="${TrainingImage}", prefix=SCHEDULE_PREFIX)
    for m in res["state_machines"]:
        for state in m["definition"]["States"].values():
            resource, params = state.get("Resource", ""), state.get("Parameters", {})
            if ":emr-serverless:" in resource: params["ExecutionRoleArn"] = "${EmrJobRoleArn}"
            if ":sagemaker:" in resource: params["RoleArn"] = "${SageMakerRoleArn}"
    return res


class JobsStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, cfg: InfraConfig, network: NetworkStack, data: DataStack,
                 streaming: StreamingStack, database: DatabaseStack, **kw) -> None:
        super().__init__(scope, id, **kw)
        region, account, partition = cdk.Aws.REGION, cdk.Aws.ACCOUNT_ID, cdk.Aws.PARTITION
        subnets = network.vpc.select_subnets(subnet_type=network.private_subnets.subnet_type)

        # --- EMR Serverless
        self.emr_app = emr.CfnApplication(
            self, "Spark", name=f"{cfg.prefix}-spark", release_label=cfg.emr_release_label, type="SPARK",
            auto_start_configuration=emr.CfnApplication.AutoStartConfigurationProperty(enabled=True),
            auto_stop_configuration=emr.CfnApplication.AutoStopConfigurationProperty(enabled=True, idle_timeout_minutes=15),
            maximum_capacity=emr.CfnApplication.MaximumAllowedResourcesProperty(cpu=cfg.emr_max_cpu, memory=cfg.emr_max_memory),
            network_configuration=emr.CfnApplication.NetworkConfigurationProperty(
                subnet_ids=subnets.subnet_ids, security_group_ids=[network.clients_sg.security_group_id]))
        app_arn = f"arn:{partition}:emr-serverless:{region}:{account}:/applications/{self.emr_app.attr_application_id}"
        self.emr_role = iam.Role(self, "EmrJobRole", assumed_by=iam.ServicePrincipal(
            "emr-serverless.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": account}}),
            description="uhnw Spark job runs on EMR Serverless (daily_pnl, the news stream)")
        self.grant_lake(self.emr_role, data)
        for st in streaming.acl.statements(read=(NEWS, ALERTS, TICKS, CRM), groups=SPARK_GROUPS): self.emr_role.add_to_policy(st)
        self.grant_registry_read(self.emr_role)

        # --- Glue jobs: role, VPC connection
        self.glue_role = iam.Role(self, "GlueJobRole", assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
                                  description="uhnw Glue jobs (uhnw-<job>, created by uhnw.ops.aws_jobs.ensure_glue_job)")
        self.grant_lake(self.glue_role, data)
        data.archive.grant_put(self.glue_role)  # the retention job archives (Object Lock, compliance) ...
        self.glue_role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObjectRetention"], resources=[data.archive.arn_for_objects("*")]))
        database.secret.grant_read(self.glue_role)  # ... and rds_sync / portfolio_health write PostgreSQL
        self.grant_registry_read(self.glue_role)
        self.glue_role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"arn:{partition}:logs:{region}:{account}:log-group:/aws-glue/*"]))
        self.glue_role.add_to_policy(iam.PolicyStatement(
            actions=["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution"],
            resources=[f"arn:{partition}:athena:{region}:{account}:workgroup/{data.workgroup_name}"]))
        # Glue workers join the VPC through the connection: EC2 Describe* has no resource-level permissions
        self.glue_role.add_to_policy(iam.PolicyStatement(sid="GlueVpcNetworkInterfaces", resources=["*"], actions=[
            *ENI_ACTIONS, "ec2:DescribeVpcEndpoints", "ec2:DescribeRouteTables", "ec2:DescribeVpcAttribute"]))
        subnet = subnets.subnets[0]
        connection = glue.CfnConnection.ConnectionInputProperty(
            name=f"{cfg.prefix}-vpc", connection_type="NETWORK", description="uhnw Glue jobs reach Aurora and MSK",
            physical_connection_requirements=glue.CfnConnection.PhysicalConnectionRequirementsProperty(
                availability_zone=subnet.availability_zone, subnet_id=subnet.subnet_id,
                security_group_id_list=[network.clients_sg.security_group_id]))
        self.glue_connection = glue.CfnConnection(self, "GlueVpcConnection", catalog_id=account, connection_input=connection)
        self.glue_role.add_to_policy(iam.PolicyStatement(actions=["glue:GetConnection"], resources=[
            f"arn:{partition}:glue:{region}:{account}:catalog",
            f"arn:{partition}:glue:{region}:{account}:connection/{cfg.prefix}-vpc"]))

        # --- SageMaker training (train_relevance)
        self.training_image = ecr_assets.DockerImageAsset(self, "JobsImage", directory=str(cfg.docker_root),
                                                          file="docker/jobs.Dockerfile", exclude=DOCKER_EXCLUDE,
                                                          platform=ecr_assets.Platform.LINUX_AMD64)
        self.sagemaker_role = iam.Role(self, "SageMakerTrainingRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                                       description="uhnw train_relevance SageMaker training jobs")
        self.training_image.repository.grant_pull(self.sagemaker_role)
        data.silver.grant_read(self.sagemaker_role)
        data.gold.grant_read(self.sagemaker_role)
        data.gold.grant_put(self.sagemaker_role, "models/*")
        database.secret.grant_read(self.sagemaker_role)
        self.grant_registry_read(self.sagemaker_role)
        self.sagemaker_role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[f"arn:{partition}:logs:{region}:{account}:log-group:/aws/sagemaker/TrainingJobs*"]))

        # --- the schedule: Step Functions + EventBridge Scheduler
        res = schedule_resources()
        self.states_role = iam.Role(self, "StatesRole", assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
                                    description="uhnw schedule: run Glue, EMR Serverless and SageMaker jobs")
        self.states_role.add_to_policy(iam.PolicyStatement(
            actions=["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
            resources=[f"arn:{partition}:glue:{region}:{account}:job/{SCHEDULE_PREFIX}*"]))
        self.states_role.add_to_policy(iam.PolicyStatement(actions=["emr-serverless:StartJobRun"], resources=[app_arn]))
        self.states_role.add_to_policy(iam.PolicyStatement(actions=["emr-serverless:GetJobRun", "emr-serverless:CancelJobRun"],
                                                           resources=[f"{app_arn}/jobruns/*"]))
        self.states_role.add_to_policy(iam.PolicyStatement(
            actions=["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob", "sagemaker:AddTags"],
            resources=[f"arn:{partition}:sagemaker:{region}:{account}:training-job/{SCHEDULE_PREFIX}*"]))
        self.states_role.add_to_policy(iam.PolicyStatement(
            actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            resources=[f"arn:{partition}:events:{region}:{account}:rule/StepFunctionsGetEventsForEMRServerlessJobRule",
                       f"arn:{partition}:events:{region}:{account}:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"]))
        self.states_role.add_to_policy(self.pass_role(self.emr_role, "emr-serverless.amazonaws.com"))
        self.states_role.add_to_policy(self.pass_role(self.sagemaker_role, "sagemaker.amazonaws.com"))
        self.scheduler_role = iam.Role(self, "SchedulerRole", assumed_by=iam.ServicePrincipal(
            "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": account}}),
            description="uhnw schedule: EventBridge Scheduler starts the state machines")
        subs = {"StatesRoleArn": self.states_role.role_arn, "EmrApplicationId": self.emr_app.attr_application_id,
                "EmrJobRoleArn": self.emr_role.role_arn, "SageMakerRoleArn": self.sagemaker_role.role_arn,
                "TrainingImage": self.training_image.image_uri, "GoldBucket": data.gold.bucket_name}
        self.state_machines: dict[str, sfn.CfnStateMachine] = {}
        self.schedules: dict[str, scheduler.CfnSchedule] = {}
        for m, s in zip(res["state_machines"], res["schedules"], strict=True):
            logical = "".join(p.title() for p in m["name"].replace("-", "_").split("_"))
            used = {k: v for k, v in subs.items() if "${" + k + "}" in json.dumps(m["definition"])}
            machine = sfn.CfnStateMachine(self, f"{logical}StateMachine", state_machine_name=m["name"],
                                          state_machine_type="STANDARD", role_arn=self.states_role.role_arn,
                                          definition_string=json.dumps(m["definition"], indent=1),
                                          definition_substitutions=used or None)
            machine.node.add_dependency(self.states_role.node.find_child("DefaultPolicy"))  # its permissions first
            self.state_machines[m["name"]] = machine
            self.scheduler_role.add_to_policy(iam.PolicyStatement(actions=["states:StartExecution"], resources=[machine.attr_arn]))
            self.schedules[s["Name"]] = scheduler.CfnSchedule(
                self, f"{logical}Schedule", name=s["Name"], description=m["definition"]["Comment"],
                schedule_expression=s["ScheduleExpression"], schedule_expression_timezone=s["ScheduleExpressionTimezone"],
                flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode=s["FlexibleTimeWindow"]["Mode"]),
                target=scheduler.CfnSchedule.TargetProperty(arn=machine.attr_arn, role_arn=self.scheduler_role.role_arn,
                                                            input=s["Target"]["Input"]))

        # --- what a launcher (`uhnw job run --on ...`) needs; attach it to the person's or CI's role
        self.launcher_policy = iam.ManagedPolicy(self, "JobLauncherPolicy", managed_policy_name=f"{cfg.prefix}-job-launcher",
                                                 description="uhnw job run --on glue|emr-serverless|sagemaker", statements=[
            iam.PolicyStatement(actions=["glue:GetJob", "glue:CreateJob", "glue:UpdateJob", "glue:StartJobRun", "glue:GetJobRun",
                                         "glue:TagResource"],
                                resources=[f"arn:{partition}:glue:{region}:{account}:job/{SCHEDULE_PREFIX}*"]),
            iam.PolicyStatement(actions=["emr-serverless:StartJobRun", "emr-serverless:TagResource"], resources=[app_arn]),
            iam.PolicyStatement(actions=["emr-serverless:GetJobRun"], resources=[f"{app_arn}/jobruns/*"]),
            iam.PolicyStatement(actions=["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:AddTags"],
                                resources=[f"arn:{partition}:sagemaker:{region}:{account}:training-job/{SCHEDULE_PREFIX}*"]),
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[data.gold.arn_for_objects("jobs/run_notebook.py")]),
            iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Encrypt"], resources=[data.key.key_arn]),
            self.pass_role(self.glue_role, "glue.amazonaws.com"),
            self.pass_role(self.emr_role, "emr-serverless.amazonaws.com"),
            self.pass_role(self.sagemaker_role, "sagemaker.amazonaws.com")])

        for name, value in {"EmrApplicationId": self.emr_app.attr_application_id, "EmrJobRoleArn": self.emr_role.role_arn,
                            "GlueRoleArn": self.glue_role.role_arn, "GlueConnection": f"{cfg.prefix}-vpc",
                            "SageMakerRoleArn": self.sagemaker_role.role_arn, "TrainingImage": self.training_image.image_uri,
                            "StatesRoleArn": self.states_role.role_arn,
                            "JobLauncherPolicyArn": self.launcher_policy.managed_policy_arn}.items():
            cdk.CfnOutput(self, name, value=value)

    @staticmethod
    def pass_role(role: iam.IRole, service: str) -> iam.PolicyStatement:
        return iam.PolicyStatement(actions=["iam:PassRole"], resources=[role.role_arn],
                                   conditions={"StringEquals": {"iam:PassedToService": service}})

    def grant_lake(self, role: iam.IRole, data: DataStack) -> None:
        "Spark and Glue jobs: read bronze, write bronze (append), read-write silver and gold, and their Glue databases."
        region, account, partition = cdk.Aws.REGION, cdk.Aws.ACCOUNT_ID, cdk.Aws.PARTITION
        data.bronze.grant_read(role)
        data.bronze.grant_put(role)
        data.silver.grant_read_write(role)
        data.gold.grant_read_write(role)
        data.athena_results.grant_read_write(role)
        dbs = (SETTINGS.glue_database_silver, SETTINGS.glue_database_gold)
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables", "glue:CreateTable",
                     "glue:UpdateTable", "glue:DeleteTable", "glue:GetPartitions", "glue:BatchGetPartition"],
            resources=[f"arn:{partition}:glue:{region}:{account}:catalog",
                       *[f"arn:{partition}:glue:{region}:{account}:database/{d}" for d in dbs],
                       *[f"arn:{partition}:glue:{region}:{account}:table/{d}/*" for d in dbs]]))

    def grant_registry_read(self, role: iam.IRole) -> None:
        "Decode Avro by schema version id (IAM can only authorize GetSchemaVersion by id on `*`)."
        role.add_to_principal_policy(iam.PolicyStatement(sid="GlueSchemaVersionById", actions=["glue:GetSchemaVersion"],
                                                         resources=["*"]))
