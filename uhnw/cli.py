"""The `uhnw` command line: thin wiring over the package, nothing else.

Each command group lives beside the code it drives (`uhnw.stack`, `uhnw.schemas`,
`uhnw.bus`); this module only mounts them and builds the `Settings`. Heavy
imports happen inside the commands so that `uhnw --help` stays fast.
"""
from __future__ import annotations

import json
import sys

import typer

from uhnw.config import format_settings, load_settings


def fail(message: str, code: int = 1) -> None:
    "Print a one-line error on stderr and exit with `code`."
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def config_show(as_json: bool = typer.Option(False, "--json", help="one JSON object instead of a table"),
                profile: str = typer.Option(None, help="profile to show (default: UHNW_PROFILE, else local)")):
    "Print the effective settings (secrets masked)."
    try:
        settings = load_settings(profile)
    except ValueError as e:
        fail(str(e))
    typer.echo(json.dumps(settings.public()) if as_json else format_settings(settings))


def build_app() -> typer.Typer:
    "The whole `uhnw` command tree, built fresh (nothing is registered at import time)."
    from uhnw import cli_bench, cli_bus, cli_intel, cli_jobs, cli_lake, cli_news, cli_schemas, cli_serve, cli_sql, cli_stack
    app = typer.Typer(help="uhnw: event-driven lakehouse for UHNW wealth management.", no_args_is_help=True,
                      pretty_exceptions_enable=False, add_completion=False)
    config_app = typer.Typer(help="Effective settings of the active profile.", no_args_is_help=True)
    config_app.command("show")(config_show)
    app.add_typer(config_app, name="config")
    app.add_typer(cli_stack.app, name="stack")
    ingest = typer.Typer(help=cli_lake.ingest_app.info.help, no_args_is_help=True)
    ingest.add_typer(cli_lake.ingest_app, name=None)
    ingest.command("news-poll")(cli_news.news_poll)
    app.add_typer(ingest, name="ingest")
    app.add_typer(cli_lake.synth_app, name="synth")
    app.add_typer(cli_schemas.app, name="schemas")
    app.add_typer(cli_bus.topics_app, name="topics")
    app.add_typer(cli_bus.dlq_app, name="dlq")
    app.add_typer(cli_jobs.job_app, name="job")
    app.command("cold-path")(cli_jobs.cold_path)
    app.command("sql")(cli_sql.sql)
    app.command("resolve")(cli_intel.resolve)
    app.add_typer(cli_intel.eval_app, name="eval")
    app.add_typer(cli_intel.labels_app, name="labels")
    bench = typer.Typer(help=cli_bench.bench_app.info.help, no_args_is_help=True)
    bench.add_typer(cli_bench.bench_app, name=None)
    bench.command("resolve")(cli_intel.bench_resolve)
    bench.command("enrich")(cli_bench.bench_enrich_cmd)
    app.add_typer(bench, name="bench")
    app.add_typer(cli_serve.serve_app, name="serve")
    app.add_typer(cli_serve.token_app, name="token")
    app.command("demo")(cli_bus.demo)
    return app


def main(argv: list[str] | None = None) -> None:
    "Entry point of the `uhnw` console script and `python -m uhnw`."
    build_app()(args=argv if argv is not None else sys.argv[1:], prog_name="uhnw")
