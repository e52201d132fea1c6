#!/usr/bin/env python3
"""The uhnw platform's CDK app: `cdk synth` / `cdk deploy --all` run it (cdk.json), tests call `build_app()`.

Eight stacks (uhnw_infra.STACKS), one module each under uhnw_infra/. The app reads the `uhnw` package (settings,
topics, schema registry files, the schedule), so run it with the repository's virtual environment active."""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for p in (HERE, HERE.parent):  # uhnw_infra, and uhnw from the checkout when it is not installed
    if str(p) not in sys.path: sys.path.insert(0, str(p))

import aws_cdk as cdk  # noqa: E402
from uhnw_infra.config import InfraConfig  # noqa: E402
from uhnw_infra.data import DataStack  # noqa: E402
from uhnw_infra.database import DatabaseStack  # noqa: E402
from uhnw_infra.jobs import JobsStack  # noqa: E402
from uhnw_infra.monitoring import MonitoringStack  # noqa: E402
from uhnw_infra.network import NetworkStack  # noqa: E402
from uhnw_infra.services import ServicesStack  # noqa: E402
from uhnw_infra.streaming import StreamingStack  # noqa: E402
from uhnw_infra.studio import StudioStack  # noqa: E402

STACK_PREFIX = "Uhnw"


def build_app(context: dict | None = None, *, outdir: str | None = None, **app_props) -> cdk.App:
    """The app with every stack declared (not yet synthesized). Context: cdk.json's, then `context`; under the CDK CLI
    its context (cdk.json and `-c key=value`) comes last. `app_props` go to `cdk.App` (tests: no stack traces)."""
    defaults = {**json.loads((HERE / "cdk.json").read_text()).get("context", {}), **(context or {})}
    app = cdk.App(context=defaults, outdir=outdir, **app_props)
    keys = {f for f in InfraConfig.__dataclass_fields__}
    ctx = {k: app.node.try_get_context(k) for k in keys if app.node.try_get_context(k) is not None}
    cfg = InfraConfig.from_context(ctx)
    env = cfg.env
    if env and env.account and env.region:  # the zones a and b, unless cdk.context.json says otherwise: no AZ lookup
        key = f"availability-zones:account={env.account}:region={env.region}"
        if app.node.try_get_context(key) is None: app.node.set_context(key, [f"{env.region}a", f"{env.region}b"])
    kw = {"env": cfg.env, "tags": {"project": "uhnw"}}
    network = NetworkStack(app, f"{STACK_PREFIX}-Network", cfg=cfg, description="uhnw: VPC and security groups", **kw)
    data = DataStack(app, f"{STACK_PREFIX}-Data", cfg=cfg, description="uhnw: lake buckets, Glue catalog and schema registry, Athena", **kw)
    streaming = StreamingStack(app, f"{STACK_PREFIX}-Streaming", cfg=cfg, network=network, description="uhnw: MSK Serverless", **kw)
    database = DatabaseStack(app, f"{STACK_PREFIX}-Database", cfg=cfg, network=network,
                             description="uhnw: Aurora Serverless v2 PostgreSQL", **kw)
    services = ServicesStack(app, f"{STACK_PREFIX}-Services", cfg=cfg, network=network, data=data, streaming=streaming,
                             database=database, description="uhnw: API, hot path, consumers, adapters, enrichment Lambda", **kw)
    JobsStack(app, f"{STACK_PREFIX}-Jobs", cfg=cfg, network=network, data=data, streaming=streaming, database=database,
              description="uhnw: EMR Serverless, Glue/SageMaker roles, the schedule (Step Functions + Scheduler)", **kw)
    MonitoringStack(app, f"{STACK_PREFIX}-Monitoring", cfg=cfg, streaming=streaming, services=services,
                    description="uhnw: alarms", **kw)
    StudioStack(app, f"{STACK_PREFIX}-Studio", cfg=cfg, network=network, data=data, database=database, services=services,
                description="uhnw: SageMaker Studio lifecycle configuration, analyst execution role and network", **kw)
    return app


if __name__ == "__main__":
    build_app().synth()
