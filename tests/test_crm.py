"""Salesforce Change Data Capture → the client master: the apply rules against the real PostgreSQL (commit order, partial
and nulled updates, several records per event, delete/undelete, replays, older events, gaps and the resync), the
publisher and the applier through the real broker and the CLI, and end to end: a client renamed by CDC is matched under
the new name by the next article, and an RM who lost coverage stops receiving the client's alerts and gets 404."""
from __future__ import annotations

import dataclasses
import json
import random
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from uhnw.access import User, visible_clients
from uhnw.alerts import audiences
from uhnw.bus import Event
from uhnw.config import resource_path
from uhnw.crm import apply_event as _apply
from uhnw.crm import change_event, crm_schema, read_extract, resync
from uhnw.ops.db import connect, migrate

pytestmark = [pytest.mark.postgres]

DATA = Path(__file__).parent / "data" / "crm"
SCHEMA = crm_schema(resource_path("schemas"))
BASE_MS = 1_780_000_000_000  # 2026-05-28


def ev(kind: str, ids: list[str], ms: int, entity: str = "Account", changed=(), nulled=(), diff=(), seq: int = 1, **body) -> dict:
    "A change event payload as the Pub/Sub API delivers it (header + only the fields that carry values)."
    header = {"entityName": entity, "recordIds": ids, "changeType": kind, "changeOrigin": "", "transactionKey": f"tx-{ms}",
              "sequenceNumber": seq, "commitTimestamp": ms, "commitNumber": ms // 10, "commitUser": "005000000000000AAA",
              "changedFields": list(changed), "nulledFields": list(nulled), "diffFields": list(diff)}
    return {"ChangeEventHeader": header, **body}


def apply(conn, payload: dict) -> list[dict]:
    with conn.transaction():
        return _apply(conn, change_event(payload, SCHEMA))


def sf(prefix: str, run: str, n: int) -> str:
    "An 18-character record id of this run."
    return f"{prefix}{run}{n:07d}"[:18].ljust(18, "0")


@pytest.fixture(scope="module")
def migrated(stack):
    migrate(stack)  # 0008 on a stack started before it existed
    return stack


@pytest.fixture
def run() -> str:
    return uuid.uuid4().hex[:8].upper()


@pytest.fixture
def conn(migrated):
    with connect(migrated, autocommit=True) as c:
        yield c


def client(conn, client_id: str) -> dict:
    cur = conn.execute("select full_name, aliases, city, country, rm_id, base_currency, deleted_at, sf_id from clients "
                       "where client_id = %s", (client_id,))
    row = cur.fetchone()
    return dict(zip([d.name for d in cur.description], row, strict=True)) if row else None


def coverage(conn, client_id: str) -> list[str]:
    return [r[0] for r in conn.execute("select rm_id from rm_coverage where client_id = %s order by rm_id", (client_id,)).fetchall()]


def create(conn, run: str, n: int = 1, **overrides) -> tuple[str, str]:
    acc, cid = sf("001", run, n), f"CRM-{run}-{n}"
    body = {"Client_Id__c": cid, "Name": f"Ingrid Dahl {run}", "Aliases__c": "I. Dahl;Dahl Family Office", "Primary_RM__c": f"RM-{run}-A",
            "CurrencyIsoCode": "NOK", "PersonMailingAddress": {"City": "Oslo", "Country": "Norway", "Street": "Karl Johans gate 1"}}
    apply(conn, ev("CREATE", [acc], BASE_MS, **{**body, **overrides}))
    return acc, cid


def test_update_changes_only_the_changed_and_nulled_fields(conn, run):
    acc, cid = create(conn, run)
    # Pub/Sub sends every field; unchanged ones are null and only changedFields / nulledFields say what moved
    got = apply(conn, ev("UPDATE", [acc], BASE_MS + 10, changed=["PersonMailingAddress.City", "Aliases__c", "LastModifiedDate"],
                         nulled=["CurrencyIsoCode"], Name=None, Client_Id__c=None, Aliases__c="I. Dahl; ID ;",
                         PersonMailingAddress={"City": "Bergen", "Country": None}))
    assert got[0]["action"] == "updated"
    assert got[0]["changed"] == {"city": ["Oslo", "Bergen"], "aliases": [["I. Dahl", "Dahl Family Office"], ["I. Dahl", "ID"]],
                                 "base_currency": ["NOK", None]}
    row = client(conn, cid)
    assert (row["full_name"], row["country"], row["rm_id"], row["sf_id"]) == (f"Ingrid Dahl {run}", "Norway", f"RM-{run}-A", acc)
    assert (row["city"], row["aliases"], row["base_currency"]) == ("Bergen", ["I. Dahl", "ID"], None)
    # a compound field named whole in nulledFields clears its components
    apply(conn, ev("UPDATE", [acc], BASE_MS + 20, nulled=["PersonMailingAddress"]))
    assert (client(conn, cid)["city"], client(conn, cid)["country"]) == (None, None)


def test_events_land_in_commit_order_whatever_order_they_arrive_in(conn, run):
    acc, cid = create(conn, run)
    renames = [ev("UPDATE", [acc], BASE_MS + k * 1000, changed=["Name"], Name=f"Name {k} {run}") for k in range(1, 6)]
    city = ev("UPDATE", [acc], BASE_MS + 2500, changed=["PersonMailingAddress.City"], PersonMailingAddress={"City": "Tromso"})
    # same commit, later sequence number: wins over its own transaction's earlier change
    same_tx = [ev("UPDATE", [acc], BASE_MS + 9000, seq=s, changed=["Primary_RM__c"], Primary_RM__c=f"RM-{run}-S{s}") for s in (1, 2)]
    events = [*renames, city, *same_tx]
    random.Random(7).shuffle(events)
    for e in events: apply(conn, e)
    row = client(conn, cid)
    assert (row["full_name"], row["city"], row["rm_id"]) == (f"Name 5 {run}", "Tromso", f"RM-{run}-S2")
    assert coverage(conn, cid) == [f"RM-{run}-S2"]  # 0007's trigger: the primary moved, the old primaries left


def test_an_event_older_than_what_is_stored_never_overwrites_it(conn, run):
    acc, cid = create(conn, run)
    apply(conn, ev("UPDATE", [acc], BASE_MS + 2000, changed=["Name"], Name="Newer Name"))
    late = apply(conn, ev("UPDATE", [acc], BASE_MS + 1000, changed=["Name", "CurrencyIsoCode"], Name="Older Name", CurrencyIsoCode="eur"))
    assert late[0]["changed"] == {"base_currency": ["NOK", "EUR"]}  # its other field was not written since: it lands
    assert client(conn, cid)["full_name"] == "Newer Name"
    # an older DELETE after a newer UNDELETE leaves the client alive
    apply(conn, ev("UNDELETE", [acc], BASE_MS + 5000, Client_Id__c=cid, Name="Newer Name", CurrencyIsoCode="EUR"))
    assert apply(conn, ev("DELETE", [acc], BASE_MS + 4000))[0]["action"] == "unchanged"
    assert client(conn, cid)["deleted_at"] is None


def test_replaying_events_changes_nothing(conn, run):
    acc = sf("001", run, 1)
    cid = f"CRM-{run}-1"
    events = [ev("CREATE", [acc], BASE_MS, Client_Id__c=cid, Name="Ann Moe", Primary_RM__c="RM-X"),
              ev("UPDATE", [acc], BASE_MS + 1, changed=["Name"], Name="Ann Moe-Lie"),
              ev("CREATE", [sf("a0C", run, 2)], BASE_MS + 2, "Coverage__c", Client_Id__c=cid, RM_Id__c=f"RM-{run}-B"),
              ev("DELETE", [acc], BASE_MS + 3),
              ev("UNDELETE", [acc], BASE_MS + 4, Client_Id__c=cid, Name="Ann Moe-Lie", Primary_RM__c="RM-X")]
    for e in events: apply(conn, e)
    before = (client(conn, cid), coverage(conn, cid), conn.execute("select version from serving_version").fetchone()[0])
    again = [r["action"] for e in events for r in apply(conn, e)]
    assert again == ["unchanged"] * len(events)
    assert (client(conn, cid), coverage(conn, cid), conn.execute("select version from serving_version").fetchone()[0]) == before


def test_one_event_changes_several_records(conn, run):
    (a1, c1), (a2, c2), (a3, c3) = (create(conn, run, n, Client_Id__c=f"CRM-{run}-{n}") for n in (1, 2, 3))
    got = apply(conn, ev("UPDATE", [a1, a2], BASE_MS + 10, changed=["CurrencyIsoCode"], CurrencyIsoCode="CHF"))
    assert [(r["client_id"], r["action"]) for r in got] == [(c1, "updated"), (c2, "updated")]
    assert [client(conn, c)["base_currency"] for c in (c1, c2, c3)] == ["CHF", "CHF", "NOK"]
    apply(conn, ev("DELETE", [a2, a3], BASE_MS + 20))
    assert [client(conn, c)["deleted_at"] is not None for c in (c1, c2, c3)] == [False, True, True]
    # on the topic such an event comes once per record, keyed by it: each copy applies its record's share only
    renamed = change_event(ev("UPDATE", [a1, a3], BASE_MS + 30, changed=["Name"], Name="Shared Name"), SCHEMA)
    with conn.transaction():
        assert [r["client_id"] for r in _apply(conn, renamed, a3)] == [c3]
    assert [client(conn, c)["full_name"] for c in (c1, c3)] == [f"Ingrid Dahl {run}", "Shared Name"]


def test_a_deleted_client_vanishes_everywhere_and_undelete_restores_it(conn, run):
    acc, cid = create(conn, run)
    rm, team = f"RM-{run}-A", f"RM-{run}-B"
    apply(conn, ev("CREATE", [sf("a0C", run, 1)], BASE_MS + 1, "Coverage__c", Client_Id__c=cid, RM_Id__c=team))
    compliance = User(f"CO-{run}", "compliance")
    assert visible_clients(conn, User(team), [cid]) == [cid] and audiences(conn, [cid]) == {cid: sorted([rm, team])}
    assert apply(conn, ev("DELETE", [acc], BASE_MS + 10))[0]["action"] == "deleted"
    assert client(conn, cid)["deleted_at"] == datetime.fromtimestamp((BASE_MS + 10) / 1000, UTC)  # kept, for audit
    assert visible_clients(conn, User(rm), [cid]) == [] and visible_clients(conn, compliance, [cid]) == []
    assert audiences(conn, [cid]) == {}
    undelete = ev("UNDELETE", [acc], BASE_MS + 20, Client_Id__c=cid, Name="Ingrid Dahl", Primary_RM__c=rm)
    assert apply(conn, undelete)[0]["action"] == "undeleted"
    assert visible_clients(conn, User(team), [cid]) == [cid] and audiences(conn, [cid]) == {cid: sorted([rm, team])}


def test_coverage_delete_removes_exactly_its_row_and_the_primary_rm_stays_coherent(conn, run):
    acc, cid = create(conn, run)
    primary, team = f"RM-{run}-A", f"RM-{run}-B"
    k_team, k_primary = sf("a0C", run, 1), sf("a0C", run, 2)
    apply(conn, ev("CREATE", [k_team], BASE_MS + 1, "Coverage__c", Client_Id__c=cid, RM_Id__c=team))
    apply(conn, ev("CREATE", [k_primary], BASE_MS + 2, "Coverage__c", Client_Id__c=cid, RM_Id__c=primary))
    assert coverage(conn, cid) == [primary, team]
    apply(conn, ev("DELETE", [k_primary], BASE_MS + 3, "Coverage__c"))
    assert coverage(conn, cid) == [primary, team]  # still the primary RM
    apply(conn, ev("CREATE", [k_primary], BASE_MS + 3, "Coverage__c", Client_Id__c=cid, RM_Id__c=primary))  # older than the delete: ignored
    apply(conn, ev("UPDATE", [acc], BASE_MS + 4, changed=["Primary_RM__c"], Primary_RM__c=team))
    assert coverage(conn, cid) == [team]  # the old primary left: its Coverage__c is deleted
    apply(conn, ev("UNDELETE", [k_primary], BASE_MS + 5, "Coverage__c", Client_Id__c=cid, RM_Id__c=primary))
    apply(conn, ev("UPDATE", [acc], BASE_MS + 6, changed=["Primary_RM__c"], Primary_RM__c=f"RM-{run}-C"))
    assert coverage(conn, cid) == [primary, team, f"RM-{run}-C"]  # team and primary keep coverage through their Coverage__c
    apply(conn, ev("DELETE", [k_team], BASE_MS + 7, "Coverage__c"))
    assert coverage(conn, cid) == [primary, f"RM-{run}-C"]
    # coverage of a client not created yet waits for it
    later = f"CRM-{run}-9"
    apply(conn, ev("CREATE", [sf("a0C", run, 9)], BASE_MS + 8, "Coverage__c", Client_Id__c=later, RM_Id__c=team))
    assert coverage(conn, later) == []
    create(conn, run, 9, Client_Id__c=later)
    assert coverage(conn, later) == [f"RM-{run}-A", team]


def test_a_gap_marks_the_record_stale_and_the_resync_reconciles_it(migrated, run):
    with connect(migrated) as conn:  # one transaction, rolled back: the resync sees only this test's stale records
        conn.execute("delete from crm_stale")
        acc, cid = create(conn, run)
        unknown = sf("001", run, 5)
        gap, orphan = ev("GAP_UPDATE", [acc], BASE_MS + 10), ev("UPDATE", [unknown], BASE_MS + 11, changed=["Name"], Name="Who")
        got = [r for e in (gap, orphan) for r in apply(conn, e)]
        assert [r["action"] for r in got] == ["stale", "stale"]
        assert client(conn, cid)["full_name"] == f"Ingrid Dahl {run}"  # nothing guessed
        extract = {"totalSize": 2, "done": True, "records": [
            {"attributes": {"type": "Account"}, "Id": acc, "Client_Id__c": cid, "Name": f"Ingrid Dahl-Berg {run}", "Aliases__c": "I. Dahl",
             "PersonMailingAddress": {"City": "Oslo", "Country": "Norway"}, "Primary_RM__c": f"RM-{run}-A", "CurrencyIsoCode": "NOK",
             "LastModifiedDate": datetime.fromtimestamp((BASE_MS + 10) / 1000, UTC).isoformat()},
            {"attributes": {"type": "Account"}, "Id": unknown, "Client_Id__c": f"CRM-{run}-5", "Name": "Who Else",
             "LastModifiedDate": datetime.fromtimestamp((BASE_MS + 11) / 1000, UTC).isoformat()}]}
        report = resync(conn, read_extract(json.dumps(extract)))
        assert report["still_stale"] == [] and report["reconciled"] == 2
        assert sorted((c["client_id"], c["action"], sorted(c["changed"])) for c in report["changes"]) == [
            (cid, "updated", ["aliases", "full_name"]), (f"CRM-{run}-5", "created", sorted(["client_id", "full_name", "aliases"]))]
        assert conn.execute("select count(*) from crm_stale").fetchone()[0] == 0
        # the extract holds every change up to its LastModifiedDate: a CDC event older than that, delivered late, is ignored
        assert apply(conn, ev("UPDATE", [acc], BASE_MS + 9, changed=["Name"], Name="Stale Name"))[0]["action"] == "unchanged"
        assert apply(conn, gap)[0]["action"] == "unchanged"  # the gap, delivered again: the resync already covers it
        assert conn.execute("select count(*) from crm_stale").fetchone()[0] == 0
        # an overflow makes every Account stale; a resync of the whole object deletes what the org no longer has
        apply(conn, ev("GAP_OVERFLOW", ["000000000000000AAA"], BASE_MS + 20))
        extract["records"] = extract["records"][:1]
        report = resync(conn, read_extract(json.dumps(extract)), as_of=datetime.fromtimestamp((BASE_MS + 30) / 1000, UTC))
        assert (f"CRM-{run}-5", "deleted") in {(c["client_id"], c["action"]) for c in report["changes"]}
        assert client(conn, cid)["deleted_at"] is None and client(conn, f"CRM-{run}-5")["deleted_at"] is not None
        # the overflow replayed from the topic (a group reset): the whole-object resync covers it, nothing turns stale again
        assert apply(conn, ev("GAP_OVERFLOW", ["000000000000000AAA"], BASE_MS + 20))[0]["action"] == "unchanged"
        assert conn.execute("select count(*) from crm_stale where entity = 'Account'").fetchone()[0] == 0
        conn.rollback()


def test_the_sample_replay_then_its_extract_leave_the_orgs_state(migrated):
    from uhnw.crm import parse_line
    with connect(migrated) as conn:  # rolled back: the sample's fixed ids never stay
        conn.execute("delete from crm_stale")
        for line in (DATA / "replay.jsonl").read_text().splitlines():
            apply(conn, parse_line(line).payload)
        a1, a2 = client(conn, "UHNW-9001"), client(conn, "UHNW-9002")
        assert (a1["full_name"], a1["city"], a1["country"], a1["base_currency"], a1["aliases"]) == (
            "Amit R. Saxena", "Dubai", "India", None, ["Family client"])
        assert (a2["deleted_at"], a2["aliases"]) == (None, ["Family client"])  # undeleted; the merged update kept
        assert coverage(conn, "UHNW-9001") == ["RM-01"]  # Coverage__c created, then deleted
        assert sorted(r[0] for r in conn.execute("select sf_id from crm_stale where entity = 'Account'")) == ["*", "0015f00002JUXA8AAP"]
        report = resync(conn, read_extract((DATA / "extract.json").read_text()))
        assert report["still_stale"] == []
        assert {(c["client_id"], c["action"]): c["changed"] for c in report["changes"] if c["client_id"] in ("UHNW-9001", "UHNW-9002")} == {
            ("UHNW-9001", "updated"): {"city": ["Dubai", "Abu Dhabi"], "country": ["India", "United Arab Emirates"],
                                       "base_currency": [None, "AED"]}}
        conn.rollback()


def test_applier_orders_a_batch_and_dead_letters_what_can_never_apply(migrated, conn, run):
    from uhnw.serve.crm import CrmApplier
    acc, cid = create(conn, run)
    payloads = [ev("UPDATE", [acc], BASE_MS + 30, changed=["Name"], Name="Third"),
                ev("CREATE", [sf("001", run, 7)], BASE_MS + 5, Name="No client id"),
                ev("UPDATE", [acc], BASE_MS + 10, changed=["Name"], Name="First"),
                ev("UPDATE", [acc], BASE_MS + 20, nulled=["Name"])]
    events = [Event("crm-cdc-events", 0, i, acc, change_event(p, SCHEMA), 0) for i, p in enumerate(payloads)]
    applier = CrmApplier(migrated)
    try:
        poison = applier(events)
    finally:
        applier.close()
    assert sorted(poison) == [3]  # the Account without Client_Id__c is no uhnw client: skipped, not poison
    assert "without a Name" in poison[3]
    assert conn.execute("select count(*) from clients where sf_id = %s", (sf("001", run, 7),)).fetchone()[0] == 0
    assert client(conn, cid)["full_name"] == "Third"  # applied in commit order, the refused ones rolled back alone


def test_resync_refuses_a_bad_record_alone_skips_non_clients_and_deletes_as_of_the_extract(conn, run):
    acc, cid = create(conn, run)
    late, late_cid = create(conn, run, 2)  # changed by the stream after the extract was pulled and not in it: must survive
    taken, other = sf("001", run, 3), sf("001", run, 4)
    for i in (acc, late, taken, other): apply(conn, ev("GAP_UPDATE", [i], BASE_MS + 10))
    apply(conn, ev("UPDATE", [late], BASE_MS + 10_000, changed=["Name"], Name="Made After The Extract"))
    records = [{"attributes": {"type": "Account"}, "Id": acc, "Client_Id__c": cid, "Name": "Resynced Name",
                "LastModifiedDate": "2026-05-28T20:26:41.000Z"},
               {"attributes": {"type": "Account"}, "Id": taken, "Client_Id__c": cid, "Name": "Claims a taken id",
                "LastModifiedDate": "2026-05-28T20:26:41.000Z"},
               {"attributes": {"type": "Account"}, "Id": other, "Name": "A company account",
                "LastModifiedDate": "2026-05-28T20:26:41.000Z"}]
    with conn.transaction():
        report = resync(conn, records)
    assert report["as_of"] == "2026-05-28T20:26:41+00:00"  # the extract's newest LastModifiedDate, not the clock
    assert [(r["sf_id"], "already belongs to Account" in r["reason"]) for r in report["refused"]] == [(taken, True)]
    assert client(conn, cid)["full_name"] == "Resynced Name"  # applied although a later record was refused
    assert client(conn, late_cid)["deleted_at"] is None  # missing from the extract, but changed after it: kept, a newer extract decides
    stale = {r[0] for r in conn.execute("select sf_id from crm_stale where sf_id = any(%s)", ([acc, late, taken, other],)).fetchall()}
    assert stale == {taken, late}  # the refused record and the one changed since stay stale; the non-client Account is settled


def test_the_sample_replay_file_holds_both_line_shapes_and_every_change_type():
    from uhnw.crm import parse_line, record_changes
    lines = [parse_line(line) for line in (DATA / "replay.jsonl").read_text().splitlines() if line.strip()]
    assert {bool(x.replay_id) for x in lines} == {True, False}
    kinds = [c.kind for x in lines for c in record_changes(change_event(x.payload, SCHEMA))]
    assert {"CREATE", "UPDATE", "DELETE", "UNDELETE", "GAP_UPDATE", "GAP_OVERFLOW"} <= set(kinds)
    assert len(read_extract((DATA / "extract.json").read_text())) == 3


def test_the_hot_path_refresh_wakes_on_a_change_of_clients_not_on_its_poll(migrated, conn, run):
    import threading

    from uhnw.hotpath import MasterRef, build_master, clients_frame
    from uhnw.serve.hotpath import HotpathMetrics, _refresh_loop
    ref, stop = MasterRef(build_master(clients_frame([]), "nothing yet")), threading.Event()
    loop = threading.Thread(target=_refresh_loop, args=(migrated, ref, 600.0, stop, HotpathMetrics()), daemon=True)
    loop.start()

    def changes_from(version: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while ref.current.version == version and time.monotonic() < deadline: time.sleep(0.05)
        return ref.current.version
    try:
        first = changes_from("nothing yet")  # the loop reads the table once at start
        acc, cid = create(conn, run)  # then waits for PostgreSQL's notice, its 600 s poll far away
        assert changes_from(first) != first
        assert cid in ref.current.directory
        second = ref.current.version
        apply(conn, ev("DELETE", [acc], BASE_MS + 10))
        assert changes_from(second) != second and cid not in ref.current.directory  # deleted: no longer matched
    finally:
        stop.set()
        loop.join(10)


# --- through the broker and the CLI -------------------------------------------------------------------------------

@pytest.mark.kafka
def test_ingest_and_serve_from_a_replay_file_with_both_line_shapes(bus, migrated, cli, run, tmp_path):
    from uhnw.bus import read_dead_letters
    env = {"UHNW_TOPIC_PREFIX": bus.topic_prefix}
    acc, cid, cov = sf("001", run, 1), f"CRM-{run}-1", sf("a0C", run, 1)
    lines = [json.dumps(ev("CREATE", [acc], BASE_MS, Client_Id__c=cid, Name="Sven Aas", Primary_RM__c=f"RM-{run}-A", CurrencyIsoCode="SEK",
                           PersonMailingAddress={"City": "Stockholm", "Country": "Sweden"})),
             json.dumps({"channel": "/data/AccountChangeEvent", "data": {"event": {"replayId": 41}, "payload":
                         ev("UPDATE", [acc], BASE_MS + 1, changed=["Name"], Name="Sven Aas-Berg")}}),
             json.dumps({"channel": "/data/Coverage__ChangeEvent", "data": {"event": {"replayId": 42}, "payload":
                         ev("CREATE", [cov], BASE_MS + 2, "Coverage__c", Client_Id__c=cid, RM_Id__c=f"RM-{run}-B")}}),
             "{not json", "",
             json.dumps(ev("CREATE", [sf("001", run, 2)], BASE_MS + 3, Name="Nobody's client")),  # an Account of the org, no client
             json.dumps(ev("UPDATE", [acc], BASE_MS + 4, nulled=["Name"]))]  # valid event, refused by the applier
    replay = tmp_path / "replay.jsonl"
    replay.write_text("\n".join(lines) + "\n")
    r = cli("ingest", "crm", str(replay), env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"published": 5, "messages": 5, "dead_lettered": 1}
    assert "line 4: not valid JSON" in r.stderr
    r = cli("serve", "crm", "--until-idle", "--idle-seconds", "2", env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["consumed"], out["dead_lettered"]) == (5, 1) and out["actions"] == {"created": 2, "skipped": 1, "updated": 1}
    with connect(migrated) as conn:
        assert client(conn, cid)["full_name"] == "Sven Aas-Berg" and client(conn, cid)["city"] == "Stockholm"
        assert coverage(conn, cid) == [f"RM-{run}-A", f"RM-{run}-B"]
    reasons = sorted(d.reason for d in read_dead_letters(bus, f"{bus.topic_prefix}crm-cdc-events"))
    assert len(reasons) == 2 and "not valid JSON" in reasons[1] and "without a Name" in reasons[0]


@pytest.mark.kafka
def test_resync_cli_reports_what_it_changed(migrated, cli, run, tmp_path):
    with connect(migrated, autocommit=True) as conn:
        acc, cid = create(conn, run)
        apply(conn, ev("GAP_UPDATE", [acc], BASE_MS + 10))
    extract = tmp_path / "extract.json"
    record = {"attributes": {"type": "Account"}, "Id": acc, "Client_Id__c": cid, "Name": "Renamed In Org",
              "Aliases__c": "I. Dahl;Dahl Family Office", "Primary_RM__c": f"RM-{run}-A", "CurrencyIsoCode": "NOK",
              "PersonMailingAddress": {"City": "Oslo", "Country": "Norway"}, "LastModifiedDate": "2026-05-28T20:26:40.010Z"}
    extract.write_text(json.dumps({"records": [record]}))
    r = cli("crm", "status", "--json")
    assert {"entity": "Account", "sf_id": acc} in [{k: x[k] for k in ("entity", "sf_id")} for x in json.loads(r.stdout)["stale"]]
    r = cli("crm", "resync", "--file", str(extract), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert f"updated    Account      {acc} {cid} full_name: 'Ingrid Dahl {run}' -> 'Renamed In Org'" in r.stdout
    assert "dry run" in r.stdout
    r = cli("crm", "resync", "--file", str(extract), "--json")
    report = json.loads(r.stdout)
    mine = [(c["sf_id"], c["changed"]["full_name"]) for c in report["changes"] if c["sf_id"] == acc]
    assert mine == [(acc, [f"Ingrid Dahl {run}", "Renamed In Org"])]
    with connect(migrated) as conn:
        assert client(conn, cid)["full_name"] == "Renamed In Org"
        assert conn.execute("select count(*) from crm_stale where sf_id = %s", (acc,)).fetchone()[0] == 0


# --- end to end: the hot path and the API see CDC changes without a restart ---------------------------------------

@pytest.mark.kafka
def test_cdc_rename_is_matched_by_the_next_article_and_lost_coverage_stops_alerts_and_reads(stack, migrated, model_home, tmp_path, run):
    from confluent_kafka.admin import AdminClient

    from uhnw.bench.harness import RmListener, post_signed, rm_token, start_hot_services
    from uhnw.bus import client_config, ensure_topics, topic_specs
    from uhnw.ingest.crm import demo_changes
    from uhnw.serve.crm import serve_crm
    settings = dataclasses.replace(stack, home=model_home, topic_prefix=f"crm{run.lower()}.")
    ensure_topics(AdminClient(client_config(settings)), topic_specs(settings))
    cid, primary, team = f"CRM-{run}-E", f"RM-{run}-A", f"RM-{run}-B"
    old, new = f"Halvard Brekke{run.lower()}", f"Halvard Solvik{run.lower()}"
    with connect(settings, autocommit=True) as conn:  # a client as the cold path's extract loaded it: no Salesforce id yet
        conn.execute("insert into clients (client_id, full_name, city, country, rm_id, base_currency) "
                     "values (%s, %s, 'Oslo', 'Norway', %s, 'NOK')", (cid, old, primary))
    demo_changes(settings, cid, cover_rm=team)
    serve_crm(settings, until_idle=True, idle_seconds=1)
    services = start_hot_services(settings, tmp_path / "logs", instance=f"crm-{run}")
    listeners = {rm: RmListener(services.api_url, rm, rm_token(settings, rm)).start() for rm in (primary, team)}

    def article(name: str, n: int) -> dict:
        surname = name.split()[-1]
        return {"id": f"crm-{run}-{n}", "source": "newswire", "url": f"https://news.example/crm-{run}-{n}",
                "headline": f"{name} sued by former partners over {surname} Holdings payout",
                "body": f"Former partners of {surname} Holdings have sued {name} in an Oslo court, seeking damages of $ 300 million. "
                        f"The lawsuit claims {surname} withheld dividends."}

    def alerted(rm: str, n: int, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(f.alert["article_id"] == f"crm-{run}-{n}" for f in listeners[rm].frames): return True
            time.sleep(0.2)
        return False

    gazetteer = lambda: httpx.get(services.metrics_url + "/health", timeout=5).json()["gazetteer"]["version"]
    try:
        with httpx.Client(timeout=10) as http:
            assert post_signed(http, services.api_url, services.secret, article(old, 1))[0] in (200, 202)
            assert alerted(primary, 1) and alerted(team, 1)  # both cover the client
            before = gazetteer()
            demo_changes(settings, cid, new_name=new, uncover_rm=team)
            serve_crm(settings, until_idle=True, idle_seconds=1)
            deadline = time.monotonic() + 30  # PostgreSQL's change notice wakes the hot path's refresh (its poll is 10 s)
            while gazetteer() == before and time.monotonic() < deadline: time.sleep(0.2)
            assert gazetteer() != before, "the hot path never refreshed its client master"
            assert post_signed(http, services.api_url, services.secret, article(new, 2))[0] in (200, 202)
            assert alerted(primary, 2), "the renamed client was not matched under the new name by the next article"
            assert {f.alert["client_id"] for f in listeners[primary].frames} == {cid}
            assert not alerted(team, 2, timeout=1.5)  # lost coverage: no alert
            token = lambda rm: {"Authorization": f"Bearer {rm_token(settings, rm)}"}
            assert http.get(f"{services.api_url}/api/clients/{cid}", headers=token(team)).status_code == 404
            r = http.get(f"{services.api_url}/api/clients/{cid}", headers=token(primary))
            assert r.status_code == 200 and r.json()["full_name"] == new
    finally:
        for listener in listeners.values(): listener.stop()
        services.stop()
