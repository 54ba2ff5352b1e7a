"""An HTTP client on the app that sees what a real client sees when the app raises:
Starlette's answer (a plain-text 500 today) rather than the exception httpx would re-raise,
with the exception kept so that a failing test can say what went wrong on the server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx


class ErrorRecordingApp:
    """Runs the ASGI app; an exception it lets escape (after Starlette has answered) is kept
    in `errors` instead of failing the client's call."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.errors: list[BaseException] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:  # the server would log it; the client got Starlette's 500
            self.errors.append(exc)

    def describe(self) -> str:
        if not self.errors:
            return ""
        last = self.errors[-1]
        return f"\nserver raised ({len(self.errors)} so far), last: {type(last).__name__}: {last}"


class RecordingClient(httpx.AsyncClient):
    """A client on the app through an `ErrorRecordingApp` (its `recorder`)."""

    def __init__(self, app: Any) -> None:
        self.recorder = ErrorRecordingApp(app)
        transport = httpx.ASGITransport(app=self.recorder, raise_app_exceptions=False)
        super().__init__(transport=transport, base_url="http://ledgerline.test")


def server_errors(client: httpx.AsyncClient) -> str:
    """What the app raised so far through `client`, for an assertion's message."""
    return client.recorder.describe() if isinstance(client, RecordingClient) else ""


@asynccontextmanager
async def recording_client(app: Any) -> AsyncIterator[RecordingClient]:
    async with RecordingClient(app) as client:
        yield client
