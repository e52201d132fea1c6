"""Alarms, to an SNS topic (`alarm_email` subscribes an address):

- consumer lag of each fixed consumer group (hot path, CRM applier, the Lambda's mapping when it is enabled):
  MSK's `EstimatedMaxTimeLag` (seconds behind) and `SumOffsetLag` (messages behind) per group and topic. The API's
  groups are one per replica (named by host), so they have no static alarm; their lag is on the API's /metrics.
- dead-letter growth: MSK's per-topic `MessagesInPerSec` on every `<topic>.dlq`, as messages per 5 minutes.
- alert latency: p99 of `AlertLatencyMs` in the custom namespace `uhnw`, from article received to alert stored. The
  app does not publish it to CloudWatch yet (the hot path exports Prometheus histograms on /metrics); until something
  does (CloudWatch agent/ADOT scraping /metrics, or `put_metric_data`), the alarm sits in INSUFFICIENT_DATA and
  treats missing data as not breaching.
- the API's 5xx responses at the ALB and, when it enriches, the Lambda's errors."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from .config import CRM, DLQ_TOPICS, NEWS, InfraConfig, consumer_groups
from .services import ServicesStack, streaming_lag_metric
from .streaming import StreamingStack

ALERT_LATENCY_NAMESPACE = "uhnw"
ALERT_LATENCY_METRIC = "AlertLatencyMs"


class MonitoringStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, cfg: InfraConfig, streaming: StreamingStack,
                 services: ServicesStack, **kw) -> None:
        super().__init__(scope, id, **kw)
        self.topic = sns.Topic(self, "Alarms", display_name="uhnw alarms", enforce_ssl=True)
        if cfg.alarm_email: self.topic.add_subscription(subs.EmailSubscription(cfg.alarm_email))
        action = cw_actions.SnsAction(self.topic)
        self.alarms: list[cw.Alarm] = []

        def alarm(id: str, metric: cw.IMetric, threshold: float, description: str, periods: int = 5,
                  missing=cw.TreatMissingData.NOT_BREACHING) -> cw.Alarm:
            a = metric.create_alarm(self, id, alarm_name=f"{cfg.prefix}-{id}", threshold=threshold, evaluation_periods=periods,
                                    datapoints_to_alarm=periods, alarm_description=description, treat_missing_data=missing,
                                    comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
            a.add_alarm_action(action)
            a.add_ok_action(action)
            self.alarms.append(a)
            return a

        groups = consumer_groups()
        lagging = [("Hotpath", groups["hotpath"], NEWS)] if cfg.enrichment in ("hotpath", "both") else []
        lagging.append(("Crm", groups["crm"], CRM))
        if cfg.enrichment in ("lambda", "both"): lagging.append(("EnrichLambda", groups["lambda"], NEWS))
        for name, group, topic in lagging:
            alarm(f"{name}TimeLag", streaming_lag_metric(streaming.cluster_name, group, topic, "EstimatedMaxTimeLag"),
                  cfg.lag_seconds_threshold, f"consumer group {group} is {cfg.lag_seconds_threshold}+ s behind on {topic}")
            alarm(f"{name}OffsetLag", streaming_lag_metric(streaming.cluster_name, group, topic, "SumOffsetLag"),
                  cfg.offset_lag_threshold, f"consumer group {group} is {cfg.offset_lag_threshold}+ messages behind on {topic}")

        for dlq in DLQ_TOPICS:
            rate = cw.Metric(namespace="AWS/Kafka", metric_name="MessagesInPerSec", statistic="Sum", period=Duration.minutes(5),
                             dimensions_map={"Cluster Name": streaming.cluster_name, "Topic": dlq})
            letters = cw.MathExpression(expression="rate * 60", using_metrics={"rate": rate},
                                        label=f"dead letters on {dlq} per 5 minutes", period=Duration.minutes(5))
            safe = "".join(p.title() for p in dlq.replace(".", "-").split("-"))
            alarm(f"{safe}Growth", letters, cfg.dlq_messages_threshold,
                  f"{dlq} received dead letters: `uhnw dlq show {dlq.removesuffix('.dlq')}` says why", periods=1)

        latency = cw.Metric(namespace=ALERT_LATENCY_NAMESPACE, metric_name=ALERT_LATENCY_METRIC, statistic="p99",
                            period=Duration.minutes(1))
        alarm("AlertLatencyP99", latency, cfg.alert_latency_ms_threshold,
              f"p99 alert latency (received -> stored) above {cfg.alert_latency_ms_threshold} ms; "
              f"metric {ALERT_LATENCY_NAMESPACE}/{ALERT_LATENCY_METRIC}, published by the app")
        alarm("Api5xx", services.api.load_balancer.metrics.http_code_target(
            code=cdk.aws_elasticloadbalancingv2.HttpCodeTarget.TARGET_5XX_COUNT, period=Duration.minutes(5), statistic="Sum"),
              10, "the API answered 10+ 5xx in 5 minutes", periods=1)
        if cfg.enrichment in ("lambda", "both"):
            alarm("EnrichLambdaErrors", services.enrich_fn.metric_errors(period=Duration.minutes(5), statistic="Sum"), 1,
                  "the enrichment Lambda failed whole batches", periods=1)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.topic.topic_arn)
