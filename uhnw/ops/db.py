"""The serving store: connections and schema migrations for PostgreSQL (embedded locally, RDS on aws).

Migrations are plain SQL files `schemas/sql/NNNN_name.sql`, applied in order, each in its own
transaction, and recorded with a checksum in `schema_migrations`, so an applied file that was
edited afterwards is caught instead of silently diverging.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from uhnw.config import Settings, resource_path

__all__ = ["MigrationError", "Migration", "connect", "find_migrations", "migrate"]

_NAME = re.compile(r"^(\d{4})_([A-Za-z0-9_]+)\.sql$")
_LOCK_KEY = 0x75686E77  # pg advisory lock id ("uhnw"): one migrator at a time


class MigrationError(RuntimeError):
    "The migrations on disk and those recorded in the database disagree."


@dataclass(frozen=True)
class Migration:
    "One SQL migration file."
    version: int
    name: str
    path: Path
    checksum: str  # sha256 of the file's bytes


def _dsn(target: Settings | str) -> str: return target.dsn() if isinstance(target, Settings) else target


def connect(target: Settings | str,  # settings (uses `settings.dsn()`) or a libpq DSN
            **kwargs) -> psycopg.Connection:
    "A psycopg 3 connection to the serving store."
    kwargs.setdefault("connect_timeout", 10)
    return psycopg.connect(_dsn(target), **kwargs)


def find_migrations(sql_dir: Path) -> list[Migration]:
    "The `NNNN_name.sql` files of `sql_dir`, in version order; other files are ignored."
    found: dict[int, Migration] = {}
    for path in sorted(Path(sql_dir).glob("*.sql")):
        m = _NAME.match(path.name)
        if not m: continue
        version = int(m[1])
        if version in found: raise MigrationError(f"two migrations share version {m[1]}: {found[version].path.name} and {path.name}")
        found[version] = Migration(version, m[2], path, hashlib.sha256(path.read_bytes()).hexdigest())
    return [found[v] for v in sorted(found)]


_CREATE_TABLE = """
create table if not exists schema_migrations (
    version integer primary key,
    name text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
)"""


def migrate(target: Settings | str,  # settings or a libpq DSN
            sql_dir: Path | None = None,  # default: settings.schemas_dir / "sql" (the packaged schemas/sql for a DSN)
            ) -> list[int]:
    "Apply the migrations not yet recorded in `schema_migrations`, each in its own transaction; the versions applied."
    if sql_dir is None:
        sql_dir = (target.schemas_dir if isinstance(target, Settings) else resource_path("schemas")) / "sql"
    migrations = find_migrations(sql_dir)
    applied: list[int] = []
    with connect(target, autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(_CREATE_TABLE)
            done = dict(conn.execute("select version, checksum from schema_migrations").fetchall())
            for m in migrations:
                if m.version in done:
                    if done[m.version] != m.checksum:
                        raise MigrationError(f"{m.path} was changed after it was applied (recorded checksum {done[m.version][:12]}, "
                                             f"file {m.checksum[:12]}); never edit an applied migration, add a new NNNN_name.sql instead")
                    continue
                with conn.transaction():
                    try:
                        conn.execute(m.path.read_text())
                    except psycopg.Error as e:
                        raise MigrationError(f"migration {m.path.name} failed: {e}") from e
                    conn.execute("insert into schema_migrations (version, name, checksum) values (%s, %s, %s)",
                                 (m.version, m.name, m.checksum))
                applied.append(m.version)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied
