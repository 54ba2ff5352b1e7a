"""The Starlette application: routes, authentication, and state built in the lifespan."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from graphql import specified_rules
from opentelemetry.trace import StatusCode
from starlette.applications import Starlette
from starlette.authentication import AuthenticationBackend, AuthenticationError
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from auth.backend import BearerTokenBackend
from auth.tokens import ExternalKeys, TokenIssuer, TokenVerifier
from domain.payments import SettlementSink
from domain.ports import Clock
from infra.clock import SYSTEM_CLOCK
from infra.db import create_engine
from infra.http import graphiql, media_types
from infra.http.errors import ServerErrors, error_response
from infra.http.fair_use import GraphQLRates, QueryCosts, TokenThrottle
from infra.http.graphql import GraphQLEndpoint
from infra.http.health import MetricsMiddleware, Readiness, healthz, metrics
from infra.http.invoice_pdf import InvoicePdfEndpoint
from infra.http.oauth import TokenEndpoint
from infra.http.request_log import RequestLog, graphql_operation
from infra.http.stripe_webhooks import StripeWebhookEndpoint
from infra.payments import PaymentProviders
from infra.payments.settlement import RecordedSettlements
from infra.planned import Planner
from infra.rate_limits import RateLimiter
from infra.request_tasks import install_task_tracking
from infra.secret_box import SecretBox
from infra.settings import Settings, get_settings
from infra.signing_keys import load_or_create
from infra.tracing import (
    http_tracing,
    provider_from_settings,
    trace_sql,
    untrace_sql,
)
from infra.webhooks.destinations import Resolver, WebhookDestinations, resolve_host
from schema.schema import LIMIT_RULES, build_schema

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider


class _StateBackend(AuthenticationBackend):
    """Delegates to the backend the lifespan built (it needs the signing keys)."""

    async def authenticate(self, conn: HTTPConnection):  # type: ignore[no-untyped-def]
        return await conn.app.state.auth_backend.authenticate(conn)


async def _graphql(request: Request) -> Response:
    endpoint: GraphQLEndpoint = request.app.state.graphql
    with graphql_operation(request.app.state.tracer_provider) as span:
        response = await media_types.negotiated(request, endpoint)
        if span is not None and response.status_code >= 500:
            span.set_status(StatusCode.ERROR)  # the database unavailable, or a bug
        return response


async def _invoice_pdf(request: Request) -> Response:
    endpoint: InvoicePdfEndpoint = request.app.state.invoice_pdf
    return await endpoint(request)


async def _token(request: Request) -> Response:
    endpoint: TokenEndpoint = request.app.state.token
    return await endpoint(request)


async def _stripe_webhook(request: Request) -> Response:
    endpoint: StripeWebhookEndpoint = request.app.state.stripe_webhook
    return await endpoint(request)


async def _ready(request: Request) -> Response:
    readiness: Readiness = request.app.state.readiness
    return await readiness(request)


async def _jwks(request: Request) -> Response:
    return JSONResponse(request.app.state.keys.jwks(), headers={"Cache-Control": "max-age=300"})


def _unauthenticated(_conn: HTTPConnection, exc: AuthenticationError) -> Response:
    return error_response(
        401,
        f"Invalid access token: {exc}.",
        "UNAUTHENTICATED",
        {
            "WWW-Authenticate": f'Bearer realm="ledgerline", error="invalid_token", '
            f'error_description="{exc}"'
        },
    )


async def _http_error(_request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (an unknown path, a method a route does not take) in the
    API's JSON instead of plain text."""
    assert isinstance(exc, HTTPException)
    codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
    return error_response(
        exc.status_code,
        str(exc.detail),
        codes.get(exc.status_code, "BAD_REQUEST"),
        dict(exc.headers) if exc.headers else None,
    )


def _graphiql_page(settings: Settings, issuer: TokenIssuer) -> graphiql.GraphiQLPage | None:
    if not settings.graphiql_enabled:
        return None
    development_token = None
    if not settings.is_production:  # never a token on a production page, GRAPHIQL or not
        from auth.scopes import ALL_SCOPES
        from infra.seed import DEMO_TENANT

        def development_token() -> str:
            scopes = list(ALL_SCOPES)
            return issuer.issue(
                client_id="graphiql", tenant_id=DEMO_TENANT, scopes=scopes
            ).access_token

    return graphiql.GraphiQLPage(cdn=settings.graphiql_cdn, development_token=development_token)


def _graphiql_assets(settings: Settings) -> list[Mount]:
    if not settings.graphiql_enabled:
        return []
    return [Mount(graphiql.ASSETS_PATH, graphiql.static_files(), name="graphiql")]


def app_from_environment() -> Starlette:
    """The app of one worker process when `WORKERS` > 1: `ledgerline serve` has prepared the
    database and put its URL in the environment."""
    from infra.logging import configure_logging
    from infra.process_supervision import stop_when_parent_exits

    # First: a worker whose supervisor is gone must not go on holding the port.
    stop_when_parent_exits()
    settings = get_settings()
    configure_logging(settings.log_level, production=settings.is_production)
    if not settings.database_url:
        raise RuntimeError("a worker process needs DATABASE_URL")
    return create_app(settings, settings.database_url)


def create_app(
    settings: Settings,
    database_url: str,
    *,
    clock: Clock = SYSTEM_CLOCK,
    resolve: Resolver = resolve_host,
    settlement_sink: SettlementSink | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Starlette:
    """`resolve` looks up webhook destinations' hosts (DNS); tests give their own.
    `settlement_sink` takes what payment providers settle later (their webhooks).
    `tracer_provider` records spans (tests, benchmarks); by default one exporting to
    OTEL_EXPORTER_OTLP_ENDPOINT when that is set, else none: nothing is traced."""
    provider = tracer_provider or provider_from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # First: settings that cannot work stop the start, before anything is opened.
        settings.check_payment_providers()
        if provider is not None:
            trace_sql(provider)
        engine = create_engine(
            database_url,
            pool_size=settings.database_pool_size,
            pool_timeout=settings.database_pool_timeout,
        )
        # Transactions that commit apart from requests (payments' phases, the sandbox
        # processor's record) get a pool of their own: see GraphQLEndpoint.money_engine.
        money_engine = create_engine(
            database_url,
            pool_size=max(2, settings.database_pool_size // 2),
            pool_timeout=settings.database_pool_timeout,
        )
        secret_key = settings.resolved_secret_key()
        keys = await load_or_create(engine, secret_key)
        external = ExternalKeys(settings.oauth_jwks_url) if settings.oauth_jwks_url else None
        verifier = TokenVerifier(
            keys.public, settings.oauth_issuer, settings.oauth_audience, external
        )
        issuer = TokenIssuer(
            keys.current,
            settings.oauth_issuer,
            settings.oauth_audience,
            settings.token_ttl_seconds,
        )
        schema = build_schema(
            introspection=settings.introspection_enabled,
            production=settings.is_production,
            query_cost_limit=settings.query_cost_limit,
        )
        limiter = None
        if settings.rate_limits:
            redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
            limiter = RateLimiter.from_url(redis_url)
        app.state.engine = engine
        app.state.keys = keys
        app.state.issuer = issuer
        app.state.auth_backend = BearerTokenBackend(
            verifier, frozenset({"/graphql"}), prefixes=("/invoices/",)
        )
        planner = None
        if settings.planned_reads:
            planner = Planner(schema._schema, engine.dialect, [*specified_rules, *LIMIT_RULES])
        payment_providers = PaymentProviders(money_engine, settings)
        app.state.graphql = GraphQLEndpoint(
            schema,
            engine,
            graphiql=_graphiql_page(settings, issuer),
            production=settings.is_production,
            statement_timeout=settings.statement_timeout,
            planner=planner,
            verify_planned=settings.planned_reads_verify,
            clock=clock,
            payment_providers=payment_providers,
            money_engine=money_engine,
            secret_box=SecretBox(secret_key),
            webhook_destinations=WebhookDestinations(
                production=settings.is_production, resolve=resolve
            ),
            query_costs=QueryCosts(schema._schema, settings.query_cost_limit),
            rates=None if limiter is None else GraphQLRates(limiter, settings),
        )
        app.state.token = TokenEndpoint(
            engine, issuer, None if limiter is None else TokenThrottle(limiter, settings)
        )
        sink = settlement_sink or RecordedSettlements(
            money_engine, "stripe", settings.dunning_policy(), clock
        )
        app.state.stripe_webhook = StripeWebhookEndpoint(settings, sink)
        app.state.invoice_pdf = InvoicePdfEndpoint(engine, settings.statement_timeout)
        app.state.readiness = Readiness(engine)
        stop_tracking = install_task_tracking(asyncio.get_running_loop())
        # What start-up built (the schema, plans' SQL, modules) lives as long as the process:
        # kept out of the collector's full passes, which otherwise stall a request now and then.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            stop_tracking()
            if limiter is not None:
                await limiter.aclose()
            await payment_providers.aclose()
            await money_engine.dispose()
            await engine.dispose()
            if provider is not None:
                untrace_sql()
            if provider is not None and tracer_provider is None:
                provider.shutdown()  # sends the spans still batched

    routes = [
        Route("/graphql", _graphql, methods=["GET", "POST"]),
        *_graphiql_assets(settings),
        Route("/oauth/token", _token, methods=["POST"]),
        Route("/.well-known/jwks.json", _jwks, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", _ready, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/invoices/{invoice_id}/pdf", _invoice_pdf, methods=["GET"]),
        Route("/providers/stripe/webhook/{account_id}", _stripe_webhook, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
        middleware=[
            # The server span covers the whole request; the log line, written inside it,
            # carries its trace id.
            *http_tracing(provider),
            Middleware(RequestLog),
            Middleware(MetricsMiddleware),
            Middleware(ServerErrors),
            Middleware(
                AuthenticationMiddleware, backend=_StateBackend(), on_error=_unauthenticated
            ),
        ],
    )
    app.state.tracer_provider = provider
    return app
