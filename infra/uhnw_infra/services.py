"""The long-running processes and the enrichment Lambda, all from the images of `docker/*.Dockerfile` (CDK image
assets: `cdk deploy` builds and pushes them; `cdk synth` only stages the build context, it needs no Docker daemon).

- `uhnw serve api` on Fargate behind a public ALB (WebSocket `/ws` works through it; idle timeout raised to
  `alb_idle_timeout_seconds`; no stickiness: every replica reads every alert in its own consumer group).
- `uhnw serve hotpath`, scaled on its consumer lag between 1 and the partitions of raw-news-events (more consumers
  than partitions would idle).
- `uhnw serve crm` (one task: CDC events apply in commit order), `uhnw ingest ticks` (the market adapter; 0 tasks by
  default: the app has replay and synthetic feeds only), one `uhnw ingest news-poll --url U` per `news_feed_urls`, and
  `uhnw scrape --sitemap S ...` on an EventBridge Scheduler schedule when `scrape_sitemaps` is set.
- The bootstrap task (`uhnw.ops.db.migrate`, then `uhnw topics create`), run at every deploy that changes it by a
  `triggers.TriggerFunction` that starts the task and waits for its exit code: a failed migration fails the deploy,
  before any service is updated.
- The enrichment Lambda (`uhnw.enrich.lambda_handler`, container image) on an MSK event-source mapping of
  raw-news-events with partial batch responses (provisioned pollers: Lambda's error-handling controls for Kafka,
  ReportBatchItemFailures among them, need provisioned mode). Which of the hot path and the Lambda enrich is
  `enrichment` (default `hotpath`: the mapping is declared but disabled; `both` doubles the work, the alerts table
  keeps one row per article and client either way).

Settings reach the processes as `UHNW_*` variables (`uhnw.config.load_settings`), secrets as `secretsmanager:<arn>`
references the app resolves itself, so no secret value is in a task definition."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy, triggers
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_ecs_patterns as ecs_patterns
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from .config import ALERTS, CRM, DLQ_TOPICS, DOCKER_EXCLUDE, NEWS, SETTINGS, TICKS, TOPICS, InfraConfig, consumer_groups
from .data import DataStack
from .database import DatabaseStack
from .network import MSK_IAM_PORT, POSTGRES_PORT, NetworkStack
from .streaming import StreamingStack

SUMMARIZE_ENDPOINT = "uhnw-summarize"  # deployed separately when -c sagemaker_summarizer=true (the app's default is in-process)
API_PORT = 8080
HOTPATH_METRICS_PORT = 9108
HOME = "/tmp/uhnw"  # UHNW_HOME inside the containers and the Lambda: the only writable place in the Lambda
# which image runs which process (docker/<image>.Dockerfile)
COMPONENT_IMAGES = {"api": "api", "hotpath": "hotpath", "crm": "crm", "market": "api", "news": "api", "scrape": "api",
                    "bootstrap": "api"}
ENI_ACTIONS = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
               "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses", "ec2:DescribeVpcs", "ec2:DescribeSubnets",
               "ec2:DescribeSecurityGroups"]
BOOTSTRAP_SCRIPT = ("set -e; "
                    "python -c 'from uhnw.config import load_settings; from uhnw.ops.db import migrate; "
                    "print(\"migrations applied:\", migrate(load_settings()) or \"none\")'; "
                    "uhnw topics create")

TRIGGER_CODE = '''
import os, boto3

ecs = boto3.client("ecs")

def handler(event, context):
    "Run the bootstrap task once and fail (failing the deploy) unless it exits 0."
    net = {"subnets": os.environ["SUBNETS"].split(","), "securityGroups": [os.environ["SECURITY_GROUP"]], "assignPublicIp": "DISABLED"}
    r = ecs.run_task(cluster=os.environ["CLUSTER"], taskDefinition=os.environ["TASK_DEFINITION"], launchType="FARGATE",
                     count=1, startedBy="uhnw-deploy", networkConfiguration={"awsvpcConfiguration": net})
    if r.get("failures") or not r.get("tasks"): raise RuntimeError(f"cannot start the bootstrap task: {r.get('failures')}")
    arn = r["tasks"][0]["taskArn"]
    ecs.get_waiter("tasks_stopped").wait(cluster=os.environ["CLUSTER"], tasks=[arn], WaiterConfig={"Delay": 10, "MaxAttempts": 80})
    task = ecs.describe_tasks(cluster=os.environ["CLUSTER"], tasks=[arn])["tasks"][0]
    codes = [c.get("exitCode") for c in task["containers"]]
    print({"task": arn, "exit_codes": codes, "stopped": task.get("stoppedReason")})
    if codes != [0]: raise RuntimeError(f"bootstrap task {arn} exited {codes}: {task.get('stoppedReason')} (see its log group)")
    return {"task": arn}
'''


class ServicesStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, cfg: InfraConfig, network: NetworkStack, data: DataStack,
                 streaming: StreamingStack, database: DatabaseStack, **kw) -> None:
        super().__init__(scope, id, **kw)
        self.cfg, self.network, self.data, self.streaming, self.database = cfg, network, data, streaming, database
        groups = consumer_groups()
        acl = streaming.acl
        self.cluster = ecs.Cluster(self, "Cluster", vpc=network.vpc, cluster_name=cfg.prefix)
        # the tasks' and the Lambda's own group (here, not in the network stack: the ALB adds a rule to it), let into
        # MSK and Aurora by rules that live in this stack (remote rules)
        self.sg = ec2.SecurityGroup(self, "ServicesSg", vpc=network.vpc, allow_all_outbound=True,
                                    description="uhnw ECS tasks and the enrichment Lambda")
        network.msk_sg.add_ingress_rule(self.sg, ec2.Port.tcp(MSK_IAM_PORT), "Kafka from the uhnw services", True)
        network.db_sg.add_ingress_rule(self.sg, ec2.Port.tcp(POSTGRES_PORT), "PostgreSQL from the uhnw services", True)
        self.images = {name: ecr_assets.DockerImageAsset(
            self, f"{name.title()}Image", directory=str(cfg.docker_root), file=f"docker/{name}.Dockerfile",
            exclude=DOCKER_EXCLUDE, platform=ecr_assets.Platform.LINUX_AMD64)
            for name in sorted(set(COMPONENT_IMAGES.values()))}
        self.auth_secret = sm.Secret(self, "AuthSecret", secret_name=f"{cfg.prefix}/auth",
                                     description="HS256 secret of uhnw RM tokens (UHNW_AUTH_SECRET)",
                                     generate_secret_string=sm.SecretStringGenerator(password_length=64, exclude_punctuation=True))
        self.webhook_secret = sm.Secret(self, "WebhookSecrets", secret_name=f"{cfg.prefix}/webhooks",
                                        description="news providers' webhook secrets, JSON {provider: secret} (UHNW_WEBHOOK_SECRETS)",
                                        generate_secret_string=sm.SecretStringGenerator(
                                            secret_string_template='{}', generate_string_key="example-provider",
                                            password_length=48, exclude_punctuation=True))
        self.app_env = self.settings_env()

        # --- the API behind the ALB
        api_td, _ = self.task("Api", "api", cpu=512, memory=1024, command=["serve", "api", "--host", "0.0.0.0", "--port", str(API_PORT)],
                              env={"UHNW_AUTH_SECRET": f"secretsmanager:{self.auth_secret.secret_arn}",
                                   "UHNW_WEBHOOK_SECRETS": f"secretsmanager:{self.webhook_secret.secret_arn}"},
                              port=API_PORT)
        self.grant_db(api_td.task_role)
        self.auth_secret.grant_read(api_td.task_role)
        self.webhook_secret.grant_read(api_td.task_role)
        self.grant_registry(api_td.task_role, producer=True)
        self.add_statements(api_td.task_role, acl.statements(
            read=(ALERTS, TICKS), write=(NEWS, f"{NEWS}.dlq", f"{ALERTS}.dlq"),
            groups=(f"{SETTINGS.topic_prefix}uhnw-alert-api-*", f"{SETTINGS.topic_prefix}uhnw-tick-api-*")))
        certificate = acm.Certificate.from_certificate_arn(self, "Certificate", cfg.certificate_arn) if cfg.certificate_arn else None
        self.api = ecs_patterns.ApplicationLoadBalancedFargateService(
            self, "Api", cluster=self.cluster, task_definition=api_td, desired_count=cfg.api_desired_count,
            public_load_balancer=True, security_groups=[self.sg], task_subnets=network.private_subnets,
            certificate=certificate, redirect_http=bool(certificate),
            protocol=elbv2.ApplicationProtocol.HTTPS if certificate else elbv2.ApplicationProtocol.HTTP,
            idle_timeout=Duration.seconds(cfg.alb_idle_timeout_seconds), health_check_grace_period=Duration.seconds(60),
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True), min_healthy_percent=100, max_healthy_percent=200)
        self.api.target_group.configure_health_check(path="/health", healthy_http_codes="200")
        self.api.target_group.set_attribute("deregistration_delay.timeout_seconds", "30")
        api_scaling = self.api.service.auto_scale_task_count(min_capacity=cfg.api_desired_count,
                                                             max_capacity=max(cfg.api_max_count, cfg.api_desired_count))
        api_scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=60)

        # --- the hot path
        hot_td, _ = self.task("Hotpath", "hotpath", cpu=1024, memory=2048,
                              command=["serve", "hotpath", "--host", "0.0.0.0", "--metrics-port", str(HOTPATH_METRICS_PORT)],
                              health_url=f"http://127.0.0.1:{HOTPATH_METRICS_PORT}/health")
        self.grant_db(hot_td.task_role)
        self.grant_registry(hot_td.task_role, producer=True)
        data.gold.grant_read(hot_td.task_role, "models/*")
        self.add_statements(hot_td.task_role, acl.statements(
            read=(NEWS,), write=(ALERTS, f"{NEWS}.dlq"), groups=(groups["hotpath"], f"{groups['hotpath']}-probe"),
            transactional_ids=(f"{groups['hotpath']}-*",)))
        hot_on = cfg.enrichment in ("hotpath", "both")
        self.hotpath = self.service("Hotpath", hot_td, cfg.hotpath_count if hot_on else 0)
        if hot_on and cfg.hotpath_count > 0:  # 0: parked (first deploy, before a relevance model is promoted)
            lag = streaming_lag_metric(streaming.cluster_name, groups["hotpath"], NEWS, "SumOffsetLag")
            scaling = self.hotpath.auto_scale_task_count(min_capacity=1, max_capacity=cfg.partitions)
            scaling.scale_on_metric("Lag", metric=lag, adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
                                    scaling_steps=[appscaling.ScalingInterval(upper=100, change=-1),
                                                   appscaling.ScalingInterval(lower=1000, change=+1),
                                                   appscaling.ScalingInterval(lower=10000, change=+2)],
                                    cooldown=Duration.minutes(3))
            scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=70)

        # --- the CRM change applier, the market adapter, the news pollers
        crm_td, _ = self.task("Crm", "crm", cpu=256, memory=512, command=["serve", "crm"])
        self.grant_db(crm_td.task_role)
        self.grant_registry(crm_td.task_role, producer=False)
        self.add_statements(crm_td.task_role, acl.statements(read=(CRM,), write=(f"{CRM}.dlq",), groups=(groups["crm"],)))
        self.crm = self.service("Crm", crm_td, cfg.crm_desired_count)

        market_td, _ = self.task("Market", "market", cpu=256, memory=512, command=list(cfg.market_command))
        self.grant_db(market_td.task_role)
        self.grant_registry(market_td.task_role, producer=True)
        self.add_statements(market_td.task_role, acl.statements(write=(TICKS, f"{TICKS}.dlq")))
        self.market = self.service("Market", market_td, cfg.market_desired_count)

        self.news_pollers = []
        if cfg.news_feed_urls:
            news_td_role = iam.Role(self, "NewsPollTaskRole", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
                                    description="uhnw ingest news-poll: produce raw-news-events")
            self.grant_registry(news_td_role, producer=True)
            self.add_statements(news_td_role, acl.statements(write=(NEWS, f"{NEWS}.dlq")))
            for i, url in enumerate(cfg.news_feed_urls):
                td, _ = self.task(f"NewsPoll{i}", "news", cpu=256, memory=512, role=news_td_role,
                                  command=["ingest", "news-poll", "--url", url, "--interval", str(cfg.news_poll_interval_seconds)])
                self.news_pollers.append(self.service(f"NewsPoll{i}", td, 1))

        # --- the scraper: a task on a schedule
        scrape_td, _ = self.task("Scrape", "scrape", cpu=512, memory=1024,
                                 command=["scrape", *[a for s in cfg.scrape_sitemaps for a in ("--sitemap", s)]])
        for prefix in ("web/*", "_web_content/*", "_landings/web/*"):
            data.bronze.grant_read(scrape_td.task_role, prefix)
            data.bronze.grant_put(scrape_td.task_role, prefix)
        self.scrape_schedule = None
        if cfg.scrape_sitemaps:
            self.scrape_schedule = self.ecs_schedule("ScrapeSchedule", scrape_td, cfg.scrape_schedule, cfg.scrape_time_zone,
                                                     f"{cfg.prefix}-scrape")

        # --- deploy-time bootstrap: migrations, then topics
        boot_td, _ = self.task("Bootstrap", "bootstrap", cpu=512, memory=1024, command=[BOOTSTRAP_SCRIPT], entry_point=["sh", "-c"])
        self.grant_db(boot_td.task_role)
        self.add_statements(boot_td.task_role, acl.statements(create=TOPICS + DLQ_TOPICS))
        self.bootstrap_trigger = self.bootstrap(boot_td)
        for svc in [self.api.service, self.hotpath, self.crm, self.market, *self.news_pollers]:
            self.bootstrap_trigger.execute_before(svc)

        # --- the enrichment Lambda on the MSK event source
        self.enrich_fn, self.event_source = self.enrichment()

        cdk.CfnOutput(self, "ApiUrl", value=f"{'https' if certificate else 'http'}://{self.api.load_balancer.load_balancer_dns_name}")
        cdk.CfnOutput(self, "EcsCluster", value=self.cluster.cluster_name)
        cdk.CfnOutput(self, "EnrichFunction", value=self.enrich_fn.function_name)
        cdk.CfnOutput(self, "UhnwEnvironment", value=self.to_json_string(self.app_env),
                      description="the UHNW_* variables of the services (secrets as secretsmanager: references), "
                                  "for a CLI or launcher run against this deployment")

    # ----- settings and grants

    def settings_env(self) -> dict[str, str]:
        "The `UHNW_*` variables every process gets: the aws profile pointed at this deployment's resources."
        d, db, s = self.data, self.database, SETTINGS
        return {
            "UHNW_PROFILE": "aws", "UHNW_REGION": cdk.Aws.REGION, "UHNW_HOME": HOME,
            "UHNW_KAFKA_BOOTSTRAP_SERVERS": self.streaming.bootstrap_servers, "UHNW_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "UHNW_KAFKA_SASL_MECHANISM": "OAUTHBEARER", "UHNW_DEFAULT_PARTITIONS": str(self.cfg.partitions),
            "UHNW_SCHEMA_REGISTRY": "glue", "UHNW_GLUE_REGISTRY_NAME": d.registry_name,
            "UHNW_POSTGRES_HOST": db.endpoint, "UHNW_POSTGRES_PORT": str(db.cluster.cluster_endpoint.port),
            "UHNW_POSTGRES_DB": db.db_name, "UHNW_POSTGRES_USER": db.username, "UHNW_POSTGRES_SSLMODE": "require",
            "UHNW_POSTGRES_PASSWORD": f"secretsmanager:{db.secret.secret_arn}#password",
            "UHNW_BRONZE_BUCKET": d.bronze.bucket_name, "UHNW_SILVER_BUCKET": d.silver.bucket_name,
            "UHNW_GOLD_BUCKET": d.gold.bucket_name, "UHNW_ARCHIVE_BUCKET": d.archive.bucket_name,
            "UHNW_GLUE_DATABASE_SILVER": s.glue_database_silver, "UHNW_GLUE_DATABASE_GOLD": s.glue_database_gold,
            "UHNW_ATHENA_WORKGROUP": d.workgroup_name, "UHNW_ATHENA_OUTPUT": f"s3://{d.athena_results.bucket_name}/",
            "UHNW_SAGEMAKER_SUMMARIZE_ENDPOINT": SUMMARIZE_ENDPOINT if self.cfg.sagemaker_summarizer else "",
        }

    @staticmethod
    def add_statements(role: iam.IRole, statements: list[iam.PolicyStatement]) -> None:
        for st in statements: role.add_to_principal_policy(st)

    def grant_db(self, role: iam.IRole) -> None:
        "Read the RDS secret (the app resolves UHNW_POSTGRES_PASSWORD itself)."
        self.database.secret.grant_read(role)

    def grant_registry(self, role: iam.IRole, producer: bool) -> None:
        """Glue Schema Registry: a producer finds (or registers) its writer schema in registry `uhnw`; everyone reads
        schema versions by id, which IAM can only authorize on `*` (GetSchemaVersion by SchemaVersionId has no registry)."""
        region, account, name = cdk.Aws.REGION, cdk.Aws.ACCOUNT_ID, self.data.registry_name
        if producer:
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["glue:GetRegistry", "glue:GetSchema", "glue:GetSchemaByDefinition", "glue:CreateSchema",
                         "glue:RegisterSchemaVersion", "glue:GetSchemaVersion"],
                resources=[f"arn:{cdk.Aws.PARTITION}:glue:{region}:{account}:registry/{name}",
                           f"arn:{cdk.Aws.PARTITION}:glue:{region}:{account}:schema/{name}/*"]))
        role.add_to_principal_policy(iam.PolicyStatement(sid="GlueSchemaVersionById", actions=["glue:GetSchemaVersion"],
                                                         resources=["*"]))

    # ----- building blocks

    def task(self, id: str, component: str, *, cpu: int, memory: int, command: list[str], env: dict | None = None,
             port: int | None = None, health_url: str | None = None, role: iam.IRole | None = None,
             entry_point: list[str] | None = None) -> tuple[ecs.FargateTaskDefinition, ecs.ContainerDefinition]:
        "A Fargate task definition running `uhnw <command>` from the component's image, logging to its own log group."
        td = ecs.FargateTaskDefinition(self, f"{id}Task", cpu=cpu, memory_limit_mib=memory, task_role=role,
                                       runtime_platform=ecs.RuntimePlatform(cpu_architecture=ecs.CpuArchitecture.X86_64,
                                                                            operating_system_family=ecs.OperatingSystemFamily.LINUX))
        log_group = logs.LogGroup(self, f"{id}Logs", log_group_name=f"/{self.cfg.prefix}/{id.lower()}",
                                  retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY)
        probe = f"import urllib.request; urllib.request.urlopen('{health_url}', timeout=3)"
        health = ecs.HealthCheck(command=["CMD", "python", "-c", probe],
                                 interval=Duration.seconds(30), timeout=Duration.seconds(5), retries=3,
                                 start_period=Duration.seconds(120)) if health_url else None
        container = td.add_container(
            "app", image=ecs.ContainerImage.from_docker_image_asset(self.images[COMPONENT_IMAGES[component]]),
            entry_point=entry_point or ["uhnw"], command=command, environment={**self.app_env, **(env or {})},
            logging=ecs.LogDrivers.aws_logs(stream_prefix=component, log_group=log_group), health_check=health,
            port_mappings=[ecs.PortMapping(container_port=port)] if port else None, essential=True)
        return td, container

    def service(self, id: str, td: ecs.FargateTaskDefinition, desired: int) -> ecs.FargateService:
        return ecs.FargateService(self, id, cluster=self.cluster, task_definition=td, desired_count=desired,
                                  security_groups=[self.sg], vpc_subnets=self.network.private_subnets,
                                  circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
                                  min_healthy_percent=0 if desired <= 1 else 50, max_healthy_percent=200)

    def run_task_statements(self, td: ecs.FargateTaskDefinition) -> list[iam.PolicyStatement]:
        "Start `td` on this cluster and hand it its roles."
        return [iam.PolicyStatement(actions=["ecs:RunTask"], resources=[td.task_definition_arn],
                                    conditions={"ArnEquals": {"ecs:cluster": self.cluster.cluster_arn}}),
                iam.PolicyStatement(actions=["iam:PassRole"], resources=[td.task_role.role_arn, td.obtain_execution_role().role_arn],
                                    conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}})]

    def ecs_schedule(self, id: str, td: ecs.FargateTaskDefinition, expression: str, tz: str, name: str) -> scheduler.CfnSchedule:
        role = iam.Role(self, f"{id}Role", assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
                        description=f"EventBridge Scheduler: run {name}")
        self.add_statements(role, self.run_task_statements(td))
        subnets = self.network.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnet_ids
        return scheduler.CfnSchedule(
            self, id, name=name, schedule_expression=expression, schedule_expression_timezone=tz,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=self.cluster.cluster_arn, role_arn=role.role_arn,
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(maximum_retry_attempts=2),
                ecs_parameters=scheduler.CfnSchedule.EcsParametersProperty(
                    task_definition_arn=td.task_definition_arn, launch_type="FARGATE", task_count=1,
                    network_configuration=scheduler.CfnSchedule.NetworkConfigurationProperty(
                        awsvpc_configuration=scheduler.CfnSchedule.AwsVpcConfigurationProperty(
                            subnets=subnets, security_groups=[self.sg.security_group_id],
                            assign_public_ip="DISABLED")))))

    def bootstrap(self, td: ecs.FargateTaskDefinition) -> triggers.TriggerFunction:
        "A Lambda, run by CloudFormation at deploy, that runs the bootstrap task and waits for it to exit 0."
        log_group = logs.LogGroup(self, "BootstrapTriggerLogs", log_group_name=f"/{self.cfg.prefix}/bootstrap-trigger",
                                  retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY)
        role = iam.Role(self, "BootstrapTriggerRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description="deploy-time trigger: run the uhnw bootstrap task (migrations, topics)")
        self.add_statements(role, [
            *self.run_task_statements(td),
            iam.PolicyStatement(actions=["ecs:DescribeTasks"],
                                resources=[f"arn:{cdk.Aws.PARTITION}:ecs:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:task/{self.cluster.cluster_name}/*"]),
            iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn])])
        subnets = self.network.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnet_ids
        fn = triggers.TriggerFunction(
            self, "BootstrapTrigger", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
            code=lambda_.Code.from_inline(TRIGGER_CODE), timeout=Duration.minutes(14), role=role, log_group=log_group,
            environment={"CLUSTER": self.cluster.cluster_arn, "TASK_DEFINITION": td.task_definition_arn,
                         "SUBNETS": cdk.Fn.join(",", subnets), "SECURITY_GROUP": self.sg.security_group_id},
            execute_after=[td, self.cluster], execute_on_handler_change=True)
        return fn

    def enrichment(self) -> tuple[lambda_.DockerImageFunction, lambda_.CfnEventSourceMapping]:
        cfg, data, acl = self.cfg, self.data, self.streaming.acl
        group = consumer_groups()["lambda"]
        log_group = logs.LogGroup(self, "EnrichLogs", log_group_name=f"/{cfg.prefix}/enrich-lambda",
                                  retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY)
        role = iam.Role(self, "EnrichRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description="uhnw.enrich.lambda_handler: raw-news-events -> enriched-alerts")
        self.add_statements(role, [
            iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]),
            # a function in a VPC, and the MSK event poller using this role in the cluster's VPC: EC2 has no
            # resource-level permissions for Describe* (and the ENIs do not exist before the calls)
            iam.PolicyStatement(sid="VpcNetworkInterfaces", actions=ENI_ACTIONS, resources=["*"]),
            iam.PolicyStatement(actions=["kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers"],
                                resources=[self.streaming.cluster_arn]),
            iam.PolicyStatement(actions=["kafka-cluster:DescribeClusterDynamicConfiguration"],
                                resources=[self.streaming.cluster_arn]),
            *acl.statements(read=(NEWS,), write=(ALERTS, f"{NEWS}.dlq"), groups=(group,))])
        self.grant_registry(role, producer=True)
        data.gold.grant_read(role, "models/*")
        clients_file = cfg.clients_file or f"s3://{data.gold.bucket_name}/reference/clients.csv"
        if not cfg.clients_file:
            data.gold.grant_read(role, "reference/*")
        if cfg.sagemaker_summarizer:
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["sagemaker:InvokeEndpoint"],
                resources=[f"arn:{cdk.Aws.PARTITION}:sagemaker:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:endpoint/{SUMMARIZE_ENDPOINT}"]))
        fn = lambda_.DockerImageFunction(
            self, "Enrich", description="uhnw enrichment: raw-news-events -> enriched-alerts (MSK event source)",
            code=lambda_.DockerImageCode.from_image_asset(str(cfg.docker_root), file="docker/lambda.Dockerfile",
                                                          exclude=DOCKER_EXCLUDE, cmd=["uhnw.enrich.lambda_handler"],
                                                          platform=ecr_assets.Platform.LINUX_AMD64),
            architecture=lambda_.Architecture.X86_64, memory_size=2048, timeout=Duration.seconds(60), role=role,
            vpc=self.network.vpc, vpc_subnets=self.network.private_subnets, security_groups=[self.sg],
            environment={**self.app_env, "UHNW_CLIENTS_FILE": clients_file}, log_group=log_group)
        esm = lambda_.CfnEventSourceMapping(
            self, "EnrichEventSource", function_name=fn.function_arn, event_source_arn=self.streaming.cluster_arn,
            topics=[NEWS], starting_position=cfg.lambda_starting_position, batch_size=cfg.lambda_batch_size,
            function_response_types=["ReportBatchItemFailures"],
            enabled=cfg.enrichment in ("lambda", "both"),
            amazon_managed_kafka_event_source_config=lambda_.CfnEventSourceMapping.AmazonManagedKafkaEventSourceConfigProperty(
                consumer_group_id=group),
            provisioned_poller_config=lambda_.CfnEventSourceMapping.ProvisionedPollerConfigProperty(
                minimum_pollers=1, maximum_pollers=cfg.partitions),
            maximum_retry_attempts=5,  # then the batch's failed records go to the dead-letter topic, never dropped
            destination_config=lambda_.CfnEventSourceMapping.DestinationConfigProperty(
                on_failure=lambda_.CfnEventSourceMapping.OnFailureProperty(destination=f"kafka://{NEWS}.dlq")))
        esm.node.add_dependency(role)  # the poller checks the role's Kafka and EC2 permissions when the mapping is created
        return fn, esm


def streaming_lag_metric(cluster_name: str, group: str, topic: str, metric: str, statistic: str = "Maximum") -> cw.Metric:
    "An MSK consumer-lag metric of one consumer group on one topic (MSK Serverless publishes them per minute)."
    return cw.Metric(namespace="AWS/Kafka", metric_name=metric, statistic=statistic, period=Duration.minutes(1),
                     dimensions_map={"Cluster Name": cluster_name, "Consumer Group": group, "Topic": topic})
