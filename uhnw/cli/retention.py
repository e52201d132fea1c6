"""`uhnw retention run|status` and `uhnw archive list|restore`: the warm and cold tiers (wiring over `uhnw.retention`,
exported from `nbs/27_retention.ipynb`; mounted by `uhnw.cli`)."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from uhnw.cli.common import checked_date, current_settings, fail

retention_app = typer.Typer(help="Storage tiers: hot (Kafka, 7 days), warm (Iceberg, 1 year), cold (the write-once archive, 7 years).",
                            no_args_is_help=True)
archive_app = typer.Typer(help="The cold tier: what is archived, and bringing a day back.", no_args_is_help=True)


@retention_app.command("run")
def retention_run(as_of: str = typer.Option(None, "--as-of", help="count the windows back from this day (YYYY-MM-DD; default today, UTC)"),
                  dry_run: bool = typer.Option(False, "--dry-run", help="list what is due, change nothing"),
                  as_json: bool = typer.Option(False, "--json", help="one JSON array of steps")):
    """Archive every day past its window (compressed JSON lines / the raw bytes, write-once, verified), then expire it from the
    warm tables, bronze and the PostgreSQL serving tables. Re-running finishes a run that stopped half-way."""
    from uhnw.ops.db import connect
    from uhnw.retention import ArchiveError, run_retention
    settings = current_settings()
    if as_of: checked_date(as_of)
    try:
        with connect(settings) as conn:
            steps = run_retention(settings, as_of, dry_run, conn=conn)
    except (ArchiveError, ValueError) as e:
        fail(str(e))
    if as_json:
        typer.echo(json.dumps([s.__dict__ for s in steps], default=str))
        return
    for s in steps:
        rows = f"{s.rows} rows" if s.rows is not None else ""
        typer.echo(f"{s.tier:<8} {s.source:<48} {s.date}  {s.action:<24} {rows:>12}  {' '.join(s.archive)}")
    typer.echo(f"{len(steps)} day(s) {'due' if dry_run else 'moved down a tier'}")


@retention_app.command("status")
def retention_status(as_json: bool = typer.Option(False, "--json")):
    "Each tier as it stands: topic retention on the broker, the oldest warm day per table, bronze's oldest day, the archive's size."
    from confluent_kafka.admin import AdminClient, ConfigResource

    from uhnw.bus import client_config, topic_specs
    from uhnw.lake import lake_for
    from uhnw.retention import archive_manifests, bronze_date, load_policy
    from uhnw.tables import table_defs
    settings = current_settings()
    policy, lake = load_policy(settings), lake_for(settings)
    admin = AdminClient(client_config(settings))
    specs = topic_specs(settings)
    futures = admin.describe_configs([ConfigResource("topic", s.name) for s in specs], request_timeout=15)
    hot = []
    for s, (_, f) in zip(specs, futures.items(), strict=True):
        try: got = int(f.result(15)["retention.ms"].value)
        except Exception as e:  # noqa: BLE001 - a missing topic is a finding, not a crash
            got, err = None, "missing: run `uhnw topics create`" if "UNKNOWN_TOPIC" in str(e) else str(e).splitlines()[0]
        hot.append({"topic": s.name, "retention_days": None if got is None else got / 86_400_000,
                    "expected_days": s.retention_ms / 86_400_000, "ok": got == s.retention_ms,
                    **({} if got is not None else {"error": err})})
    warm = []
    for name, td in sorted(table_defs(settings).items()):
        dates = lake.list_partitions(td.database, td.name)
        warm.append({"table": name, "days": len(dates), "oldest": dates[0] if dates else None, "window_days": policy.days("warm", name)})
    bronze_days = sorted({d for k in lake.store.list_keys("bronze") if not k.startswith("_") and (d := bronze_date(k))})
    manifests = archive_manifests(lake)
    cold = {"objects": len(manifests), "stored_bytes": sum(m.object_bytes for m in manifests),
            "original_bytes": sum(m.content_bytes for m in manifests), "retain_years": policy.cold_years,
            "oldest": min((m.date for m in manifests), default=None)}
    out = {"hot": hot, "warm": warm, "bronze": {"oldest": bronze_days[0] if bronze_days else None, "days": len(bronze_days)}, "cold": cold}
    if as_json:
        typer.echo(json.dumps(out))
        return
    typer.echo("hot (Kafka topic retention)")
    for h in hot:
        verdict = "ok" if h["ok"] else f"expected {h['expected_days']:g} d" + (f" ({h['error']})" if "error" in h else "")
        days = h["retention_days"] if h["retention_days"] is not None else "-"
        typer.echo(f"  {h['topic']:<44} {days:>6} d  {verdict}")
    typer.echo("warm (Iceberg tables)")
    for w in warm:
        if w["days"]: typer.echo(f"  {w['table']:<44} {w['days']:>5} days from {w['oldest']}  window {w['window_days']} d")
    typer.echo(f"bronze: {out['bronze']['days']} days from {out['bronze']['oldest']}")
    ratio = f"{cold['original_bytes'] / cold['stored_bytes']:.1f}x" if cold["stored_bytes"] else "-"
    typer.echo(f"cold (archive): {cold['objects']} objects, {cold['stored_bytes']:,} bytes stored ({ratio} compression), "
               f"locked {cold['retain_years']} years, oldest day {cold['oldest']}")
    if not all(h["ok"] for h in hot): raise typer.Exit(1)


@archive_app.command("list")
def archive_list(prefix: str = typer.Argument("", help="key prefix, e.g. tables/silver.news/ or bronze/positions/"),
                 as_json: bool = typer.Option(False, "--json")):
    "The archive's objects with their day, rows, sizes and checksums."
    from uhnw.lake import lake_for
    from uhnw.retention import archive_manifests
    ms = archive_manifests(lake_for(current_settings()), prefix)
    if as_json:
        typer.echo(json.dumps([m.__dict__ for m in ms]))
        return
    for m in ms:
        rows = "" if m.rows is None else m.rows
        typer.echo(f"{m.date}  {m.source:<48} {rows:>8}  {m.object_bytes:>10,} B  {m.object_sha256[:12]}  {m.key}")


@archive_app.command("restore")
def archive_restore(table: str = typer.Argument(..., help="a lake table (silver.relevance_labels) or a bronze key "
                                                         "(bronze:positions/date=.../eod.csv)"),
                    date: str = typer.Option(None, "--date", help="the day to bring back (tables)"),
                    to: Path = typer.Option(None, "--to", help="bronze: the folder to write the original file into")):
    "Bring an archived day back as rows of its table (or a raw file back to a folder), verifying the archive on the way."
    from uhnw.lake import lake_for
    from uhnw.retention import ArchiveError, restore_bronze_object, restore_warm_day
    settings = current_settings()
    lake = lake_for(settings)
    try:
        if table.startswith("bronze:"):
            if to is None: fail("a bronze file is restored to a folder: give --to DIR", 2)
            path = restore_bronze_object(lake, table.removeprefix("bronze:"), to)
            typer.echo(json.dumps({"restored": str(path)}))
            return
        if not date: fail("give --date YYYY-MM-DD", 2)
        typer.echo(json.dumps(restore_warm_day(settings, lake, table, checked_date(date))))
    except (ArchiveError, LookupError, FileNotFoundError, ValueError) as e:
        fail(str(e).splitlines()[0])
