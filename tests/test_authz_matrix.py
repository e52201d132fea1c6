"""The authorization matrix, generated from the app's own route table (its OpenAPI document) and GraphQL schema: every route that returns
client data is tried as RM-1 on their own client (answered), as RM-1 on RM-2's client (refused: 404, or absent from a
list), and as compliance on both (answered, and audited with the client ids returned). A route added later is covered
without editing this test; one whose parameters it cannot fill fails here until it learns how."""
from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.postgres

# Routes that read no client data (each with the reason), so the matrix skips them.
NO_CLIENT_DATA = {
    "/auth/login": "logs in; returns the caller's own session",
    "/auth/logout": "ends the session",
    "/health": "service health",
    "/metrics": "Prometheus metrics",
    "/webhooks/news": "ingests news from providers (signed)",
    "/webhooks/news/{provider}": "ingests news from one provider (signed)",
    "/": "the page's HTML",
    "/static/{name}": "static files of the page",
    "/static/plotly.min.js": "plotly's bundle",
    "/graphql": "covered by the GraphQL half of this matrix",
}


@pytest.fixture(scope="module")
def app(stack):
    from uhnw.serve.app import create_app
    return create_app(stack, start_feed=False)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def _routes(app) -> list[tuple[str, str]]:
    "(method, path) of every HTTP operation of the app (its OpenAPI document, generated from its routes) not declared free of client data."
    out = []
    for path, ops in app.openapi()["paths"].items():
        if path in NO_CLIENT_DATA: continue
        out.extend((m.upper(), path) for m in sorted(ops) if m in ("get", "post", "put", "patch", "delete"))
    return out


def _fill(path: str, client_id: str, alert_id: int) -> str:
    def value(m):
        name = m.group(1)
        if name == "client_id": return client_id
        if name == "alert_id": return str(alert_id)
        pytest.fail(f"the authorization matrix cannot fill {{{name}}} of {path}: teach _fill how")
    return re.sub(r"\{(\w+)\}", value, path)


def _audited(stack, actor: str, after_id: int) -> list[dict]:
    from uhnw.access import audit_rows
    from uhnw.ops.db import connect
    with connect(stack) as conn:
        return [r for r in audit_rows(conn, actor=actor, limit=1000) if r["id"] > after_id]


def _last_audit_id(stack) -> int:
    from uhnw.ops.db import connect
    with connect(stack) as conn:
        return conn.execute("select coalesce(max(id), 0) from audit_log").fetchone()[0]


def _call(client, app, method: str, path: str, template: str, csrf: str, client_id: str, day: str):
    "One request; query parameters the operation declares that narrow it to the client or the book's date are filled."
    declared = {p["name"] for p in app.openapi()["paths"][template][method.lower()].get("parameters", []) if p["in"] == "query"}
    params = {k: v for k, v in (("client_id", client_id), ("date", day)) if k in declared}
    if method == "GET":
        return client.get(path, params=params)
    return client.request(method, path, params=params, json={"verdict": "useful"}, headers={"X-CSRF-Token": csrf})


def test_the_matrix_covers_the_workstation_routes(app):
    from uhnw.serve.rest_api import CLIENT_ROUTES
    covered = {p for _, p in _routes(app)}
    assert set(CLIENT_ROUTES) <= covered and "/api/alerts/{alert_id}/feedback" in covered and "/alerts" in covered


def test_every_client_data_route_answers_own_refuses_others_and_compliance_reads_both_audited(app, client, workstation_book, stack):
    b = workstation_book
    own, other = b.clients[b.rm1][0], b.clients[b.rm2][0]
    own_alert, other_alert = b.alerts[own][0], b.alerts[other][0]
    day = b.dates[-1]
    routes = _routes(app)
    assert len(routes) >= 8
    for method, template in routes:
        if template == "/alerts":  # the scripts' alert listing takes only bearer tokens
            continue
        uses_id = "{" in template
        # RM-1: their own client is answered, RM-2's is not
        csrf = b.login(client, b.rm1)
        mine = _call(client, app, method, _fill(template, own, own_alert), template, csrf, own, day)
        assert mine.status_code == 200, (method, template, mine.text)
        assert own in mine.text, (method, template, "RM-1's own client is missing from the answer")
        theirs = _call(client, app, method, _fill(template, other, other_alert), template, csrf, other, day)
        if uses_id:  # refused with a reason and nothing else (the reason names only the id that was asked for)
            assert theirs.status_code == 404 and list(theirs.json()) == ["detail"], (method, template, theirs.status_code, theirs.text)
        else:
            assert theirs.status_code == 200, (method, template, theirs.text)
            assert other not in theirs.text, (method, template, "RM-1 was shown RM-2's client")
        if method != "GET":
            continue  # compliance reads; it gives no feedback (checked in test_workstation_api)
        # compliance: both, each read audited with the ids it returned
        b.login(client, b.compliance)
        for cid, aid in ((own, own_alert), (other, other_alert)):
            before = _last_audit_id(stack)
            r = _call(client, app, method, _fill(template, cid, aid), template, "", cid, day)
            assert r.status_code == 200 and cid in r.text, (method, template, r.text[:300])
            rows = _audited(stack, b.compliance, before)
            assert len(rows) == 1 and cid in rows[0]["client_ids"], (method, template, rows)
            assert rows[0]["role"] == "compliance"


def test_the_scripts_alert_listing_and_its_audit(client, workstation_book, stack):
    from uhnw.auth import issue_token, local_secret
    b = workstation_book
    own, other = b.clients[b.rm1][0], b.clients[b.rm2][0]
    before = _last_audit_id(stack)
    r = client.get("/alerts", params={"after": min(b.alerts[own]) - 1},
                   headers={"Authorization": f"Bearer {issue_token(b.rm1, local_secret(stack))}"})
    assert r.status_code == 200
    got = {a["client_id"] for a in r.json()["alerts"]}
    assert own in got and other not in got
    rows = _audited(stack, b.rm1, before)
    assert len(rows) == 1 and set(rows[0]["client_ids"]) == got


def test_graphql_matrix_every_client_field_own_answered_others_refused_compliance_audited(client, workstation_book, stack):
    schema = pytest.importorskip("uhnw.serve.graphql_api").schema
    b = workstation_book
    own, other = b.clients[b.rm1][0], b.clients[b.rm2][0]
    queries = _graphql_client_queries(schema)
    assert len(queries) >= 4, queries
    for name, (query, single) in queries.items():
        b.login(client, b.rm1)
        mine = client.post("/graphql", json={"query": query, "variables": {"id": own}}).json()
        assert not mine.get("errors") and own in json.dumps(mine["data"]), (name, mine)
        theirs = client.post("/graphql", json={"query": query, "variables": {"id": other}}).json()
        assert other not in json.dumps(theirs.get("data")), (name, theirs)
        if single:  # the client itself: null plus an error that says why
            assert theirs.get("errors") and theirs["data"][name.split(".")[0]] is None, (name, theirs)
        b.login(client, b.compliance)
        before = _last_audit_id(stack)
        both = client.post("/graphql", json={"query": query, "variables": {"id": other}}).json()
        assert not both.get("errors") and other in json.dumps(both["data"]), (name, both)
        rows = _audited(stack, b.compliance, before)
        assert len(rows) == 1 and other in rows[0]["client_ids"], (name, rows)


def _graphql_client_queries(schema) -> dict[str, tuple[str, bool]]:
    """name -> (query, whether it returns the client itself), built from the schema: for every top-level field taking a
    client id, one query with its scalars and its nested objects' scalars, and one per nested object field. A
    client-data field added later is queried without editing this test."""
    from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType
    gql = schema._schema

    def unwrap(t):
        while isinstance(t, GraphQLNonNull | GraphQLList): t = t.of_type
        return t

    def free(f) -> bool:  # a field the query can ask for without inventing arguments
        return not any(isinstance(a.type, GraphQLNonNull) for a in f.args.values())

    def selection(t: GraphQLObjectType, depth: int) -> str:
        parts = []
        for n, f in t.fields.items():
            if not free(f): continue
            sub = unwrap(f.type)
            if not isinstance(sub, GraphQLObjectType): parts.append(n)
            elif depth > 0: parts.append(f"{n} {{ {selection(sub, depth - 1)} }}")
        return " ".join(parts) or "__typename"

    out = {}
    for fname, field in gql.query_type.fields.items():
        id_args = [a for a in field.args if a in ("id", "clientId")]
        t = unwrap(field.type)
        if not id_args or not isinstance(t, GraphQLObjectType): continue
        single = t.name == "Client"
        head = f"query Q($id: ID!) {{ {fname}({id_args[0]}: $id)"
        out[fname] = (f"{head} {{ {selection(t, 1)} }} }}", single)
        for sub, sf in t.fields.items():
            st = unwrap(sf.type)
            if isinstance(st, GraphQLObjectType) and free(sf):
                keep = "clientId " if "clientId" in t.fields else ""
                out[f"{fname}.{sub}"] = (f"{head} {{ {keep}{sub} {{ {selection(st, 1)} }} }} }}", single)
    return out


# Top-level client-data fields that take no client id: the caller's whole book. Each is asked as RM-1 (their clients
# only, never RM-2's) and as compliance (both RMs' clients).
BOOK_QUERIES = {
    "me": "{ me { userId coverage bookSize } }",
    "clients": "{ clients { clientId fullName metrics { marketValue } } }",
    "alerts": "{ alerts(limit: 200) { alerts { alertId client { clientId } } } }",
}
# Mutations change client data; each is refused on another RM's client by a test of its own.
MUTATIONS_TESTED_ELSEWHERE = {"alertFeedback": "tests/test_graphql.py: another RM's alert answers null and 'no alert … among your clients'"}


def test_graphql_matrix_book_wide_fields_hold_only_the_callers_clients(client, workstation_book, stack):
    gql = pytest.importorskip("uhnw.serve.graphql_api")
    b = workstation_book
    by_id = _graphql_client_queries(gql.schema)
    top = {(t, f) for t, f in gql.client_data_fields() if t in ("Query", "Mutation")}
    uncovered = {f for t, f in top if f not in by_id and f not in BOOK_QUERIES and f not in MUTATIONS_TESTED_ELSEWHERE}
    assert not uncovered, f"client-data fields no half of the matrix asks: {uncovered}"
    mine, theirs = set(b.clients[b.rm1]), set(b.clients[b.rm2])
    for name, query in BOOK_QUERIES.items():
        b.login(client, b.rm1)
        body = client.post("/graphql", json={"query": query}).json()
        assert not body.get("errors"), (name, body)
        text = json.dumps(body["data"])
        assert all(c in text for c in mine) and not any(c in text for c in theirs), (name, body)
        b.login(client, b.compliance)
        before = _last_audit_id(stack)
        body = client.post("/graphql", json={"query": query}).json()
        assert not body.get("errors"), (name, body)
        text = json.dumps(body["data"])
        if name != "me":  # compliance's profile has no book; its reads are the book-wide ones
            assert all(c in text for c in mine | theirs), (name, body)
            rows = _audited(stack, b.compliance, before)
            assert len(rows) == 1 and (mine | theirs) <= set(rows[0]["client_ids"]), (name, rows)
