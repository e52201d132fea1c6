"""`uhnw ingest positions|prices|fx|clients|supersede|status` and `uhnw synth cold`: wiring over `uhnw.lake`, `uhnw.validate`
and `uhnw.synth`."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from uhnw.cli.common import checked_date, current_settings, fail

ingest_app = typer.Typer(help="Land EOD files in bronze (immutable: a landed object is never overwritten).", no_args_is_help=True)
synth_app = typer.Typer(help="Synthetic input files for demos, tests and benchmarks.", no_args_is_help=True)

COLD_DATASETS = ("positions", "prices", "fx", "clients")


def _ingest(dataset: str, file: Path, date: str, supersedes: list[str]) -> None:
    from uhnw.lake import BronzeObjectExists, SupersessionRefused, lake_for, land_file
    date = checked_date(date)
    if not file.is_file(): fail(f"no such file: {file}", 2)
    try:
        landing = land_file(lake_for(current_settings()).ensure(), dataset, file, date, supersedes=supersedes)
    except (BronzeObjectExists, SupersessionRefused) as e:
        fail(str(e), 1)
    except ValueError as e:  # a file name that is not a valid object key
        fail(f"cannot land {file.name!r}: {e}", 2)
    if landing.already_landed: typer.echo(f"already landed (identical bytes): {landing.uri}")
    else: typer.echo(landing.uri)
    if supersedes:
        typer.echo(f"supersedes: {', '.join(supersedes)} (kept in bronze; the next positions_etl run for {date} uses {file.name})")


SUPERSEDES_HELP = "a file of that partition this one corrects (repeatable); both stay in bronze, the run uses this one"


def _make_command(dataset: str):
    def command(file: Path = typer.Argument(..., help=f"the {dataset} CSV to land", dir_okay=False),
                date: str = typer.Option(..., "--date", help="business date YYYY-MM-DD (the bronze partition)"),
                supersedes: list[str] = typer.Option([], "--supersedes", help=SUPERSEDES_HELP)):
        _ingest(dataset, file, date, supersedes)
    command.__doc__ = (f"Land the {dataset} CSV FILE in bronze at bronze/{dataset}/date=<date>/<file name>; prints the object URI. "
                       "A correction lands under a new name with --supersedes <the file it corrects>.")
    return command


for _name in COLD_DATASETS:
    ingest_app.command(_name)(_make_command(_name))


def _record_once(record, dataset: str, date: str, *args):
    "Check the dataset and date, then write a bronze record once (`record_supersession` or `withdraw_file`); a refusal exits 1."
    from uhnw.lake import SupersessionRefused, lake_for
    date = checked_date(date)
    if dataset not in COLD_DATASETS: fail(f"unknown dataset {dataset!r}; choose one of {', '.join(COLD_DATASETS)}", 2)
    try:
        return date, record(lake_for(current_settings()), dataset, date, *args)
    except SupersessionRefused as e:
        fail(str(e), 1)


@ingest_app.command("supersede")
def supersede_cmd(dataset: str = typer.Argument(..., help=f"one of {', '.join(COLD_DATASETS)}"),
                  file: str = typer.Argument(..., help="name of the correcting file, already in bronze (landed or uploaded directly)"),
                  date: str = typer.Option(..., "--date", help="business date YYYY-MM-DD (the bronze partition)"),
                  supersedes: list[str] = typer.Option(..., "--supersedes", help=SUPERSEDES_HELP)):
    "Record that FILE, already in bronze, supersedes the named files of the same partition (written once; nothing is deleted)."
    from uhnw.lake import record_supersession
    date, (rec, created) = _record_once(record_supersession, dataset, date, file, supersedes)
    what = "recorded" if created else "already recorded"
    typer.echo(f"{what}: {dataset} {date}: {rec.file} supersedes {', '.join(rec.supersedes)} (re-run positions_etl for {date})")


@ingest_app.command("withdraw")
def withdraw_cmd(dataset: str = typer.Argument(..., help=f"one of {', '.join(COLD_DATASETS)}"),
                 file: str = typer.Argument(..., help="name of the file in bronze that must not be used"),
                 date: str = typer.Option(..., "--date", help="business date YYYY-MM-DD (the bronze partition)"),
                 reason: str = typer.Option(..., "--reason", help="why, for the record (e.g. 'a prices file, landed under positions')")):
    "Record that FILE must not be used by positions_etl (it stays in bronze; written once): for a file no correction replaces."
    from uhnw.lake import withdraw_file
    date, (rec, created) = _record_once(withdraw_file, dataset, date, file, reason)
    what = "withdrawn" if created else "already withdrawn"
    typer.echo(f"{what}: {dataset} {date}: {file} ({rec.reason}); re-run positions_etl for {date}")


@ingest_app.command("status")
def status_cmd(date: str = typer.Option(..., "--date", help="business date YYYY-MM-DD"),
               as_json: bool = typer.Option(False, "--json", help="one JSON object per file")):
    "Per bronze file of positions_etl's run for --date: landed, used, superseded or rejected (and why), rows in silver and quarantine."
    from uhnw.lake import lake_for
    from uhnw.validate import file_status
    date = checked_date(date)
    rows = file_status(lake_for(current_settings()), date)
    if as_json:
        for r in rows: typer.echo(json.dumps(r))
        return
    for d in COLD_DATASETS:
        if not any(r["dataset"] == d for r in rows): typer.echo(f"{d:<9} no file in bronze for {date}")
    for r in rows:
        counts = f"  {r['valid']:,} rows in silver, {r['quarantined']:,} quarantined" if r["valid"] or r["quarantined"] else ""
        typer.echo(f"{r['dataset']:<9} {r['bronze_date']}  {r['file']:<28} {r['status']:<10} landed {r['landed_at'][:19]}{counts}")
        if r["detail"]: typer.echo(f"{'':<9} {r['detail']}")


@synth_app.callback()
def _synth_group():
    "Synthetic input files for demos, tests and benchmarks."  # a callback keeps `cold` a subcommand even when it is the only one


@synth_app.command("cold")
def synth_cold_cmd(days: int = typer.Option(3, "--days", min=1, help="business days of positions, prices and FX"),
                   clients: int = typer.Option(100, "--clients", min=1, help="clients in the CRM extract"),
                   positions: int = typer.Option(10_000, "--positions", min=1, help="positions per day"),
                   start: str = typer.Option("2025-01-01", "--start", help="first business day on or after this date"),
                   seed: int = typer.Option(0, "--seed", help="random seed (same seed, same files)"),
                   bad_rows: int = typer.Option(0, "--bad-rows", min=0, help="malformed rows injected into every file"),
                   out: Path = typer.Option(None, "--out", help="output folder (default: UHNW_HOME/inbox/cold)"),
                   ingest: bool = typer.Option(False, "--ingest", help="also land every file in bronze"),
                   as_json: bool = typer.Option(False, "--json", help="print the manifest as one JSON object")):
    "Write realistic positions, prices, FX and clients files (and with --ingest land them in bronze)."
    from uhnw.lake import BronzeObjectExists, lake_for
    from uhnw.synth import land_synth, synth_cold
    start = checked_date(start)
    settings = current_settings()
    out = out or Path(settings.home) / "inbox" / "cold"
    manifest = synth_cold(out, days=days, clients=clients, positions=positions, start=start, seed=seed, bad_rows=bad_rows)
    if ingest:
        lake = lake_for(settings)
        try:
            manifest["landed"] = [landing.uri for landing in land_synth(lake.ensure(), manifest)]
        except BronzeObjectExists as e:
            fail(f"{e}\n(use another --start or --seed, or a fresh UHNW_HOME, to land different synthetic data)", 1)
    if as_json:
        typer.echo(json.dumps(manifest))
        return
    typer.echo(f"wrote {len(manifest['dates'])} day(s) × {positions:,} positions for {clients:,} clients to {out}")
    typer.echo(f"dates: {', '.join(manifest['dates'])}")
    if ingest: typer.echo(f"landed {len(manifest['landed'])} files in bronze ({lake.uri('bronze')})")
