"""The `uhnw` command line: one module per command group under `uhnw/cli/`, mounted here by `build_app`.

Commands only wire: they build the `Settings`, call the package and turn its errors into one line on stderr
(`uhnw.cli.common.fail`). Heavy imports happen inside the commands so that `uhnw --help` stays fast.
"""
from __future__ import annotations

import os
import sys

import typer

PRIVATE_UMASK = 0o077  # client data: files 0600, folders 0700, whatever the shell's umask


def build_app() -> typer.Typer:
    "The whole `uhnw` command tree, built fresh (nothing is registered at import time)."
    from uhnw.cli import (
        access,
        bench,
        bus,
        config,
        crm,
        demo,
        intel,
        jobs,
        lake,
        market,
        news,
        retention,
        schedule,
        schemas,
        scrape,
        serve,
        sql,
        stack,
        stream,
    )
    app = typer.Typer(help="uhnw: event-driven lakehouse for UHNW wealth management.", no_args_is_help=True,
                      pretty_exceptions_enable=False, add_completion=False)
    app.add_typer(config.app, name="config")
    app.add_typer(stack.app, name="stack")
    app.add_typer(schemas.app, name="schemas")
    app.add_typer(bus.topics_app, name="topics")
    app.add_typer(bus.dlq_app, name="dlq")
    ingest = typer.Typer(help=lake.ingest_app.info.help, no_args_is_help=True)  # a fresh group: lake.ingest_app is never mutated
    ingest.add_typer(lake.ingest_app, name=None)
    ingest.command("news-poll")(news.news_poll)
    ingest.command("crm")(crm.ingest_crm)
    ingest.command("ticks")(market.ingest_ticks)
    app.add_typer(ingest, name="ingest")
    app.add_typer(lake.synth_app, name="synth")
    app.add_typer(jobs.job_app, name="job")
    app.command("cold-path")(jobs.cold_path)
    app.command("sql")(sql.sql)
    app.command("scrape")(scrape.scrape)
    app.command("resolve")(intel.resolve)
    app.command("enrich")(intel.enrich)
    app.add_typer(intel.eval_app, name="eval")
    app.add_typer(intel.labels_app, name="labels")
    app.add_typer(bench.app, name="bench")
    app.add_typer(stream.app, name="stream")
    app.add_typer(serve.serve_app, name="serve")
    app.add_typer(crm.crm_app, name="crm")
    app.add_typer(market.ticks_app, name="ticks")
    app.add_typer(retention.retention_app, name="retention")
    app.add_typer(retention.archive_app, name="archive")
    app.add_typer(schedule.schedule_app, name="schedule")
    jobs.job_app.command("backfill")(schedule.job_backfill)
    app.add_typer(serve.token_app, name="token")
    app.add_typer(access.users_app, name="users")
    app.add_typer(access.audit_app, name="audit")
    app.command("demo")(demo.demo)
    return app


def main(argv: list[str] | None = None) -> None:
    "Entry point of the `uhnw` console script and `python -m uhnw`."
    os.umask(PRIVATE_UMASK)  # lake, catalog, runs, reports, state: readable by this account only (services and kernels inherit it)
    build_app()(args=argv if argv is not None else sys.argv[1:], prog_name="uhnw")
