"""uhnw.lake against both backends: local folders and S3 (a moto S3 server on a free port, real boto3 calls).

Every behavioural test is parametrized over `local` and `s3`; the S3 runs carry the `aws` marker.
A few S3-only tests check that the emulator enforces the conditional writes the design relies on.
"""
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from uhnw.config import Settings
from uhnw.lake import BronzeObjectExists, Lake, PartitionConflict, PartitionNotFound, lake_for, parquet_bytes, partition_key

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
    "An empty lake on each backend; the S3 one uses the seeds' bucket names on a freshly reset moto server."
    if request.param == "local":
        return lake_for(Settings(profile="local", home=tmp_path)).ensure()
    endpoint = request.getfixturevalue("moto_endpoint")
    _reset(endpoint)
    return lake_for(Settings(profile="aws", home=tmp_path, s3_endpoint_url=endpoint, region="eu-west-1")).ensure()


def all_objects(lake: Lake, layer: str) -> dict[str, bytes]:
    return {k: lake.store.read_bytes(layer, k) for k in lake.store.list_keys(layer)}


def positions(tag: str, n: int) -> pd.DataFrame:
    return pd.DataFrame({"account_id": [f"A{i}" for i in range(n)], "instrument_id": ["AAPL"] * n,
                         "quantity": [float(i) for i in range(n)], "version": [tag] * n})


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


def test_list_partitions_lists_committed_dates_only(lake):
    for d in ("2025-01-03", "2025-01-01", "2025-01-02"):
        lake.replace_partition("gold", "client_metrics", d, positions(d, 1))
    with pytest.raises(RuntimeError):
        with lake.writing_partition("gold", "client_metrics", "2025-01-04") as uri:
            lake.store.write_file(f"{uri.rstrip('/')}/part-0.parquet", b"half")
            raise RuntimeError("job died")
    assert lake.list_partitions("gold", "client_metrics") == ["2025-01-01", "2025-01-02", "2025-01-03"]
    assert lake.list_partitions("gold", "no_such_table") == []
    with pytest.raises(PartitionNotFound):
        lake.read_partition("gold", "client_metrics", "2025-01-04")
    t = lake.read_table("gold", "client_metrics")
    assert t.column("date").to_pylist() == [pd.Timestamp(d).date() for d in ("2025-01-01", "2025-01-02", "2025-01-03")]


def test_failed_rewrite_keeps_the_previous_partition(lake):
    lake.replace_partition("silver", "positions", DAY, positions("v1", 3))
    def dies(uri):
        lake.store.write_file(f"{uri.rstrip('/')}/part-0.parquet", b"not parquet")
        raise OSError("disk full")
    with pytest.raises(OSError, match="disk full"):
        lake.replace_partition("silver", "positions", DAY, dies)
    pd.testing.assert_frame_equal(lake.read_partition("silver", "positions", DAY).to_pandas(), positions("v1", 3))


def test_rerunning_a_partition_write_never_touches_bronze(lake):
    lake.land(KEY, CSV)
    before = all_objects(lake, "bronze")
    for tag in ("run1", "run2"):
        lake.replace_partition("silver", "positions", DAY, positions(tag, 2))
    assert all_objects(lake, "bronze") == before
    with pytest.raises(ValueError, match="append-only"):
        lake.replace_partition("bronze", "positions", DAY, positions("x", 1))


def test_money_types_are_kept_as_given(lake):
    from decimal import Decimal
    schema = pa.schema([("client_id", pa.string()), ("market_value", pa.decimal128(38, 9)), ("daily_pnl", pa.float64())])
    t = pa.table({"client_id": ["C1"], "market_value": [Decimal("1234567.123456789")], "daily_pnl": [-0.1]}, schema=schema)
    lake.replace_partition("gold", "client_metrics", DAY, t)
    assert lake.read_partition("gold", "client_metrics", DAY).equals(t)


def test_a_reader_sees_a_whole_old_or_whole_new_partition_while_it_is_replaced(lake):
    "Each version is two files; a reader racing the writer must never get one file of each or a single file."
    def writer_for(tag):
        def write(uri):
            for i in range(2):
                body = parquet_bytes(pa.Table.from_pandas(positions(tag, 5), preserve_index=False))
                lake.store.write_file(f"{uri.rstrip('/')}/part-{i}.parquet", body)
        return write
    lake.replace_partition("silver", "positions", DAY, writer_for("v0"))
    stop, seen, errors = threading.Event(), set(), []
    def reader():
        while not stop.is_set():
            try:
                t = lake.read_partition("silver", "positions", DAY).to_pandas()
                seen.add((len(t), frozenset(t["version"])))
            except Exception as e:  # noqa: BLE001 - any failure is a finding
                errors.append(repr(e)); return
    th = threading.Thread(target=reader); th.start()
    try:
        for i in range(1, 9): lake.replace_partition("silver", "positions", DAY, writer_for(f"v{i}"))
    finally:
        stop.set(); th.join(30)
    assert errors == [] and seen, (errors, seen)
    assert all(n == 10 and len(tags) == 1 for n, tags in seen), seen


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
def test_s3_partition_switches_by_pointer_and_keeps_one_previous_version(moto_endpoint, tmp_path):
    _reset(moto_endpoint)
    lake = lake_for(Settings(profile="aws", home=tmp_path, s3_endpoint_url=moto_endpoint)).ensure()
    for i in range(4):
        lake.replace_partition("silver", "positions", DAY, positions(f"v{i}", 1))
    keys = lake.store.list_keys("silver", "positions/")
    versions = sorted({k.split("/")[2] for k in keys} - {"_current.json"})
    assert len(versions) == 2 and "positions/date=2025-01-01/_current.json" in keys
    current = lake.partition_uri("silver", "positions", DAY)
    assert current.startswith("s3://data-lake-silver/positions/date=2025-01-01/v-") and current.endswith("/")
    assert all(f.startswith(current) for f in lake.table_files("silver", "positions"))
    assert lake.read_partition("silver", "positions", DAY).to_pandas()["version"].tolist() == ["v3"]


@pytest.mark.aws
def test_s3_commit_refuses_when_another_writer_switched_the_partition_first(moto_endpoint, tmp_path):
    _reset(moto_endpoint)
    lake = lake_for(Settings(profile="aws", home=tmp_path, s3_endpoint_url=moto_endpoint)).ensure()
    lake.replace_partition("silver", "positions", DAY, positions("v1", 1))
    store = lake.store
    # writer B reads the pointer, then writer A commits, then B commits with what it read: replay that interleaving
    snapshot = store._pointer("silver", "positions", DAY)
    lake.replace_partition("silver", "positions", DAY, positions("A", 1))
    st = store.stage("silver", "positions", DAY)
    store.write_file(st.uri + "part-0.parquet", b"B's bytes")
    store._pointer = lambda *a: snapshot  # B's view is the one it read before A's commit
    try:
        with pytest.raises(PartitionConflict):
            store.commit(st)
    finally:
        del store._pointer
    assert lake.read_partition("silver", "positions", DAY).to_pandas()["version"].tolist() == ["A"]
    assert not [k for k in store.list_keys("silver", "positions/") if st.token in k], "B's staged files are cleaned up"


@pytest.mark.aws
def test_head_then_put_fallback_still_refuses_a_second_landing(moto_endpoint, tmp_path):
    "For S3-compatible stores without If-None-Match: not race-free, but never an overwrite in sequence."
    _reset(moto_endpoint)
    lake = lake_for(Settings(profile="aws", home=tmp_path, s3_endpoint_url=moto_endpoint), conditional_writes=False).ensure()
    lake.land(KEY, CSV)
    with pytest.raises(BronzeObjectExists):
        lake.land(KEY, b"other")
    assert lake.land(KEY, CSV).already_landed and lake.read_bytes("bronze", KEY) == CSV
