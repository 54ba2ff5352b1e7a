"""Which database errors mean "the database is unavailable" and which the server reported.

A request that meets the first kind did nothing durable (or, for a commit cut short, the
caller's Idempotency-Key retry finds out what): it answers 503 with `Retry-After`, never
the 500 of a bug.
"""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
from sqlalchemy import exc

# SQLSTATE classes and codes (PostgreSQL appendix A) after which retrying later can work:
# connection exceptions, insufficient resources, a server shutting down or starting, and a
# statement cancelled (statement_timeout, or pg_cancel_backend by an operator).
_UNAVAILABLE_CLASSES = ("08", "53")
_UNAVAILABLE_CODES = frozenset({"57014", "57P01", "57P02", "57P03", "57P05"})
# Of those, the ones after which the server closes the connection.
_CONNECTION_ENDING_CODES = frozenset({"57P01", "57P02", "57P03", "57P05"})


class DatabaseUnavailable(Exception):
    """The database could not be reached, dropped the connection or did not answer in time;
    the work in progress was rolled back."""


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend((current.__cause__, current.__context__, getattr(current, "orig", None)))


def _sqlstate(error: BaseException) -> str | None:
    state = getattr(error, "sqlstate", None)
    return state if isinstance(state, str) else None


def is_database_unavailable(error: BaseException) -> bool:
    for cause in _chain(error):
        if isinstance(cause, DatabaseUnavailable | exc.TimeoutError):  # pool checkout timed out
            return True
        if isinstance(cause, exc.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(
            cause,
            asyncpg.ConnectionDoesNotExistError
            | asyncpg.CannotConnectNowError
            | asyncpg.TooManyConnectionsError
            | ConnectionError
            | TimeoutError,
        ):
            return True
        if isinstance(cause, OSError):  # refused, unreachable, the socket went away
            return True
        if isinstance(cause, asyncpg.InterfaceError) and "connection is closed" in str(cause):
            return True
        state = _sqlstate(cause)
        if state and (state[:2] in _UNAVAILABLE_CLASSES or state in _UNAVAILABLE_CODES):
            return True
    return False


def is_lock_timeout(error: BaseException) -> bool:
    """A lock was not granted within the transaction's lock_timeout (55P03)."""
    return any(_sqlstate(cause) == "55P03" for cause in _chain(error))


def is_server_reported(error: BaseException) -> bool:
    """The server answered the statement with an error: the protocol is in step, and the
    transaction is as PostgreSQL says (a savepoint or the request's rollback clears it)."""
    for cause in _chain(error):
        state = _sqlstate(cause)
        if state is not None and isinstance(cause, asyncpg.PostgresError):
            return not (state.startswith("08") or state in _CONNECTION_ENDING_CODES)
    return False
