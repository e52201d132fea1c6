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


def _full_topic(settings, topic: str) -> str:
    "A base topic name (as in the seeds) under the settings' prefix; a full name as it is."
    from uhnw.bus import topic_name
    return topic if topic.startswith(settings.topic_prefix) else topic_name(settings, topic)


@dlq_app.command("show")
def dlq_show(topic: str = typer.Argument(..., help="source topic (its .dlq twin is read) or the .dlq topic itself"),
             limit: int = typer.Option(100, help="at most this many dead letters"),
             as_json: bool = typer.Option(False, "--json", help="one JSON array")):
    "List the dead letters of TOPIC with their reason and origin, oldest first, and which were replayed."
    from uhnw.bus import DLQ_SUFFIX, dead_letter_id, dlq_topic, read_dead_letters, replayed_dead_letters
    settings = current_settings()
    topic = _full_topic(settings, topic)
    dlq = topic if topic.endswith(DLQ_SUFFIX) else dlq_topic(topic)
    try:
        letters = read_dead_letters(settings, topic, limit=limit)
        replayed = replayed_dead_letters(settings, dlq)
    except LookupError as e:
        fail(f"{e}")
    when = [replayed.get(dead_letter_id(dlq, d.partition, d.offset), "") for d in letters]
    if as_json:
        typer.echo(json.dumps([{**{k: v for k, v in vars(d).items() if k not in ("key", "value")},
                                "key": d.key.decode("utf-8", "replace") if d.key else None,
                                "value_bytes": len(d.value or b""), "replayed_at": at or None}
                               for d, at in zip(letters, when, strict=True)]))
        return
    if not letters:
        typer.echo(f"no dead letters for {topic}")
    for d, at in zip(letters, when, strict=True):
        key = d.key.decode("utf-8", "replace") if d.key else "-"
        typer.echo(f"{d.failed_at}  {d.source_topic}[{d.source_partition}]@{d.source_offset}  key={key}  "
                   f"stage={d.stage}  {d.error_class}: {d.reason}" + (f"  [replayed {at}]" if at else ""))


@dlq_app.command("replay")
def dlq_replay(topic: str = typer.Argument(..., help="source topic (its .dlq twin is replayed into it) or the .dlq topic itself"),
               since: str = typer.Option(None, "--since", help="dead letters that failed at or after this ISO time (UTC if no offset)"),
               reason: str = typer.Option(None, "--reason", help="only dead letters whose reason contains this text (any case)"),
               dry_run: bool = typer.Option(False, "--dry-run", help="list what would be replayed, publish nothing")):
    """Re-publish the dead letters of TOPIC to TOPIC after the cause was fixed: original key, value and headers plus
    `dlq.replayed_from`. A dead letter is replayed once: a second replay skips it (markers in `<topic>.dlq.replayed`)."""
    from datetime import datetime

    from confluent_kafka import KafkaException

    from uhnw.bus import replay_dead_letters
    settings = current_settings()
    try:
        since_at = datetime.fromisoformat(since) if since else None
    except ValueError:
        fail(f"--since: {since!r} is not an ISO time (e.g. 2025-01-01T09:00:00+00:00)", 2)
    try:
        plan = replay_dead_letters(settings, _full_topic(settings, topic), since_at, reason, dry_run)
    except LookupError as e:
        fail(f"{e}")
    except KafkaException as e:
        fail(f"replay not committed, nothing was published: {e.args[0].str() if e.args else e}")
    for r in plan:
        typer.echo(f"{'would replay' if dry_run else 'replayed'} {r.dead_letter} -> {r.topic}"
                   f"  key={r.key.decode('utf-8', 'replace') if r.key else '-'}")
    typer.echo(f"{len(plan)} dead letter(s) {'to replay' if dry_run else 'replayed'}"
               + ("" if plan else " (none left that match: already replayed, filtered out, or not from the topic)"))
