"""Every answer is the API's JSON (API.md, Errors), whatever went wrong.

`error_response` is a request error of the caller's; `server_error_response` is ours: the
database unavailable (503 `DATABASE_UNAVAILABLE` with `Retry-After`) or anything
unexpected (500 `INTERNAL_SERVER_ERROR`), each with an `errorId` that the log carries too.
`ServerErrors` answers so whatever escapes the app, instead of Starlette's plain text.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra import jsoncodec
from infra.db_errors import is_database_unavailable

RETRY_AFTER_SECONDS = 2
_log = logging.getLogger("ledgerline.errors")


def error_response(
    status: int, message: str, code: str, headers: dict[str, str] | None = None
) -> Response:
    return json_errors(status, [{"message": message, "extensions": {"code": code}}], headers)


def json_errors(
    status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None = None
) -> Response:
    body = jsoncodec.dumps({"errors": errors})
    return Response(body, status, headers=headers, media_type="application/json")


def new_error_id() -> str:
    return secrets.token_hex(8)


def server_error(error: BaseException, where: str = "request") -> tuple[int, dict[str, Any]]:
    """Logs `error` under a new error id; (status, the error entry to answer with)."""
    error_id = new_error_id()
    if is_database_unavailable(error):
        _log.warning("database unavailable %s at %s: %s", error_id, where, _describe(error))
        return 503, {
            "message": "The database is unavailable; retry shortly.",
            "extensions": {"code": "DATABASE_UNAVAILABLE", "errorId": error_id},
        }
    _log.error("unexpected error %s at %s", error_id, where, exc_info=error)
    return 500, {
        "message": "Unexpected error.",
        "extensions": {"code": "INTERNAL_SERVER_ERROR", "errorId": error_id},
    }


def server_error_response(error: BaseException, where: str = "request") -> Response:
    status, entry = server_error(error, where)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return json_errors(status, [entry], headers)


def _describe(error: BaseException) -> str:
    # The class names of the chain, not messages: a message may quote SQL parameters.
    names: list[str] = []
    current: BaseException | None = error
    while current is not None and len(names) < 4:
        names.append(type(current).__name__)
        current = current.__cause__ or current.__context__
    return " <- ".join(names)


class ServerErrors:
    """Outermost middleware: an exception that escapes the app is answered as JSON (and not
    raised on, so the connection stays usable) unless the answer had already begun."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_note(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception as error:
            response = server_error_response(error, scope.get("path", "request"))
            if not started:
                await response(scope, receive, send)
