"""Coupons and discounts: queries and mutations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from domain import queries
from domain.coupons import Coupon, CouponDraft, CouponDuration, Discount
from domain.errors import DomainError
from domain.pricing import money_from_terms
from domain.queries import InvalidQuery, SortDirection, clean_filter_text
from domain.services import coupons as services
from resolvers.errors import Outcome, bad_user_input, done, refused
from resolvers.nodes import load_by_id
from resolvers.pagination import Page, build_page, encode_cursor, page_request

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.coupons import ApplyCouponInput, CouponFilter, CouponOrder, CreateCouponInput
else:
    # The schema's types its arguments take, by name: the schema imports resolvers, not
    # the reverse.
    ApplyCouponInput = strawberry.LazyType("ApplyCouponInput", "schema.coupons")
    CouponFilter = strawberry.LazyType("CouponFilter", "schema.coupons")
    CouponOrder = strawberry.LazyType("CouponOrder", "schema.coupons")
    CreateCouponInput = strawberry.LazyType("CreateCouponInput", "schema.coupons")


async def coupons(
    info: strawberry.Info[Context],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: CouponFilter | None = None,
    order_by: CouponOrder | None = None,
) -> Page[Coupon]:
    descending = (order_by.direction if order_by else SortDirection.DESC) == SortDirection.DESC
    page = page_request(
        first=first, after=after, last=last, before=before, sort="created_at", is_datetime=True
    )
    try:
        code = clean_filter_text(filter.code if filter else None, name="code", max_length=64)
    except InvalidQuery as exc:
        raise bad_user_input(str(exc)) from None
    where = queries.CouponFilter(code=code)
    reads = info.context.reads
    rows = await reads.coupons.page(where, descending, page)
    loader = info.context.loaders.by_id("cpn")
    for row in rows:
        loader.prime(row.id, row)
    return build_page(
        rows,
        page,
        cursor_of=lambda c: encode_cursor("created_at", c.created_at, c.id),
        count_total=lambda: reads.coupons.count(where),
    )


async def coupon(info: strawberry.Info[Context], id: strawberry.ID) -> Coupon | None:
    found: Coupon | None = await load_by_id(info, "cpn", str(id))
    return found


async def create_coupon(
    info: strawberry.Info[Context], input: CreateCouponInput
) -> Outcome[Coupon]:
    try:
        amount_off = None
        if input.amount_off is not None:
            amount_off = money_from_terms(
                input.amount_off.amount, str(input.amount_off.currency), ("input", "amountOff")
            )
        draft = CouponDraft(
            name=input.name,
            percent_off=input.percent_off,
            amount_off=amount_off,
            duration=CouponDuration(input.duration.value),
            duration_in_months=input.duration_in_months,
            max_redemptions=input.max_redemptions,
            redeem_by=input.redeem_by,
            applies_to_plans=tuple(str(plan_id) for plan_id in input.applies_to_plans or ()),
            code=input.code,
        )
        created = await services.create_coupon(info.context.uow(), draft, info.context.clock.now())
    except DomainError as error:
        return refused(error)
    info.context.loaders.by_id("cpn").prime(created.id, created)
    return done(created)


async def apply_coupon(
    info: strawberry.Info[Context], input: ApplyCouponInput
) -> Outcome[Discount]:
    try:
        discount = await services.apply_coupon(
            info.context.uow(),
            str(input.coupon_id),
            customer_id=None if input.customer_id is None else str(input.customer_id),
            subscription_id=None if input.subscription_id is None else str(input.subscription_id),
            now=info.context.clock.now(),
        )
    except DomainError as error:
        return refused(error)
    info.context.loaders.by_id("cpn").clear(discount.coupon.id).prime(
        discount.coupon.id, discount.coupon
    )
    return done(discount)
