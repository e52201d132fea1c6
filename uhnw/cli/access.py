"""`uhnw users …` and `uhnw audit show`: wiring over `uhnw.access` (workstation users and the audit of client reads)."""
from __future__ import annotations

import json
import sys
from datetime import UTC

import typer

from uhnw.cli.common import current_settings, fail

users_app = typer.Typer(help="Workstation users (RMs and compliance) in PostgreSQL.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log of every read of client data.", no_args_is_help=True)


@users_app.command("add")
def add(user_id: str = typer.Option(..., "--id", help="user id; an RM's is their RM id (e.g. RM-01)"),
        name: str = typer.Option(..., "--name", help="display name"),
        role: str = typer.Option("rm", "--role", help="rm or compliance"),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="read a local login password from stdin "
                                            "(without it the user logs in through the identity provider only)")):
    "Create or update a workstation user."
    from uhnw.access import AccessError, upsert_user
    from uhnw.ops.db import connect
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        with connect(current_settings()) as conn:
            user = upsert_user(conn, user_id, name, role, password)
    except AccessError as e:
        fail(str(e))
    typer.echo(f"{user.user_id} ({user.role}) {'with a local password' if password else 'without a local password'}")


@users_app.command("demo")
def demo_users():
    "Create the demo users (two RMs, one compliance officer) with this home's demo passwords, and print them."
    from uhnw.access import DEMO_USERS, demo_password, upsert_user
    from uhnw.auth import local_secret
    from uhnw.ops.db import connect
    settings = current_settings()
    secret = local_secret(settings)
    with connect(settings) as conn:
        for user_id, name, role in DEMO_USERS:
            upsert_user(conn, user_id, name, role, demo_password(secret, user_id))
            typer.echo(f"{user_id:<6} {role:<10} {name:<16} password {demo_password(secret, user_id)}")


@audit_app.command("show")
def show(rm: str = typer.Option(None, "--rm", help="only reads by this user (an RM id or a compliance user)"),
         client: str = typer.Option(None, "--client", help="only reads that returned this client"),
         limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="newest rows shown"),
         as_json: bool = typer.Option(False, "--json", help="one JSON object per line")):
    "Print who read which clients, newest first."
    from uhnw.access import audit_rows
    from uhnw.ops.db import connect
    with connect(current_settings()) as conn:
        rows = audit_rows(conn, actor=rm, client_id=client, limit=limit)
    if as_json:
        for r in rows: typer.echo(json.dumps({**r, "at": r["at"].astimezone(UTC).isoformat()}))
        return
    if not rows:
        typer.echo("no audit rows match"); return
    typer.echo(f"{'id':>8}  {'at (UTC)':<19}  {'who':<12} {'role':<10} {'surface':<8} {'operation':<42} clients")
    for r in rows:
        ids = r["client_ids"] or []
        shown = ", ".join(ids[:5]) + (f" … (+{len(ids) - 5})" if len(ids) > 5 else "")
        typer.echo(f"{r['id']:>8}  {r['at'].astimezone(UTC):%Y-%m-%d %H:%M:%S}  {r['actor'] or '':<12} {r['role'] or '':<10} "
                   f"{r['surface'] or '':<8} "
                   f"{(r['operation'] or r['action'])[:42]:<42} {shown or '-'}")
