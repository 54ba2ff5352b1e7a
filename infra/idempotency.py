"""Idempotency-Key for mutations (API.md, Stripe's semantics, Brandur's PostgreSQL design).

The key is claimed with a transaction-scoped advisory lock, inside the same transaction
as the mutation and the stored response. So: a concurrent duplicate finds the lock taken
(IDEMPOTENCY_KEY_IN_USE) at once; a crash releases the lock and rolls everything back, so
a retry runs afresh; a finished request's response is replayed byte for byte.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.errors import ErrorCode
from infra import jsoncodec
from infra.db import TenantConnection, tenant_transaction
from infra.repositories.accounts import all_account_ids
from infra.tables import idempotency_keys

RETENTION = timedelta(hours=24)
MAX_KEY_LENGTH = 255
_TRY_LOCK = text("select pg_try_advisory_xact_lock(hashtextextended(:tenant_id || '/' || :key, 0))")


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes


class IdempotencyError(Exception):
    def __init__(self, code: ErrorCode, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


def fingerprint(
    document: str, operation_name: str | None, variables: Any, scopes: frozenset[str]
) -> str:
    """What makes two requests "the same": the normalised document, operation, variables and
    the caller's scopes (so a replay never hands a response to a token that could not have
    asked for it)."""
    try:
        payload = jsoncodec.dumps(
            [document, operation_name, variables or {}, sorted(scopes)], sort_keys=True
        )
    except TypeError:  # orjson writes at most 255 levels of nesting
        raise IdempotencyError(
            ErrorCode.INVALID, 400, "The variables are nested too deeply (255 levels at most)."
        ) from None
    return hashlib.sha256(payload).hexdigest()


def check_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise IdempotencyError(
            ErrorCode.INVALID,
            400,
            f"Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable characters.",
        )


async def claim(db: TenantConnection, key: str, request_fingerprint: str) -> StoredResponse | None:
    """Lock the key for this transaction; the stored response if the request already ran."""
    locked = (await db.execute(_TRY_LOCK, {"tenant_id": db.tenant_id, "key": key})).scalar_one()
    if not locked:
        raise IdempotencyError(
            ErrorCode.IDEMPOTENCY_KEY_IN_USE,
            409,
            "A request with this Idempotency-Key is still in progress; retry later.",
        )
    row = (
        await db.execute(
            select(idempotency_keys).where(
                idempotency_keys.c.tenant_id == db.tenant_id,
                idempotency_keys.c.key == key,
                idempotency_keys.c.expires_at > func.now(),
            )
        )
    ).first()
    if row is None:
        return None
    if row.fingerprint != request_fingerprint:
        raise IdempotencyError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            422,
            "This Idempotency-Key was used with a different request; use a new key.",
        )
    return StoredResponse(row.response_status, row.response_body)


async def remember(
    db: TenantConnection, key: str, request_fingerprint: str, response: StoredResponse
) -> None:
    values = {
        "fingerprint": request_fingerprint,
        "response_status": response.status,
        "response_body": response.body,
        "created_at": func.now(),
        "expires_at": func.now() + RETENTION,
    }
    statement = insert(idempotency_keys).values(tenant_id=db.tenant_id, key=key, **values)
    # An expired record not yet cleaned up is replaced.
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=[idempotency_keys.c.tenant_id, idempotency_keys.c.key], set_=values
        )
    )


async def delete_expired(engine: AsyncEngine) -> int:
    """Remove expired records, tenant by tenant (row-level security sees one at a time)."""
    async with engine.connect() as conn:
        tenants = await all_account_ids(conn)
    removed = 0
    for tenant_id in tenants:
        async with tenant_transaction(engine, tenant_id) as db:
            result = await db.execute(
                delete(idempotency_keys).where(
                    idempotency_keys.c.tenant_id == tenant_id,
                    idempotency_keys.c.expires_at <= func.now(),
                )
            )
            removed += result.rowcount or 0
    return removed
