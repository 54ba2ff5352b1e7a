"""Request logs and traces: one JSON line per request with ids and codes only, spans for
HTTP, the GraphQL operation and each SQL statement sharing the trace id the line carries,
and nothing installed when tracing is off."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
import wrapt
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, format_trace_id

from infra.app import create_app
from infra.db_errors import DatabaseUnavailable
from infra.http.errors import server_error_response
from infra.logging import configure_logging
from infra.settings import Settings
from tests.conftest import Tenant, make_tenant

CREATE_CUSTOMER = """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code } }
}
"""
CUSTOMERS_PAGE = "query CustomersPage { customers(first: 5) { edges { node { id name } } } }"
# A customer's balance is read by the executor; a page of customers is answered by a plan.
CUSTOMER_BALANCE = "query CustomerBalance($id: ID!) { customer(id: $id) { balance { amount } } }"

EMAIL = "jane.roe@example.com"
NAME = "Janerose Privacyholder"
STREET = "742 Evergreen Terrace"
PERSONAL = {
    "currency": "USD",
    "name": NAME,
    "email": EMAIL,
    "address": {"line1": STREET, "city": "Springfield", "country": "US"},
}


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Every log record, as production writes it (JSON lines), into a buffer."""
    root = logging.getLogger()
    level = root.level
    output = io.StringIO()
    handler = configure_logging("INFO", production=True, stream=output)
    try:
        yield output
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def request_lines(output: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in output.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line.get("message") == "request"]


async def test_each_request_is_one_json_line_of_ids_and_codes(
    tenant: Tenant, log_output: io.StringIO
) -> None:
    # given a caller that names its request
    # when it creates a customer, then sends a document that does not validate
    created = await tenant.post(
        CREATE_CUSTOMER,
        {"input": {"currency": "USD", "name": "Acme"}},
        headers={"X-Request-Id": "req-42.a:b"},
    )
    refused = await tenant.post("query Broken { nope }")

    # then each request is logged once, with the id it was given or one generated
    assert created.headers["x-request-id"] == "req-42.a:b"
    generated = refused.headers["x-request-id"]
    assert len(generated) == 32
    first, second = request_lines(log_output)
    assert first["request_id"] == "req-42.a:b"
    assert first["level"] == "info"
    assert first["timestamp"].endswith("Z")
    assert first["tenant"] == tenant.id
    assert first["client"] == "test-client"
    assert first["operation_type"] == "mutation"
    assert first["operation"] == "CreateCustomer"
    assert first["method"] == "POST"
    assert first["path"] == "/graphql"
    assert first["status"] == 200
    assert isinstance(first["duration_ms"], float)
    assert "error_code" not in first
    assert second["request_id"] == generated
    assert second["status"] == 400
    assert second["error_code"] == "GRAPHQL_VALIDATION_FAILED"
    assert second["operation"] == "Broken"


async def test_a_refused_token_is_logged_by_its_code_without_a_tenant(
    client: httpx.AsyncClient, log_output: io.StringIO
) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ viewer { id } }"}, headers={"Authorization": "Bearer x.y.z"}
    )

    assert response.status_code == 401
    (line,) = request_lines(log_output)
    assert line["status"] == 401
    assert line["error_code"] == "UNAUTHENTICATED"
    assert "tenant" not in line and "client" not in line


async def test_personal_data_and_credentials_never_reach_the_log(
    tenant: Tenant, log_output: io.StringIO
) -> None:
    # given a caller that sends personal data and credentials everywhere it can
    token = tenant.token()
    client_id, secret = await tenant.create_client(["customers:read"])
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Request-Id": EMAIL,
        "traceparent": f"00-{EMAIL}-0000000000000001-01",
    }
    # when it creates a customer, sends a document quoting them, gets a token, and asks for a
    # path and a query string carrying them
    await tenant.client.post(
        "/graphql",
        json={"query": CREATE_CUSTOMER, "variables": {"input": PERSONAL}},
        headers=headers,
    )
    await tenant.client.post(
        "/graphql",
        json={"query": f'{{ customers(filter: {{email: "{EMAIL}"}}) {{ nope }} {NAME} }}'},
        headers=headers,
    )
    await tenant.client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
        },
        headers={"X-Request-Id": secret},
    )
    await tenant.client.get(f"/{EMAIL}/{NAME}", params={"q": STREET, "token": token})
    await tenant.client.get("/graphql", params={"query": f'{{ x(a: "{EMAIL}") }}'})

    # then the log holds a line per request and none of what they carried
    written = log_output.getvalue()
    assert len(request_lines(log_output)) == 5
    for carried in (EMAIL, "jane.roe", NAME, "Janerose", STREET, "Evergreen", token, secret):
        assert carried not in written
    for part in token.split("."):
        assert part not in written


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def traced_app(settings: Settings, spans: InMemorySpanExporter) -> AsyncIterator[Any]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    assert settings.database_url is not None
    # Planned answers only: the executor's second answer (PLANNED_READS_VERIFY) would add
    # an operation's statements to the trace of a planned one.
    changed = settings.model_copy(update={"planned_reads_verify": False})
    application = create_app(changed, settings.database_url, tracer_provider=provider)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def traced_tenant(traced_app: Any, spans: InMemorySpanExporter) -> AsyncIterator[Tenant]:
    transport = httpx.ASGITransport(app=traced_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ledgerline.test") as c:
        tenant = await make_tenant(traced_app, c)
        spans.clear()
        yield tenant


def trace_of(spans: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    return [
        span
        for span in spans.get_finished_spans()
        if span.context is not None and format_trace_id(span.context.trace_id) == trace_id
    ]


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    parent = span.parent
    while parent is not None and parent.span_id in by_id:
        names.append(by_id[parent.span_id].name)
        parent = by_id[parent.span_id].parent
    return names


@pytest.mark.parametrize("answered_by", ["executor", "plan"])
async def test_a_request_is_one_trace_of_http_operation_and_sql_spans(
    traced_tenant: Tenant,
    spans: InMemorySpanExporter,
    log_output: io.StringIO,
    answered_by: str,
) -> None:
    # given a customer
    created = await traced_tenant.gql(CREATE_CUSTOMER, {"input": PERSONAL})
    customer_id = created["data"]["createCustomer"]["customer"]["id"]
    spans.clear()
    log_output.truncate(0)
    log_output.seek(0)

    # when one query is sent
    if answered_by == "executor":
        response = await traced_tenant.post(CUSTOMER_BALANCE, {"id": customer_id})
        operation = "query CustomerBalance"
    else:
        response = await traced_tenant.post(CUSTOMERS_PAGE)
        operation = "query CustomersPage"
    assert response.status_code == 200, response.text

    # then its log line names a trace made of its HTTP span, its operation's span, and the
    # SQL statements it ran, each inside the operation
    (line,) = request_lines(log_output)
    trace = trace_of(spans, line["trace_id"])
    by_id = {span.context.span_id: span for span in trace if span.context is not None}
    (http,) = [span for span in trace if span.kind is SpanKind.SERVER]
    (graphql_span,) = [span for span in trace if span.name == operation]
    sql = [span for span in trace if span.kind is SpanKind.CLIENT]
    assert http.attributes is not None and graphql_span.attributes is not None
    assert http.parent is None
    assert ancestors(graphql_span, by_id) == [http.name]
    assert graphql_span.attributes["graphql.operation.type"] == "query"
    assert graphql_span.attributes["graphql.operation.name"] == operation.split()[1]
    statements = [str((span.attributes or {}).get("db.statement", "")) for span in sql]
    assert any(statement.startswith("SELECT customers.") for statement in statements)
    assert all(ancestors(span, by_id)[-2:] == [operation, http.name] for span in sql)
    assert {span.context.trace_id for span in trace if span.context} == {
        http.context.trace_id if http.context else 0
    }
    # statements without their parameters: no personal data leaves in a span
    for span in trace:
        assert EMAIL not in json.dumps(dict(span.attributes or {}))


async def test_tracing_off_installs_nothing_and_logs_the_callers_trace_id(
    app: Any, tenant: Tenant, log_output: io.StringIO
) -> None:
    # given the session's app, started without OTEL_EXPORTER_OTLP_ENDPOINT
    assert app.state.tracer_provider is None
    assert all("OpenTelemetry" not in m.cls.__name__ for m in app.user_middleware)
    for driver_class in (asyncpg.connection.Connection, asyncpg.prepared_stmt.PreparedStatement):
        assert not isinstance(vars(driver_class)["fetch"], wrapt.FunctionWrapper)

    # when a caller sends its own trace context
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    await tenant.post(CUSTOMERS_PAGE, headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})

    # then the line carries that trace id, to be found beside a proxy's trace
    (line,) = request_lines(log_output)
    assert line["trace_id"] == trace_id


async def test_probes_are_logged_only_when_they_fail_or_at_debug(
    client: httpx.AsyncClient, log_output: io.StringIO
) -> None:
    response = await client.get("/healthz", headers={"X-Request-Id": "probe-1"})

    assert response.headers["x-request-id"] == "probe-1"
    assert request_lines(log_output) == []


async def test_an_operation_answered_with_a_server_error_is_an_error_span_and_line(
    traced_tenant: Tenant,
    traced_app: Any,
    spans: InMemorySpanExporter,
    log_output: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given an endpoint that loses its database
    async def unavailable(_request: Any) -> Any:
        return server_error_response(DatabaseUnavailable("gone"), "graphql")

    monkeypatch.setattr(traced_app.state, "graphql", unavailable)

    # when a query is sent
    response = await traced_tenant.post(CUSTOMERS_PAGE)

    # then the operation's span is an error, and the line says so with the code
    assert response.status_code == 503
    (operation,) = [span for span in spans.get_finished_spans() if span.name == "graphql"]
    assert operation.status.status_code is StatusCode.ERROR
    line = next(line for line in request_lines(log_output) if line["status"] == 503)
    assert line["level"] == "error"
    assert line["error_code"] == "DATABASE_UNAVAILABLE"
