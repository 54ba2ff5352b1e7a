"""Payment methods in PostgreSQL (domain.payment_methods' ports)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select, true, update

from domain.payment_methods import LISTED_PER_CUSTOMER, PaymentMethod
from infra.db import TenantConnection
from infra.tables import payment_methods


def payment_method_from_row(row: Any) -> PaymentMethod:
    return PaymentMethod(
        id=row.id,
        customer_id=row.customer_id,
        provider=row.provider,
        provider_reference=row.provider_reference,
        brand=row.brand,
        last4=row.last4,
        exp_month=row.exp_month,
        exp_year=row.exp_year,
        fingerprint=row.fingerprint,
        is_default=row.is_default,
        created_at=row.created_at,
        detached_at=row.detached_at,
    )


class SqlPaymentMethodRepository:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def add(self, method: PaymentMethod) -> PaymentMethod:
        statement = (
            insert(payment_methods)
            .values(
                tenant_id=self._db.tenant_id,
                id=method.id,
                customer_id=method.customer_id,
                provider=method.provider,
                provider_reference=method.provider_reference,
                brand=method.brand,
                last4=method.last4,
                exp_month=method.exp_month,
                exp_year=method.exp_year,
                fingerprint=method.fingerprint,
                is_default=method.is_default,
                created_at=method.created_at,
            )
            .returning(*payment_methods.c)
        )
        return payment_method_from_row((await self._db.execute(statement)).one())

    async def get(self, payment_method_id: str) -> PaymentMethod | None:
        statement = select(payment_methods).where(
            payment_methods.c.tenant_id == self._db.tenant_id,
            payment_methods.c.id == payment_method_id,
        )
        row = (await self._db.execute(statement)).first()
        return None if row is None else payment_method_from_row(row)

    async def default_of(self, customer_id: str) -> PaymentMethod | None:
        statement = select(payment_methods).where(
            payment_methods.c.tenant_id == self._db.tenant_id,
            payment_methods.c.customer_id == customer_id,
            payment_methods.c.is_default.is_(true()),
        )
        row = (await self._db.execute(statement)).first()
        return None if row is None else payment_method_from_row(row)

    async def set_default(self, customer_id: str, payment_method_id: str | None) -> None:
        # The old default is cleared first, in a statement of its own: the unique index on
        # one default per customer is checked row by row, so one UPDATE swapping both
        # could be refused half-way.
        clear = update(payment_methods).where(
            payment_methods.c.tenant_id == self._db.tenant_id,
            payment_methods.c.customer_id == customer_id,
            payment_methods.c.is_default.is_(true()),
        )
        if payment_method_id is not None:
            clear = clear.where(payment_methods.c.id != payment_method_id)
        await self._db.execute(clear.values(is_default=False))
        if payment_method_id is not None:
            await self._db.execute(
                update(payment_methods)
                .where(
                    payment_methods.c.tenant_id == self._db.tenant_id,
                    payment_methods.c.customer_id == customer_id,
                    payment_methods.c.id == payment_method_id,
                )
                .values(is_default=True)
            )

    async def detach(self, payment_method_id: str) -> PaymentMethod:
        statement = (
            update(payment_methods)
            .where(
                payment_methods.c.tenant_id == self._db.tenant_id,
                payment_methods.c.id == payment_method_id,
            )
            .values(is_default=False, detached_at=func.clock_timestamp())
            .returning(*payment_methods.c)
        )
        return payment_method_from_row((await self._db.execute(statement)).one())


class SqlPaymentMethodReads:
    """The read path's payment methods (domain.payment_methods.PaymentMethodReads), in the
    request's tenant: one statement per call."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[str]) -> list[PaymentMethod | None]:
        statement = select(payment_methods).where(
            payment_methods.c.tenant_id == self._db.tenant_id,
            payment_methods.c.id.in_(list(ids)),
        )
        found = {row.id: payment_method_from_row(row) for row in await self._db.execute(statement)}
        return [found.get(method_id) for method_id in ids]

    async def by_customers(self, customer_ids: Sequence[str]) -> list[list[PaymentMethod]]:
        rank = (
            func.row_number()
            .over(
                partition_by=payment_methods.c.customer_id,
                order_by=(
                    payment_methods.c.is_default.desc(),
                    payment_methods.c.created_at.desc(),
                    payment_methods.c.id.desc(),
                ),
            )
            .label("rank")
        )
        ranked = (
            select(*payment_methods.c, rank)
            .where(
                payment_methods.c.tenant_id == self._db.tenant_id,
                payment_methods.c.customer_id.in_(list(customer_ids)),
                payment_methods.c.detached_at.is_(None),
            )
            .subquery()
        )
        statement = (
            select(ranked)
            .where(ranked.c.rank <= LISTED_PER_CUSTOMER)
            .order_by(ranked.c.customer_id, ranked.c.rank)
        )
        grouped: dict[str, list[PaymentMethod]] = {customer_id: [] for customer_id in customer_ids}
        for row in await self._db.execute(statement):
            grouped[row.customer_id].append(payment_method_from_row(row))
        return [grouped[customer_id] for customer_id in customer_ids]
