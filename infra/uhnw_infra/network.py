"""Network: a VPC over two availability zones with one NAT gateway (idle cost: one NAT-hour, not two; the price is
that the private subnets of the second AZ lose egress if the NAT's AZ fails), a free S3 gateway endpoint so lake
traffic skips the NAT, and the security groups: one for the jobs (EMR Serverless, Glue), one for MSK (9098, IAM) and
one for Aurora (5432), each open only to the jobs' group here and to the services' group (Services stack, which adds
those rules itself: the ALB writes rules into its services' group, so that group lives with the ALB); Aurora also to
the analysts' Studio group (Studio stack, its rule likewise)."""
from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from .config import InfraConfig

MSK_IAM_PORT = 9098
POSTGRES_PORT = 5432


class NetworkStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, cfg: InfraConfig, **kw) -> None:
        super().__init__(scope, id, **kw)
        self.vpc = ec2.Vpc(
            self, "Vpc", max_azs=2, nat_gateways=cfg.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22),
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
        )
        self.clients_sg = ec2.SecurityGroup(self, "ClientsSg", vpc=self.vpc, allow_all_outbound=True,
                                            description="uhnw EMR Serverless and Glue jobs: clients of MSK and Aurora")
        # Glue jobs in a VPC need their security group to accept its own members (Glue's requirement for workers)
        self.clients_sg.add_ingress_rule(self.clients_sg, ec2.Port.all_tcp(), "Glue workers talk to each other")
        self.msk_sg = ec2.SecurityGroup(self, "MskSg", vpc=self.vpc, allow_all_outbound=False,
                                        description="MSK Serverless: IAM-authenticated Kafka from the clients only")
        self.msk_sg.add_ingress_rule(self.clients_sg, ec2.Port.tcp(MSK_IAM_PORT), "Kafka over TLS with IAM auth")
        self.db_sg = ec2.SecurityGroup(self, "DbSg", vpc=self.vpc, allow_all_outbound=False,
                                       description="Aurora PostgreSQL: the clients only")
        self.db_sg.add_ingress_rule(self.clients_sg, ec2.Port.tcp(POSTGRES_PORT), "PostgreSQL")
        self.private_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        cdk.CfnOutput(self, "VpcId", value=self.vpc.vpc_id)
