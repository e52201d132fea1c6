"""Bronze → silver validation: every rule's reason, duplicates, header errors, and `etl_date` on a local lake."""
from __future__ import annotations

import hashlib
import shutil
from datetime import date as Date
from pathlib import Path

import pyarrow as pa
import pytest

from uhnw.config import load_settings
from uhnw.lake import PartitionNotFound, SupersessionRefused, lake_for, land_file, partition_key, record_supersession, withdraw_file
from uhnw.synth import synth_cold
from uhnw.tables import arrow_schema, table_def
from uhnw.validate import (
    HeaderError,
    etl_date,
    read_csv_text,
    validate_clients,
    validate_fx,
    validate_positions,
    validate_prices,
)

D = "2025-01-03"
POS_HEADER = b"as_of_date,account_id,client_id,instrument_id,quantity\n"
CLIENTS = (b"client_id,full_name,aliases,rm_id,base_currency,city\n"
           b"UHNW-101,Amit Saxena,A. Saxena,RM-01,INR,Mumbai\nUHNW-102,Layla Al-Mansouri,,RM-02,AED,Dubai\n")


def positions(body: str) -> pa.Table:
    return read_csv_text(POS_HEADER + body.encode(), "positions", "eod.csv")


def reasons_by_row(v) -> dict[int, str]:
    return dict(zip(v.rejected["source_row"].to_pylist(), v.rejected["reason"].to_pylist(), strict=False))


@pytest.fixture
def settings(tmp_path):
    return load_settings(home=tmp_path)


@pytest.fixture
def lake(settings):
    return lake_for(settings).ensure()


# --- positions rules

@pytest.mark.parametrize("row, reason", [
    (f"{D},,UHNW-101,X1,1", "missing account_id"),
    (",A1,UHNW-101,X1,1", "missing as_of_date"),
    (f"{D},A1,,X1,1", "missing client_id"),
    (f"{D},A1,UHNW-101,,1", "missing instrument_id"),
    (f"{D},A1,UHNW-101,X1,", "missing quantity"),
    (f"{D},A1,UHNW-101,X1,abc", "quantity 'abc' is not a number"),
    (f"{D},A1,UHNW-101,X1,\"1,000\"", "quantity '1,000' is not a number"),
    (f"{D},A1,UHNW-101,X1,inf", "quantity 'inf' is not finite"),
    (f"{D},A1,UHNW-101,X1,NaN", "quantity 'NaN' is not finite"),
    (f"{D},A1,UHNW-101,X1,1e999", "quantity '1e999' is not finite"),
    ("01/02/2025,A1,UHNW-101,X1,1", "as_of_date '01/02/2025' is not a date in YYYY-MM-DD or YYYYMMDD"),
    ("2025-02-30,A1,UHNW-101,X1,1", "as_of_date '2025-02-30' is not a date in YYYY-MM-DD or YYYYMMDD"),
    ("2025-01-02,A1,UHNW-101,X1,1", "as_of_date 2025-01-02 differs from partition date 2025-01-03"),
    ("20250102,A1,UHNW-101,X1,1", "as_of_date 2025-01-02 differs from partition date 2025-01-03"),
    (f"{D},A1,UHNW-999,X1,1", "unknown client_id 'UHNW-999'"),
    (f"{D},A1,UHNW-101", "row has 3 fields, expected 5"),
    (",,,,", "empty row"),
    (",,UHNW-101,X1,abc", "missing as_of_date; missing account_id; quantity 'abc' is not a number"),
])
def test_a_bad_position_row_is_rejected_as_read_with_its_reason_and_the_rest_lands(row, reason):
    v = validate_positions(positions(f"{D},A0,UHNW-102,X0,7\n{row}\n{D},A2,UHNW-101,X2,-3.5\n"), D, ["UHNW-101", "UHNW-102"])
    assert reasons_by_row(v) == {2: reason}
    assert v.valid["source_row"].to_pylist() == [1, 3]
    assert v.valid["quantity"].to_pylist() == [7.0, -3.5]
    assert v.rejected["source_file"].to_pylist() == ["eod.csv"]


def test_rejected_positions_keep_every_field_exactly_as_read():
    v = validate_positions(positions(f" {D} , A1 ,UHNW-101,X1, abc \n"), D, ["UHNW-101"])
    row = v.rejected.to_pylist()[0]
    assert (row["as_of_date"], row["account_id"], row["quantity"]) == (f" {D} ", " A1 ", " abc ")
    assert row["reason"] == "quantity 'abc' is not a number"


def test_valid_positions_are_trimmed_and_accept_both_date_formats():
    v = validate_positions(positions(f" {D} , A1 , UHNW-101 , X1 , 10 \n20250103,A1,UHNW-101,X2,1e3\n"), D, ["UHNW-101"])
    assert v.rejected.num_rows == 0
    assert v.valid.select(["account_id", "client_id", "instrument_id", "quantity"]).to_pylist() == [
        {"account_id": "A1", "client_id": "UHNW-101", "instrument_id": "X1", "quantity": 10.0},
        {"account_id": "A1", "client_id": "UHNW-101", "instrument_id": "X2", "quantity": 1000.0}]


def test_every_copy_of_a_duplicated_position_is_quarantined_never_summed():
    v = validate_positions(positions(f"{D},A1,UHNW-101,X1,10\n{D},A1,UHNW-101,X2,5\n{D},A1,UHNW-101,X1,10\n"
                                     f"{D},A1,UHNW-101,X1,abc\n{D},A2,UHNW-101,X1,1\n"), D, ["UHNW-101"])
    assert reasons_by_row(v) == {1: "duplicate", 3: "duplicate", 4: "quantity 'abc' is not a number"}
    assert v.valid["source_row"].to_pylist() == [2, 5]
    assert v.reasons == {"duplicate": 2, "quantity is not a number": 1}


def test_validated_positions_have_the_ddl_schemas():
    s = load_settings()
    sch, rej = (arrow_schema(table_def(s, n)) for n in ("silver.positions", "silver.positions_rejected"))
    v = validate_positions(positions(f"{D},A1,UHNW-101,X1,1\n{D},A1,UHNW-101,X2,x\n"), D, None, schema=sch, rejected_schema=rej)
    assert v.valid.schema == sch and v.rejected.schema == rej


# --- header errors

@pytest.mark.parametrize("dataset, header, missing, unexpected", [
    ("positions", "as_of_date,account,client_id,instrument_id,quantity", ["account_id"], ["account"]),
    ("positions", "as_of_date,account_id,client_id,instrument_id,quantity,note", [], ["note"]),
    ("prices", "price_date,instrument_id,close", ["currency"], []),
    ("fx", "date,currency,usd_per_unit", ["rate_date"], ["date"]),
    ("clients", "client_id,full_name,rm_id,base_currency,city", ["aliases"], []),
])
def test_a_file_with_a_wrong_header_is_rejected_whole_naming_the_columns(dataset, header, missing, unexpected):
    with pytest.raises(HeaderError) as e:
        read_csv_text(f"{header}\nx,y,z\n".encode(), dataset, "bad.csv")
    assert (e.value.missing, e.value.unexpected) == (missing, unexpected)
    assert str(e.value).startswith("bad.csv: not a") and "expected the header" in str(e.value)


def test_clients_extra_columns_are_allowed_and_kept():
    v = validate_clients(read_csv_text(CLIENTS, "clients"), "2025-01-02")
    assert v.valid["extra"].to_pylist() == [[("city", "Mumbai")], [("city", "Dubai")]]
    assert v.valid["extract_date"].to_pylist() == [Date(2025, 1, 2)] * 2


# --- prices, fx, clients rules

def test_price_rules_and_reasons():
    v = validate_prices(read_csv_text(b"price_date,instrument_id,close,currency\n"
                                      b"2025-01-03,X1,10.5, usd \n2025-01-03,X2,0,EUR\n2025-01-03,X3,n/a,EUR\n2025-01-03,X4,1,EU\n"
                                      b"2025-01-02,X5,1,EUR\n2025-01-03,X6,1,\n2025-01-03,X7,1,GBP\n2025-01-03,X7,1,GBP\n", "prices"), D)
    assert v.valid.select(["instrument_id", "close", "currency"]).to_pylist() == [{"instrument_id": "X1", "close": 10.5, "currency": "USD"}]
    assert reasons_by_row(v) == {2: "close '0' is not > 0", 3: "close 'n/a' is not a number",
                                 4: "currency 'EU' is not a 3-letter currency code",
                                 5: "price_date 2025-01-02 differs from partition date 2025-01-03", 6: "missing currency",
                                 7: "duplicate", 8: "duplicate"}


def test_fx_rules_usd_must_be_one_and_duplicates_are_case_insensitive():
    v = validate_fx(read_csv_text(b"rate_date,currency,usd_per_unit\n2025-01-03,EUR,1.08\n2025-01-03,usd,1.0\n2025-01-03,USD,0.99\n"
                                  b"2025-01-03,GBP,-1\n2025-01-03,CHF,1.1\n2025-01-03,chf,1.1\n2025-01-03,E1,1\n", "fx"), D)
    assert v.valid.select(["currency", "usd_per_unit"]).to_pylist() == [{"currency": "EUR", "usd_per_unit": 1.08},
                                                                         {"currency": "USD", "usd_per_unit": 1.0}]
    assert reasons_by_row(v) == {3: "usd_per_unit '0.99' for USD must be 1", 4: "usd_per_unit '-1' is not > 0",
                                 5: "duplicate", 6: "duplicate", 7: "currency 'E1' is not a 3-letter currency code"}


def test_client_rules_aliases_and_duplicates():
    v = validate_clients(read_csv_text(
        b"client_id,full_name,aliases,rm_id,base_currency,organizations\n"
        b"UHNW-101,Amit Saxena, A. Saxena || Amit S. ,RM-01,inr,Saxena Holdings\nUHNW-102,,,RM-01,EUR,\n"
        b"UHNW-103,Wei Zhang,,,HKD,\nUHNW-104,Jean Dubois,,RM-02,EURO,\nUHNW-105,A,,RM-01,EUR,\nUHNW-105,B,,RM-01,EUR,\n",
        "clients"), "2025-01-01")
    assert v.valid.select(["client_id", "aliases", "base_currency"]).to_pylist() == [
        {"client_id": "UHNW-101", "aliases": ["A. Saxena", "Amit S."], "base_currency": "INR"}]
    assert reasons_by_row(v) == {2: "missing full_name", 3: "missing rm_id", 4: "base_currency 'EURO' is not a 3-letter currency code",
                                 5: "duplicate", 6: "duplicate"}


# --- etl_date on the local lake

def land(lake, dataset, date, name, data: bytes):
    return lake.land(partition_key(dataset, date, name), data)


def bronze_digest(lake) -> dict[str, str]:
    root = Path(lake.uri("bronze"))
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def land_day(lake, positions_body: bytes = b""):
    land(lake, "clients", "2025-01-02", "clients.csv", CLIENTS)
    land(lake, "positions", D, "eod.csv", POS_HEADER + f"{D},A1,UHNW-101,X1,10\n{D},A1,UHNW-102,X2,abc\n".encode() + positions_body)
    land(lake, "prices", D, "px.csv", b"price_date,instrument_id,close,currency\n2025-01-03,X1,2.5,USD\n")
    land(lake, "fx", D, "fx.csv", b"rate_date,currency,usd_per_unit\n2025-01-03,INR,0.012\n2025-01-03,AED,0.2723\n")


def test_etl_date_writes_valid_and_rejected_silver_partitions(settings, lake):
    land_day(lake)
    rep = etl_date(settings, D, lake)
    assert rep.clients_extract_date == "2025-01-02"
    assert {d: (r.read, r.valid, r.rejected) for d, r in rep.datasets.items()} == {
        "clients": (2, 2, 0), "positions": (2, 1, 1), "prices": (1, 1, 0), "fx": (2, 2, 0)}
    assert rep.datasets["positions"].reasons == {"quantity is not a number": 1}
    rej = lake.read_partition("silver", "positions_rejected", D).to_pylist()
    assert [(r["quantity"], r["reason"], r["source_row"]) for r in rej] == [("abc", "quantity 'abc' is not a number", 2)]
    assert rej[0]["source_file"].endswith("bronze/positions/date=2025-01-03/eod.csv")
    snap = lake.read_partition("silver", "clients", D)
    assert snap["client_id"].to_pylist() == ["UHNW-101", "UHNW-102"]
    assert snap["extract_date"].to_pylist() == [Date(2025, 1, 2)] * 2
    for t in ("positions", "prices", "fx", "clients"):
        assert lake.list_partitions("silver", t) == [D]  # a date lists when it has rows: only positions had a rejection
        assert lake.list_partitions("silver", f"{t}_rejected") == ([D] if rep.datasets[t].rejected else [])
    assert "quantity is not a number" in rep.summary()


def test_rerunning_a_date_replaces_silver_and_leaves_bronze_byte_identical(settings, lake):
    land_day(lake)
    etl_date(settings, D, lake)
    before = bronze_digest(lake)
    # a corrected extra file lands beside the first (bronze is append-only): the re-run sees both
    land(lake, "positions", D, "eod-late.csv", POS_HEADER + f"{D},A9,UHNW-101,X9,3\n".encode())
    after_landing = bronze_digest(lake)
    rep = etl_date(settings, D, lake)
    assert rep.datasets["positions"].valid == 2
    assert sorted(lake.read_partition("silver", "positions", D)["account_id"].to_pylist()) == ["A1", "A9"]
    assert len(lake.table_files("silver", "positions", [D])) == 1  # replaced, not appended
    etl_date(settings, D, lake)
    assert bronze_digest(lake) == after_landing and set(before) < set(after_landing)
    assert all(after_landing[k] == v for k, v in before.items())


def positions_of(lake, date=D) -> dict[str, float]:
    t = lake.read_partition("silver", "positions", date)
    return dict(zip(t["instrument_id"].to_pylist(), t["quantity"].to_pylist(), strict=True))


def rejected_files(lake, dataset="positions", date=D) -> dict[str, str]:
    try: t = lake.read_partition("silver", f"{dataset}_rejected_files", date)
    except PartitionNotFound: return {}  # nothing rejected: the day has no rows in the table
    return dict(zip(t["file_name"].to_pylist(), t["reason"].to_pylist(), strict=True))


def test_a_correction_landed_under_a_new_name_without_supersedes_never_empties_the_day(settings, lake):
    land_day(lake)
    assert etl_date(settings, D, lake).ok and positions_of(lake) == {"X1": 10.0}
    # the refusal message said "land the corrected file under a new name": the old code then quarantined every key
    land(lake, "positions", D, "eod-v2.csv", POS_HEADER + f"{D},A1,UHNW-101,X1,12\n{D},A1,UHNW-102,X2,7\n".encode())
    rep = etl_date(settings, D, lake)
    assert positions_of(lake) == {"X1": 10.0}, "the day keeps the rows it had"
    assert not rep.ok and "supersede" in rep.problems[0] and "eod-v2.csv" in rep.problems[0]
    assert rejected_files(lake)["eod-v2.csv"].startswith("repeats 2 key(s) (account_id, instrument_id) of eod.csv")
    assert "uhnw ingest supersede positions eod-v2.csv --date 2025-01-03 --supersedes eod.csv" in rejected_files(lake)["eod-v2.csv"]


def test_a_correction_with_supersedes_rebuilds_silver_from_the_winning_file_and_bronze_keeps_both(settings, lake, tmp_path):
    land_day(lake)
    etl_date(settings, D, lake)
    before = bronze_digest(lake)
    fixed = tmp_path / "eod-v2.csv"
    fixed.write_bytes(POS_HEADER + f"{D},A1,UHNW-101,X1,12\n{D},A1,UHNW-102,X2,7\n".encode())
    land_file(lake, "positions", fixed, D, supersedes=["eod.csv"])
    rep = etl_date(settings, D, lake)
    assert rep.ok and positions_of(lake) == {"X1": 12.0, "X2": 7.0} and rep.datasets["positions"].valid == 2
    assert [(f.name, f.state, f.superseded_by) for f in rep.datasets["positions"].files] == [
        ("eod.csv", "superseded", "eod-v2.csv"), ("eod-v2.csv", "used", None)]
    v2 = lake.uri("bronze", partition_key("positions", D, "eod-v2.csv"))
    assert set(lake.read_partition("silver", "positions", D)["source_file"].to_pylist()) == {v2}
    after = bronze_digest(lake)
    assert all(after[k] == v for k, v in before.items()), "bronze keeps the original byte for byte"
    assert "positions/date=2025-01-03/eod-v2.csv" in after and "_supersessions/positions/date=2025-01-03/eod-v2.csv.json" in after
    assert f"file superseded by eod-v2.csv: {lake.uri('bronze', partition_key('positions', D, 'eod.csv'))}" in rep.summary()


@pytest.mark.parametrize("old, why", [("nope.csv", "no file 'nope.csv'"), ("eod-v2.csv", "cannot supersede itself")])
def test_a_supersession_naming_a_missing_file_or_itself_is_refused_and_lands_nothing(lake, tmp_path, old, why):
    land_day(lake)
    before = bronze_digest(lake)
    fixed = tmp_path / "eod-v2.csv"; fixed.write_bytes(POS_HEADER)
    with pytest.raises(SupersessionRefused, match=why):
        land_file(lake, "positions", fixed, D, supersedes=[old])
    assert bronze_digest(lake) == before


@pytest.mark.aws
def test_supersession_is_recorded_and_used_on_the_s3_lake(moto_endpoint, tmp_path):
    s = load_settings(profile="aws", home=tmp_path, s3_endpoint_url=moto_endpoint, region="eu-west-1",
                      bronze_bucket="sup-bronze", silver_bucket="sup-silver", gold_bucket="sup-gold")
    lake = lake_for(s).ensure()
    land_day(lake)
    lake.land(partition_key("positions", D, "eod-v2.csv"), POS_HEADER + f"{D},A1,UHNW-101,X1,12\n".encode())
    assert not etl_date(settings=s, date=D, lake=lake).ok and positions_of(lake) == {"X1": 10.0}
    record_supersession(lake, "positions", D, "eod-v2.csv", ["eod.csv"])
    assert lake.store.exists("bronze", "_supersessions/positions/date=2025-01-03/eod-v2.csv.json")
    assert etl_date(s, D, lake).ok and positions_of(lake) == {"X1": 12.0}
    assert lake.read_bytes("bronze", partition_key("positions", D, "eod.csv")).startswith(POS_HEADER), "the original stays in bronze"


def test_a_file_with_a_bad_header_beside_a_good_one_is_recorded_and_fails_the_run(settings, lake):
    land_day(lake)
    land(lake, "positions", D, "wrong.csv", b"date,acct,qty\n2025-01-03,A7,1\n")
    rep = etl_date(settings, D, lake)
    (uri, why), = rep.datasets["positions"].rejected_files.items()
    assert uri.endswith("wrong.csv") and "missing column(s) as_of_date, account_id" in why
    assert not rep.ok and rep.problems == [f"positions file {uri} rejected: {why}"]
    assert rejected_files(lake) == {"wrong.csv": why}
    row = lake.read_partition("silver", "positions_rejected_files", D).to_pylist()[0]
    assert (row["source_file"], row["bronze_date"]) == (uri, Date(2025, 1, 3))
    assert positions_of(lake) == {"X1": 10.0} and rep.datasets["positions"].read == 2, "the good file's rows are in silver"
    assert rejected_files(lake, "prices") == {} and rejected_files(lake, "clients") == {}


def test_a_withdrawn_file_stays_in_bronze_and_no_longer_fails_the_run(settings, lake):
    land_day(lake)
    land(lake, "positions", D, "prices.csv", b"price_date,instrument_id,close,currency\n2025-01-03,X1,2.5,USD\n")  # wrong prefix
    assert not etl_date(settings, D, lake).ok
    withdraw_file(lake, "positions", D, "prices.csv", "a prices file uploaded under positions/")
    rep = etl_date(settings, D, lake)
    assert rep.ok and [f.state for f in rep.datasets["positions"].files] == ["used", "withdrawn"]
    assert rejected_files(lake) == {} and lake.store.exists("bronze", partition_key("positions", D, "prices.csv"))


@pytest.mark.parametrize("data, why", [
    (b"as_of_date;account_id;client_id;instrument_id;quantity\n2025-01-03;A7;UHNW-101;X7;1\n", "the fields are separated by ';'"),
    (b"price_date,instrument_id,close,currency\n2025-01-03,X1,2.5,USD\n", "not a positions file: it has the header of a prices file"),
    ("as_of_date,account_id,client_id,instrument_id,quantité\n".encode("latin-1"), "the header is not UTF-8 text"),
    (b"", "the file is empty"),
])
def test_a_file_rejected_whole_gets_a_row_with_its_reason(settings, lake, data, why):
    land_day(lake)
    land(lake, "positions", D, "odd.csv", data)
    rep = etl_date(settings, D, lake)
    assert why in rejected_files(lake)["odd.csv"] and not rep.ok


def test_a_date_whose_only_positions_file_is_rejected_keeps_its_silver_rows_and_fails(settings, lake):
    land(lake, "clients", "2025-01-02", "clients.csv", CLIENTS)
    land(lake, "positions", D, "wrong.csv", b"date,acct,qty\n2025-01-03,A7,1\n")
    rep = etl_date(settings, D, lake)
    assert "every positions file for 2025-01-03 was rejected" in rep.blocked and not rep.ok
    assert lake.list_partitions("silver", "positions") == [] and list(rejected_files(lake)) == ["wrong.csv"]


def test_a_latin1_byte_quarantines_only_its_row_as_not_valid_utf8(settings, lake):
    land(lake, "clients", "2025-01-02", "clients.csv", CLIENTS)
    body = f"{D},A1,UHNW-101,X1,10\n".encode() + f"{D},A2,UHNW-101,Caf\u00e9,3\n".encode("latin-1") + f"{D},A3,UHNW-102,X3,1\n".encode()
    land(lake, "positions", D, "eod.csv", POS_HEADER + body)
    rep = etl_date(settings, D, lake)
    assert rep.ok and positions_of(lake) == {"X1": 10.0, "X3": 1.0}
    (row,) = lake.read_partition("silver", "positions_rejected", D).to_pylist()
    assert (row["reason"], row["source_row"], row["instrument_id"]) == ("not valid UTF-8", 2, "Caf\ufffd")
    assert rep.datasets["positions"].reasons == {"not valid UTF-8": 1}


def test_a_rejected_clients_extract_never_blocks_later_dates(settings, lake):
    land(lake, "clients", "2025-02-20", "clients.csv", CLIENTS)
    land(lake, "clients", "2025-02-21", "clients.csv", b"client_id;full_name\nUHNW-101;Amit\n")  # malformed
    for d in ("2025-02-21", "2025-02-24"):
        land(lake, "positions", d, "eod.csv", POS_HEADER + f"{d},A1,UHNW-101,X1,10\n".encode())
    rep = etl_date(settings, "2025-02-24", lake)
    assert rep.ok and rep.clients_extract_date == "2025-02-20" and rep.datasets["positions"].valid == 1
    assert list(rejected_files(lake, "clients", "2025-02-24")) == ["clients.csv"]  # skipped, recorded, not a failure of this date
    rep = etl_date(settings, "2025-02-21", lake)  # its own date reports it, and still runs on the extract before it
    assert rep.clients_extract_date == "2025-02-20" and rep.datasets["positions"].valid == 1
    assert len(rep.problems) == 1 and "clients file" in rep.problems[0] and "separated by ';'" in rep.problems[0]


def test_a_file_put_directly_into_the_bronze_prefix_is_used_like_a_landed_one(settings, lake, tmp_path):
    land_day(lake)
    folder = Path(lake.uri("bronze", partition_key("positions", D)))
    (folder / "upload-2.csv").write_bytes(POS_HEADER + f"{D},A5,UHNW-101,X5,5\n".encode())  # the core-banking system's own upload
    rep = etl_date(settings, D, lake)
    assert rep.ok and positions_of(lake) == {"X1": 10.0, "X5": 5.0}
    shutil.copy(_write(tmp_path / "upload-3.csv", POS_HEADER + f"{D},A5,UHNW-101,X5,6\n".encode()),
                folder / "upload-3.csv")  # a direct correction of upload-2.csv, not recorded as one: rejected whole
    rep = etl_date(settings, D, lake)
    assert not rep.ok and rejected_files(lake)["upload-3.csv"].startswith("repeats 1 key(s)") and positions_of(lake)["X5"] == 5.0
    record_supersession(lake, "positions", D, "upload-3.csv", ["upload-2.csv"])
    assert etl_date(settings, D, lake).ok and positions_of(lake) == {"X1": 10.0, "X5": 6.0}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_megabyte_header_line_is_not_echoed_back(settings, lake):
    land_day(lake)
    land(lake, "positions", D, "huge.csv", b"as_of_date," + b"x" * 1_000_000 + b"\n1\n")
    etl_date(settings, D, lake)
    why = rejected_files(lake)["huge.csv"]
    assert "unexpected column(s) xxxx" in why and len(why) < 400


def test_a_price_in_a_currency_that_is_not_iso_4217_is_quarantined(settings, lake):
    v = validate_prices(read_csv_text(b"price_date,instrument_id,close,currency\n2025-01-03,X1,1,ZZZ\n2025-01-03,X2,1,chf\n", "prices"), D)
    assert reasons_by_row(v) == {1: "currency 'ZZZ' is not an ISO 4217 currency code"}
    assert v.valid["currency"].to_pylist() == ["CHF"]


def test_missing_positions_or_clients_give_errors_naming_the_date(settings, lake):
    with pytest.raises(FileNotFoundError, match="no positions file landed for 2025-01-03"):
        etl_date(settings, D, lake)
    land(lake, "positions", D, "eod.csv", POS_HEADER)
    land(lake, "clients", "2025-01-06", "clients.csv", CLIENTS)  # landed after the date: not usable
    with pytest.raises(FileNotFoundError, match="no clients extract landed in bronze on or before 2025-01-03"):
        etl_date(settings, D, lake)


def test_the_latest_clients_extract_on_or_before_the_date_is_used(settings, lake):
    land_day(lake)
    only_amit = b"client_id,full_name,aliases,rm_id,base_currency\nUHNW-101,Amit Saxena,,RM-01,INR\n"
    land(lake, "clients", "2025-01-03", "clients.csv", only_amit)
    land(lake, "clients", "2025-01-04", "clients.csv", CLIENTS)
    rep = etl_date(settings, D, lake)
    assert rep.clients_extract_date == D
    assert rep.datasets["positions"].reasons == {"quantity is not a number": 1, "unknown client_id": 1}


# --- synthetic data through validation

def land_synth(lake, m):
    land(lake, "clients", m["clients_extract_date"], "clients.csv", Path(m["clients_file"]).read_bytes())
    for d, files in m["files"].items():
        for ds in ("positions", "prices", "fx"):
            land(lake, ds, d, Path(files[ds]).name, Path(files[ds]).read_bytes())


def test_synthetic_files_validate_with_zero_rejects(settings, lake, tmp_path):
    m = synth_cold(tmp_path / "in", days=3, clients=40, positions=2000, seed=3)
    land_synth(lake, m)
    for d in m["dates"]:
        rep = etl_date(settings, d, lake)
        assert {k: r.rejected for k, r in rep.datasets.items()} == {"clients": 0, "positions": 0, "prices": 0, "fx": 0}
        assert rep.datasets["positions"].valid == 2000 and rep.datasets["clients"].valid == 40
    pos, px = lake.read_partition("silver", "positions", d), lake.read_partition("silver", "prices", d)
    unpriced = set(pos["instrument_id"].to_pylist()) - set(px["instrument_id"].to_pylist())
    assert 0 < len(unpriced) == m["files"][d]["unpriced_instruments"]


def test_synthetic_bad_rows_are_exactly_the_rejects(settings, lake, tmp_path):
    m = synth_cold(tmp_path / "in", days=2, clients=30, positions=1500, seed=4, bad_rows=7)
    land_synth(lake, m)
    for d in m["dates"]:
        rep = etl_date(settings, d, lake)
        assert {k: r.rejected for k, r in rep.datasets.items()} == {"clients": 7, "positions": 7, "prices": 7, "fx": 7}
        assert {k: r.valid for k, r in rep.datasets.items()} == {"clients": 30, "positions": 1500, "prices": m["instruments"] -
                                                                  m["files"][d]["unpriced_instruments"], "fx": 8}
        assert "duplicate" not in rep.datasets["positions"].reasons
