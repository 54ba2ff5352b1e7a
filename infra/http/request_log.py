"""One log line per HTTP request, and the request id that ties it to the caller.

The line carries ids and codes only: the request id (the caller's `X-Request-Id` when it
is a plain token, else a new one; answered in `X-Request-Id` either way), the trace id,
the tenant and client from the access token, the GraphQL operation's type and name (from
the parsed document: a name that could be anything is never logged), the route, the
status, the duration and the first error code of the answer. Never the document, its
variables, headers or the query string: those carry personal data and credentials.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import structlog
from graphql import DocumentNode, get_operation_ast
from opentelemetry.trace import Span
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auth.backend import PrincipalUser
from infra import jsoncodec
from infra.http.health import route_of
from infra.tracing import current_trace_id, name_operation, operation_span

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

REQUEST_ID_HEADER: Final = "x-request-id"
# What a caller's id may be: enough for UUIDs, ULIDs and most proxies' ids, too little for
# a sentence, an address or a token to ride into the log.
_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_TRACEPARENT: Final = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")
_ERRORS_FIRST: Final = b'{"errors":'
# Asked every few seconds by orchestrators and scrapers: logged at DEBUG unless they fail.
_PROBES: Final = frozenset({"/healthz", "/readyz", "/metrics"})
_log = logging.getLogger("ledgerline.requests")


@dataclass(slots=True)
class RequestRecord:
    """What the endpoint tells the request's log line (and span) about the request."""

    request_id: str
    operation_type: str | None = None
    operation: str | None = None
    span: Span | None = None


_CURRENT: ContextVar[RequestRecord | None] = ContextVar("ledgerline_request", default=None)


def note_graphql_operation(document: DocumentNode, operation_name: str | None) -> None:
    """Called by the GraphQL endpoint once it knows which operation it runs."""
    record = _CURRENT.get()
    if record is None:
        return
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return
    record.operation_type = operation.operation.value
    record.operation = operation.name.value if operation.name else None
    if record.span is not None:
        name_operation(record.span, record.operation_type, record.operation)


@contextmanager
def graphql_operation(provider: TracerProvider | None) -> Iterator[Span | None]:
    """The span of the GraphQL operation answered inside the block (with a provider)."""
    with operation_span(provider) as span:
        record = _CURRENT.get()
        if record is not None:
            record.span = span
        yield span


def request_id_of(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given: str = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(given):
                return given
            break
    return secrets.token_hex(16)


def _trace_id_of(scope: Scope) -> str | None:
    """The trace id of the span this request is in, or, untraced, of the caller's
    `traceparent` (so the line still matches a proxy's trace)."""
    trace_id = current_trace_id()
    if trace_id is not None:
        return trace_id
    for name, value in scope["headers"]:
        if name == b"traceparent":
            match = _TRACEPARENT.fullmatch(value.decode("latin-1").strip())
            return match.group(1) if match else None
    return None


def _error_code(body: bytes) -> str | None:
    """The first error's code, from the API's JSON answers (their `errors` come first)."""
    if not body.startswith(_ERRORS_FIRST):
        return None
    try:
        first = jsoncodec.loads(body)["errors"][0]
        code = first.get("extensions", {}).get("code")
    except (jsoncodec.InvalidJson, LookupError, TypeError, AttributeError):
        return None
    return code if isinstance(code, str) else None


class RequestLog:
    """Outermost of the app's middleware: the request id in and out, one line when done."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        record = RequestRecord(request_id_of(scope))
        header = (REQUEST_ID_HEADER.encode(), record.request_id.encode())
        status = 500
        error_code: str | None = None
        first_body = True

        async def send_and_note(message: Message) -> None:
            nonlocal status, error_code, first_body
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            elif message["type"] == "http.response.body" and first_body:
                first_body = False
                error_code = _error_code(message.get("body", b""))
            await send(message)

        trace_id = _trace_id_of(scope)
        current = _CURRENT.set(record)
        bound = structlog.contextvars.bind_contextvars(
            request_id=record.request_id, trace_id=trace_id
        )
        try:
            await self.app(scope, receive, send_and_note)
        finally:
            structlog.contextvars.reset_contextvars(**bound)
            _CURRENT.reset(current)
            level = logging.ERROR if status >= 500 else logging.INFO
            if level == logging.INFO and scope["path"] in _PROBES:
                level = logging.DEBUG
            if _log.isEnabledFor(level):
                line = _line(scope, record, trace_id, status, error_code, started)
                _log.log(level, "request", extra=line)


def _line(
    scope: Scope,
    record: RequestRecord,
    trace_id: str | None,
    status: int,
    error_code: str | None,
    started: float,
) -> dict[str, Any]:
    user = scope.get("user")
    principal = user.principal if isinstance(user, PrincipalUser) else None
    return {
        "request_id": record.request_id,
        "trace_id": trace_id,
        "method": scope["method"],
        "path": route_of(scope["path"]),
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        "tenant": principal.tenant_id if principal else None,
        "client": principal.client_id if principal else None,
        "operation_type": record.operation_type,
        "operation": record.operation,
        "error_code": error_code,
    }
