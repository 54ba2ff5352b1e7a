"""OpenTelemetry tracing: spans for HTTP, each GraphQL operation and each SQL statement.

Installed only when OTEL_EXPORTER_OTLP_ENDPOINT is set (or a caller hands over a provider,
as tests and the benchmark do): otherwise no middleware, no span and no patched driver
method exists, so the read path pays nothing for tracing it does not do.

- HTTP: the ASGI middleware of opentelemetry-instrumentation-asgi (one server span per
  request, continuing the caller's `traceparent`).
- GraphQL: `operation_span` around the /graphql endpoint, named once the endpoint knows
  the operation (`note_operation`). strawberry's OpenTelemetryExtension is not used: planned
  reads never reach strawberry's executor, and its span per resolver costs more than it
  tells on lists.
- SQL: opentelemetry-instrumentation-asyncpg, which wraps the driver's connection and
  prepared-statement methods; SQLAlchemy's statements and the planned reads' both pass
  there. Statements are recorded without their parameters (they carry personal data).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind
from starlette.middleware import Middleware

from infra.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

# The SDK, exporter and instrumentations are imported where a provider is at hand: an
# untraced process (and every CLI command) never loads them.
_TRACER_NAME: Final = "ledgerline"
# Probes and scrapes every few seconds would bury the requests worth reading.
_UNTRACED_PATHS: Final = ("/healthz$", "/readyz$", "/metrics$")


def provider_from_settings(settings: Settings) -> TracerProvider | None:
    """An exporting provider when OTEL_EXPORTER_OTLP_ENDPOINT is set, else None (no tracing)."""
    endpoint = settings.otel_exporter_otlp_endpoint
    if not endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: settings.otel_service_name}),
        sampler=ParentBased(TraceIdRatioBased(settings.otel_traces_sample_ratio)),
    )
    # The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT means it: the signal's path follows.
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def http_tracing(provider: TracerProvider | None) -> list[Middleware]:
    """The middleware that opens one server span per HTTP request; none without a provider."""
    if provider is None:
        return []
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.util.http import ExcludeList

    return [
        Middleware(
            OpenTelemetryMiddleware,
            excluded_urls=ExcludeList(list(_UNTRACED_PATHS)),
            tracer_provider=provider,
            # A span per ASGI message (each body chunk sent) tells nothing the request's
            # does not.
            exclude_spans=["receive", "send"],
        )
    ]


def trace_sql(provider: TracerProvider) -> None:
    """Spans for every statement sent through asyncpg, in this process, until `untrace_sql`."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    # Parameters stay out of spans (capture_parameters is off by default): they carry
    # personal data. The instrumentor is untyped.
    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=provider)


def untrace_sql() -> None:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    instrumentor = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()


@contextmanager
def operation_span(provider: TracerProvider | None) -> Iterator[Span | None]:
    """The span of one GraphQL operation, current while the endpoint answers it; None (and
    nothing opened) without a provider."""
    if provider is None:
        yield None
        return
    tracer = provider.get_tracer(_TRACER_NAME)
    with tracer.start_as_current_span("graphql", kind=SpanKind.INTERNAL) as span:
        yield span


def name_operation(span: Span, kind: str, name: str | None) -> None:
    """Names the span as OpenTelemetry's GraphQL conventions do: `query CustomersList`. The
    document itself is left out: its literals may carry personal data."""
    span.update_name(f"{kind} {name}" if name else kind)
    span.set_attribute("graphql.operation.type", kind)
    if name:
        span.set_attribute("graphql.operation.name", name)


def current_trace_id() -> str | None:
    """The current span's trace id (32 hex digits), if a span is recording one."""
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None
