"""`uhnw ingest crm`, `uhnw serve crm` and `uhnw crm resync|status`: wiring over `uhnw.ingest.crm`, `uhnw.serve.crm` and `uhnw.crm`."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from uhnw.cli.common import current_settings, fail

crm_app = typer.Typer(help="The client master fed by Salesforce Change Data Capture: stale records and resync.", no_args_is_help=True)


def ingest_crm(file: str = typer.Argument(..., help="replay file of CDC events, one per line (bare payload or Streaming/Pub/Sub "
                                                    "API envelope); - reads standard input")):
    "Publish Salesforce CDC events to crm-cdc-events (keyed by record id); bad lines go to crm-cdc-events.dlq with the reason."
    from uhnw.ingest.crm import publish_file
    if file != "-" and not Path(file).is_file(): fail(f"{file}: no such file")
    try:
        result = publish_file(current_settings(), file)
    except (RuntimeError, OSError) as e:
        fail(f"{e}")
    for reason in result.rejected: typer.echo(f"dead-lettered {reason}", err=True)
    typer.echo(json.dumps({"published": result.published, "messages": result.messages, "dead_lettered": result.dead_lettered}))


def serve_crm(until_idle: bool = typer.Option(False, "--until-idle", help="exit once the topic has been idle for --idle-seconds"),
              idle_seconds: float = typer.Option(3.0, "--idle-seconds", min=0.1, help="idle time that ends --until-idle"),
              log_level: str = typer.Option("info", help="log level")):
    "Apply crm-cdc-events to PostgreSQL clients and rm_coverage in commit order (idempotent; poison events dead-lettered)."
    import logging

    from uhnw.serve.crm import serve_crm as serve
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        stats, actions = serve(current_settings(), until_idle=until_idle, idle_seconds=idle_seconds)
    except Exception as e:  # the broker or PostgreSQL unreachable: one line, not a traceback
        fail(f"{type(e).__name__}: {e}")
    typer.echo(json.dumps({"consumed": stats.consumed, "dead_lettered": stats.dead_lettered, "stopped_by": stats.stopped_by,
                           "actions": dict(sorted(actions.items()))}))


@crm_app.command("resync")
def resync(file: Path = typer.Option(..., "--file", exists=True, dir_okay=False,
                                     help="full extract pulled through the REST API (SOQL query JSON, a JSON array or JSON lines)"),
           everything: bool = typer.Option(False, "--all", help="reconcile every record of the extract, not only the stale ones"),
           dry_run: bool = typer.Option(False, "--dry-run", help="report what would change, change nothing"),
           as_of: str = typer.Option("", "--as-of", help="when the extract was pulled (ISO 8601); default: its newest "
                                                        "LastModifiedDate. A record it lacks counts as deleted at this time"),
           as_json: bool = typer.Option(False, "--json", help="print the report as JSON")):
    "Reconcile the records a GAP or OVERFLOW event left stale with a full extract; reports every change."
    import psycopg

    from uhnw.crm import CrmEventInvalid, read_extract
    from uhnw.crm import resync as reconcile
    from uhnw.ingest.news import parse_timestamp
    from uhnw.ops.db import connect
    try: pulled = parse_timestamp(as_of) if as_of else None
    except ValueError as e: raise typer.BadParameter(f"--as-of {as_of!r}: {e}") from None
    try:
        records = read_extract(file.read_text(encoding="utf-8"))
        with connect(current_settings()) as conn:
            report = reconcile(conn, records, everything, as_of=pulled)
            conn.rollback() if dry_run else conn.commit()
    except CrmEventInvalid as e:
        fail(f"{file}: {e}")
    except psycopg.Error as e:  # PostgreSQL unreachable or the migrations not applied: one line, not a traceback
        fail(f"PostgreSQL: {type(e).__name__}: {e}")
    if as_json: typer.echo(json.dumps({**report, "dry_run": dry_run})); return
    for c in report["changes"]:
        typer.echo(f"{c['action']:<10} {c['entity']:<12} {c['sf_id']} {c['client_id'] or ''} "
                   + ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in c["changed"].items() if k != "deleted_at"))
    for s in report["still_stale"]: typer.echo(f"still stale {s['entity']} {s['sf_id']}: {s['reason']}")
    for r in report["refused"]: typer.echo(f"refused     {r['entity']} {r['sf_id']}: {r['reason']}")
    typer.echo(f"{report['reconciled']} record(s) reconciled as of {report['as_of']}, {len(report['changes'])} changed, "
               f"{len(report['still_stale'])} still stale, {len(report['refused'])} refused"
               f"{' (dry run: nothing written)' if dry_run else ''}")


@crm_app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="print JSON")):
    "Records the change stream could not follow (stale until a resync), and the client master's counts."
    import psycopg

    from uhnw.ops.db import connect
    try:
        with connect(current_settings()) as conn:
            stale = conn.execute("select entity, sf_id, reason, since from crm_stale order by since, entity, sf_id").fetchall()
            counts = conn.execute("""select count(*) filter (where sf_id is not null), count(*) filter (where deleted_at is not null)
                from clients""").fetchone()
    except psycopg.Error as e:
        fail(f"PostgreSQL: {type(e).__name__}: {e}")
    doc = {"linked_clients": counts[0], "deleted_clients": counts[1],
           "stale": [{"entity": e, "sf_id": i, "reason": r, "since": s.isoformat()} for e, i, r, s in stale]}
    if as_json: typer.echo(json.dumps(doc)); return
    typer.echo(f"{doc['linked_clients']} clients linked to Salesforce, {doc['deleted_clients']} deleted, {len(stale)} stale record(s)")
    for s in doc["stale"]: typer.echo(f"  {s['entity']:<12} {s['sf_id']:<18} since {s['since']}: {s['reason']}")
