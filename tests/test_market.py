"""Market data on the real stack: a vendor tick file replayed through `uhnw ingest ticks` (bad rows dead-lettered with
their reason), the feed's end-of-day close written by `uhnw ticks close` into `silver.prices`, the precedence rule
between the vendor price file and the feed's close whichever runs last, the synthetic feed in session only, the API's
tick consumer keeping the latest price per instrument, and the socket's conflation of a flood of ticks."""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from asyncio import CancelledError
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from uhnw.market import Tick

pytestmark = [pytest.mark.kafka]

DAY = "2030-06-14"  # a Friday: London 07:00-15:30 UTC (BST), New York 13:30-20:00 UTC (EDT)


def _tick(iid: str, price: str, at: datetime, venue: str = "XLON", ccy: str = "GBP", kind: str = "trade") -> Tick:
    return Tick(iid, venue, Decimal(price), ccy, Decimal(100 if kind == "trade" else 0), at, kind=kind)


@pytest.fixture
def home(tmp_path, bus):
    "A UHNW_HOME of this test's own (its lake and catalog) on the session's stack, with the `bus` fixture's topics."
    (tmp_path / "stack").symlink_to(bus.stack_dir)  # the PostgreSQL passfile of the session stack
    env = {"UHNW_HOME": str(tmp_path), "UHNW_TOPIC_PREFIX": bus.topic_prefix}
    from uhnw.config import load_settings
    return load_settings(home=tmp_path, topic_prefix=bus.topic_prefix), env


TICKS_CSV = f"""instrument_id,venue,price,currency,size,bid,ask,event_time,kind
GB1,XLON,100.50,GBP,200,,,{DAY}T15:29:59Z,
GB1,XLON,101.00,GBP,100,,,{DAY}T15:45:00Z,
US1,XNYS,187.10,USD,5,,,{DAY}T19:59:00Z,trade
US1,XNYS,187.30,USD,9000,,,{DAY}T20:00:00Z,close
JP1,XTKS,,JPY,,2899,2901,{DAY}T01:00:00Z,
X2,XLON,n/a,GBP,5,,,{DAY}T10:00:00Z,
"""


def test_the_feeds_close_fills_silver_prices_and_the_vendor_file_wins_whichever_runs_last(cli, home, tmp_path):
    from uhnw.bus import read_dead_letters, topic_name
    from uhnw.ingest.market import eod_close
    from uhnw.lake import lake_for, partition_key
    from uhnw.query import run_local
    from uhnw.validate import etl_date
    settings, env = home
    ticks = tmp_path / "ticks.csv"
    ticks.write_text(TICKS_CSV)
    r = cli("ingest", "ticks", "--replay", str(ticks), env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) | {"file": None} == {"file": None, "read": 6, "published": 5, "dead_lettered": 1,
                                                      "reasons": {"price 'n/a' is not a number": 1}}
    dead = read_dead_letters(settings, topic_name(settings, "market-ticks"))
    assert [(d.reason, d.source_topic, d.value) for d in dead] == [
        ("price 'n/a' is not a number", f"{ticks}:7", f"X2,XLON,n/a,GBP,5,,,{DAY}T10:00:00Z,".encode())]

    r = cli("ticks", "close", "--date", DAY, env=env)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert (got["official"], got["last_trade"], got["vendor"], got["filled"]) == (1, 1, 0, 2)  # JP1 only quoted: no close
    lake = lake_for(settings)
    rows = lake.read_partition("silver", "prices", DAY).select(["instrument_id", "close", "source"]).to_pylist()
    assert rows == [{"instrument_id": "GB1", "close": 100.5, "source": "ticks"},  # the 15:45 trade is after London's close
                    {"instrument_id": "US1", "close": 187.3, "source": "ticks"}]  # the official close, not the last trade

    # the vendor's files land and positions_etl runs after the feed's close: the vendor wins GB1, the feed keeps US1
    lake.land(partition_key("clients", DAY, "clients.csv"), b"client_id,full_name,aliases,rm_id,base_currency\nC1,A Client,,RM-01,GBP\n")
    lake.land(partition_key("positions", DAY, "eod.csv"),
              f"as_of_date,account_id,client_id,instrument_id,quantity\n{DAY},A1,C1,GB1,10\n{DAY},A1,C1,US1,5\n".encode())
    lake.land(partition_key("prices", DAY, "px.csv"),
              f"price_date,instrument_id,close,currency\n{DAY},GB1,100.40,GBP\n{DAY},X9,7,EUR\n".encode())
    lake.land(partition_key("fx", DAY, "fx.csv"), f"rate_date,currency,usd_per_unit\n{DAY},GBP,1.27\n".encode())
    report = etl_date(settings, DAY)
    assert report.ok and report.datasets["prices"].valid == 2, report.summary()
    expected = [("GB1", 100.4, "vendor"), ("US1", 187.3, "ticks"), ("X9", 7.0, "vendor")]
    as_tuples = lambda t: sorted((r["instrument_id"], r["close"], r["source"]) for r in t.to_pylist())
    assert as_tuples(lake.read_partition("silver", "prices", DAY)) == expected
    us1 = [r for r in lake.read_partition("silver", "prices", DAY).to_pylist() if r["instrument_id"] == "US1"][0]
    assert us1["source_file"].startswith(topic_name(settings, "market-ticks") + "[") and us1["source_row"] is None

    # ... and the feed's close written again after positions_etl changes nothing: the rule does not depend on the order
    again, undecodable = eod_close(settings, DAY)  # what `uhnw ticks close` runs (above, as a command)
    assert (again.vendor, again.filled, undecodable) == (2, 1, 0)
    assert as_tuples(lake.read_partition("silver", "prices", DAY)) == expected

    # the topic keeps 7 days: once its ticks are gone, writing the close again must not silently drop instruments...
    from uhnw.bus import read_topic
    from uhnw.ingest.market import CloseShrinks
    from uhnw.stream import RAW_SCHEMA, bronze_objects, land_bronze
    expired = dataclasses.replace(settings, topic_prefix=settings.topic_prefix + "expired.")  # its market-ticks does not exist
    with pytest.raises(CloseShrinks, match="would lose 2 instrument"):
        eod_close(expired, DAY)
    assert as_tuples(lake.read_partition("silver", "prices", DAY)) == expected  # refused: nothing written
    # ... and the stream's bronze copy of the raw records (`uhnw stream`) is what the close is rebuilt from then
    topic = topic_name(settings, "market-ticks")
    noon = datetime.fromisoformat(f"{DAY}T12:00:00+00:00")
    raw = pa.Table.from_pylist([{"topic": topic, "partition": m.partition, "offset": m.offset, "timestamp": noon, "timestamp_type": 0,
                                 "key": m.key, "value": m.value, "headers": [{"key": k, "value": v} for k, v in m.headers.items()]}
                                for m in read_topic(settings, topic)], schema=RAW_SCHEMA)
    land_bronze(lake, bronze_objects(settings, raw))
    from_bronze, undecodable = eod_close(expired, DAY)
    assert (from_bronze.official, from_bronze.last_trade, from_bronze.filled, undecodable) == (1, 1, 1, 0)
    assert as_tuples(lake.read_partition("silver", "prices", DAY)) == expected

    got = run_local(settings, "SELECT instrument_id, source, CAST(date AS varchar) FROM silver.prices ORDER BY date, instrument_id")
    assert got.rows == [("GB1", "vendor", DAY), ("US1", "ticks", DAY), ("X9", "vendor", DAY)]  # (old partitions: test_catalog_query)


def test_the_synthetic_feed_quotes_the_books_instruments_only_where_their_venue_is_in_session(cli, home, stack, workstation_book):
    from uhnw.bus import read_topic, topic_name
    from uhnw.ingest.market import book_listings
    from uhnw.market import is_open
    from uhnw.ops.db import connect
    from uhnw.schemas import AvroCodec
    settings, env = home
    r = cli("ingest", "ticks", "--synthetic", "--seconds", "1", "--rate", "40", "--start", f"{DAY}T14:00:00Z", "--seed", "3", env=env)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["published"] > 30 and "XNYS" in got["open_venues"], got  # the session book holds XS123 (USD, New York)
    codec = AvroCodec(settings)
    messages = read_topic(settings, topic_name(settings, "market-ticks"))
    ticks = [Tick.from_record(codec.decode("market-ticks", m.value), m.headers) for m in messages]
    assert len(ticks) == got["published"]
    assert all(is_open(t.venue, t.event_time) and t.kind in ("trade", "quote") for t in ticks)
    with connect(stack) as conn: book = {li.instrument_id: li for li in book_listings(conn)}
    assert "XS123" in book and {t.instrument_id for t in ticks} <= set(book)  # the instruments held in the book, only
    assert all(t.venue == book[t.instrument_id].mic and t.currency == book[t.instrument_id].currency for t in ticks)
    assert all(abs(float(t.price) / book[t.instrument_id].price - 1) < 0.05 for t in ticks)  # a second's walk from the last close


def test_the_api_tick_consumer_reads_back_the_day_and_keeps_the_newest_price_per_instrument(bus):
    from uhnw.bus import EventProducer, topic_name
    from uhnw.ingest.market import publish_tick
    from uhnw.serve.ticks import TickFeed, TickHub
    topic, now = topic_name(bus, "market-ticks"), datetime.now(UTC)
    with EventProducer(bus) as p:  # produced before the consumer starts: read back from its look-back
        for t in (_tick("A", "10", now - timedelta(seconds=5)), _tick("A", "11", now - timedelta(seconds=1)),
                  _tick("A", "9", now - timedelta(seconds=3)),  # arrives last but is older: not the latest price
                  _tick("B", "50", now, "XNYS", "USD", "quote")):
            publish_tick(p, topic, t)
        p.flush()

    async def scenario() -> dict:
        hub = TickHub()
        feed = TickFeed(bus, hub, asyncio.get_running_loop(), "test-ticks")
        feed.start()
        try:
            for _ in range(300):
                if hub.received >= 4: break
                await asyncio.sleep(0.1)
            return {i: (hub.prices.get(i).price, hub.prices.get(i).kind) for i in ("A", "B")} | {"received": hub.received}
        finally:
            await asyncio.to_thread(feed.stop)
    assert asyncio.run(scenario()) == {"A": (Decimal("11"), "trade"), "B": (Decimal("50"), "quote"), "received": 4}


def test_a_flood_of_ticks_reaches_the_socket_conflated_latest_price_last_and_only_the_books_instruments(stack, workstation_book):
    from fastapi.testclient import TestClient

    from uhnw.serve.app import create_app
    b = workstation_book
    app = create_app(dataclasses.replace(stack, topic_prefix="t-market-unused."), start_feed=False)
    at = datetime.now(UTC)
    flood = lambda first, n: [_tick("XS123", str(100 + Decimal(k) / 100), at + timedelta(microseconds=k), "XNYS", "USD")
                              for k in range(first, first + n)]
    frames, checked = [], False
    with TestClient(app) as client:
        b.login(client, b.rm1)
        hub = app.state.ticks
        with contextlib.suppress(CancelledError), client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
            assert ws.receive_json()["type"] == "hello"
            assert ws.receive_json()["type"] == "live"
            ws.send_json({"type": "subscribe", "channel": "ticks"})
            assert ws.receive_json() == {"type": "subscribed", "channel": "ticks", "instruments": ["XS123"]}
            before_first = time.monotonic()  # the first frame is sent after this, the second a quarter second after the first
            client.portal.call(hub.publish, flood(0, 500))  # 500 prices in one go: the socket sees the last
            frames.append(ws.receive_json())
            client.portal.call(hub.publish, flood(500, 500))  # within the same quarter second: held back, then the latest
            frames.append(ws.receive_json())
            held_back = time.monotonic() - before_first  # so this is at least 0.25 s: a slow machine makes it longer, never shorter
            client.portal.call(hub.publish, [_tick("NOT-HELD", "1", at), *flood(1000, 1)])  # another book's instrument: never sent
            frames.append(ws.receive_json())
            checked = True
    assert checked
    assert held_back >= 0.24  # at most 4 frames a second per socket: the second frame waited for its slot
    assert [(f["type"], f["instrument_id"], f["price"]) for f in frames] == [("tick", "XS123", 104.99), ("tick", "XS123", 109.99),
                                                                            ("tick", "XS123", 110.0)]
    assert frames[0]["change_pct"] == 4.99 and frames[0]["currency"] == "USD"  # against the synced close of 100
    assert hub.received == 1002 and hub.open_sessions() == 0  # the session unsubscribed when the socket closed


def test_a_ticks_subscription_follows_a_coverage_change_without_resubscribing(stack, workstation_book):
    import uuid

    from fastapi.testclient import TestClient

    from uhnw.access import upsert_user
    from uhnw.ops.db import connect
    from uhnw.serve.app import create_app
    b = workstation_book
    run = uuid.uuid4().hex[:6].upper()
    cid, instrument = f"TK{run}", f"XS-{run}"
    rm, password = f"RM-TK{run}", f"pw-{run}-ticks"  # an RM of this test's own: the session book's audit trail stays as it was
    app = create_app(dataclasses.replace(stack, topic_prefix="t-market-unused."), start_feed=False)
    app.state.tick_book_refresh_seconds = 0.2
    at = datetime.now(UTC)
    checked = False
    # the outer suppress: TestClient's exit can surface a task anyio cancelled while the app shut down (seen once in CI);
    # `checked` is what says the test ran to its end
    with contextlib.suppress(CancelledError), TestClient(app) as client, connect(stack, autocommit=True) as conn:
        upsert_user(conn, rm, "Test Ticks RM", "rm", password)
        held = b.clients[b.rm1][0]  # a client of the session book, holding XS123, covered by this RM too
        conn.execute("insert into rm_coverage (rm_id, client_id) values (%s, %s)", (rm, held))
        assert client.post("/auth/login", json={"user_id": rm, "password": password}).status_code == 200
        hub = app.state.ticks
        try:
            with contextlib.suppress(CancelledError), client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
                assert [ws.receive_json()["type"] for _ in range(2)] == ["hello", "live"]
                ws.send_json({"type": "subscribe", "channel": "ticks"})
                assert ws.receive_json()["instruments"] == ["XS123"]
                # the CRM assigns the RM a client who holds another instrument (a Coverage__c create, as rm_coverage sees it)
                conn.execute("insert into clients (client_id, full_name, rm_id, base_currency) values (%s, %s, %s, 'USD')",
                             (cid, f"Ticker Client {run}", f"{rm}-P"))  # primary: an RM without a login
                conn.execute("""insert into position_pnl (client_id, date, account_id, instrument_id, base_currency, currency, quantity,
                    close, market_value, pnl, reporting_currency, market_value_reporting)
                    values (%s, %s, 'ACC9', %s, 'USD', 'USD', 5, 40, 200, 0, 'USD', 200)""", (cid, b.dates[-1], instrument))
                conn.execute("insert into rm_coverage (rm_id, client_id) values (%s, %s)", (rm, cid))
                renewed = ws.receive_json()  # no new subscribe frame was sent: the server noticed the book change
                assert renewed == {"type": "subscribed", "channel": "ticks", "instruments": sorted(["XS123", instrument])}
                client.portal.call(hub.publish, [_tick(instrument, "42", at, "XNYS", "USD")])
                tick = ws.receive_json()
                assert (tick["type"], tick["instrument_id"], tick["price"]) == ("tick", instrument, 42.0)
                conn.execute("delete from rm_coverage where rm_id = %s and client_id = %s", (rm, cid))  # and takes it away
                assert ws.receive_json()["instruments"] == ["XS123"]
                checked = True
        finally:
            conn.execute("delete from rm_coverage where client_id = %s or rm_id = %s", (cid, rm))
            conn.execute("delete from position_pnl where client_id = %s", (cid,))
            conn.execute("delete from clients where client_id = %s", (cid,))
            conn.execute("delete from users where user_id = %s", (rm,))
    assert checked, "the socket closed (a cancelled task) before every frame was checked"
