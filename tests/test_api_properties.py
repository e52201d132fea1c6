"""Property-based tests of the API's contract with schemathesis, in-process (ASGI) against the session's PostgreSQL.

Every operation of `/openapi.json` (less the signed provider webhook, which has its own property tests, and the
service's `/health` and `/metrics`) is called with generated requests, valid and invalid, as an RM of the
`workstation_book` with a bearer token; path parameters are also drawn from real ids (the RM's own clients and alerts,
another RM's, an unknown one) so that the 2xx paths are reached, not only the 404s. Each answer must not be a 5xx,
must carry a documented status code and content type, and its body must match the documented schema; and every
operation must have answered 2xx at least once. The GraphQL schema gets the same treatment for server errors.
Examples are bounded (`EXAMPLES` per operation) so the file stays well under two minutes.
"""
from __future__ import annotations

import importlib.util
import itertools
import re
from collections import defaultdict

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

pytestmark = pytest.mark.postgres

EXAMPLES = 25  # per operation (and per GraphQL field)
NOT_HERE = ("/webhooks/news", "/webhooks/news/{provider}",  # HMAC-signed provider webhook: tests/test_webhook_properties.py
            "/health", "/metrics",  # the service's probes: /health is 503 by design without the alert feed (start_feed=False)
            "/graphql")  # its contract is the GraphQL schema: test_graphql_never_answers_a_server_error
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def app(stack):
    from schemathesis.python.asgi import shutdown_lifespans

    from uhnw.serve.app import create_app
    yield create_app(stack, start_feed=False)
    shutdown_lifespans()  # schemathesis runs the app's lifespan on first call and keeps it until told


@pytest.fixture(scope="module")
def rm_headers(stack, workstation_book) -> dict[str, str]:
    from uhnw.auth import issue_token, local_secret
    return {"Authorization": f"Bearer {issue_token(workstation_book.rm1, local_secret(stack))}"}


@pytest.fixture(scope="module")
def feedback_restored(stack, workstation_book):
    "The RM's verdicts on the book's alerts as they were before the run: the feedback operation writes them."
    from uhnw.ops.db import connect
    alerts = [a for ids in workstation_book.alerts.values() for a in ids]
    cols = "alert_id, rm_id, verdict, note, created_at, updated_at"
    with connect(stack) as conn:
        before = conn.execute(f"select {cols} from alert_feedback where alert_id = any(%s)", (alerts,)).fetchall()
    yield
    with connect(stack) as conn, conn.transaction():
        conn.execute("delete from alert_feedback where alert_id = any(%s)", (alerts,))
        for row in before:
            conn.execute(f"insert into alert_feedback ({cols}) values (%s, %s, %s, %s, %s, %s)", row)


def _real_ids(book) -> dict[str, list]:
    "Values of each path parameter worth trying besides generated ones: the RM's own, another RM's, and an unknown id."
    own, theirs = book.clients[book.rm1], book.clients[book.rm2]
    return {"client_id": [*own, theirs[0], "NO-SUCH-CLIENT"],
            "alert_id": [*(a for c in own for a in book.alerts[c]), book.alerts[theirs[0]][0], 2**62]}


def _cases(operation, book):
    "Generated requests (valid and invalid) plus valid ones on real path ids and, for the login, real credentials."
    names = re.findall(r"{(\w+)}", operation.path)
    real = _real_ids(book)
    options = [operation.as_strategy(), operation.as_strategy(GenerationMode.NEGATIVE)]
    for values in itertools.product(*(real[n] for n in names)) if names else []:
        options.append(operation.as_strategy(path_parameters=dict(zip(names, values, strict=True))))
    if operation.path == "/auth/login":
        options += [operation.as_strategy(body={"user_id": book.rm1, "password": book.passwords[book.rm1]})] * 2
    return st.one_of(options)


def _run(case_strategy, call) -> str | None:
    "Draw up to EXAMPLES cases and `call` each; the failure (with schemathesis's reproduction) or None."
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=case_strategy)
    def explore(case):
        call(case)
    try:
        explore()
    except (Exception, BaseExceptionGroup) as e:  # noqa: BLE001 - collected per operation, reported together below
        return f"{type(e).__name__}: {e}"[:4000]
    return None


def test_every_rest_operation_answers_its_documented_schema_and_never_5xx(app, rm_headers, workstation_book, feedback_restored):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path=list(NOT_HERE))
    statuses: dict[str, set[int]] = defaultdict(set)

    def call(case):
        response = case.call(headers=rm_headers)
        statuses[case.operation.label].add(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=rm_headers)

    operations = [op.ok() for op in schema.get_all_operations()]
    assert {"GET /api/clients", "GET /api/clients/{client_id}", "POST /api/alerts/{alert_id}/feedback"} <= {op.label for op in operations}
    failures = {op.label: f for op in operations if (f := _run(_cases(op, workstation_book), call))}
    never_2xx = sorted(op.label for op in operations if not any(200 <= s < 300 for s in statuses[op.label]))
    assert not failures and not never_2xx, "\n\n".join([*(f"== {label}\n{f}" for label, f in failures.items()),
                                                        f"== no 2xx answer from {never_2xx}; statuses seen: {dict(statuses)}"])


def test_graphql_never_answers_a_server_error(app, rm_headers, workstation_book, feedback_restored):
    if importlib.util.find_spec("uhnw.serve.graphql_api") is None:  # mounted by create_app when the module exists
        pytest.skip("no /graphql on this app (uhnw.serve.graphql_api is not built)")
    schema = schemathesis.graphql.from_asgi("/graphql", app, headers=rm_headers)
    statuses: dict[str, set[int]] = defaultdict(set)

    def call(case):
        response = case.call(headers=rm_headers)
        statuses[case.operation.label].add(response.status_code)
        case.validate_response(response, checks=[not_a_server_error], headers=rm_headers)

    operations = [op.ok() for op in schema.get_all_operations()]
    assert {"Query.clients", "Query.client"} <= {op.label for op in operations}, [op.label for op in operations]
    failures = {op.label: f for op in operations if (f := _run(op.as_strategy(), call))}
    assert not failures, "\n\n".join(f"== {label}\n{f}" for label, f in failures.items())
    assert all(s < 500 for seen in statuses.values() for s in seen)
