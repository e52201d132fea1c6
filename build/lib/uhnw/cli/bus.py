"""`uhnw topics …` and `uhnw dlq …`: wiring over `uhnw.bus`."""
from __future__ import annotations

import json

import typer

from uhnw.cli.common import current_settings, fail

topics_app = typer.Typer(help="Kafka topics of the platform.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead-letter topics: what could not be processed, and why.", no_args_is_help=True)


def _admin(settings):
    from confluent_kafka.admin import AdminClient

    from uhnw.bus import client_config
    return AdminClient(client_config(settings))


@topics_app.command("create")
def topics_create():
    "Create every platform topic and its dead-letter twin (idempotent)."
    from uhnw.bus import ensure_topics, topic_specs
    settings = current_settings()
    try:
        result = ensure_topics(_admin(settings), topic_specs(settings))
    except Exception as e:  # the broker being down is the usual cause: say so plainly
        fail(f"cannot create topics on {settings.bootstrap_servers}: {e}")
    for name, state in result.items():
        typer.echo(f"{name:<40} {state}")


@topics_app.command("list")
def topics_list(as_json: bool = typer.Option(False, "--json")):
    "Platform topics with partitions, retention and key."
    from uhnw.bus import topic_specs
    settings = current_settings()
    existing = _admin(settings).list_topics(timeout=10).topics
    rows = [{"topic": s.name, "exists": s.name in existing, "partitions": len(existing[s.name].partitions) if s.name in existing else 0,
             "retention_days": s.retention_ms / 86_400_000, "key": s.key} for s in topic_specs(settings)]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for r in rows:
        state = f"{r['partitions']} partitions" if r["exists"] else "missing (run `uhnw topics create`)"
        typer.echo(f"{r['topic']:<40} {state:<36} retention {r['retention_days']:g} d  key: {r['key']}")


@dlq_app.command("show")
def dlq_show(topic: str = typer.Argument(..., help="source topic (its .dlq twin is read) or the .dlq topic itself"),
             limit: int = typer.Option(100, help="at most this many dead letters"),
             as_json: bool = typer.Option(False, "--json", help="one JSON array")):
    "List the dead letters of TOPIC with their reason and origin, oldest first."
    from uhnw.bus import read_dead_letters, topic_name
    settings = current_settings()
    if not topic.startswith(settings.topic_prefix):  # a base topic name, as in the seeds
        topic = topic_name(settings, topic)
    try:
        letters = read_dead_letters(settings, topic, limit=limit)
    except LookupError as e:
        fail(f"{e}")
    if as_json:
        typer.echo(json.dumps([{**{k: v for k, v in vars(d).items() if k not in ("key", "value")},
                                "key": d.key.decode("utf-8", "replace") if d.key else None,
                                "value_bytes": len(d.value or b"")} for d in letters]))
        return
    if not letters:
        typer.echo(f"no dead letters for {topic}")
    for d in letters:
        key = d.key.decode("utf-8", "replace") if d.key else "-"
        typer.echo(f"{d.failed_at}  {d.source_topic}[{d.source_partition}]@{d.source_offset}  key={key}  "
                   f"stage={d.stage}  {d.error_class}: {d.reason}")

