"""Subscriptions and their items (the prices they are billed on) in PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, text, update

from domain.queries import PageRequest, SubscriptionFilter
from domain.subscriptions import CollectionMethod, Subscription, SubscriptionStatus
from infra import jsoncodec
from infra.db import TenantConnection
from infra.pagination import paginate
from infra.tables import subscription_items, subscriptions

# The subscription's prices, gathered with it in one statement (the planned path reads
# them so too).
PRICE_IDS = (
    select(func.array_agg(subscription_items.c.price_id))
    .where(
        subscription_items.c.tenant_id == subscriptions.c.tenant_id,
        subscription_items.c.subscription_id == subscriptions.c.id,
    )
    .scalar_subquery()
    .label("price_ids")
)
COLUMNS = (*subscriptions.c, PRICE_IDS)

_SAVE_MANY = text(
    """
    UPDATE subscriptions AS s
    SET status = r.status, current_period_start = r.current_period_start,
        current_period_end = r.current_period_end, ended_at = r.ended_at,
        updated_at = r.updated_at
    FROM json_to_recordset(CAST(:rows AS json)) AS r (
        id text, status text, current_period_start timestamptz,
        current_period_end timestamptz, ended_at timestamptz, updated_at timestamptz)
    WHERE s.tenant_id = :tenant_id AND s.id = r.id
    """
)


def subscription_from_row(row: Any) -> Subscription:
    values = row._mapping if hasattr(row, "_mapping") else row
    return Subscription(
        id=values["id"],
        customer_id=values["customer_id"],
        plan_id=values["plan_id"],
        status=SubscriptionStatus(values["status"]),
        currency=values["currency"],
        quantity=values["quantity"],
        price_ids=tuple(sorted(values["price_ids"] or ())),
        start=values["start_at"],
        billing_cycle_anchor=values["billing_cycle_anchor"],
        trial_end=values["trial_end"],
        current_period_start=values["current_period_start"],
        current_period_end=values["current_period_end"],
        cancel_at_period_end=values["cancel_at_period_end"],
        canceled_at=values["canceled_at"],
        ended_at=values["ended_at"],
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        collection_method=CollectionMethod(
            values.get("collection_method", CollectionMethod.CHARGE_AUTOMATICALLY.value)
        ),
    )


def _changeable(subscription: Subscription) -> dict[str, Any]:
    return {
        "plan_id": subscription.plan_id,
        "status": subscription.status.value,
        "quantity": subscription.quantity,
        "billing_cycle_anchor": subscription.billing_cycle_anchor,
        "current_period_start": subscription.current_period_start,
        "current_period_end": subscription.current_period_end,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "canceled_at": subscription.canceled_at,
        "ended_at": subscription.ended_at,
        "updated_at": subscription.updated_at,
        "collection_method": subscription.collection_method.value,
    }


class SqlSubscriptionRepository:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def add(self, subscription: Subscription) -> Subscription:
        await self._db.execute(
            insert(subscriptions).values(
                tenant_id=self._db.tenant_id,
                id=subscription.id,
                customer_id=subscription.customer_id,
                currency=subscription.currency,
                start_at=subscription.start,
                trial_end=subscription.trial_end,
                created_at=subscription.created_at,
                **_changeable(subscription),
            )
        )
        await self._add_items(subscription)
        return subscription

    async def _add_items(self, subscription: Subscription) -> None:
        if subscription.price_ids:
            await self._db.execute(
                insert(subscription_items),
                [
                    {
                        "tenant_id": self._db.tenant_id,
                        "subscription_id": subscription.id,
                        "price_id": price_id,
                    }
                    for price_id in subscription.price_ids
                ],
            )

    async def get(self, subscription_id: str, *, for_update: bool = False) -> Subscription | None:
        statement = select(*COLUMNS).where(
            subscriptions.c.tenant_id == self._db.tenant_id, subscriptions.c.id == subscription_id
        )
        if for_update:
            statement = statement.with_for_update(of=subscriptions)
        row = (await self._db.execute(statement)).first()
        return None if row is None else subscription_from_row(row)

    async def save(self, subscription: Subscription) -> Subscription:
        before = await self.get(subscription.id)
        await self._db.execute(
            update(subscriptions)
            .where(
                subscriptions.c.tenant_id == self._db.tenant_id,
                subscriptions.c.id == subscription.id,
            )
            .values(**_changeable(subscription))
        )
        if before is not None and before.price_ids != subscription.price_ids:
            await self._db.execute(
                delete(subscription_items).where(
                    subscription_items.c.tenant_id == self._db.tenant_id,
                    subscription_items.c.subscription_id == subscription.id,
                )
            )
            await self._add_items(subscription)
        return subscription

    async def save_many(self, changed: Sequence[Subscription]) -> None:
        # One statement, the rows as one JSON array (infra.bulk): a batch of the billing
        # run moves hundreds of subscriptions on.
        if not changed:
            return
        rows = jsoncodec.dumps(
            [
                {
                    "id": s.id,
                    "status": s.status.value,
                    "current_period_start": s.current_period_start,
                    "current_period_end": s.current_period_end,
                    "ended_at": s.ended_at,
                    "updated_at": s.updated_at,
                }
                for s in changed
            ]
        ).decode()
        await self._db.execute(_SAVE_MANY, {"tenant_id": self._db.tenant_id, "rows": rows})

    async def claim_due(self, as_of: datetime, limit: int) -> list[Subscription]:
        # Oldest period end first; SKIP LOCKED lets other workers claim the next ones.
        claimed = (
            select(subscriptions.c.id)
            .where(
                subscriptions.c.tenant_id == self._db.tenant_id,
                subscriptions.c.status != SubscriptionStatus.CANCELED.value,
                subscriptions.c.current_period_end <= as_of,
            )
            .order_by(subscriptions.c.current_period_end, subscriptions.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("claimed")
        )
        statement = select(*COLUMNS).where(
            and_(
                subscriptions.c.tenant_id == self._db.tenant_id,
                subscriptions.c.id.in_(select(claimed.c.id)),
            )
        )
        rows = await self._db.execute(statement)
        found = [subscription_from_row(row) for row in rows]
        found.sort(key=lambda s: (s.current_period_end, s.id))
        return found


def _filtered(db: TenantConnection, where: SubscriptionFilter, columns: Any) -> Any:
    statement = select(*columns).where(subscriptions.c.tenant_id == db.tenant_id)
    if where.statuses:
        statement = statement.where(subscriptions.c.status.in_(list(where.statuses)))
    if where.customer_id is not None:
        statement = statement.where(subscriptions.c.customer_id == where.customer_id)
    if where.plan_id is not None:
        statement = statement.where(subscriptions.c.plan_id == where.plan_id)
    return statement


class SqlSubscriptionReads:
    """The read path's subscriptions (domain.ports.SubscriptionReads), in the request's
    tenant."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[str]) -> list[Subscription | None]:
        statement = select(*COLUMNS).where(
            subscriptions.c.tenant_id == self._db.tenant_id, subscriptions.c.id.in_(list(ids))
        )
        found = {row.id: subscription_from_row(row) for row in await self._db.execute(statement)}
        return [found.get(subscription_id) for subscription_id in ids]

    async def page(
        self, where: SubscriptionFilter, descending: bool, page: PageRequest
    ) -> list[Subscription]:
        statement = paginate(
            _filtered(self._db, where, COLUMNS),
            subscriptions.c.created_at,
            subscriptions.c.id,
            descending=descending,
            page=page,
        )
        return [subscription_from_row(row) for row in await self._db.execute(statement)]

    async def count(self, where: SubscriptionFilter) -> int:
        statement = _filtered(self._db, where, [func.count()])
        return int((await self._db.execute(statement)).scalar_one())

    async def by_customers(self, customer_ids: Sequence[str]) -> list[list[Subscription]]:
        statement = (
            select(*COLUMNS)
            .where(
                subscriptions.c.tenant_id == self._db.tenant_id,
                subscriptions.c.customer_id.in_(list(customer_ids)),
            )
            .order_by(subscriptions.c.created_at.desc(), subscriptions.c.id.desc())
        )
        grouped: dict[str, list[Subscription]] = {customer_id: [] for customer_id in customer_ids}
        for row in await self._db.execute(statement):
            if len(grouped[row.customer_id]) < 100:
                grouped[row.customer_id].append(subscription_from_row(row))
        return [grouped[customer_id] for customer_id in customer_ids]
