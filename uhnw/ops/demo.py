"""The local end-to-end main job behind `make demo` / `uhnw demo`.

Wiring only. It starts the local stack and creates the topics; pushes a few news events through the bus the way the
hot path will (Avro in the Confluent wire format, a consumer group that commits after processing, a malformed message
dead-lettered instead of stopping anything); then runs the cold path — the seeds' Portfolio Analysis Flow — on a few
synthetic days: EOD files landed in bronze, validated to silver, daily P&L on Spark to gold, synced to PostgreSQL, and
the portfolio-health report written. It creates the workstation's demo users (the demo book's two RMs and a compliance
officer), then runs the hot path: the API (which serves the RM workstation at `/`) and the enrichment service, news
posted to the signed webhook, each alert printed as it reaches its RM's socket; then the other sources
(`uhnw.ops.sources_demo`: a CRM change, market ticks, a scraped page, the news stream into silver). With `once` it runs through and ends
with one JSON line of figures; otherwise it prints the workstation's URL and logins and keeps news flowing until Ctrl-C
(or SIGTERM), which stops what it started, quietly.
"""
from __future__ import annotations

import dataclasses
import json
import signal
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime

from uhnw.config import Settings
from uhnw.ops.sources_demo import LiveTicks

DEMO_NEWS = [  # (source, headline, body) — realistic wording, fictional people
    ("newswire", "Amit Saxena sells 4% stake in Saxena Logistics to sovereign fund",
     "Mumbai-based entrepreneur Amit Saxena has agreed to sell a 4% stake in Saxena Logistics, people familiar said."),
    ("financial-daily", "Dubai court freezes assets of property developer in Al-Rashid dispute",
     "A Dubai court froze assets linked to the developer after a claim by Khalid Al-Rashid, a UHNW investor."),
    ("rss:markets", "Mueller family office backs Series C of Munich battery start-up",
     "José Müller's family office led the round, its third climate investment this year."),
    ("newswire", "Chen Wei steps down as chairman of Pearl River Holdings",
     "Chen Wei, 68, will hand the chair to his daughter, the company said in a filing."),
]


@contextmanager
def _stage(timings: dict, name: str):
    t0 = time.perf_counter()
    print(f"--> {name}", flush=True)
    yield
    timings[name] = round(time.perf_counter() - t0, 3)


DEFAULT_PORT = 8080  # the workstation's port when the demo keeps serving


def run_demo(settings: Settings, once: bool = True, keep_running: bool = False,
             port: int | None = None,  # the API's port (the workstation's URL); None: 8080, or a free port with `once`
             ) -> dict:
    """Run the demo end to end and return (and print as the last line) its figures. At the end — after one pass with
    `once`, else at Ctrl-C/SIGTERM — it stops what it started (the services always; Kafka and PostgreSQL if this run
    started them) unless `keep_running`. A Ctrl-C before the workstation is serving returns `{"interrupted": True, ...}`."""
    from uhnw.ops import stack

    if port is None and not once: port = DEFAULT_PORT
    if port is not None and not stack._port_free("127.0.0.1", port):
        raise DemoError(f"port {port} is taken on 127.0.0.1: choose another with `uhnw demo --port N` (make demo ARGS='--port N')")
    timings: dict[str, float] = {}
    restore = _sigterm_interrupts()
    figures: dict = {}
    started: tuple[str, ...] = ()
    try:
        with _stage(timings, "stack_up"):
            statuses = stack.up(settings)
            for s in statuses:
                print(f"    {s.name:<9} {'up' if s.up else 'down':<5} {s.endpoint}  ({s.detail})")
        started = tuple(s.name for s in statuses if s.started)
        figures |= run_bus_demo(settings, timings)
        # trained before the cold path: the Spark server's warm-up (`uhnw stack up`) runs meanwhile instead of during the nights
        with _stage(timings, "relevance_model"):
            from uhnw.bench.harness import ensure_relevance_model
            print(f"    model {ensure_relevance_model(settings, datetime.now(UTC).date().isoformat())}")
        figures |= run_cold_demo(settings, timings)
        with _stage(timings, "demo_users"):
            books = ensure_demo_users(settings)
        figures |= {"demo_users": len(books), "demo_books": books}
        figures |= run_hot_demo(settings, timings, once=once, port=port, logins=_logins(settings, books))
    except KeyboardInterrupt:  # Ctrl-C while setting up; once serving, Ctrl-C is the normal end (run_hot_demo returns)
        figures["interrupted"] = True
        print("\n    interrupted", flush=True)
    finally:
        with _no_interrupts():  # a second Ctrl-C must not leave the stack half stopped
            if started and not keep_running:
                print(f"--> stopping {', '.join(started)}", flush=True)
                stack.down(settings, components=started)
        restore()
    summary = {"demo": "uhnw", "kafka": settings.bootstrap_servers, "postgres_dsn": settings.dsn(masked=True),
               **figures, "stages_s": timings}
    if keep_running: print("stack left running (--keep-running): `uhnw stack status`, `uhnw stack down`")
    elif started: print(f"stopped what the demo started: {', '.join(started)} (`uhnw demo --keep-running` leaves it up)")
    else: print("the stack was already running before the demo and is left as it was")
    print(json.dumps(summary), flush=True)
    return summary


class DemoError(RuntimeError):
    "The demo cannot run as asked; the message names the fix."


def _sigterm_interrupts():
    "Make SIGTERM stop the demo as Ctrl-C does (main thread only); returns a function restoring the old handler."
    if threading.current_thread() is not threading.main_thread(): return lambda: None
    old = signal.signal(signal.SIGTERM, signal.default_int_handler)
    return lambda: signal.signal(signal.SIGTERM, old)


@contextmanager
def _no_interrupts():
    "Ignore SIGINT and SIGTERM inside the block (stopping what the demo started), in the main thread."
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items(): signal.signal(sig, handler)


def ensure_demo_users(settings: Settings) -> dict[str, int]:
    """Create (or reset) the workstation's demo users with this home's demo passwords; returns each one's book size.
    Fails, naming the cause, when an RM of `DEMO_USERS` covers none of the clients the cold path synced."""
    from uhnw.access import DEMO_USERS, User, demo_password, upsert_user, visible_clients
    from uhnw.auth import local_secret
    from uhnw.ops.db import connect

    secret = local_secret(settings)
    with connect(settings) as conn, conn.transaction():
        for user_id, name, role in DEMO_USERS:
            upsert_user(conn, user_id, name, role, demo_password(secret, user_id))
        books = {user_id: len(visible_clients(conn, User(user_id, role, name))) for user_id, name, role in DEMO_USERS}
    empty = [u for u, n in books.items() if n == 0]
    if empty:
        raise DemoError(f"demo user(s) {', '.join(empty)} cover no client: the demo book's RMs are not {', '.join(empty)} "
                        "(see `uhnw stack psql -c 'select rm_id, count(*) from rm_coverage group by 1'`)")
    print("    " + ", ".join(f"{u} ({n} clients)" for u, n in books.items()))
    return books


def _logins(settings: Settings, books: dict[str, int]) -> list[tuple[str, str, str, str, int]]:
    "(user id, role, password, name, book size) of each demo user, for the banner."
    from uhnw.access import DEMO_USERS, demo_password
    from uhnw.auth import local_secret
    secret = local_secret(settings)
    return [(u, role, demo_password(secret, u), name, books[u]) for u, name, role in DEMO_USERS]


def run_bus_demo(settings: Settings, timings: dict) -> dict:
    """The bus walk-through on topics of its own: Avro news events and one malformed message produced, consumed by a
    group, the malformed one dead-lettered. Every Kafka client is local here, so all are closed when it returns."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient

    from uhnw.bus import (
        EventProducer,
        client_config,
        close_producer,
        ensure_topics,
        read_dead_letters,
        run_consumer,
        topic_name,
        topic_specs,
    )
    from uhnw.schemas import NEWS_TOPIC

    with _stage(timings, "topics"):
        created = ensure_topics(AdminClient(client_config(settings)), topic_specs(settings))
        print(f"    {sum(v == 'created' for v in created.values())} created, {sum(v == 'exists' for v in created.values())} existed")

    # the bus walk-through uses topics of its own, so the live news the hot path carries does not mix in
    bus = dataclasses.replace(settings, topic_prefix=settings.topic_prefix + "demo-bus.")
    ensure_topics(AdminClient(client_config(bus)), topic_specs(bus))
    topic = topic_name(bus, NEWS_TOPIC)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    with _stage(timings, "produce"):
        with EventProducer(bus) as producer:
            for i, (source, headline, body) in enumerate(DEMO_NEWS):
                now = datetime.now(UTC)
                producer.send(topic, {"article_id": f"demo-{run_id}-{i}", "source": source, "headline": headline, "body": body,
                                      "language": "en", "published_at": now, "received_at": now}, key=f"demo-{run_id}-{i}")
            producer.flush()  # raises if the broker did not acknowledge every event
        raw = Producer(client_config(bus))  # what a misconfigured producer sends: JSON, not Avro
        raw.produce(topic, key=f"demo-{run_id}-bad".encode(), value=b'{"headline": "not avro"}')
        close_producer(raw)
        print(f"    {len(DEMO_NEWS)} Avro news events and 1 malformed message -> {topic}")

    with _stage(timings, "consume"):
        stats = run_consumer(bus, topic, "uhnw-demo", lambda ev: print(
            f"    [{ev.partition}]@{ev.offset:<5} {ev.key}  {ev.value['headline']}"), idle_timeout=3)
    with _stage(timings, "dead_letters"):
        letters = [d for d in read_dead_letters(bus, topic) if d.key and run_id.encode() in d.key]
        for d in letters:
            print(f"    {d.source_topic}[{d.source_partition}]@{d.source_offset} {d.stage}: {d.reason}")
    return {"events_produced": len(DEMO_NEWS), "events_consumed": stats.processed, "dead_lettered": stats.dead_lettered,
            "dead_letters_this_run": len(letters)}


HOT_ARTICLES, HOT_RATE = 60, 10.0  # articles posted by the demo, per second
LIVE_EVERY = 3.0  # seconds between articles once the workstation is serving (without `once`)


def run_hot_demo(settings: Settings, timings: dict, once: bool = True, port: int | None = None,
                 logins: list[tuple[str, str, str, str, int]] = ()) -> dict:
    """The hot path live: API and enrichment service started, one WebSocket per RM of the demo book, synthetic news
    about the book posted to the signed webhook; each RM's console line shows the alerts reaching their browser.
    Without `once`, it prints the workstation's URL and `logins` and keeps news flowing (one article every
    `LIVE_EVERY` seconds) until Ctrl-C or SIGTERM, then stops its services and returns its figures."""
    import httpx

    from uhnw.bench import harness
    from uhnw.synth import synth_news

    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    clients = harness.clients_from_db(settings)
    articles = synth_news(clients, HOT_ARTICLES, seed=int(run_id) % 100_000, source=f"demo{run_id}")
    expected = harness.expected_alerts(settings, articles, clients)
    with _stage(timings, "hot_services"):
        services = harness.start_hot_services(settings, settings.home / "runs" / "services" / run_id, api_port=port)
        print(f"    api {services.api_url} (workstation /, webhook, /ws, /api)  hotpath {services.metrics_url}/health  "
              f"logs {services.logs}")
    names = dict(zip(clients["client_id"], clients["full_name"], strict=True))
    def show(f):
        a = f.alert
        print(f"    [{f.rm_id}] alert #{a['alert_id']} {names.get(a['client_id'], a['client_id'])}: {a['headline'][:70]}  "
              f"(relevance {a['relevance']:.2f})", flush=True)
    rms = sorted(set(clients["rm_id"].dropna()))
    listeners: list[harness.RmListener] = []
    sent_at: dict[str, float] = {}
    live_posted = 0
    live_ticks: LiveTicks | None = None
    sources: dict = {}
    try:
        listeners += [harness.RmListener(services.api_url, rm, harness.rm_token(settings, rm), on_frame=show).start() for rm in rms]
        with _stage(timings, "hot_stream"), httpx.Client(timeout=10) as client:
            for a in articles:
                t0 = time.perf_counter()
                status, t_ack = harness.post_signed(client, services.api_url, services.secret, harness.provider_payload(a))
                if status != 202: raise RuntimeError(f"webhook answered {status} for {a['id']}")
                sent_at[a["id"]] = t_ack
                time.sleep(max(0.0, 1 / HOT_RATE - (time.perf_counter() - t0)))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(_delivered(listeners)) < len(expected):
                time.sleep(0.2)
        sources = _sources(settings, timings, clients, rms)
        if not once:
            live_ticks = LiveTicks(settings).start()  # prices move on the client view while the demo serves
            print(_banner(services.api_url, logins), flush=True)
            live_posted = _stream_until_interrupted(services, clients, run_id)
    finally:
        with _no_interrupts():
            if live_ticks is not None: sources["live_ticks_published"] = live_ticks.stop()
            for listener in listeners: listener.stop()
            services.stop()
    delivered = _delivered(listeners)
    mine = {(aid, cid) for aid, cid in delivered if aid in sent_at}
    latencies = sorted(f.received - sent_at[f.alert["article_id"]] for listener in listeners for f in listener.frames
                       if f.alert["article_id"] in sent_at)
    pct = lambda q: round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1) if latencies else None
    print(f"    {len(articles)} articles posted, {len(expected)} alerts expected, {len(mine & expected)} delivered to the right RM; "
          f"webhook 202 -> browser p50 {pct(0.5)} ms, p99 {pct(0.99)} ms")
    figures = {"articles_posted": len(articles), "alerts_expected": len(expected), "alerts_delivered": len(mine & expected),
               "alerts_unexpected": len(mine - expected), "hot_p50_ms": pct(0.5), "hot_p99_ms": pct(0.99)}
    if not once: figures |= {"workstation_url": services.api_url + "/", "live_articles_posted": live_posted}
    return figures | {"sources": sources}


def _sources(settings: Settings, timings: dict, clients, rms: list[str]) -> dict:
    "The other three sources and the stream into the lake (`uhnw.ops.sources_demo`), while the workstation serves."
    from uhnw.ops.sources_demo import run_sources_demo
    first_rm = rms[0]
    client_id = sorted(clients.loc[clients["rm_id"] == first_rm, "client_id"])[0]
    # a team RM with no demo login: the logins' books stay as the banner printed them, and compliance sees the new cover
    other_rm = next(r for r in (f"RM-{n:02d}" for n in range(1, 100)) if r not in rms)
    print("--> sources: CRM change data capture, market ticks, a scraped page, the news stream into silver", flush=True)
    return run_sources_demo(settings, lambda name: _stage(timings, name), client_id, other_rm)


def _banner(api_url: str, logins) -> str:
    "What the demo prints once the workstation is serving: its URL and the demo logins."
    rows = "\n".join(f"      {user_id:<8}{role:<12}{password:<20}{name}, {book} clients" for user_id, role, password, name, book in logins)
    return (f"\n==> the RM workstation is up: {api_url}/\n"
            f"    log in as (user id, role, password):\n{rows}\n"
            f"    news keeps arriving (one article every {LIVE_EVERY:g} s); Ctrl-C stops the demo and what it started\n")


def _stream_until_interrupted(services, clients, run_id: str) -> int:
    "Post one synthetic article every `LIVE_EVERY` seconds until Ctrl-C/SIGTERM; returns how many were posted."
    import httpx

    from uhnw.bench import harness
    from uhnw.synth import synth_news
    posted = 0
    try:
        with httpx.Client(timeout=10) as client:
            while True:
                for name, proc in (("api", services.api), ("hotpath", services.hotpath)):
                    if proc.poll() is not None:
                        raise DemoError(f"uhnw serve {name} exited with {proc.returncode}: see {services.logs / (name + '.log')}")
                article = synth_news(clients, 1, seed=int(time.time()), source=f"live{run_id}-{posted}")[0]
                try:
                    harness.post_signed(client, services.api_url, services.secret, harness.provider_payload(article))
                    posted += 1
                except httpx.HTTPError as e:  # a slow or restarting API loses one article, not the demo
                    print(f"    webhook: {e!r}; retrying with the next article", flush=True)
                time.sleep(LIVE_EVERY)
    except KeyboardInterrupt:
        print("\n--> Ctrl-C: stopping the demo", flush=True)
    return posted


def _delivered(listeners) -> set[tuple[str, str]]:
    "(article id, client id) of every alert frame received by any RM."
    return {(f.alert["article_id"], f.alert["client_id"]) for listener in listeners for f in listener.frames}


# three nights (the cold-path target is 3 days in 30 s); each after the first has a P&L against the one before
COLD_DAYS, COLD_CLIENTS, COLD_POSITIONS = 3, 40, 4000


def run_cold_demo(settings: Settings, timings: dict) -> dict:
    "The cold path on a few synthetic days; returns its figures (rows in PostgreSQL, report path, ...)."
    from uhnw.lake import lake_for
    from uhnw.ops.db import connect
    from uhnw.ops.jobs import kernel_pool, run_job
    from uhnw.ops.scheduler import history, run_night
    from uhnw.portfolio_health import report_path
    from uhnw.query import format_result, run_query
    from uhnw.schedule import load_schedule
    from uhnw.synth import land_synth, synth_cold

    # the jobs run in kernels warmed ahead: the first while the EOD files land, each next one while the previous job runs
    with kernel_pool(settings, warm_now=True):
        with _stage(timings, "synth_and_ingest"):
            # a fixed seed makes the files byte-identical on every run, so re-landing them is "already landed", not a refusal
            manifest = synth_cold(settings.home / "inbox" / "demo", days=COLD_DAYS, clients=COLD_CLIENTS, positions=COLD_POSITIONS, seed=7)
            landings = land_synth(lake_for(settings).ensure(), manifest)
            new = sum(not landing.already_landed for landing in landings)
            print(f"    {len(landings)} EOD files for {manifest['dates'][0]}..{manifest['dates'][-1]}: {new} landed, "
                  f"{len(landings) - new} already in bronze (immutable)")
        dates = manifest["dates"]
        schedule = load_schedule()
        with _stage(timings, "scheduled_nights"):  # the nightly cold path as the scheduler runs it: in order, retried, recorded
            jobs_run = 0
            for d in dates:
                print(f"    uhnw schedule run --night {d} --jobs positions_etl")
                records = run_night(settings, schedule, d, ["positions_etl"], log=lambda line: print("    " + line))
                if bad := [f"{r.job} {r.status} ({r.error})" for r in records if r.status != "succeeded"]:
                    raise RuntimeError(f"the scheduled night of {d} did not complete: {', '.join(bad)}")
                jobs_run += len(records)
        rm = "RM-01"
        with _stage(timings, "portfolio_health"):  # the RM's own report beside the scheduled book-wide one
            run_job(settings, "portfolio_health", dates[-1], {"rm_id": rm})
            for rm_id in ("", rm): print(f"    report: {report_path(settings, dates[-1], rm_id or None)}")
    cold = timings["scheduled_nights"] + timings["portfolio_health"]
    print(f"    cold path: {len(dates)} nights ({jobs_run} jobs) and the RM's report in {cold:.1f} s")
    with _stage(timings, "schedule_status"):
        print("    uhnw schedule status")
        runs = [r for r in history(settings, 200) if r["run_date"].isoformat() in dates]
        for r in sorted(runs, key=lambda r: (r["run_date"], r["started_at"])):
            took = (r["finished_at"] - r["started_at"]).total_seconds() if r["finished_at"] else 0
            print(f"    {r['job']:<18} {r['run_date'].isoformat()}  {r['status']:<9} attempt {r['attempt']}  {took:>5.1f} s")
    with _stage(timings, "sql"):
        sql = ("SELECT date, count(*) AS clients, sum(positions_count) AS positions, sum(unpriced_positions) AS unpriced, "
               "count(daily_pnl) AS with_pnl FROM gold.client_metrics GROUP BY date ORDER BY date")
        print(f"    uhnw sql \"{sql}\"")
        print("\n".join("    " + line for line in format_result(run_query(settings, sql)).splitlines()))
    with connect(settings) as conn:
        rows = conn.execute("select count(*) from client_metrics where date = any(%s::date[])", (dates,)).fetchone()[0]
    return {"cold_dates": dates, "client_metrics_rows": rows, "report": str(report_path(settings, dates[-1])),
            "report_rm": str(report_path(settings, dates[-1], rm))}
