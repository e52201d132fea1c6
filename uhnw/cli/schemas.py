"""`uhnw schemas check | register | list`: the repository's Avro schemas against their registered versions.

Thin wiring over `uhnw.schemas` (exported from `nbs/01_schemas.ipynb`): the registered versions live in
`<schemas_dir>/registry/` and are committed, so `check` works offline and in CI.
"""
from __future__ import annotations

import typer

from uhnw.cli.common import current_settings, fail

app = typer.Typer(help="Avro schemas (schemas/avro/*.avsc) and their registered versions (schemas/registry/).",
                  no_args_is_help=True)


def _schemas_dir():
    return current_settings().schemas_dir


def _or_fail(action, schemas_dir, prefix: str = ""):
    "`action(schemas_dir)`, a `SchemaError` becoming one line on stderr and exit status 1."
    from uhnw.schemas import SchemaError
    try:
        return action(schemas_dir)
    except SchemaError as e:
        fail(f"{prefix}{e}")


@app.command("check")
def check():
    "Fail (exit 1) when a schema is not BACKWARD compatible with its last registered version."
    from uhnw.schemas import schema_status
    schemas_dir = _schemas_dir()
    statuses = _or_fail(schema_status, schemas_dir)
    if not statuses:  # a check that finds nothing to check must not pass
        fail(f"no Avro schemas found in {schemas_dir / 'avro'}: nothing was checked (is UHNW_SCHEMAS_DIR right, or the package installed "
             "without its data?)")
    bad = [s for s in statuses if s.state == "incompatible"]
    pending = [s for s in statuses if s.state in ("new", "compatible")]
    for s in statuses:
        where = f"{s.name} ({s.subject})"
        if s.state == "registered":
            typer.echo(f"ok            {where}: version {s.version}, id {s.schema_id}")
        elif s.state == "new":
            typer.echo(f"new           {where}: not registered yet")
        elif s.state == "compatible":
            typer.echo(f"changed       {where}: BACKWARD compatible with version {s.version}, not registered yet")
        else:
            for p in s.problems:
                typer.echo(f"INCOMPATIBLE  {where}: {p} (vs registered version {s.version}, id {s.schema_id})", err=True)
    if bad:
        fail(f"{len(bad)} schema(s) not BACKWARD compatible with their registered version: "
              f"{', '.join(s.name for s in bad)}; keep the old fields readable (add defaults, keep types) or use a new record/topic")
    if pending:
        typer.echo(f"{len(pending)} schema(s) changed or new and compatible: "
                   f"run `uhnw schemas register` and commit {schemas_dir / 'registry'}")
    else:
        typer.echo(f"all {len(statuses)} schemas match their registered versions")


@app.command("register")
def register():
    "Record every new or changed (compatible) schema as a new version with a new stable id in the local registry."
    from uhnw.schemas import register_schemas
    schemas_dir = _schemas_dir()
    registered = _or_fail(register_schemas, schemas_dir, "nothing registered: ")
    for r in registered:
        typer.echo(f"registered    {r.subject}: version {r.version}, id {r.schema_id}")
    typer.echo(f"{len(registered)} new version(s) in {schemas_dir / 'registry'}" if registered else "nothing to register")


@app.command("list")
def list_():
    "Subjects of the local registry with their versions and schema ids."
    from uhnw.schemas import LocalRegistry
    reg = LocalRegistry(_schemas_dir() / "registry")
    for subject in reg.get_subjects():
        for v in reg.get_versions(subject):
            rs = reg.get_version(subject, v)
            typer.echo(f"{subject:<28} version {rs.version:<3} id {rs.schema_id:<4} {rs.guid}")
