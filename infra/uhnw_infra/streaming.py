"""The bus: an MSK Serverless cluster (IAM access control only: no unauthenticated or SASL/SCRAM clients) in the
private subnets, and its bootstrap brokers (not a CloudFormation attribute of a serverless cluster: read once with
`kafka:GetBootstrapBrokers` by a custom resource scoped to this cluster). Topics are not CloudFormation resources:
the deploy-time bootstrap task runs `uhnw topics create` (`uhnw.bus.topic_specs`: partitions, retention, the `.dlq`
twins). `KafkaAcl` builds the ARNs of topics, groups and transactional ids under this cluster for IAM policies."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Fn
from aws_cdk import aws_iam as iam
from aws_cdk import aws_msk as msk
from aws_cdk import custom_resources as cr
from constructs import Construct

from .config import InfraConfig
from .network import NetworkStack


class KafkaAcl:
    "IAM access control of one MSK cluster: resource ARNs and the statements of producers, consumers and admins."

    def __init__(self, cluster_arn: str, cluster_name: str):
        self.cluster_arn, self.cluster_name = cluster_arn, cluster_name

    def arn(self, kind: str, name: str) -> str:
        "arn:<partition>:kafka:<region>:<account>:<kind>/<cluster name>/<cluster uuid>/<name>"
        uuid = Fn.select(2, Fn.split("/", self.cluster_arn))
        return Fn.join("", [f"arn:{cdk.Aws.PARTITION}:kafka:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:{kind}/{self.cluster_name}/",
                            uuid, f"/{name}"])

    def topic(self, name: str) -> str: return self.arn("topic", name)
    def group(self, name: str) -> str: return self.arn("group", name)
    def transactional_id(self, name: str) -> str: return self.arn("transactional-id", name)

    def statements(self, *, read: tuple[str, ...] = (), write: tuple[str, ...] = (), groups: tuple[str, ...] = (),
                   transactional_ids: tuple[str, ...] = (), create: tuple[str, ...] = ()) -> list[iam.PolicyStatement]:
        "What a client needs: connect; read/write these topics; join these groups; use these transactional ids; create topics."
        out = [iam.PolicyStatement(actions=["kafka-cluster:Connect", "kafka-cluster:DescribeCluster"]
                                   + (["kafka-cluster:WriteDataIdempotently"] if write else []), resources=[self.cluster_arn])]
        if read:
            out.append(iam.PolicyStatement(actions=["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"],
                                           resources=[self.topic(t) for t in read]))
        if write:
            out.append(iam.PolicyStatement(actions=["kafka-cluster:DescribeTopic", "kafka-cluster:WriteData"],
                                           resources=[self.topic(t) for t in write]))
        if groups:
            out.append(iam.PolicyStatement(actions=["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"],
                                           resources=[self.group(g) for g in groups]))
        if transactional_ids:
            out.append(iam.PolicyStatement(actions=["kafka-cluster:DescribeTransactionalId", "kafka-cluster:AlterTransactionalId"],
                                           resources=[self.transactional_id(t) for t in transactional_ids]))
        if create:
            out.append(iam.PolicyStatement(actions=["kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopic",
                                                    "kafka-cluster:DescribeTopicDynamicConfiguration"],
                                           resources=[self.topic(t) for t in create]))
        return out


class StreamingStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, cfg: InfraConfig, network: NetworkStack, **kw) -> None:
        super().__init__(scope, id, **kw)
        self.cluster_name = cfg.prefix
        subnets = network.vpc.select_subnets(subnet_type=network.private_subnets.subnet_type)
        self.cluster = msk.CfnServerlessCluster(
            self, "Cluster", cluster_name=self.cluster_name,
            client_authentication=msk.CfnServerlessCluster.ClientAuthenticationProperty(
                sasl=msk.CfnServerlessCluster.SaslProperty(iam=msk.CfnServerlessCluster.IamProperty(enabled=True))),
            vpc_configs=[msk.CfnServerlessCluster.VpcConfigProperty(subnet_ids=subnets.subnet_ids,
                                                                     security_groups=[network.msk_sg.security_group_id])],
            tags={"project": "uhnw"})
        self.cluster_arn = self.cluster.attr_arn
        self.acl = KafkaAcl(self.cluster_arn, self.cluster_name)
        brokers = cr.AwsCustomResource(
            self, "BootstrapBrokers",
            on_update=cr.AwsSdkCall(service="Kafka", action="getBootstrapBrokers",
                                    parameters={"ClusterArn": self.cluster_arn},
                                    physical_resource_id=cr.PhysicalResourceId.of(self.cluster_arn),
                                    output_paths=["BootstrapBrokerStringSaslIam"]),
            policy=cr.AwsCustomResourcePolicy.from_statements([iam.PolicyStatement(
                actions=["kafka:GetBootstrapBrokers"], resources=[self.cluster_arn])]),
            install_latest_aws_sdk=False)
        self.bootstrap_servers = brokers.get_response_field("BootstrapBrokerStringSaslIam")
        cdk.CfnOutput(self, "ClusterArn", value=self.cluster_arn)
        cdk.CfnOutput(self, "BootstrapServers", value=self.bootstrap_servers)
