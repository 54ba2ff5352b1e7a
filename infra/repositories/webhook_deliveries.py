"""Webhook deliveries and their attempts in PostgreSQL, as the API reads and retries them.
What the dispatcher does with them (fan-out, claims, results) is in
infra/repositories/webhook_outbox.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, text, update

from domain.webhook_deliveries import DeliveryStatus, WebhookDelivery, WebhookDeliveryAttempt
from infra.db import TenantConnection
from infra.tables import webhook_deliveries, webhook_delivery_attempts

_SHOWN = [
    webhook_deliveries.c.id,
    webhook_deliveries.c.endpoint_id,
    webhook_deliveries.c.event_id,
    webhook_deliveries.c.event_type,
    webhook_deliveries.c.object_id,
    webhook_deliveries.c.status,
    webhook_deliveries.c.attempts,
    webhook_deliveries.c.next_attempt_at,
    webhook_deliveries.c.created_at,
    webhook_deliveries.c.completed_at,
]

_RECENT_BY_ENDPOINTS = text(
    f"""
    SELECT newest.* FROM unnest(CAST(:endpoint_ids AS text[])) AS wanted (endpoint_id)
    CROSS JOIN LATERAL (
        SELECT {", ".join(column.name for column in _SHOWN)} FROM webhook_deliveries
        WHERE tenant_id = :tenant_id AND endpoint_id = wanted.endpoint_id
        ORDER BY created_at DESC, id DESC
        LIMIT :limit
    ) AS newest
    """
)


def webhook_delivery_from_row(row: Any) -> WebhookDelivery:
    status = DeliveryStatus(row.status)
    return WebhookDelivery(
        id=row.id,
        endpoint_id=row.endpoint_id,
        event_id=row.event_id,
        event_type=row.event_type,
        object_id=row.object_id,
        status=status,
        attempt_count=row.attempts,
        next_attempt_at=row.next_attempt_at if status is DeliveryStatus.PENDING else None,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


def _attempt_from_row(row: Any) -> WebhookDeliveryAttempt:
    return WebhookDeliveryAttempt(
        delivery_id=row.delivery_id,
        attempted_at=row.attempted_at,
        status_code=row.status_code,
        latency_ms=row.latency_ms,
        error=row.error,
        succeeded=row.succeeded,
    )


class SqlWebhookDeliveryRepository:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    def _where(self, delivery_id: str) -> list[Any]:
        return [
            webhook_deliveries.c.tenant_id == self._db.tenant_id,
            webhook_deliveries.c.id == delivery_id,
        ]

    async def get(self, delivery_id: str, *, for_update: bool = False) -> WebhookDelivery | None:
        statement = select(*_SHOWN).where(*self._where(delivery_id))
        if for_update:
            statement = statement.with_for_update()
        row = (await self._db.execute(statement)).first()
        return None if row is None else webhook_delivery_from_row(row)

    async def schedule_now(self, delivery_id: str) -> WebhookDelivery:
        # A lease in flight is left alone: that worker's answer still counts, and this
        # delivery is sent again once it is recorded.
        statement = (
            update(webhook_deliveries)
            .where(*self._where(delivery_id))
            .values(
                status=DeliveryStatus.PENDING.value,
                next_attempt_at=func.clock_timestamp(),
                completed_at=None,
            )
            .returning(*_SHOWN)
        )
        return webhook_delivery_from_row((await self._db.execute(statement)).one())


class SqlWebhookDeliveryReads:
    """The read path's deliveries (domain.webhook_deliveries.WebhookDeliveryReads), in the
    request's tenant: one statement per call."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[str]) -> list[WebhookDelivery | None]:
        statement = select(*_SHOWN).where(
            webhook_deliveries.c.tenant_id == self._db.tenant_id,
            webhook_deliveries.c.id.in_(list(ids)),
        )
        found = {
            row.id: webhook_delivery_from_row(row) for row in await self._db.execute(statement)
        }
        return [found.get(delivery_id) for delivery_id in ids]

    async def recent_by_endpoints(
        self, endpoint_ids: Sequence[str], limit: int
    ) -> list[list[WebhookDelivery]]:
        # Each endpoint's newest rows through its (tenant_id, endpoint_id, created_at, id)
        # index: a lateral join reads `limit` rows per endpoint, not all of them.
        rows = await self._db.execute(
            _RECENT_BY_ENDPOINTS,
            {"tenant_id": self._db.tenant_id, "endpoint_ids": list(endpoint_ids), "limit": limit},
        )
        grouped: dict[str, list[WebhookDelivery]] = {key: [] for key in endpoint_ids}
        for row in rows:
            grouped[row.endpoint_id].append(webhook_delivery_from_row(row))
        for deliveries in grouped.values():
            deliveries.sort(key=lambda d: (d.created_at, d.id), reverse=True)
        return [grouped[key] for key in endpoint_ids]

    async def attempts_by_deliveries(
        self, delivery_ids: Sequence[str]
    ) -> list[list[WebhookDeliveryAttempt]]:
        attempts = webhook_delivery_attempts
        statement = (
            select(attempts)
            .where(
                attempts.c.tenant_id == self._db.tenant_id,
                attempts.c.delivery_id.in_(list(delivery_ids)),
            )
            .order_by(attempts.c.delivery_id, attempts.c.id)
        )
        grouped: dict[str, list[WebhookDeliveryAttempt]] = {key: [] for key in delivery_ids}
        for row in await self._db.execute(statement):
            grouped[row.delivery_id].append(_attempt_from_row(row))
        return [grouped[key] for key in delivery_ids]
