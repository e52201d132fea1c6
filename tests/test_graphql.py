"""The workstation's GraphQL surface (`/graphql`) in-process against the session's PostgreSQL: coverage decides what
comes back at every depth, each request that reads client data leaves one audit row, dataloaders keep the number of SQL
statements constant in the size of the book, and limits refuse a deep or wide query before it reaches the database."""
from __future__ import annotations

import asyncio
import dataclasses
import uuid

import psycopg
import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.postgres

AUTH_LOOKUP = "from users where user_id"  # the caller's user row (cached for seconds): authentication, not the query


@pytest.fixture(scope="module")
def app(stack):
    from uhnw.serve.app import create_app
    return create_app(stack, start_feed=False)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def _bearer(stack, user_id: str) -> dict[str, str]:
    from uhnw.auth import issue_token, local_secret
    return {"Authorization": f"Bearer {issue_token(user_id, local_secret(stack))}"}


def _gql(client, query: str, variables: dict | None = None, headers: dict | None = None, operation: str | None = None) -> dict:
    r = client.post("/graphql", json={"query": query, "variables": variables or {}, "operationName": operation}, headers=headers or {})
    assert r.status_code in (200, 400), r.text
    return r.json()


def _messages(body: dict) -> list[str]:
    return [e["message"] for e in body.get("errors") or []]


def _audit(stack, actor: str) -> list[dict]:
    from uhnw.access import audit_rows
    from uhnw.ops.db import connect
    with connect(stack) as conn:
        return audit_rows(conn, actor=actor, limit=500)


@pytest.fixture
def statements(monkeypatch):
    "Every SQL statement this process executes from now on (psycopg cursors), minus the authentication lookup."
    seen: list[str] = []
    execute = psycopg.Cursor.execute

    def counted(self, query, *args, **kwargs):
        seen.append(str(query) if not isinstance(query, bytes) else query.decode())
        return execute(self, query, *args, **kwargs)
    monkeypatch.setattr(psycopg.Cursor, "execute", counted)

    class Statements:
        def reset(self): seen.clear()

        @property
        def of_the_query(self) -> list[str]:
            return [s for s in seen if AUTH_LOOKUP not in s]
    return Statements()


BOOK_QUERY = "query Book($date: Date) { clients(date: $date) { clientId metrics { marketValue } alerts { headline } } }"


def test_an_rm_reads_their_book_with_nested_metrics_positions_and_alerts(client, workstation_book):
    b = workstation_book
    b.login(client, b.rm1)
    body = _gql(client, """query Mine($date: Date) { me { userId role bookSize coverage }
        clients(date: $date) { clientId fullName baseCurrency metrics { date marketValue marketValueReporting dailyPnl }
          positions(date: $date) { instrumentId marketValue } alerts(limit: 5) { alertId headline eventType client { clientId } } } }""",
                {"date": b.dates[1]})
    assert "errors" not in body, body
    me, clients = body["data"]["me"], body["data"]["clients"]
    assert me == {"userId": b.rm1, "role": "rm", "bookSize": 3, "coverage": sorted(b.clients[b.rm1])}
    assert sorted(c["clientId"] for c in clients) == sorted(b.clients[b.rm1])
    second = next(c for c in clients if c["clientId"] == b.clients[b.rm1][1])
    assert second["metrics"] == {"date": b.dates[1], "marketValue": 2200.0, "marketValueReporting": 2750.0, "dailyPnl": 200.0}
    assert second["baseCurrency"] == "HKD" and [p["instrumentId"] for p in second["positions"]] == ["XS123"]
    assert [a["alertId"] for a in second["alerts"]] == [str(a) for a in reversed(b.alerts[second["clientId"]])]
    assert {a["client"]["clientId"] for a in second["alerts"]} == {second["clientId"]}
    history = _gql(client, "query H($id: ID!, $from: Date, $to: Date) { client(id: $id) { metricsHistory(from: $from, to: $to) "
                   "{ date dailyPnl } } }", {"id": b.clients[b.rm1][0], "from": b.dates[0], "to": b.dates[1]})
    assert history["data"]["client"]["metricsHistory"] == [{"date": b.dates[0], "dailyPnl": None}, {"date": b.dates[1], "dailyPnl": 100.0}]


def test_another_rms_client_is_null_with_an_error_and_nothing_of_it_leaks(client, workstation_book):
    b = workstation_book
    b.login(client, b.rm1)
    mine, theirs = b.clients[b.rm1][0], b.clients[b.rm2][0]
    body = _gql(client, """query Two($mine: ID!, $theirs: ID!) { a: client(id: $mine) { clientId }
        b: client(id: $theirs) { clientId fullName alerts { headline } } }""", {"mine": mine, "theirs": theirs})
    assert body["data"] == {"a": {"clientId": mine}, "b": None}
    assert [(e["message"], e["path"]) for e in body["errors"]] == [(f"no client {theirs} in your book", ["b"])]
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}  # a refused argument, as REST's 404: not a server fault
    unknown = _gql(client, '{ client(id: "NO-SUCH-CLIENT") { clientId } }')
    assert unknown["data"] == {"client": None} and _messages(unknown) == ["no client NO-SUCH-CLIENT in your book"]
    page = _gql(client, "query P($c: ID!) { alerts(clientId: $c) { alerts { alertId } nextCursor } }", {"c": theirs})
    assert page == {"data": {"alerts": {"alerts": [], "nextCursor": None}}}


@dataclasses.dataclass(frozen=True)
class Reassignment:
    client_id: str
    from_rm: str
    to_rm: str


@pytest.fixture
def reassignment(stack):
    "A client of a new RM with one alert, to be handed to another new RM while a request runs (ids unique to this test)."
    from uhnw.ops.db import connect
    run = uuid.uuid4().hex[:8].upper()
    moving = Reassignment(f"GQR{run}", f"RM-GQR{run}-A", f"RM-GQR{run}-B")
    with connect(stack) as conn, conn.transaction():
        conn.execute("insert into clients (client_id, full_name, rm_id) values (%s, 'Moving Client', %s)",
                     (moving.client_id, moving.from_rm))
        conn.execute("""insert into alerts (article_id, client_id, rm_id, headline, published_at, processed_at)
            values (%s, %s, %s, 'Moving headline', now(), now())""", (f"gq-{run}", moving.client_id, moving.from_rm))
    return moving


def test_a_client_that_leaves_the_book_mid_request_is_null_below_the_alert_that_named_it(client, stack, reassignment, monkeypatch):
    from uhnw.serve import graphql_api
    moving, listed = reassignment, graphql_api.alerts_page

    def list_then_reassign(conn, ids, *args):  # the page is read, then the client is handed to another RM (a real coverage change)
        rows = listed(conn, ids, *args)
        conn.execute("delete from rm_coverage where client_id = %s", (moving.client_id,))
        conn.execute("update clients set rm_id = %s where client_id = %s", (moving.to_rm, moving.client_id))
        return rows
    monkeypatch.setattr(graphql_api, "alerts_page", list_then_reassign)
    body = _gql(client, "query Moving { alerts { alerts { headline client { clientId fullName } } } }",
                headers=_bearer(stack, moving.from_rm))
    assert body["data"]["alerts"]["alerts"] == [{"headline": "Moving headline", "client": None}]
    assert [(e["message"], e["path"]) for e in body["errors"]] == [
        (f"no client {moving.client_id} in your book", ["alerts", "alerts", 0, "client"])]
    [row] = _audit(stack, moving.from_rm)
    assert (row["surface"], row["operation"], row["client_ids"]) == ("graphql", "Moving", [moving.client_id])  # the alert was returned


def test_compliance_reads_both_books_and_each_request_leaves_one_audit_row_with_the_ids(client, workstation_book, stack):
    b = workstation_book
    b.login(client, b.compliance)
    before = {r["id"] for r in _audit(stack, b.compliance)}
    ids = [b.clients[b.rm1][0], b.clients[b.rm2][1]]
    body = _gql(client, "query Pair($x: ID!, $y: ID!) { x: client(id: $x) { clientId rmId } y: client(id: $y) { clientId rmId } }",
                {"x": ids[0], "y": ids[1]}, operation="Pair")
    assert body == {"data": {"x": {"clientId": ids[0], "rmId": b.rm1}, "y": {"clientId": ids[1], "rmId": b.rm2}}}
    _gql(client, "{ alerts(limit: 500) { alerts { clientId } } }")
    new = [r for r in _audit(stack, b.compliance) if r["id"] not in before]
    assert [(r["surface"], r["operation"]) for r in new] == [("graphql", "anonymous query"), ("graphql", "Pair")]
    assert new[1]["client_ids"] == sorted(ids) and new[1]["role"] == "compliance"
    every = {c for cs in b.clients.values() for c in cs}
    assert every <= set(new[0]["client_ids"])
    _gql(client, "{ me { userId role } }")  # no client data: no audit row
    assert len([r for r in _audit(stack, b.compliance) if r["id"] not in before]) == 2


def test_an_audit_write_that_fails_answers_an_error_and_no_data(client, workstation_book, stack, monkeypatch):
    from uhnw.serve import graphql_api

    def broken(*args):
        raise psycopg.OperationalError("audit_log is unavailable")
    monkeypatch.setattr(graphql_api, "audit_read", broken)
    body = _gql(client, "{ clients { clientId fullName } }", headers=_bearer(stack, workstation_book.rm1))
    assert body["data"] is None and _messages(body) == ["the read could not be audited, so nothing is returned: try again"]
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}


@pytest.fixture(scope="module")
def fresh_books(stack):
    "Two new RMs with 10 and 100 clients, each client with metrics on one date and two alerts (ids unique to this run)."
    from uhnw.ops.db import connect
    run = uuid.uuid4().hex[:6].upper()
    day = "2031-05-05"
    books = {f"RM-GQ{run}-{n}": [f"GQ{run}-{n}-{i:03}" for i in range(n)] for n in (10, 100)}
    with connect(stack) as conn, conn.transaction():
        for rm, ids in books.items():
            for i, cid in enumerate(ids):
                conn.execute("insert into clients (client_id, full_name, rm_id, base_currency) values (%s, %s, %s, 'USD')",
                             (cid, f"Client {cid}", rm))
                conn.execute("""insert into client_metrics (client_id, date, base_currency, market_value, reporting_currency,
                    market_value_reporting) values (%s, %s, 'USD', %s, 'USD', %s)""", (cid, day, 1000.0 + i, 1000.0 + i))
                for k in range(2):
                    conn.execute("""insert into alerts (article_id, client_id, rm_id, headline, published_at, processed_at)
                        values (%s, %s, %s, %s, now(), now())""", (f"gq-{cid}-{k}", cid, rm, f"Headline {k} of {cid}"))
    return books, day


def test_a_book_of_100_clients_costs_the_same_sql_statements_as_a_book_of_10(client, stack, fresh_books, statements):
    books, day = fresh_books
    counts = {}
    for rm, ids in books.items():
        headers = _bearer(stack, rm)
        _gql(client, "{ me { userId } }", headers=headers)  # authenticates once (the user row is cached) outside the count
        statements.reset()
        body = _gql(client, BOOK_QUERY, {"date": day}, headers=headers, operation="Book")
        assert "errors" not in body, body
        clients = body["data"]["clients"]
        assert sorted(c["clientId"] for c in clients) == ids
        assert all(c["metrics"]["marketValue"] >= 1000 and len(c["alerts"]) == 2 for c in clients)
        counts[len(ids)] = len(statements.of_the_query)
    # the book (visible_clients), its master data with the day's metrics, alerts per client, the audit row
    assert counts[10] == counts[100] == 4, counts


METRICS_FIELDS = "date marketValue dailyPnl positionsCount reportingCurrency marketValueReporting dailyPnlReporting"


def test_the_book_read_ahead_answers_as_each_clients_own_metrics_and_a_dated_metrics_falls_back(client, stack, workstation_book,
                                                                                               statements):
    b = workstation_book
    headers = _bearer(stack, b.rm1)
    day = b.dates[0]
    _gql(client, "{ me { userId } }", headers=headers)
    statements.reset()
    book = _gql(client, f"""query Ahead($d: Date) {{ clients(date: $d) {{ clientId ...Figures
        earlier: metrics(date: "{b.dates[1]}") {{ date marketValue }} }} }}
        fragment Figures on Client {{ metrics {{ {METRICS_FIELDS} }} }}""", {"d": day}, headers=headers)
    assert "errors" not in book, book
    # read ahead through the fragment: no metrics statement of its own; the dated alias is one batched dataloader statement
    assert sum("client_metrics" in q for q in statements.of_the_query) == 2, statements.of_the_query
    got = {c["clientId"]: c for c in book["data"]["clients"]}
    for i, cid in enumerate(b.clients[b.rm1]):
        alone = _gql(client, f"query One($id: ID!, $d: Date) {{ client(id: $id) {{ metrics(date: $d) {{ {METRICS_FIELDS} }} }} }}",
                     {"id": cid, "d": day}, headers=headers)
        assert got[cid]["metrics"] == alone["data"]["client"]["metrics"]  # the dataloader's answer, field for field
        assert got[cid]["metrics"]["dailyPnl"] is None and got[cid]["metrics"]["marketValue"] == 1000.0 * (i + 1)  # a null stays null
        assert got[cid]["earlier"] == {"date": b.dates[1], "marketValue": 1100.0 * (i + 1)}
    empty = _gql(client, '{ clients(date: "1999-01-01") { clientId metrics { marketValue } } }', headers=headers)
    assert [c["metrics"] for c in empty["data"]["clients"]] == [None] * len(b.clients[b.rm1])
    newest = _gql(client, "{ clients { clientId metrics { date } } }", headers=headers)["data"]["clients"]
    for c in newest:  # no date: the newest synced date, as a client's own `metrics` answers it
        alone = _gql(client, "query One($id: ID!) { client(id: $id) { metrics { date } } }", {"id": c["clientId"]}, headers=headers)
        assert c["metrics"] == alone["data"]["client"]["metrics"]


def test_the_short_path_answers_exactly_as_graphql_cores_own_execution(app, client, stack, workstation_book, monkeypatch):
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

    from uhnw.serve.graphql_api import ShortPathExecution
    b = workstation_book
    headers = _bearer(stack, b.rm1)
    query = f"""query Wide($d: Date, $mine: ID!, $theirs: ID!) {{ me {{ userId bookSize }}
        clients(date: $d) {{ clientId fullName city rmId baseCurrency metrics {{ {METRICS_FIELDS} unpricedPositions }}
          dated: metrics(date: $d) {{ date dailyPnl }} positions(date: $d) {{ instrumentId quantity close marketValue pnl unpricedReason }}
          alerts(limit: 2) {{ alertId headline relevance verdict client {{ clientId metrics {{ marketValue }} }} }} }}
        one: client(id: $mine) {{ clientId metrics {{ date marketValue }} }} other: client(id: $theirs) {{ clientId }} }}"""
    variables = {"d": b.dates[0], "mine": b.clients[b.rm1][0], "theirs": b.clients[b.rm2][0]}
    schema = app.state.graphql_schema
    assert issubclass(schema.execution_context_class, ShortPathExecution)
    short = _gql(client, query, variables, headers=headers)
    monkeypatch.setattr(schema, "execution_context_class", StrawberryGraphQLCoreExecutionContext)
    plain = _gql(client, query, variables, headers=headers)
    assert short == plain
    assert short["data"]["other"] is None and _messages(short) == [f"no client {b.clients[b.rm2][0]} in your book"]
    assert {c["metrics"]["dailyPnl"] for c in short["data"]["clients"]} == {None}  # the nulls of the first day, kept


def test_no_schema_extension_hooks_every_field():
    "A `resolve` hook runs per field (and switches the short path off): the limits and the audit run once per request."
    from uhnw.serve.graphql_api import build_schema
    for schema in (build_schema(), build_schema(introspection=False)):
        factories = [getattr(e, "func", e) for e in schema.extensions]
        assert len(factories) >= 6 and not [f.__name__ for f in factories if f._implements_resolve()], factories


def test_deep_wide_and_costly_queries_are_refused_before_the_database(client, stack, workstation_book, statements):
    from uhnw.serve.graphql_api import MAX_COST, MAX_DEPTH
    headers = _bearer(stack, workstation_book.rm1)
    _gql(client, "{ me { userId } }", headers=headers)
    deep = "{ clients { alerts { client { alerts { client { alerts { client { clientId } } } } } } } }"
    wide = "{ clients { alerts(limit: 100) { client { alerts(limit: 100) { headline } } } } }"
    history = "{ clients { metricsHistory { date marketValue } } }"
    aliases = "{ " + " ".join(f"c{i}: me {{ userId }}" for i in range(40)) + " }"
    statements.reset()
    refused = {name: _gql(client, q, headers=headers) for name, q in
               {"deep": deep, "wide": wide, "history": history, "aliases": aliases}.items()}
    again = {name: _gql(client, q, headers=headers) for name, q in  # from the validation cache: refused just the same
             {"deep": deep, "wide": wide, "history": history, "aliases": aliases}.items()}
    assert statements.of_the_query == []
    assert again == refused
    assert all(body.get("data") is None for body in refused.values()), refused
    assert f"'anonymous' exceeds maximum operation depth of {MAX_DEPTH}" in _messages(refused["deep"])
    assert f"more than the limit of {MAX_COST}" in _messages(refused["wide"])[0]
    assert "narrower `from`/`to`" in _messages(refused["history"])[0]
    assert _messages(refused["aliases"]) == ["40 aliases found. Allowed: 30"]
    bounded = '{ clients { metricsHistory(from: "2031-03-01", to: "2031-03-31") { date } } }'
    assert "errors" not in _gql(client, bounded, headers=headers)  # a month of history for the book is fine


def test_introspection_is_on_locally_and_off_on_the_aws_profile(client, stack, workstation_book):
    from uhnw.serve.graphql_api import build_schema
    query = "{ __schema { queryType { name } } }"
    body = _gql(client, query, headers=_bearer(stack, workstation_book.rm1))
    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    aws = dataclasses.replace(stack, profile="aws")
    schema = build_schema(introspection=aws.profile != "aws")
    result = asyncio.run(schema.execute(query))
    assert result.data is None and "introspection has been disabled" in result.errors[0].message
    assert asyncio.run(schema.execute("{ __typename }")).data == {"__typename": "Query"}


def test_the_mounted_schema_follows_the_settings_profile(stack):
    from fastapi import FastAPI

    from uhnw.serve.graphql_api import mount
    for profile, allowed in (("local", True), ("aws", False)):
        app = FastAPI()
        mount(app, dataclasses.replace(stack, profile=profile))
        assert list(app.openapi()["paths"]["/graphql"]) == ["post"]  # no GraphiQL page, no queries by GET
        introspected = asyncio.run(app.state.graphql_schema.execute("{ __schema { queryType { name } } }"))
        assert (introspected.errors is None) is allowed, profile


def test_bad_input_answers_graphql_errors_never_a_500(client, stack, workstation_book):
    headers = _bearer(stack, workstation_book.rm1)
    cid = workstation_book.clients[workstation_book.rm1][0]
    cases = {
        "unknown field": ("{ clients { nope } }", None, "Cannot query field 'nope' on type 'Client'."),
        "wrong type": ("{ client(id: 12) { clientId } }", None, None),
        "bad literal date": ('{ clients(date: "2031-02-30") { clientId } }', None, "Date"),
        "bad variable date": ("query Q($d: Date) { clients(date: $d) { clientId } }", {"d": "yesterday"}, "Date"),
        "negative limit": ("query Q($c: ID!) { client(id: $c) { alerts(limit: -1) { headline } } }", {"c": cid},
                           "limit must be between 1 and 100, not -1"),
        "from after to": ('{ alerts(from: "2031-03-04", to: "2031-03-03") { nextCursor } }', None, "`from` is after `to`"),
        "bad cursor": ('{ alerts(cursor: "abc") { nextCursor } }', None, "cursor must be a positive alert id"),
        "id with a NUL": ("query Q($c: ID!) { client(id: $c) { clientId } }", {"c": "WS\u0000"}, "a client id is 1 to 64 letters"),
        "bad event type": ('{ alerts(eventType: "M&A") { nextCursor } }', None, "eventType is 1 to 40 lowercase letters"),
        "syntax": ("{ clients { ", None, "Syntax Error"),
    }
    for name, (query, variables, expected) in cases.items():
        body = _gql(client, query, variables, headers=headers)
        assert body.get("errors"), name
        if expected: assert expected in _messages(body)[0], (name, body)
    for raw, reason in ((b"{not json", "Unable to parse request body as JSON"), (b'{"variables": {}}', "No GraphQL query found")):
        r = client.post("/graphql", content=raw, headers={**headers, "content-type": "application/json"})
        assert r.status_code == 400 and reason in r.text, r.text
    assert client.post("/graphql", json={"query": "{ me { userId } }"}).status_code == 401


def test_feedback_mutation_needs_the_csrf_token_of_a_cookie_session(client, stack, workstation_book):
    b = workstation_book
    alert = b.alerts[b.clients[b.rm1][1]][0]
    mutation = "mutation Fb($a: ID!, $v: Verdict!) { alertFeedback(alertId: $a, verdict: $v, note: \"checked\") { verdict useful note } }"
    csrf = b.login(client, b.rm1)
    refused = _gql(client, mutation, {"a": str(alert), "v": "useful"})
    assert refused["data"] == {"alertFeedback": None} and "x-csrf-token" in _messages(refused)[0]
    assert refused["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    done = _gql(client, mutation, {"a": str(alert), "v": "not_useful"}, headers={"X-CSRF-Token": csrf})
    assert done == {"data": {"alertFeedback": {"verdict": "not_useful", "useful": False, "note": "checked"}}}
    assert _audit(stack, b.rm1)[0]["operation"] == "Fb" and _audit(stack, b.rm1)[0]["client_ids"] == [b.clients[b.rm1][1]]
    theirs = b.alerts[b.clients[b.rm2][0]][0]
    client.cookies.clear()
    other = _gql(client, mutation, {"a": str(theirs), "v": "useful"}, headers=_bearer(stack, b.rm1))  # bearer: no CSRF needed
    assert other["data"] == {"alertFeedback": None} and _messages(other) == [f"no alert {theirs} among your clients"]
    from uhnw.ops.db import connect
    with connect(stack) as conn:
        stored = conn.execute("select verdict from alert_feedback where alert_id = %s and rm_id = %s", (alert, b.rm1)).fetchone()
        assert stored == ("not_useful",)
        assert conn.execute("select count(*) from alert_feedback where alert_id = %s", (theirs,)).fetchone() == (0,)
