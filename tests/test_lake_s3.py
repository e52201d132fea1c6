"""uhnw.lake against both backends: local folders and S3 (a moto S3 server on a free port, real boto3 calls).

Every behavioural test is parametrized over `local` and `s3`; the S3 runs carry the `aws` marker. Silver and gold go
through the warm tier: Iceberg tables in the session stack's PostgreSQL catalog locally, in Glue over S3 on moto.
A few S3-only tests check that the emulator enforces the conditional writes the design relies on.
"""
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from uhnw.config import Settings, load_settings
from uhnw.lake import BronzeObjectExists, Lake, PartitionNotFound, lake_for, partition_key
from uhnw.tables import arrow_schema, table_def

AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
           "AWS_DEFAULT_REGION": "eu-west-1"}
DAY = "2025-01-01"
KEY = partition_key("positions", DAY, "positions.csv")
CSV = b"as_of_date,account_id,client_id,instrument_id,quantity\n2025-01-01,A1,UHNW-102,AAPL,10\n"


@pytest.fixture(scope="module")
def moto_endpoint():
    "A moto S3 server on a free local port for this module; yields its endpoint URL."
    from moto.server import ThreadedMotoServer
    with pytest.MonkeyPatch.context() as mp:
        for k, v in AWS_ENV.items(): mp.setenv(k, v)
        for k in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"): mp.delenv(k, raising=False)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try: yield f"http://{host}:{port}"
        finally: server.stop()


def _reset(endpoint: str):
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).read()


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.aws)])
def lake(request, tmp_path) -> Lake:
    "An empty lake on each backend; the S3 one uses the seeds' bucket names (and Glue) on a freshly reset moto server."
    if request.param == "local":
        request.getfixturevalue("stack")  # the Iceberg catalog is the session stack's PostgreSQL
        return lake_for(load_settings(profile="local", home=tmp_path)).ensure()
    endpoint = request.getfixturevalue("moto_endpoint")
    _reset(endpoint)
    return lake_for(load_settings(profile="aws", home=tmp_path, s3_endpoint_url=endpoint, region="eu-west-1")).ensure()


def all_objects(lake: Lake, layer: str) -> dict[str, bytes]:
    return {k: lake.store.read_bytes(layer, k) for k in lake.store.list_keys(layer)}


def positions(tag: str, n: int) -> pd.DataFrame:
    "`n` silver.positions rows of version `tag` (the tag in `source_file`)."
    return pd.DataFrame({"account_id": [f"A{i}" for i in range(n)], "client_id": ["C1"] * n, "instrument_id": ["AAPL"] * n,
                         "quantity": [float(i) for i in range(n)], "source_file": [tag] * n, "source_row": list(range(1, n + 1))})


# --- bronze


def test_landing_writes_the_bytes_and_a_lineage_record(lake, tmp_path):
    src = tmp_path / "eod positions.csv"
    src.write_bytes(CSV)
    rec = lake.land(KEY, src)
    assert (rec.already_landed, rec.size, rec.source) == (False, len(CSV), "eod positions.csv")
    assert rec.uri == lake.uri("bronze", KEY)
    assert lake.read_bytes("bronze", KEY) == CSV
    assert [(r.key, r.sha256, r.source) for r in lake.landings("positions/")] == [(KEY, rec.sha256, "eod positions.csv")]
    if lake.uri("bronze").startswith("s3://"):
        assert rec.uri == "s3://data-lake-bronze/positions/date=2025-01-01/positions.csv"
    else:
        assert Path(rec.uri).stat().st_mode & 0o222 == 0, "landed file should be read-only"


def test_second_landing_with_other_bytes_is_refused_naming_the_object_and_bronze_is_unchanged(lake):
    lake.land(KEY, CSV)
    before = all_objects(lake, "bronze")
    with pytest.raises(BronzeObjectExists) as e:
        lake.land(KEY, CSV.replace(b"10", b"99"))
    assert lake.uri("bronze", KEY) in str(e.value) and e.value.uri == lake.uri("bronze", KEY)
    assert all_objects(lake, "bronze") == before


def test_identical_relanding_is_reported_already_landed_keeping_the_first_record(lake):
    first = lake.land(KEY, CSV, source="a.csv")
    before = all_objects(lake, "bronze")
    again = lake.land(KEY, CSV, source="b.csv")
    assert again.already_landed and (again.landed_at, again.source, again.sha256) == (first.landed_at, "a.csv", first.sha256)
    assert all_objects(lake, "bronze") == before


def test_racing_landings_of_different_bytes_let_exactly_one_win(lake):
    bodies = [CSV + f"2025-01-01,A{i},UHNW-1,X,1\n".encode() for i in range(6)]
    def attempt(body):
        try: lake.land(KEY, body); return body
        except BronzeObjectExists: return None
    with ThreadPoolExecutor(6) as pool: winners = [b for b in pool.map(attempt, bodies) if b is not None]
    assert len(winners) == 1
    assert lake.read_bytes("bronze", KEY) == winners[0]


# --- silver / gold


def test_replace_partition_then_read_returns_only_the_new_data(lake):
    lake.replace_partition("silver", "positions", DAY, positions("v1", 3))
    files = lake.replace_partition("silver", "positions", DAY, positions("v2", 2))
    got = lake.read_partition("silver", "positions", DAY).to_pandas()
    pd.testing.assert_frame_equal(got, positions("v2", 2))
    assert len(files) == 1 and lake.table_files("silver", "positions") == files


def test_list_partitions_lists_the_dates_with_rows(lake):
    for d in ("2025-01-03", "2025-01-01", "2025-01-02"):
        lake.replace_partition("silver", "positions", d, positions(d, 1))
    lake.replace_partition("silver", "positions", "2025-01-04", positions("empty", 0))
    assert lake.list_partitions("silver", "positions") == ["2025-01-01", "2025-01-02", "2025-01-03"]
    assert lake.list_partitions("silver", "no_such_table") == []
    with pytest.raises(PartitionNotFound):
        lake.read_partition("silver", "positions", "2025-01-04")
    t = lake.read_table("silver", "positions")
    assert t.column("date").to_pylist() == [pd.Timestamp(d).date() for d in ("2025-01-01", "2025-01-02", "2025-01-03")]


def test_a_failed_rewrite_keeps_the_previous_partition(lake):
    lake.replace_partition("silver", "positions", DAY, positions("v1", 3))
    bad = positions("v2", 2).assign(quantity=["ten", "eleven"])  # not a double: refused before anything is committed
    with pytest.raises((ValueError, pa.ArrowInvalid)):
        lake.replace_partition("silver", "positions", DAY, bad)
    pd.testing.assert_frame_equal(lake.read_partition("silver", "positions", DAY).to_pandas(), positions("v1", 3))


def test_rerunning_a_partition_write_never_touches_bronze(lake):
    lake.land(KEY, CSV)
    before = all_objects(lake, "bronze")
    for tag in ("run1", "run2"):
        lake.replace_partition("silver", "positions", DAY, positions(tag, 2))
    assert all_objects(lake, "bronze") == before
    with pytest.raises(ValueError, match="append-only"):
        lake.replace_partition("bronze", "positions", DAY, positions("x", 1))


def test_types_follow_the_ddl(lake):
    td = table_def(lake.warm.settings, "silver.tick_closes")
    row = {c: None for c in td.column_names}
    t = pa.Table.from_pylist([row], schema=arrow_schema(td))
    lake.replace_partition("silver", "tick_closes", DAY, t)
    got = lake.read_partition("silver", "tick_closes", DAY)
    assert [f.name for f in got.schema] == td.column_names and got.to_pylist() == t.to_pylist()


def test_a_reader_sees_a_whole_old_or_whole_new_partition_while_it_is_replaced(lake):
    "Each version is 10 rows of one tag; a reader racing the writer must never get rows of two versions, or none."
    lake.replace_partition("silver", "positions", DAY, positions("v0", 10))
    stop, seen, errors = threading.Event(), set(), []
    def reader():
        while not stop.is_set():
            try:
                t = lake.read_partition("silver", "positions", DAY).to_pandas()
                seen.add((len(t), frozenset(t["source_file"])))
            except Exception as e:  # noqa: BLE001 - any failure is a finding
                errors.append(repr(e)); return
    th = threading.Thread(target=reader); th.start()
    try:
        for i in range(1, 7): lake.replace_partition("silver", "positions", DAY, positions(f"v{i}", 10))
    finally:
        stop.set(); th.join(30)
    assert errors == [] and seen, (errors, seen)
    assert all(n == 10 and len(tags) == 1 for n, tags in seen), seen


def test_concurrent_writers_of_one_table_both_land(lake, request):
    """Three jobs commit to the same table at once (other dates): optimistic concurrency retries, nothing is lost.
    Local only: moto's Glue `update_table` ignores the `VersionId` condition that real Glue (and pyiceberg's Glue
    catalog) use for the same compare-and-swap, so on the emulator concurrent commits overwrite each other."""
    if "s3" in request.node.callspec.id: pytest.skip("moto's Glue does not enforce update_table's VersionId (real Glue does)")
    days = [f"2025-02-{d:02d}" for d in range(1, 7)]
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda d: lake.replace_partition("silver", "positions", d, positions(d, 2)), days))
    assert lake.list_partitions("silver", "positions") == days
    assert sorted(set(lake.read_table("silver", "positions").to_pandas()["source_file"])) == days


# --- S3 specifics: the emulator enforces the conditions the design relies on


@pytest.mark.aws
def test_moto_enforces_if_none_match_and_if_match_on_put_object(moto_endpoint):
    import boto3
    from botocore.exceptions import ClientError
    _reset(moto_endpoint)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="cond-bucket")
    etag = s3.put_object(Bucket="cond-bucket", Key="k", Body=b"1", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="cond-bucket", Key="k", Body=b"2", IfNoneMatch="*")
    assert e.value.response["Error"]["Code"] == "PreconditionFailed"
    s3.put_object(Bucket="cond-bucket", Key="k", Body=b"3", IfMatch=etag)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="cond-bucket", Key="k", Body=b"4", IfMatch=etag)  # stale ETag: someone else wrote since
    assert e.value.response["Error"]["Code"] == "PreconditionFailed"
    assert s3.get_object(Bucket="cond-bucket", Key="k")["Body"].read() == b"3"


@pytest.mark.aws
def test_head_then_put_fallback_still_refuses_a_second_landing(moto_endpoint, tmp_path):
    "For S3-compatible stores without If-None-Match: not race-free, but never an overwrite in sequence."
    _reset(moto_endpoint)
    lake = lake_for(Settings(profile="aws", home=tmp_path, s3_endpoint_url=moto_endpoint), conditional_writes=False).ensure()
    lake.land(KEY, CSV)
    with pytest.raises(BronzeObjectExists):
        lake.land(KEY, b"other")
    assert lake.land(KEY, CSV).already_landed and lake.read_bytes("bronze", KEY) == CSV
