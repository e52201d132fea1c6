"""Storage tiers end to end: `uhnw retention run` archives every day past its window (warm Iceberg days, bronze raw files,
PostgreSQL serving days) into the write-once archive, verifies it, and only then expires it; `uhnw archive restore` brings a
day back verified; a run killed between archive and expiry is finished by the next one with nothing lost or duplicated; the
archive refuses overwrite and delete locally, and on S3 (moto) Object Lock keeps a locked version whatever is PUT or deleted.

The test data is dated 2001, so that the windows (counted back from `--as-of 2003-01-01`) reach only this test's rows in the
shared serving tables, and its own namespaces and lake hold the rest.
"""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest

from uhnw.catalog import publish, write_partition
from uhnw.config import load_settings
from uhnw.lake import lake_for
from uhnw.tables import arrow_schema, table_def

OLD, RECENT, AS_OF = "2001-06-01", "2002-12-20", "2003-01-01"


def rows_of(settings, table: str, rows: list[dict]) -> pa.Table:
    td = table_def(settings, table)
    return pa.Table.from_pylist([{c: r.get(c) for c in td.column_names} for r in rows], schema=arrow_schema(td))


@pytest.fixture
def home(tmp_path, monkeypatch, stack):
    "A UHNW_HOME of this test (its lake; its tables in the test's namespaces of the session catalog), exported to `uhnw` subprocesses."
    monkeypatch.setenv("UHNW_HOME", str(tmp_path))
    (tmp_path / "stack").symlink_to(stack.stack_dir)  # the serving store is the session's PostgreSQL
    return load_settings(home=tmp_path)


def fill(s, tag: str) -> dict:
    "An old and a recent day in silver and in (published) gold, an old and a recent bronze file, old serving rows."
    import psycopg
    lake = lake_for(s).ensure()
    fx = lambda v: rows_of(s, "silver.fx", [{"currency": "EUR", "usd_per_unit": v, "source_file": "fx.csv", "source_row": 1}])  # noqa: E731
    lake.replace_partition("silver", "fx", OLD, fx(1.1))
    lake.replace_partition("silver", "fx", RECENT, fx(1.2))
    cm = rows_of(s, "gold.client_metrics", [{"client_id": f"{tag}-C1", "market_value": 10.0, "positions_count": 1}])
    pp = rows_of(s, "gold.position_pnl", [{"client_id": f"{tag}-C1", "instrument_id": "X", "quantity": 1.0,
                                           "market_value_reporting": 10.0}])
    publish(s, "gold", OLD, {"client_metrics": write_partition(s, "gold.client_metrics", OLD, cm),
                             "position_pnl": write_partition(s, "gold.position_pnl", OLD, pp)}, run_id="test")
    raw = b"as_of_date,account_id,client_id,instrument_id,quantity\n2001-06-01,A1,C1,X,1\n"
    lake.land(f"positions/date={OLD}/eod.csv", raw)
    lake.land(f"positions/date={RECENT}/eod.csv", raw.replace(b"2001-06-01", b"2002-12-20"))
    with psycopg.connect(load_settings(profile="local").dsn(), autocommit=True) as conn:
        conn.execute("INSERT INTO audit_log (at, actor, action, subject) VALUES (%s, %s, 'test.old', %s), (%s, %s, 'test.old', %s)",
                     (f"{OLD}T10:00:00Z", tag, "s1", f"{OLD}T11:00:00Z", tag, "s2"))
        conn.execute("INSERT INTO client_metrics (client_id, date, base_currency, market_value) VALUES (%s, %s, 'USD', 10)",
                     (f"{tag}-C1", OLD))
    return {"fx_old": fx(1.1).to_pylist(), "raw": raw}


def test_retention_moves_old_days_down_a_tier_and_restore_brings_one_back(home, cli, tmp_path):
    tag = tmp_path.name[-12:]
    before = fill(home, tag)
    dry = cli("retention", "run", "--as-of", AS_OF, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    due = {(s["tier"], s["source"], s["date"]) for s in json.loads(dry.stdout)}
    assert {("warm", "silver.fx", OLD), ("warm", "gold.client_metrics", OLD), ("warm", "gold.position_pnl", OLD),
            ("bronze", f"positions/date={OLD}/eod.csv", OLD), ("serving", "audit_log", OLD), ("serving", "client_metrics", OLD)} <= due
    assert not any(d == RECENT for _, _, d in due)
    lake = lake_for(home)
    assert lake.list_partitions("silver", "fx") == [OLD, RECENT]  # a dry run changes nothing

    run = cli("retention", "run", "--as-of", AS_OF, "--json")
    assert run.returncode == 0, run.stderr
    assert {(s["tier"], s["source"], s["date"]) for s in json.loads(run.stdout)} >= due - {("serving", "alerts", OLD)}
    assert lake.list_partitions("silver", "fx") == [RECENT]
    assert lake.list_partitions("gold", "client_metrics") == [] and lake.list_partitions("gold", "position_pnl") == []
    assert not lake.store.exists("bronze", f"positions/date={OLD}/eod.csv")
    assert lake.store.exists("bronze", f"positions/date={RECENT}/eod.csv")
    import psycopg
    with psycopg.connect(load_settings(profile="local").dsn()) as conn:
        assert conn.execute("SELECT count(*) FROM audit_log WHERE actor = %s", (tag,)).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM client_metrics WHERE client_id = %s", (f"{tag}-C1",)).fetchone() == (0,)

    listed = cli("archive", "list", "--json")
    manifests = json.loads(listed.stdout)
    by_source = {m["source"]: m for m in manifests}
    assert by_source["postgres.audit_log"]["rows"] == 2 and by_source["silver.fx"]["rows"] == 1
    assert by_source[f"bronze:positions/date={OLD}/eod.csv"]["content_bytes"] == len(before["raw"])
    for m in manifests:  # 7 years of Object Lock retention from the day of archiving
        assert datetime.fromisoformat(m["retain_until"]) - datetime.fromisoformat(m["archived_at"]) >= timedelta(days=7 * 365)

    back = cli("archive", "restore", "silver.fx", "--date", OLD)
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["rows"] == 1
    assert lake_for(home).read_partition("silver", "fx", OLD).to_pylist() == before["fx_old"]
    raw = cli("archive", "restore", f"bronze:positions/date={OLD}/eod.csv", "--to", str(tmp_path))
    assert raw.returncode == 0, raw.stderr
    assert (tmp_path / "eod.csv").read_bytes() == before["raw"]  # byte-identical
    gold = cli("archive", "restore", "gold.client_metrics", "--date", OLD)
    assert gold.returncode == 0, gold.stderr
    assert lake_for(home).read_partition("gold", "client_metrics", OLD)["client_id"].to_pylist() == [f"{tag}-C1"]
    nothing = cli("archive", "restore", "silver.fx", "--date", "1999-01-01")
    assert nothing.returncode == 1 and "no archive of silver.fx for 1999-01-01" in nothing.stderr


def test_a_run_killed_between_archive_and_expiry_is_finished_by_the_next_with_nothing_lost_or_twice(home, monkeypatch):
    import uhnw.retention as retention
    lake = lake_for(home).ensure()
    fx = rows_of(home, "silver.fx", [{"currency": c, "usd_per_unit": v, "source_file": "fx.csv", "source_row": i}
                                     for i, (c, v) in enumerate([("EUR", 1.1), ("GBP", 1.3), ("JPY", 0.007)], 1)])
    lake.replace_partition("silver", "fx", OLD, fx)
    expire = retention.expire_warm_day
    def killed(*args, **kwargs): raise KeyboardInterrupt("killed after the archive, before the expiry")
    monkeypatch.setattr(retention, "expire_warm_day", killed)
    with pytest.raises(KeyboardInterrupt):
        retention.run_retention(home, AS_OF)
    assert lake.list_partitions("silver", "fx") == [OLD]  # nothing deleted
    (first,) = retention.archive_manifests(lake, "tables/silver.fx/")
    monkeypatch.setattr(retention, "expire_warm_day", expire)
    steps = retention.run_retention(home, AS_OF)
    assert [(s.source, s.date, s.action, s.rows) for s in steps] == [("silver.fx", OLD, "archived, expired", 3)]
    assert retention.archive_manifests(lake, "tables/silver.fx/") == [first]  # the same object and manifest, not a second copy
    assert lake.list_partitions("silver", "fx") == []
    archived = retention.decode_rows(retention.verify(lake, first), arrow_schema(table_def(home, "silver.fx"), with_partitions=True))
    assert sorted((r["currency"], r["usd_per_unit"], r["date"]) for r in archived) == [
        ("EUR", 1.1, date(2001, 6, 1)), ("GBP", 1.3, date(2001, 6, 1)), ("JPY", 0.007, date(2001, 6, 1))]


def test_expiry_refuses_a_day_that_changed_after_it_was_archived_and_a_tampered_archive(home):
    import uhnw.retention as retention
    lake = lake_for(home).ensure()
    fx = lambda v: rows_of(home, "silver.fx", [{"currency": "EUR", "usd_per_unit": v}])  # noqa: E731
    lake.replace_partition("silver", "fx", OLD, fx(1.1))
    policy = retention.load_policy(home)
    m = retention.archive_warm_day(home, lake, "silver.fx", OLD, policy)
    lake.replace_partition("silver", "fx", OLD, fx(1.15))  # a correction lands between archive and expiry
    with pytest.raises(retention.ArchiveError, match="changed since it was archived"):
        retention.expire_warm_day(home, lake, "silver.fx", OLD, m, 365)
    assert lake.read_partition("silver", "fx", OLD)["usd_per_unit"].to_pylist() == [1.15]
    path = lake.store.path("archive", m.key)
    path.chmod(0o600); path.write_bytes(path.read_bytes()[:-1] + b"\x00")  # someone with the disk edits the object
    with pytest.raises(retention.ArchiveError, match="does not match its manifest"):
        retention.verify(lake, m)


@pytest.mark.aws
def test_archive_bucket_object_lock_keeps_the_locked_version_whatever_is_put_or_deleted(moto_endpoint, tmp_path):
    "On S3 (moto): compliance-mode Object Lock, a lifecycle rule to Glacier, and If-None-Match so a second PUT is refused, not versioned."
    import boto3
    from botocore.exceptions import ClientError

    import uhnw.retention as retention
    s = load_settings(profile="aws", home=tmp_path, s3_endpoint_url=moto_endpoint, region="eu-west-1",
                      archive_bucket=f"archive-{tmp_path.name[-8:].lower().replace('_', '-')}")
    lake = lake_for(s).ensure()
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="eu-west-1")
    assert s3.get_object_lock_configuration(Bucket=s.archive_bucket)["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    rule = s3.get_bucket_lifecycle_configuration(Bucket=s.archive_bucket)["Rules"][0]
    assert rule["Transitions"][0]["StorageClass"] == "GLACIER"
    policy = retention.load_policy(s)
    content = b'{"a": 1}\n'
    key = "tables/silver.fx/date=2001-06-01/snapshot-1.jsonl.zst"
    m = retention.archive_blob(lake, key, content, "warm", "silver.fx", OLD, policy, rows=1)
    head = s3.head_object(Bucket=s.archive_bucket, Key=m.key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=7 * 365 - 2)
    def versions(): return [v for v in s3.list_object_versions(Bucket=s.archive_bucket, Prefix=m.key)["Versions"] if v["Key"] == m.key]
    (version,) = versions()
    with pytest.raises(ClientError) as denied:  # compliance mode: nobody deletes a locked version before its retain-until date
        s3.delete_object(Bucket=s.archive_bucket, Key=m.key, VersionId=version["VersionId"])
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(retention.ArchiveError, match="write-once"):  # other bytes under the key: If-None-Match refuses the PUT
        retention.archive_blob(lake, m.key, content + b'{"a": 2}\n', "warm", "silver.fx", OLD, policy, rows=2)
    assert [v["VersionId"] for v in versions()] == [version["VersionId"]]  # no second version was made
    assert retention.verify(lake, m) == content  # the locked version is unchanged
    with pytest.raises(ValueError, match="write-once"):
        lake.remove("archive", m.key, m.object_sha256)
