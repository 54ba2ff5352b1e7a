"""Plans and prices: queries, previews and mutations."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import strawberry

from domain.errors import DomainError, FieldErrors
from domain.ids import prefix_of
from domain.money import Money
from domain.plans import (
    BillingMode,
    Interval,
    PlanChanges,
    PlanDraft,
    PriceDraft,
    preview_breakdown,
    price_quantity,
)
from domain.pricing import (
    PriceModel,
    PriceTerms,
    TierTerms,
    money_from_terms,
    price_model_from_terms,
)
from domain.services import plans as services
from resolvers.errors import bad_user_input, user_errors
from resolvers.pagination import build_connection, encode_cursor, page_request
from schema import inputs
from schema.enums import SortDirection


async def plans(
    info: strawberry.Info,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: inputs.PlanFilter | None = None,
    order_by: inputs.PlanOrder | None = None,
) -> Any:
    from schema.types import Plan

    descending = (order_by.direction if order_by else SortDirection.DESC) == SortDirection.DESC
    page = page_request(
        first=first, after=after, last=last, before=before, sort="created_at", is_datetime=True
    )
    archived = filter.archived if filter else None
    reads = info.context.reads
    rows = await reads.page_of_plans(archived, descending, page)
    loader = info.context.loaders.plan_by_id
    for row in rows:
        loader.prime(row.id, row)
    return build_connection(
        rows,
        page,
        cursor_of=lambda p: encode_cursor("created_at", p.created_at, p.id),
        to_node=Plan.from_domain,
        count_total=lambda: reads.count_plans(archived),
    )


async def plan(info: strawberry.Info, id: strawberry.ID) -> Any:
    from schema.types import Plan

    if prefix_of(str(id)) != "plan":
        return None
    found = await info.context.loaders.plan_by_id.load(str(id))
    return Plan.from_domain(found) if found else None


async def price_for(root: Any, info: strawberry.Info, quantity: Decimal) -> Any:
    from schema.types import PriceBreakdown

    try:
        return PriceBreakdown.from_domain(
            price_quantity(root.price_model, BillingMode(root.billing_mode), quantity)
        )
    except DomainError as error:
        raise bad_user_input("; ".join(e.message for e in error.errors)) from None


async def preview_price(info: strawberry.Info, price: inputs.PriceInput, quantity: Decimal) -> Any:
    from schema.types import PriceBreakdown, PricePreview

    try:
        model = price_model_from_input(price, ("price",))
        breakdown = preview_breakdown(model, BillingMode(price.billing_mode), quantity, ("price",))
    except DomainError as error:
        return PricePreview(breakdown=None, user_errors=user_errors(error))
    return PricePreview(breakdown=PriceBreakdown.from_domain(breakdown), user_errors=[])


def price_model_from_input(price: inputs.PriceInput, path: tuple[str, ...]) -> PriceModel:
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


async def create_plan(info: strawberry.Info, input: inputs.CreatePlanInput) -> Any:
    from schema.types import CreatePlanPayload, Plan

    try:
        draft = _plan_draft(input)
        created = await services.create_plan(info.context.uow(), draft)
    except DomainError as error:
        return CreatePlanPayload(plan=None, user_errors=user_errors(error))
    info.context.loaders.plan_by_id.prime(created.id, created)
    return CreatePlanPayload(plan=Plan.from_domain(created), user_errors=[])


def _plan_draft(input: inputs.CreatePlanInput) -> PlanDraft:
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


def _price_drafts(errors: FieldErrors, prices: list[inputs.PriceInput]) -> tuple[PriceDraft, ...]:
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


def _minimums(errors: FieldErrors, minimums: list[inputs.MoneyInput]) -> tuple[Money, ...]:
    found = []
    for index, minimum in enumerate(minimums):
        path = ("input", "minimumCommitments", str(index))
        try:
            found.append(money_from_terms(minimum.amount, str(minimum.currency), path))
        except DomainError as error:
            errors.errors.extend(error.errors)
    return tuple(found)


async def update_plan(info: strawberry.Info, input: inputs.UpdatePlanInput) -> Any:
    from schema.types import Plan, UpdatePlanPayload

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
        return UpdatePlanPayload(plan=None, user_errors=user_errors(error))
    info.context.loaders.plan_by_id.clear(updated.id).prime(updated.id, updated)
    return UpdatePlanPayload(plan=Plan.from_domain(updated), user_errors=[])


async def archive_plan(info: strawberry.Info, input: inputs.ArchivePlanInput) -> Any:
    from schema.types import ArchivePlanPayload, Plan

    try:
        archived = await services.archive_plan(info.context.uow(), str(input.id))
    except DomainError as error:
        return ArchivePlanPayload(plan=None, user_errors=user_errors(error))
    info.context.loaders.plan_by_id.clear(archived.id).prime(archived.id, archived)
    return ArchivePlanPayload(plan=Plan.from_domain(archived), user_errors=[])
