"""The uhnw platform as AWS CDK stacks: one module per stack, `config` for the context parameters and the values the
stacks take from the `uhnw` package itself (topic names, consumer groups, schema files, the schedule), so the
infrastructure follows the application instead of restating it."""
from __future__ import annotations

__all__ = ["STACKS"]

# stack id -> what it holds (the order they deploy in)
STACKS = {
    "Network": "VPC (2 AZs, 1 NAT gateway), S3 gateway endpoint, the security groups of clients, MSK and Aurora",
    "Data": "the lake: KMS key, bronze/silver/gold/archive/Athena-results buckets, Glue databases, the Glue Schema Registry, "
            "the Athena workgroup",
    "Streaming": "MSK Serverless (IAM auth) and its bootstrap brokers",
    "Database": "Aurora Serverless v2 PostgreSQL, credentials in Secrets Manager, IAM authentication (Studio's audit user)",
    "Services": "ECS Fargate (API behind an ALB, hot path, CRM applier, market adapter, news pollers, scraper schedule), "
                "the enrichment Lambda, the deploy-time migrations",
    "Jobs": "EMR Serverless, the Glue/SageMaker/EMR roles, Step Functions + EventBridge Scheduler from jobs/schedule.toml",
    "Monitoring": "CloudWatch alarms: consumer lag, dead-letter growth, alert latency; an SNS topic",
    "Studio": "SageMaker Studio for analysts: the JupyterLab lifecycle configuration (installs the wheel, registers the "
              "`uhnw` kernel with the deployment's settings), an execution role reading the lake (Athena, Glue, silver/gold) "
              "that writes audit rows as the insert-only database user `uhnw_query_audit` (RDS IAM token), and the "
              "security group of a VpcOnly domain in the app's VPC",
}
