"""Coupons and the discounts that apply them, in PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from domain.coupons import Coupon, CouponDuration, Discount
from domain.errors import DomainError, ErrorCode, FieldError
from domain.money import Money
from infra.db import TenantConnection
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
            select(discounts, *(c.label(f"coupon_{c.name}") for c in coupons.c))
            .join(
                coupons,
                (coupons.c.tenant_id == discounts.c.tenant_id)
                & (coupons.c.id == discounts.c.coupon_id),
            )
            .where(
                discounts.c.tenant_id == self._db.tenant_id,
                discounts.c.customer_id.in_(list(customer_ids)),
                discounts.c.invoiced_once.is_(False),
            )
            .order_by(discounts.c.created_at, discounts.c.id)
        )
        found = []
        for row in await self._db.execute(statement):
            mapping = row._mapping
            coupon = coupon_from_row({c.name: mapping[f"coupon_{c.name}"] for c in coupons.c})
            found.append(discount_from_row(row, coupon))
        return found

    async def mark_invoiced_once(self, discount_ids: Sequence[str]) -> None:
        await self._db.execute(
            update(discounts)
            .where(
                discounts.c.tenant_id == self._db.tenant_id,
                discounts.c.id.in_(list(discount_ids)),
            )
            .values(invoiced_once=True)
        )
