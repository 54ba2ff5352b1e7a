"""Liveness, readiness and metrics."""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# prometheus-client's multiprocess mode: set (by `ledgerline serve`) before workers start.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "ledgerline_http_requests_total", "HTTP requests answered", ["method", "path", "status"]
)
LATENCY = Histogram(
    "ledgerline_http_request_seconds", "Time to answer an HTTP request", ["method", "path"]
)
_KNOWN_PATHS = {
    "/graphql",
    "/oauth/token",
    "/.well-known/jwks.json",
    "/healthz",
    "/readyz",
    "/metrics",
}
# Paths with an id in them, counted under their route's name (not one series per id).
_ROUTE_PREFIXES = {
    "/invoices/": "/invoices/{id}/pdf",
    "/providers/stripe/webhook/": "/providers/stripe/webhook/{account_id}",
}


def route_of(path: str) -> str:
    if path in _KNOWN_PATHS:
        return path
    for prefix, route in _ROUTE_PREFIXES.items():
        if path.startswith(prefix):
            return route
    return "other"


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


class Readiness:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def __call__(self, _request: Request) -> Response:
        try:
            async with self._engine.connect() as conn:
                await conn.execute(text("select 1"))
        except Exception:  # any failure to reach the database means "not ready"
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "database": "ok"})


async def metrics(_request: Request) -> Response:
    if os.environ.get(MULTIPROCESS_DIR):
        # Several worker processes (WORKERS > 1): each writes its samples to files in that
        # directory, and whichever worker answers adds them all up.
        registry = CollectorRegistry()
        # prometheus-client leaves this constructor unannotated.
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts and times requests; unknown paths are grouped so labels stay bounded."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_of(scope["path"])
        method = scope["method"]
        started = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            LATENCY.labels(method, path).observe(time.perf_counter() - started)
            REQUESTS.labels(method, path, str(status)).inc()
