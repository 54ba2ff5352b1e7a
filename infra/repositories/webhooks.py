"""Webhook endpoints in PostgreSQL, their signing secrets sealed with SECRET_KEY
(infra/secret_box.py). Reads never select the secrets; only `signing_secrets` opens them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from domain.queries import PageRequest
from domain.webhooks import SigningSecrets, WebhookEndpoint
from infra.db import TenantConnection
from infra.pagination import paginate
from infra.secret_box import SecretBox
from infra.tables import webhook_endpoints

# Every column but the secrets: what reading an endpoint may see.
_SHOWN = [
    column
    for column in webhook_endpoints.c
    if column.name
    not in (
        "secret",
        "previous_secret",
        "tenant_id",
        "cursor_xid",
        "cursor_seq",
        "consecutive_failures",
    )
]


def webhook_endpoint_from_row(row: Any) -> WebhookEndpoint:
    values = row._mapping if hasattr(row, "_mapping") else row
    return WebhookEndpoint(
        id=values["id"],
        url=values["url"],
        events=tuple(values["events"]),
        description=values["description"],
        created_at=values["created_at"],
        previous_secret_expires_at=values["previous_secret_expires_at"],
        disabled_at=values["disabled_at"],
        disabled_reason=values["disabled_reason"],
    )


class SqlWebhookEndpointRepository:
    """`box` seals and opens the secrets; a unit of work built without one (tests and tools
    that never touch webhooks) refuses to handle them."""

    def __init__(self, db: TenantConnection, box: SecretBox | None) -> None:
        self._db = db
        self._box = box

    def _where(self, endpoint_id: str) -> list[Any]:
        return [
            webhook_endpoints.c.tenant_id == self._db.tenant_id,
            webhook_endpoints.c.id == endpoint_id,
        ]

    def _bound_to(self, endpoint_id: str) -> str:
        # The tenant and the endpoint, not the column: rotation moves the current secret's
        # ciphertext to previous_secret as it is.
        return f"webhook_endpoints/{self._db.tenant_id}/{endpoint_id}"

    def _secret_box(self) -> SecretBox:
        if self._box is None:
            raise RuntimeError("this unit of work was built without a SecretBox (SECRET_KEY)")
        return self._box

    def _seal(self, endpoint_id: str, secret: str) -> bytes:
        return self._secret_box().seal(secret.encode("ascii"), bound_to=self._bound_to(endpoint_id))

    def _open(self, endpoint_id: str, sealed: bytes) -> str:
        box = self._secret_box()
        return box.open(sealed, bound_to=self._bound_to(endpoint_id)).decode("ascii")

    async def add(self, endpoint: WebhookEndpoint, secret: str) -> WebhookEndpoint:
        statement = (
            insert(webhook_endpoints)
            .values(
                tenant_id=self._db.tenant_id,
                id=endpoint.id,
                url=endpoint.url,
                events=list(endpoint.events),
                description=endpoint.description,
                secret=self._seal(endpoint.id, secret),
            )
            .returning(*_SHOWN)
        )
        return webhook_endpoint_from_row((await self._db.execute(statement)).one())

    async def get(self, endpoint_id: str, *, for_update: bool = False) -> WebhookEndpoint | None:
        statement = select(*_SHOWN).where(*self._where(endpoint_id))
        if for_update:
            statement = statement.with_for_update()
        row = (await self._db.execute(statement)).first()
        return None if row is None else webhook_endpoint_from_row(row)

    async def rotate_secret(
        self, endpoint_id: str, secret: str, previous_expires_at: datetime
    ) -> WebhookEndpoint:
        # In SET, `secret` on the right is the row's value before the update.
        statement = (
            update(webhook_endpoints)
            .where(*self._where(endpoint_id))
            .values(
                previous_secret=webhook_endpoints.c.secret,
                previous_secret_expires_at=previous_expires_at,
                secret=self._seal(endpoint_id, secret),
            )
            .returning(*_SHOWN)
        )
        return webhook_endpoint_from_row((await self._db.execute(statement)).one())

    async def delete(self, endpoint_id: str) -> bool:
        result = await self._db.execute(delete(webhook_endpoints).where(*self._where(endpoint_id)))
        return bool(result.rowcount)

    async def enable(self, endpoint_id: str) -> WebhookEndpoint:
        statement = (
            update(webhook_endpoints)
            .where(*self._where(endpoint_id))
            .values(disabled_at=None, disabled_reason=None, consecutive_failures=0)
            .returning(*_SHOWN)
        )
        return webhook_endpoint_from_row((await self._db.execute(statement)).one())

    async def signing_secrets(self, endpoint_id: str, now: datetime) -> SigningSecrets | None:
        return (await self.signing_secrets_of([endpoint_id], now)).get(endpoint_id)

    async def signing_secrets_of(
        self, endpoint_ids: Sequence[str], now: datetime
    ) -> dict[str, SigningSecrets]:
        """The secrets each endpoint's deliveries at `now` are signed with, in one statement
        (an endpoint that no longer exists is absent)."""
        statement = select(
            webhook_endpoints.c.id,
            webhook_endpoints.c.secret,
            webhook_endpoints.c.previous_secret,
            webhook_endpoints.c.previous_secret_expires_at,
        ).where(
            webhook_endpoints.c.tenant_id == self._db.tenant_id,
            webhook_endpoints.c.id.in_(list(endpoint_ids)),
        )
        found = {}
        for row in await self._db.execute(statement):
            previous = None
            if row.previous_secret is not None and row.previous_secret_expires_at > now:
                previous = self._open(row.id, row.previous_secret)
            found[row.id] = SigningSecrets(self._open(row.id, row.secret), previous)
        return found


class SqlWebhookEndpointReads:
    """The read path's webhook endpoints (domain.webhooks.WebhookEndpointReads), in the
    request's tenant: one statement per call, secrets never selected."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[str]) -> list[WebhookEndpoint | None]:
        statement = select(*_SHOWN).where(
            webhook_endpoints.c.tenant_id == self._db.tenant_id,
            webhook_endpoints.c.id.in_(list(ids)),
        )
        found = {
            row.id: webhook_endpoint_from_row(row) for row in await self._db.execute(statement)
        }
        return [found.get(endpoint_id) for endpoint_id in ids]

    async def page(self, descending: bool, page: PageRequest) -> list[WebhookEndpoint]:
        statement = paginate(
            select(*_SHOWN).where(webhook_endpoints.c.tenant_id == self._db.tenant_id),
            webhook_endpoints.c.created_at,
            webhook_endpoints.c.id,
            descending=descending,
            page=page,
        )
        return [webhook_endpoint_from_row(row) for row in await self._db.execute(statement)]

    async def count(self) -> int:
        statement = select(func.count()).where(webhook_endpoints.c.tenant_id == self._db.tenant_id)
        return int((await self._db.execute(statement)).scalar_one())
