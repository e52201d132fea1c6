"""`uhnw sql "QUERY" [--format table|csv|json]`: Athena (Trino) SQL over the lake's catalog tables.

Thin wiring over `uhnw.query` (exported from `nbs/22_query.ipynb`): DuckDB over the local catalog on the
`local` profile, Athena on `aws` (or, with `--engine duckdb`, DuckDB over the S3 objects of the same
snapshots). Every failure the user can cause (syntax, unknown table, a statement that writes, an engine error)
is one line on stderr and exit status 1, never a stack trace.
"""
from __future__ import annotations

import logging
import sys
from enum import StrEnum

import typer

from uhnw.cli.common import fail
from uhnw.config import load_settings


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def sql(query: str = typer.Argument(..., help="one SELECT / WITH / SHOW / DESCRIBE statement in Athena (Trino) SQL; "
                                              "'-' reads it from stdin"),
        fmt: Format = typer.Option(Format.table, "--format", "-f", help="table for people, csv, or json (one array of row objects)"),
        database: str = typer.Option(None, "--database", "-d", help="database of unqualified table names (default: the silver one)"),
        as_of: str = typer.Option(None, "--as-of", help="read every table as it was at this time (ISO 8601, e.g. 2026-12-03T08:00:00Z): "
                                                        "Iceberg snapshots, gold days as published then"),
        engine: str = typer.Option(None, "--engine", help="duckdb or athena (default: athena on the aws profile, duckdb locally); "
                                                          "duckdb on aws reads the tables' S3 objects through Arrow"),
        profile: str = typer.Option(None, help="profile (default: UHNW_PROFILE, else local)")):
    "Run Athena SQL over the lake's catalog tables: DuckDB locally, Athena on the aws profile."
    from botocore.exceptions import BotoCoreError, ClientError

    from uhnw.query import QueryError, format_result, run_query
    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its "falling back to Command" notes on SHOW are noise here
    if query == "-": query = sys.stdin.read()
    try:
        settings = load_settings(profile)
        result = run_query(settings, query, database, as_of, engine)
    except (QueryError, ValueError, LookupError) as e:
        fail(str(e).splitlines()[0] if str(e) else type(e).__name__)
    except (BotoCoreError, ClientError, OSError) as e:
        fail(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    except RecursionError:  # a query nested deeper than a parser or generator recurses: never a traceback
        fail("query nests too deeply to run: flatten it, e.g. with a WITH clause")
    typer.echo(format_result(result, fmt.value))
