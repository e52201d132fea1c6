"""What every `uhnw` command shares: one way to fail, to load the settings and to check a date."""
from __future__ import annotations

from typing import NoReturn

import typer


def fail(message: str, code: int = 1) -> NoReturn:
    "Print `error: message` on stderr (one line, never a traceback) and exit with `code`."
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def current_settings(profile: str | None = None):
    "The effective `Settings`; a bad settings file or variable is a one-line error, not a traceback."
    from uhnw.config import load_settings
    try:
        return load_settings(profile)
    except ValueError as e:
        fail(str(e))


def checked_date(date: str, option: str = "--date") -> str:
    "`date` as YYYY-MM-DD, or exit 2 naming the option."
    from uhnw.lake import check_date
    try:
        return check_date(date)
    except ValueError as e:
        fail(f"{option}: {e}", 2)
