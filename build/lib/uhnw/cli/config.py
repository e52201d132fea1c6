"""`uhnw config show`: the effective settings of the active profile."""
from __future__ import annotations

import json

import typer

from uhnw.cli.common import current_settings

app = typer.Typer(help="Effective settings of the active profile.", no_args_is_help=True)


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="one JSON object instead of a table"),
         profile: str = typer.Option(None, help="profile to show (default: UHNW_PROFILE, else local)")):
    "Print the effective settings (secrets masked)."
    from uhnw.config import format_settings
    settings = current_settings(profile)
    typer.echo(json.dumps(settings.public()) if as_json else format_settings(settings))
