"""`uhnw demo`: the local end-to-end main job (what `make demo` runs), wiring over `uhnw.ops.demo`.

Exit status: 0 when the demo ran through (`--once`) or when Ctrl-C ended a demo that was serving the workstation (its
normal end); 130, the shell's code for SIGINT, when Ctrl-C interrupted it before the workstation was serving; 1 when
it could not run (the message names the fix).
"""
from __future__ import annotations

import typer

from uhnw.cli.common import current_settings, fail


def demo(once: bool = typer.Option(False, "--once", help="run through once and end with a JSON summary line"),
         keep_running: bool = typer.Option(False, "--keep-running",
                                           help="leave the stack and services running at the end (default: stop what the demo started)"),
         port: int = typer.Option(None, "--port", min=1, max=65535,
                                  help="port of the API serving the RM workstation (default 8080; with --once a free port)")):
    "The local end-to-end main job (what `make demo` runs): without --once it serves the RM workstation until Ctrl-C."
    from uhnw.ops.demo import DemoError, run_demo
    try:
        summary = run_demo(current_settings(), once=once, keep_running=keep_running, port=port)
    except DemoError as e:
        fail(f"{e}")
    if summary.get("interrupted"): raise typer.Exit(130)
