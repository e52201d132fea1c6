"""uhnw.schemas against confluent-kafka's own serdes, the CLI as a user runs it, and the Glue backend on a moto server.

No Kafka broker needed: the registry backends are the repository's files (copied), confluent-kafka's `mock://`
registry and a local moto server.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import MessageField, SchemaRegistryClient, SerializationContext
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer

from uhnw.config import Settings, repo_root
from uhnw.schemas import TOPIC_SCHEMAS, AvroCodec, GlueRegistry, LocalRegistry, SchemaError, load_schema, open_registry

REPO = repo_root()
UHNW = REPO / ".venv" / "bin" / "uhnw"
UTC = dt.UTC

RECORDS = {
    "raw-news-events": {
        "article_id": "reuters-2025-0001", "source": "reuters", "channel": "webhook",
        "url": "https://www.reuters.com/markets/deals/saxena-holdings-sells-stake-2025-01-02/",
        "headline": "Saxena Holdings sells 12% stake in logistics arm", "body": "Amit Saxena's family office agreed to sell ...",
        "summary": None, "language": "en", "published_at": dt.datetime(2025, 1, 2, 7, 59, 1, 250000, tzinfo=UTC),
        "received_at": dt.datetime(2025, 1, 2, 8, 0, 0, 5000, tzinfo=UTC), "authors": ["Jane Doe"], "tags": ["M&A"],
        "entities": ["Amit Saxena", "Saxena Holdings"], "tickers": [], "content_sha256": "ab" * 32, "raw_key": None,
    },
    "enriched-alerts": {
        "alert_id": "a-7f3c", "article_id": "reuters-2025-0001", "client_id": "UHNW-102", "rm_id": "RM-7",
        "headline": "Saxena Holdings sells 12% stake in logistics arm", "summary": "Family office sells a 12% stake; liquidity event.",
        "relevance": 0.93, "resolution_score": 0.88, "mention": "Amit Saxena's family office", "matched_name": "Amit Saxena",
        "event_type": "liquidity", "source": "reuters", "url": None,
        "published_at": dt.datetime(2025, 1, 2, 7, 59, 1, 250000, tzinfo=UTC), "processed_at": dt.datetime(2025, 1, 2, 8, 0, 1, tzinfo=UTC),
        "model_version": "relevance-2025.01+extractive-1",
    },
    "market-ticks": {
        "instrument_id": "GB00B03MLX29", "venue": "XLON", "price": Decimal("2650.50000000"), "currency": "GBX",
        "size": Decimal("1200.5"), "bid": Decimal("2650.25"), "ask": None,
        "event_time": dt.datetime(2025, 1, 2, 8, 0, 0, 123456, tzinfo=UTC),
    },
    "crm-cdc-events": {
        "ChangeEventHeader": {
            "entityName": "Account", "recordIds": ["001Dn00000AbCdE"], "changeType": "UPDATE",
            "changeOrigin": "com/salesforce/api/soap/58.0;client=SfdcInternalAPI/", "transactionKey": "0002a1b2-c3d4",
            "sequenceNumber": 1, "commitTimestamp": dt.datetime(2025, 1, 2, 9, 30, 15, 123000, tzinfo=UTC), "commitNumber": 11765438392,
            "commitUser": "005Dn000001XyZ", "changedFields": ["Net_Worth__c", "LastModifiedDate"], "nulledFields": [], "diffFields": [],
        },
        "Client_Id__c": "UHNW-102", "Net_Worth__c": Decimal("1250000000.00"), "Net_Worth_Currency__c": "USD",
        "LastModifiedDate": dt.datetime(2025, 1, 2, 9, 30, 15, tzinfo=UTC),
    },
}


def _expected(topic: str, record: dict) -> dict:
    "The record as decoded: fields left out come back with their defaults."
    schema = load_schema(TOPIC_SCHEMAS[topic], REPO / "schemas")
    return {f["name"]: record.get(f["name"], f.get("default")) for f in schema["fields"]}


@pytest.fixture
def schemas_dir(tmp_path) -> Path:
    "A private copy of the repository's schemas and registered versions."
    d = tmp_path / "schemas"
    shutil.copytree(REPO / "schemas" / "avro", d / "avro")
    shutil.copytree(REPO / "schemas" / "registry", d / "registry")
    return d


@pytest.fixture(params=["local", "mock"])
def registry(request, schemas_dir):
    "The two Confluent-wire-format backends: the local file registry and confluent-kafka's mock:// REST registry."
    if request.param == "local":
        return LocalRegistry(schemas_dir / "registry")
    return SchemaRegistryClient.new_client({"url": f"mock://{uuid.uuid4()}"})


def _ctx(topic):
    return SerializationContext(topic, MessageField.VALUE)


@pytest.mark.parametrize("topic", sorted(RECORDS))
def test_confluent_avro_serializer_output_is_decoded_by_codec(topic, registry, schemas_dir):
    codec = AvroCodec(Settings(schemas_dir=schemas_dir), registry=registry)
    ser = AvroSerializer(registry, json.dumps(load_schema(TOPIC_SCHEMAS[topic], schemas_dir)))
    data = ser(RECORDS[topic], _ctx(topic))
    assert data[0] == 0
    assert codec.decode(topic, data) == _expected(topic, RECORDS[topic])


@pytest.mark.parametrize("topic", sorted(RECORDS))
def test_codec_output_is_decoded_by_confluent_avro_deserializer(topic, registry, schemas_dir):
    codec = AvroCodec(Settings(schemas_dir=schemas_dir), registry=registry)
    data = codec.encode(topic, RECORDS[topic])
    assert AvroDeserializer(registry)(data, _ctx(topic)) == _expected(topic, RECORDS[topic])


def test_codec_and_confluent_serializer_write_identical_bytes_with_the_local_registry(schemas_dir):
    # (confluent-kafka's mock:// registry matches schema *text* exactly, so there two spellings of one schema get two ids;
    # a real Schema Registry and LocalRegistry compare the parsed schema)
    topic = "market-ticks"
    registry = LocalRegistry(schemas_dir / "registry")
    ours = AvroCodec(Settings(schemas_dir=schemas_dir), registry=registry).encode(topic, RECORDS[topic])
    theirs = AvroSerializer(registry, json.dumps(load_schema("MarketTick", schemas_dir)))(RECORDS[topic], _ctx(topic))
    assert ours[:5] == theirs[:5]
    assert ours == theirs  # same schema, same fastavro encoding


def test_local_registry_ids_are_the_committed_ones(schemas_dir):
    data = AvroCodec(Settings(schemas_dir=schemas_dir)).encode("market-ticks", RECORDS["market-ticks"])
    index = json.loads((REPO / "schemas" / "registry" / "index.json").read_text())
    committed = {e["subject"]: e["id"] for e in index["schemas"] if e["version"] == 1}
    assert int.from_bytes(data[1:5], "big") == committed["market-ticks-value"]


@pytest.mark.parametrize("topic", sorted(RECORDS))
def test_every_topic_round_trips_through_bytes(topic, schemas_dir):
    codec = AvroCodec(Settings(schemas_dir=schemas_dir))
    out = codec.decode(topic, codec.encode(topic, RECORDS[topic]))
    assert out == _expected(topic, RECORDS[topic])  # Decimal == Decimal and aware datetime == aware datetime: logical types survive


def test_file_contract_schemas_encode_their_logical_types(schemas_dir):
    import io

    import fastavro
    position = {"as_of_date": dt.date(2025, 1, 1), "account_id": "ACC-1", "client_id": "UHNW-102", "instrument_id": "US0378331005",
                "quantity": Decimal("-1500.25")}
    page = {"url": "https://example.org/a", "fetched_at": dt.datetime(2025, 1, 1, tzinfo=UTC), "http_status": 200,
            "content_type": "text/html", "sha256": "cd" * 32,
            "bronze_key": "web/site=example.org/date=2025-01-01/cd.html", "size_bytes": 1234, "scraper": "example"}
    for name, rec in [("Position", position), ("RawPage", page)]:
        parsed = fastavro.parse_schema(load_schema(name, schemas_dir))
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, rec)
        assert fastavro.schemaless_reader(io.BytesIO(buf.getvalue()), parsed, None) == rec


def test_codec_asks_the_registry_once_per_topic_and_writer_id(schemas_dir):
    calls = []

    class Counting(LocalRegistry):
        def register_schema_full_response(self, *a, **k):
            calls.append("register"); return super().register_schema_full_response(*a, **k)

        def get_schema(self, *a, **k):
            calls.append("get"); return super().get_schema(*a, **k)

    codec = AvroCodec(Settings(schemas_dir=schemas_dir), registry=Counting(schemas_dir / "registry"))
    for _ in range(50):
        codec.decode("market-ticks", codec.encode("market-ticks", RECORDS["market-ticks"]))
    assert calls == ["register", "get"]


def test_decode_errors_name_the_reason(schemas_dir):
    codec = AvroCodec(Settings(schemas_dir=schemas_dir))
    good = codec.encode("raw-news-events", RECORDS["raw-news-events"])
    with pytest.raises(SchemaError, match=r"not Confluent wire format \(first byte 0x7b"):
        codec.decode("raw-news-events", json.dumps({"headline": "x"}).encode())
    with pytest.raises(SchemaError, match="unknown schema id 999"):
        codec.decode("raw-news-events", b"\x00" + (999).to_bytes(4, "big") + good[5:])
    with pytest.raises(SchemaError, match="truncated Avro body"):
        codec.decode("raw-news-events", good[:-10])
    with pytest.raises(SchemaError, match="too short"):
        codec.decode("raw-news-events", b"\x00\x00")
    with pytest.raises(SchemaError, match="original bytes"):
        codec.decode("raw-news-events.dlq", good)


def test_decode_refuses_a_message_of_another_topics_schema(schemas_dir):
    codec = AvroCodec(Settings(schemas_dir=schemas_dir))
    tick = codec.encode("market-ticks", RECORDS["market-ticks"])
    with pytest.raises(SchemaError, match="raw-news-events"):
        codec.decode("raw-news-events", tick)


def test_encode_of_a_record_missing_a_required_field_names_the_field(schemas_dir):
    codec = AvroCodec(Settings(schemas_dir=schemas_dir))
    rec = {k: v for k, v in RECORDS["raw-news-events"].items() if k != "headline"}
    with pytest.raises(SchemaError, match="missing required field 'headline'"):
        codec.encode("raw-news-events", rec)
    hdr = {k: v for k, v in RECORDS["crm-cdc-events"]["ChangeEventHeader"].items() if k != "commitUser"}
    with pytest.raises(SchemaError, match="missing required field 'ChangeEventHeader.commitUser'"):
        codec.encode("crm-cdc-events", {**RECORDS["crm-cdc-events"], "ChangeEventHeader": hdr})
    with pytest.raises(SchemaError, match="field 'price': 2650.5 of type float is not a valid decimal"):
        codec.encode("market-ticks", {**RECORDS["market-ticks"], "price": 2650.5})


def test_message_written_with_an_older_version_is_read_with_the_current_schema(schemas_dir):
    old_schema = json.dumps(load_schema("MarketTick", schemas_dir))
    registry = LocalRegistry(schemas_dir / "registry")
    old_bytes = AvroSerializer(registry, old_schema)(RECORDS["market-ticks"], _ctx("market-ticks"))
    # a compatible edit, registered as version 2
    p = schemas_dir / "avro" / "MarketTick.avsc"
    s = json.loads(p.read_text())
    s["fields"].append({"name": "condition", "type": "string", "default": "regular", "doc": "Trade condition code."})
    p.write_text(json.dumps(s, indent=2))
    _run("register", schemas_dir=schemas_dir)
    codec = AvroCodec(Settings(schemas_dir=schemas_dir))
    assert codec.decode("market-ticks", old_bytes) == {**RECORDS["market-ticks"], "condition": "regular"}
    new_bytes = codec.encode("market-ticks", {**RECORDS["market-ticks"], "condition": "odd-lot"})
    assert new_bytes[1:5] != old_bytes[1:5]


def test_read_only_local_registry_refuses_an_unregistered_schema_with_a_hint(schemas_dir):
    p = schemas_dir / "avro" / "NewsEvent.avsc"
    s = json.loads(p.read_text())
    s["doc"] = "changed doc"
    p.write_text(json.dumps(s))
    with pytest.raises(SchemaError, match="run `uhnw schemas register`"):
        AvroCodec(Settings(schemas_dir=schemas_dir)).encode("raw-news-events", RECORDS["raw-news-events"])


# --- the CLI, as a user runs it -------------------------------------------------------------

def _run(*args, schemas_dir: Path):
    env = {**os.environ, "UHNW_SCHEMAS_DIR": str(schemas_dir)}
    exe = [str(UHNW)] if UHNW.exists() else [sys.executable, "-m", "uhnw"]
    return subprocess.run([*exe, "schemas", *args], env=env, capture_output=True, text=True, timeout=120)


def _edit(schemas_dir: Path, name: str, change) -> None:
    p = schemas_dir / "avro" / f"{name}.avsc"
    s = json.loads(p.read_text())
    change(s)
    p.write_text(json.dumps(s, indent=2) + "\n")


def test_check_passes_on_the_repository_as_committed():
    r = _run("check", schemas_dir=REPO / "schemas")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all 6 schemas match their registered versions" in r.stdout


def test_check_fails_on_a_new_required_field(schemas_dir):
    _edit(schemas_dir, "NewsEvent", lambda s: s["fields"].append({"name": "priority", "type": "int", "doc": "Provider priority."}))
    r = _run("check", schemas_dir=schemas_dir)
    assert r.returncode == 1
    assert "NewsEvent (raw-news-events-value): field 'priority': new field without a default" in r.stderr
    assert "not BACKWARD compatible" in r.stderr


def test_check_fails_on_a_changed_field_type(schemas_dir):
    def change(s):
        next(f for f in s["fields"] if f["name"] == "http_status")["type"] = "string"
    _edit(schemas_dir, "RawPage", change)
    r = _run("check", schemas_dir=schemas_dir)
    assert r.returncode == 1
    assert "RawPage (io.uhnw.lake.RawPage): field 'http_status': type changed from int to string" in r.stderr
    r = _run("register", schemas_dir=schemas_dir)
    assert r.returncode == 1 and "nothing registered" in r.stderr
    assert "RawPage/v2" not in (schemas_dir / "registry" / "index.json").read_text()


def test_compatible_edit_passes_check_and_register_records_version_2(schemas_dir):
    _edit(schemas_dir, "MarketTick", lambda s: s["fields"].append(
        {"name": "trade_condition", "type": ["null", "string"], "default": None, "doc": "Exchange trade condition code."}))
    r = _run("check", schemas_dir=schemas_dir)
    assert r.returncode == 0, r.stderr
    assert "MarketTick (market-ticks-value): BACKWARD compatible with version 1, not registered yet" in r.stdout
    assert "run `uhnw schemas register`" in r.stdout
    next_id = 1 + max(e["id"] for e in json.loads((schemas_dir / "registry" / "index.json").read_text())["schemas"])
    r = _run("register", schemas_dir=schemas_dir)
    assert r.returncode == 0, r.stderr
    assert f"registered    market-ticks-value: version 2, id {next_id}" in r.stdout  # the next after the committed ones
    assert (schemas_dir / "registry" / "market-ticks-value" / "v2.avsc").exists()
    r = _run("list", schemas_dir=schemas_dir)
    assert re.search(rf"market-ticks-value +version 2 +id {next_id}", r.stdout), r.stdout
    r = _run("check", schemas_dir=schemas_dir)
    assert r.returncode == 0 and "all 6 schemas match" in r.stdout


# --- AWS Glue Schema Registry on a moto server ----------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_endpoint():
    pytest.importorskip("moto.server")
    from moto.server import ThreadedMotoServer
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def glue_env(moto_endpoint, monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                 "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT_URL_GLUE": moto_endpoint}.items():
        monkeypatch.setenv(k, v)
    return moto_endpoint


@pytest.mark.aws
def test_glue_backend_round_trips_with_glue_framing(glue_env, schemas_dir):
    settings = Settings(schemas_dir=schemas_dir, schema_registry="glue", glue_registry_name=f"uhnw-{uuid.uuid4().hex[:8]}")
    registry = open_registry(settings)
    assert isinstance(registry, GlueRegistry)
    codec = AvroCodec(settings, registry=registry)
    data = codec.encode("raw-news-events", RECORDS["raw-news-events"])
    assert data[:2] == b"\x03\x00"
    version_id = uuid.UUID(bytes=data[2:18])
    assert registry.client.get_schema_version(SchemaVersionId=str(version_id))["SchemaDefinition"]
    # a fresh codec (empty caches) reads it back through the registry
    assert AvroCodec(settings).decode("raw-news-events", data) == _expected("raw-news-events", RECORDS["raw-news-events"])
    # the same schema maps to the same version
    assert AvroCodec(settings).encode("raw-news-events", RECORDS["raw-news-events"])[2:18] == data[2:18]
    with pytest.raises(SchemaError, match="unknown schema version id"):
        codec.decode("raw-news-events", data[:2] + uuid.uuid4().bytes + data[18:])
    with pytest.raises(SchemaError, match=r"not Glue Schema Registry wire format \(first byte 0x00"):
        codec.decode("raw-news-events", AvroCodec(Settings(schemas_dir=schemas_dir)).encode("raw-news-events", RECORDS["raw-news-events"]))


@pytest.mark.aws
def test_glue_backend_registers_a_new_version_and_reads_old_messages(glue_env, schemas_dir):
    settings = Settings(schemas_dir=schemas_dir, schema_registry="glue", glue_registry_name=f"uhnw-{uuid.uuid4().hex[:8]}")
    old = AvroCodec(settings).encode("market-ticks", RECORDS["market-ticks"])
    _edit(schemas_dir, "MarketTick", lambda s: s["fields"].append(
        {"name": "condition", "type": "string", "default": "regular", "doc": "Trade condition code."}))
    codec = AvroCodec(settings, registry=GlueRegistry(settings.glue_registry_name, region="eu-west-1", compress=True))
    new = codec.encode("market-ticks", {**RECORDS["market-ticks"], "condition": "odd-lot"})
    assert new[:2] == b"\x03\x05" and new[2:18] != old[2:18]
    glue = codec.registry.client  # (moto 5.2 has no list_schema_versions)
    assert glue.get_schema(SchemaId={"RegistryName": settings.glue_registry_name, "SchemaName": "market-ticks"})["LatestSchemaVersion"] == 2
    assert glue.get_schema_version(SchemaVersionId=str(uuid.UUID(bytes=new[2:18])))["VersionNumber"] == 2
    assert codec.decode("market-ticks", old) == {**RECORDS["market-ticks"], "condition": "regular"}
    assert codec.decode("market-ticks", new)["condition"] == "odd-lot"
