"""Coupons and the discounts that apply them, in PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from domain.coupons import Coupon, CouponDuration, Discount
from domain.errors import DomainError, ErrorCode, FieldError
from domain.money import Money
from domain.queries import CouponFilter, PageRequest
from infra.db import TenantConnection
from infra.pagination import paginate
from infra.repositories.customers import UNIQUE_VIOLATION
from infra.tables import coupons, discounts


def coupon_from_row(row: Any) -> Coupon:
    values = row._mapping if hasattr(row, "_mapping") else row
    amount_off = values["amount_off"]
    return Coupon(
        id=values["id"],
        name=values["name"],
        percent_off=None if values["percent_off"] is None else values["percent_off"].normalize(),
        amount_off=None if amount_off is None else Money(amount_off, values["currency"]),
        duration=CouponDuration(values["duration"]),
        duration_in_months=values["duration_in_months"],
        max_redemptions=values["max_redemptions"],
        redeem_by=values["redeem_by"],
        applies_to_plans=tuple(values["applies_to_plans"]),
        code=values["code"],
        times_redeemed=values["times_redeemed"],
        created_at=values["created_at"],
        archived_at=values["archived_at"],
    )


class SqlCouponRepository:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def add(self, coupon: Coupon) -> Coupon:
        statement = (
            insert(coupons)
            .values(
                tenant_id=self._db.tenant_id,
                id=coupon.id,
                code=coupon.code,
                name=coupon.name,
                percent_off=coupon.percent_off,
                amount_off=None if coupon.amount_off is None else coupon.amount_off.minor_units,
                currency=None if coupon.amount_off is None else coupon.amount_off.currency,
                duration=coupon.duration.value,
                duration_in_months=coupon.duration_in_months,
                max_redemptions=coupon.max_redemptions,
                redeem_by=coupon.redeem_by,
                applies_to_plans=list(coupon.applies_to_plans),
            )
            .returning(*coupons.c)
        )
        try:
            return coupon_from_row((await self._db.execute(statement)).one())
        except IntegrityError as exc:
            if getattr(exc.orig, "sqlstate", None) == UNIQUE_VIOLATION:
                raise DomainError(
                    [
                        FieldError(
                            ErrorCode.DUPLICATE, ("input", "code"), "Another coupon has this code."
                        )
                    ]
                ) from None
            raise

    async def get(self, coupon_id: str) -> Coupon | None:
        statement = select(coupons).where(
            coupons.c.tenant_id == self._db.tenant_id, coupons.c.id == coupon_id
        )
        row = (await self._db.execute(statement)).first()
        return None if row is None else coupon_from_row(row)

    async def redeem(self, coupon_id: str) -> bool:
        # One conditional UPDATE: concurrent redemptions queue on the row lock and each
        # sees the count the previous one left, so the maximum holds (and a CHECK backs it).
        statement = (
            update(coupons)
            .where(
                coupons.c.tenant_id == self._db.tenant_id,
                coupons.c.id == coupon_id,
                or_(
                    coupons.c.max_redemptions.is_(None),
                    coupons.c.times_redeemed < coupons.c.max_redemptions,
                ),
            )
            .values(times_redeemed=coupons.c.times_redeemed + 1)
            .returning(coupons.c.id)
        )
        return (await self._db.execute(statement)).first() is not None


def discount_from_row(row: Any, coupon: Coupon) -> Discount:
    return Discount(
        id=row.id,
        coupon=coupon,
        customer_id=row.customer_id,
        subscription_id=row.subscription_id,
        start=row.start_at,
        end=row.end_at,
        invoiced_once=row.invoiced_once,
    )


def _with_coupons(db: TenantConnection) -> Select[Any]:
    """The tenant's discounts, each row with its coupon's columns (`coupon__…`: the coupon's
    `id` labelled `coupon_id` would collide with the discount's own column)."""
    return (
        select(discounts, *(c.label(f"coupon__{c.name}") for c in coupons.c))
        .join(
            coupons,
            (coupons.c.tenant_id == discounts.c.tenant_id)
            & (coupons.c.id == discounts.c.coupon_id),
        )
        .where(discounts.c.tenant_id == db.tenant_id)
    )


def _discount_with_coupon(row: Any) -> Discount:
    mapping = row._mapping
    coupon = coupon_from_row({c.name: mapping[f"coupon__{c.name}"] for c in coupons.c})
    return discount_from_row(row, coupon)


class SqlDiscountRepository:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def add(self, discount: Discount) -> Discount:
        await self._db.execute(
            insert(discounts).values(
                tenant_id=self._db.tenant_id,
                id=discount.id,
                coupon_id=discount.coupon.id,
                customer_id=discount.customer_id,
                subscription_id=discount.subscription_id,
                start_at=discount.start,
                end_at=discount.end,
                invoiced_once=discount.invoiced_once,
            )
        )
        return discount

    async def live_for(self, customer_ids: Sequence[str]) -> list[Discount]:
        if not customer_ids:
            return []
        statement = (
            _with_coupons(self._db)
            .where(
                discounts.c.customer_id.in_(list(customer_ids)),
                discounts.c.invoiced_once.is_(False),
            )
            .order_by(discounts.c.created_at, discounts.c.id)
        )
        return [_discount_with_coupon(row) for row in await self._db.execute(statement)]

    async def mark_invoiced_once(self, discount_ids: Sequence[str]) -> None:
        await self._db.execute(
            update(discounts)
            .where(
                discounts.c.tenant_id == self._db.tenant_id,
                discounts.c.id.in_(list(discount_ids)),
            )
            .values(invoiced_once=True)
        )


def _filtered(db: TenantConnection, where: CouponFilter, columns: Sequence[Any]) -> Select[Any]:
    statement = select(*columns).where(coupons.c.tenant_id == db.tenant_id)
    if where.code is not None:
        # `=` on the column, as its unique index holds it (leakproof under row-level security).
        statement = statement.where(coupons.c.code == where.code)
    return statement


class SqlCouponReads:
    """The read path's coupons and discounts (domain.ports.CouponReads), in the request's
    tenant: one statement per call."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[str]) -> list[Coupon | None]:
        statement = select(coupons).where(
            coupons.c.tenant_id == self._db.tenant_id, coupons.c.id.in_(list(ids))
        )
        found = {row.id: coupon_from_row(row) for row in await self._db.execute(statement)}
        return [found.get(coupon_id) for coupon_id in ids]

    async def page(self, where: CouponFilter, descending: bool, page: PageRequest) -> list[Coupon]:
        statement = paginate(
            _filtered(self._db, where, list(coupons.c)),
            coupons.c.created_at,
            coupons.c.id,
            descending=descending,
            page=page,
        )
        return [coupon_from_row(row) for row in await self._db.execute(statement)]

    async def count(self, where: CouponFilter) -> int:
        statement = _filtered(self._db, where, [func.count()])
        return int((await self._db.execute(statement)).scalar_one())

    async def discounts_by_ids(self, ids: Sequence[str]) -> list[Discount | None]:
        statement = _with_coupons(self._db).where(discounts.c.id.in_(list(ids)))
        found = {row.id: _discount_with_coupon(row) for row in await self._db.execute(statement)}
        return [found.get(discount_id) for discount_id in ids]
