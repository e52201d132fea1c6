"""`uhnw demo`: the local end-to-end main job (what `make demo` runs), wiring over `uhnw.ops.demo`."""
from __future__ import annotations

import typer

from uhnw.cli.common import current_settings


def demo(once: bool = typer.Option(False, "--once", help="run through once and end with a JSON summary line"),
         keep_running: bool = typer.Option(False, "--keep-running",
                                           help="leave the stack and services running at the end (default: stop what the demo started)")):
    "The local end-to-end main job (what `make demo` runs)."
    from uhnw.ops.demo import run_demo
    run_demo(current_settings(), once=once, keep_running=keep_running)
