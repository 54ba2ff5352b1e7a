"""Plans and prices: queries, previews and mutations."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry

from domain.errors import DomainError, FieldErrors
from domain.money import Money
from domain.plans import (
    BillingMode,
    Interval,
    Plan,
    PlanChanges,
    PlanDraft,
    PriceDraft,
    preview_breakdown,
    price_quantity,
)
from domain.pricing import (
    PriceBreakdown,
    PriceModel,
    PriceTerms,
    TierTerms,
    money_from_terms,
    price_model_from_terms,
)
from domain.queries import SortDirection
from domain.services import plans as services
from resolvers.errors import Outcome, bad_user_input, done, refused
from resolvers.nodes import load_by_id
from resolvers.pagination import Page, build_page, encode_cursor, page_request

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.money import MoneyInput
    from schema.plans import (
        ArchivePlanInput,
        CreatePlanInput,
        PlanFilter,
        PlanOrder,
        Price,
        PriceInput,
        UpdatePlanInput,
    )
else:
    # The schema's types its arguments take, by name: the schema imports resolvers, not
    # the reverse.
    ArchivePlanInput = strawberry.LazyType("ArchivePlanInput", "schema.plans")
    CreatePlanInput = strawberry.LazyType("CreatePlanInput", "schema.plans")
    PlanFilter = strawberry.LazyType("PlanFilter", "schema.plans")
    PlanOrder = strawberry.LazyType("PlanOrder", "schema.plans")
    PriceInput = strawberry.LazyType("PriceInput", "schema.plans")
    UpdatePlanInput = strawberry.LazyType("UpdatePlanInput", "schema.plans")


async def plans(
    info: strawberry.Info[Context],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: PlanFilter | None = None,
    order_by: PlanOrder | None = None,
) -> Page[Plan]:
    descending = (order_by.direction if order_by else SortDirection.DESC) == SortDirection.DESC
    page = page_request(
        first=first, after=after, last=last, before=before, sort="created_at", is_datetime=True
    )
    archived = filter.archived if filter else None
    reads = info.context.reads
    rows = await reads.plans.page(archived, descending, page)
    loader = info.context.loaders.by_id("plan")
    for row in rows:
        loader.prime(row.id, row)
    return build_page(
        rows,
        page,
        cursor_of=lambda p: encode_cursor("created_at", p.created_at, p.id),
        count_total=lambda: reads.plans.count(archived),
    )


async def plan(info: strawberry.Info[Context], id: strawberry.ID) -> Plan | None:
    found: Plan | None = await load_by_id(info, "plan", str(id))
    return found


async def price_for(
    root: Price, info: strawberry.Info[Context], quantity: Decimal
) -> PriceBreakdown:
    try:
        return price_quantity(root.price_model, BillingMode(root.billing_mode), quantity)
    except DomainError as error:
        raise bad_user_input("; ".join(e.message for e in error.errors)) from None


async def preview_price(
    info: strawberry.Info[Context],
    price: PriceInput,
    quantity: Decimal,
) -> Outcome[PriceBreakdown]:
    try:
        model = price_model_from_input(price, ("price",))
        breakdown = preview_breakdown(model, BillingMode(price.billing_mode), quantity, ("price",))
    except DomainError as error:
        return refused(error)
    return done(breakdown)


def price_model_from_input(price: PriceInput, path: tuple[str, ...]) -> PriceModel:
    """The domain price model an input describes; fields its model needs are required."""
    terms = PriceTerms(
        model=price.model.value,
        currency=str(price.currency),
        amount=price.amount,
        unit_amount=price.unit_amount,
        tiers=None
        if price.tiers is None
        else [TierTerms(tier.up_to, tier.unit_amount, tier.flat_amount) for tier in price.tiers],
        package_amount=price.package_amount,
        package_size=price.package_size,
        rate=price.rate,
        fixed_amount=price.fixed_amount,
        min_amount=price.min_amount,
        max_amount=price.max_amount,
    )
    return price_model_from_terms(terms, path)


async def create_plan(info: strawberry.Info[Context], input: CreatePlanInput) -> Outcome[Plan]:
    try:
        draft = _plan_draft(input)
        created = await services.create_plan(info.context.uow(), draft)
    except DomainError as error:
        return refused(error)
    info.context.loaders.by_id("plan").prime(created.id, created)
    return done(created)


def _plan_draft(input: CreatePlanInput) -> PlanDraft:
    errors = FieldErrors()
    prices = _price_drafts(errors, input.prices)
    minimums = _minimums(errors, input.minimum_commitments or ())
    errors.raise_if_any()
    return PlanDraft(
        code=input.code,
        name=input.name,
        interval=Interval(input.interval.value),
        interval_count=input.interval_count,
        description=input.description,
        trial_days=input.trial_days,
        minimum_commitments=minimums,
        prices=prices,
    )


def _price_drafts(errors: FieldErrors, prices: list[PriceInput]) -> tuple[PriceDraft, ...]:
    drafts = []
    for index, price in enumerate(prices):
        try:
            model = price_model_from_input(price, ("input", "prices", str(index)))
        except DomainError as error:
            errors.errors.extend(error.errors)
            continue
        drafts.append(
            PriceDraft(
                model=model,
                billing_mode=BillingMode(price.billing_mode.value),
                metric_code=price.metric_code,
            )
        )
    return tuple(drafts)


def _minimums(errors: FieldErrors, minimums: Sequence[MoneyInput]) -> tuple[Money, ...]:
    found = []
    for index, minimum in enumerate(minimums):
        path = ("input", "minimumCommitments", str(index))
        try:
            found.append(money_from_terms(minimum.amount, str(minimum.currency), path))
        except DomainError as error:
            errors.errors.extend(error.errors)
    return tuple(found)


async def update_plan(info: strawberry.Info[Context], input: UpdatePlanInput) -> Outcome[Plan]:
    try:
        errors = FieldErrors()
        changes = PlanChanges(
            name=input.name,
            description=None if input.description is strawberry.UNSET else input.description,
            clear_description=input.description is None,
            trial_days=input.trial_days,
            prices=None if input.prices is None else _price_drafts(errors, input.prices),
            minimum_commitments=(
                None
                if input.minimum_commitments is None
                else _minimums(errors, input.minimum_commitments)
            ),
        )
        errors.raise_if_any()
        updated = await services.update_plan(info.context.uow(), str(input.id), changes)
    except DomainError as error:
        return refused(error)
    info.context.loaders.by_id("plan").clear(updated.id).prime(updated.id, updated)
    return done(updated)


async def archive_plan(info: strawberry.Info[Context], input: ArchivePlanInput) -> Outcome[Plan]:
    try:
        archived = await services.archive_plan(info.context.uow(), str(input.id))
    except DomainError as error:
        return refused(error)
    info.context.loaders.by_id("plan").clear(archived.id).prime(archived.id, archived)
    return done(archived)
