"""The deployment's parameters (CDK context: `cdk.json`, `-c key=value`, or `build_app(context)`) and what the stacks read
from the `uhnw` package: the aws profile's settings, topic names and partitions, consumer groups, schema files and the
schedule. Context values given on the command line arrive as strings; `InfraConfig.from_context` parses them."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from uhnw.bus import BASE_TOPICS, dlq_topic
from uhnw.config import Settings, load_settings
from uhnw.lake import ARCHIVE_LIFECYCLE
from uhnw.schemas import ALERTS_TOPIC, CRM_TOPIC, NEWS_TOPIC, TICKS_TOPIC

INFRA_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = INFRA_DIR.parent

# the images the other engineers' Dockerfiles build (repo root as the build context)
IMAGES = ("api", "hotpath", "crm", "jobs", "lambda")

# what the Docker build context leaves out, after the repo's .dockerignore (CDK reads it first). The last pattern
# keeps the Dockerfiles: CDK re-includes only a Dockerfile's base name (`!api.Dockerfile`, a root-level match), so
# behind a `*` .dockerignore the staged context would lack docker/<name>.Dockerfile and `cdk deploy` could not build.
DOCKER_EXCLUDE = [".git", ".venv", "**/.venv", ".test-home", "data", "node_modules", "**/node_modules", "cdk.out",
                  "infra/cdk.out", "tests", "**/__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache",
                  "**/.ipynb_checkpoints", ".mypy_cache", "!docker/*.Dockerfile"]


def aws_settings() -> Settings:
    "The `aws` profile's settings as the repository defines them (settings.ini), never this machine's UHNW_* variables."
    return load_settings("aws", env={})


def _archive_transition() -> tuple[int, str]:
    "Days and storage class of the app's own cold-tier lifecycle rule (`uhnw.lake.ARCHIVE_LIFECYCLE`)."
    t = ARCHIVE_LIFECYCLE["Rules"][0]["Transitions"][0]
    return int(t["Days"]), str(t["StorageClass"])


_SETTINGS = aws_settings()
_ARCHIVE_DAYS, _ARCHIVE_CLASS = _archive_transition()


@dataclass(frozen=True)
class InfraConfig:
    "Every context parameter with its default (README: 'Context parameters')."
    account: str = ""  # empty: CDK_DEFAULT_ACCOUNT, else an environment-agnostic synth
    region: str = ""  # empty: CDK_DEFAULT_REGION, else environment-agnostic
    prefix: str = "uhnw"  # names of state machines, schedules, log groups, the MSK cluster...
    bucket_suffix: str = ""  # appended to every bucket name; empty: the account id
    bronze_bucket: str = _SETTINGS.bronze_bucket
    silver_bucket: str = _SETTINGS.silver_bucket
    gold_bucket: str = _SETTINGS.gold_bucket
    archive_bucket: str = _SETTINGS.archive_bucket
    athena_results_bucket: str = _SETTINGS.athena_output.removeprefix("s3://").strip("/") or "uhnw-athena-results"
    archive_retain_years: int = _SETTINGS.archive_retain_years
    archive_transition_days: int = _ARCHIVE_DAYS
    archive_storage_class: str = _ARCHIVE_CLASS  # GLACIER (the app's rule) or DEEP_ARCHIVE
    partitions: int = _SETTINGS.default_partitions  # of raw-news-events: the hot path's and the Lambda's upper bound
    nat_gateways: int = 1
    api_desired_count: int = 2
    api_max_count: int = 4
    hotpath_desired_count: int = 2  # capped at `partitions`
    crm_desired_count: int = 1
    market_desired_count: int = 0  # the app has replay and synthetic feeds, no live vendor adapter yet
    market_command: tuple[str, ...] = ("ingest", "ticks", "--synthetic", "--seconds", "86400", "--start", "session")
    news_feed_urls: tuple[str, ...] = ()  # one poller service per feed
    news_poll_interval_seconds: int = 60
    scrape_sitemaps: tuple[str, ...] = ()  # the scraper's schedule is declared when there is something to scrape
    scrape_schedule: str = "cron(0 22 * * ? *)"  # before web_etl (23:00 Europe/London)
    scrape_time_zone: str = "Europe/London"
    enrichment: str = "hotpath"  # hotpath | lambda | both: which consumer of raw-news-events enriches
    lambda_batch_size: int = 100
    lambda_starting_position: str = "LATEST"
    certificate_arn: str = ""  # ACM certificate: HTTPS on 443 (HTTP redirects); empty: HTTP on 80 only
    alb_idle_timeout_seconds: int = 3600  # WebSocket connections outlive the 60 s default
    db_min_acu: float = 0.5
    db_max_acu: float = 4
    db_deletion_protection: bool = True
    athena_bytes_scanned_cutoff: int = 10 * 1024**3  # per query
    emr_release_label: str = "emr-spark-8.0.0"
    emr_max_cpu: str = "16 vCPU"
    emr_max_memory: str = "64 GB"
    sagemaker_summarizer: bool = False  # True: grant sagemaker:InvokeEndpoint on the summarize endpoint
    clients_file: str = ""  # the Lambda's client master; empty: s3://<gold>/reference/clients.csv
    alarm_email: str = ""
    lag_seconds_threshold: int = 60  # EstimatedMaxTimeLag
    offset_lag_threshold: int = 1000  # SumOffsetLag
    dlq_messages_threshold: int = 1  # dead letters per 5 minutes
    alert_latency_ms_threshold: int = 1000  # p99 of uhnw/AlertLatencyMs
    repo_root: str = ""  # the Docker build context; empty: the repository holding infra/
    extra: dict = field(default_factory=dict, compare=False)  # context keys this class does not know (kept, unused)

    @classmethod
    def from_context(cls, ctx: dict[str, Any]) -> InfraConfig:
        "Parse context values (strings from `-c`, or typed values from cdk.json / tests) into a config."
        known = {f.name: f for f in fields(cls) if f.name != "extra"}
        values, extra = {}, {}
        for key, raw in ctx.items():
            if key not in known:
                extra[key] = raw
                continue
            default = known[key].default
            values[key] = _parse(key, raw, default)
        cfg = cls(**values, extra=extra)
        cfg.check()
        return cfg

    def check(self) -> None:
        if self.enrichment not in ("hotpath", "lambda", "both"):
            raise ValueError(f"context enrichment must be hotpath, lambda or both, not {self.enrichment!r}")
        if self.lambda_starting_position not in ("LATEST", "TRIM_HORIZON"):
            raise ValueError("context lambda_starting_position must be LATEST or TRIM_HORIZON")
        if self.partitions < 1: raise ValueError("context partitions must be at least 1")
        if self.archive_storage_class not in ("GLACIER", "DEEP_ARCHIVE"):
            raise ValueError("context archive_storage_class must be GLACIER or DEEP_ARCHIVE")
        if self.athena_bytes_scanned_cutoff < 10 * 1024**2:
            raise ValueError("context athena_bytes_scanned_cutoff must be at least 10 MB (Athena's minimum)")

    @property
    def env(self) -> cdk.Environment | None:
        account = self.account or os.environ.get("CDK_DEFAULT_ACCOUNT", "")
        region = self.region or os.environ.get("CDK_DEFAULT_REGION", "")
        return cdk.Environment(account=account or None, region=region or None) if (account or region) else None

    @property
    def hotpath_count(self) -> int: return min(self.hotpath_desired_count, self.partitions)

    @property
    def docker_root(self) -> Path: return Path(self.repo_root).resolve() if self.repo_root else REPO_ROOT

    def bucket_name(self, base: str) -> str:
        "A bucket name: the app's default name plus the suffix (bucket names are global)."
        return f"{base}-{self.bucket_suffix or self.account or cdk.Aws.ACCOUNT_ID}"


def _parse(key: str, raw: Any, default: Any) -> Any:
    "A context value as the type of its default (JSON or comma-separated text for lists)."
    if isinstance(default, bool):
        if isinstance(raw, bool): return raw
        text = str(raw).strip().lower()
        if text in ("true", "1", "yes", "on"): return True
        if text in ("false", "0", "no", "off", ""): return False
        raise ValueError(f"context {key} must be true or false, not {raw!r}")
    if isinstance(default, int) and not isinstance(default, bool):
        try: return int(raw)
        except (TypeError, ValueError): raise ValueError(f"context {key} must be an integer, not {raw!r}") from None
    if isinstance(default, float):
        try: return float(raw)
        except (TypeError, ValueError): raise ValueError(f"context {key} must be a number, not {raw!r}") from None
    if isinstance(default, tuple):
        if isinstance(raw, (list, tuple)): return tuple(str(x) for x in raw)
        text = str(raw).strip()
        if text.startswith("["): return tuple(str(x) for x in json.loads(text))
        return tuple(x.strip() for x in text.split(",") if x.strip())
    return str(raw)


# --- what the stacks take from the application

SETTINGS = _SETTINGS
TOPICS = tuple(BASE_TOPICS)  # raw-news-events, enriched-alerts, market-ticks, crm-cdc-events
DLQ_TOPICS = tuple(dlq_topic(t) for t in TOPICS)
NEWS, ALERTS, TICKS, CRM = NEWS_TOPIC, ALERTS_TOPIC, TICKS_TOPIC, CRM_TOPIC


def consumer_groups() -> dict[str, str]:
    "The consumer groups of the long-running consumers (the API's per-replica groups are named by host, see services)."
    from uhnw.serve.crm import GROUP as CRM_GROUP
    from uhnw.serve.hotpath import GROUP as HOTPATH_GROUP
    return {"hotpath": HOTPATH_GROUP, "crm": CRM_GROUP, "lambda": "uhnw-enrich-lambda"}


def glue_schema_name(subject: str) -> str:
    "The Glue Schema Registry name of a subject: a topic's schema is named after the topic, as `uhnw.schemas.GlueRegistry` looks it up."
    return subject.removesuffix("-value")


def registry_entries(repo: Path = REPO_ROOT) -> list[dict]:
    "The committed registry's versions (`schemas/registry/index.json`), each with its schema text, by subject then version."
    root = repo / "schemas" / "registry"
    index = json.loads((root / "index.json").read_text())
    out = []
    for e in sorted(index["schemas"], key=lambda e: (e["subject"], e["version"])):
        out.append({**e, "definition": (root / e["file"]).read_text()})
    return out


def avro_files(repo: Path = REPO_ROOT) -> dict[str, str]:
    "Record name -> text of each `schemas/avro/*.avsc` (the current version of every contract)."
    return {p.stem: p.read_text() for p in sorted((repo / "schemas" / "avro").glob("*.avsc"))}
