"""Plans and prices: queries, previews and mutations."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import strawberry

from domain.currency import is_known_currency
from domain.errors import DomainError, ErrorCode, FieldErrors
from domain.ids import prefix_of
from domain.money import InvalidAmount, Money
from domain.plans import (
    BillingMode,
    Interval,
    PlanChanges,
    PlanDraft,
    PriceDraft,
    whole_units,
)
from domain.pricing import (
    FlatFee,
    GraduatedTiers,
    Package,
    Percentage,
    PerUnit,
    PriceModel,
    Tier,
    VolumeTiers,
    validate_price,
)
from domain.pricing import (
    price_for as compute_price,
)
from domain.services import plans as services
from resolvers.errors import bad_user_input, user_errors
from resolvers.pagination import build_connection, encode_cursor, page_request
from schema import inputs
from schema.enums import SortDirection

if TYPE_CHECKING:
    from resolvers.context import Context


async def plans(
    info: strawberry.Info[Context],
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


async def plan(info: strawberry.Info[Context], id: strawberry.ID) -> Any:
    from schema.types import Plan

    if prefix_of(str(id)) != "plan":
        return None
    found = await info.context.loaders.plan_by_id.load(str(id))
    return Plan.from_domain(found) if found else None


async def price_for(root: Any, info: strawberry.Info[Context], quantity: Decimal) -> Any:
    from schema.types import PriceBreakdown

    whole = whole_units(BillingMode(root.billing_mode), root.price_model)
    try:
        return PriceBreakdown.from_domain(
            compute_price(root.price_model, quantity, whole_units=whole)
        )
    except DomainError as error:
        raise bad_user_input("; ".join(e.message for e in error.errors)) from None


async def preview_price(
    info: strawberry.Info[Context], price: inputs.PriceInput, quantity: Decimal
) -> Any:
    from schema.types import PriceBreakdown, PricePreview

    try:
        model = price_model_from_input(price, ("price",))
        validate_price(model, ("price",))
        whole = whole_units(BillingMode(price.billing_mode), model)
        breakdown = compute_price(model, quantity, field=("quantity",), whole_units=whole)
    except DomainError as error:
        return PricePreview(breakdown=None, user_errors=user_errors(error))
    return PricePreview(breakdown=PriceBreakdown.from_domain(breakdown), user_errors=[])


def _money(
    errors: FieldErrors, amount: Decimal | None, currency: str, path: tuple[str, ...]
) -> Money | None:
    if amount is None:
        return None
    try:
        return Money.from_decimal(amount, currency)
    except (InvalidAmount, ValueError) as exc:
        errors.add(ErrorCode.INVALID, path, str(exc))
        return None


def _required(errors: FieldErrors, value: Any, path: tuple[str, ...], model: str) -> Any:
    if value is None:
        errors.add(ErrorCode.REQUIRED, path, f"A {model} price needs {path[-1]}.")
    return value


def price_model_from_input(price: inputs.PriceInput, path: tuple[str, ...]) -> PriceModel:
    """The domain price model an input describes; fields its model needs are required."""
    errors = FieldErrors()
    currency = str(price.currency)
    kind = price.model.value
    model: PriceModel | None = None
    if not is_known_currency(currency):
        errors.add(ErrorCode.UNKNOWN_CURRENCY, (*path, "currency"), "Not an ISO 4217 code.")
        errors.raise_if_any()
    if kind == "FLAT_FEE":
        amount = _money(
            errors,
            _required(errors, price.amount, (*path, "amount"), kind),
            currency,
            (*path, "amount"),
        )
        model = FlatFee(amount) if amount else None
    elif kind == "PER_UNIT":
        unit = _required(errors, price.unit_amount, (*path, "unitAmount"), kind)
        model = PerUnit(unit, currency) if unit is not None else None
    elif kind in ("GRADUATED", "VOLUME"):
        given = _required(errors, price.tiers, (*path, "tiers"), kind)
        tiers = tuple(
            Tier(
                up_to=tier.up_to,
                unit_amount=tier.unit_amount,
                flat_amount=_money(
                    errors, tier.flat_amount, currency, (*path, "tiers", str(i), "flatAmount")
                ),
            )
            for i, tier in enumerate(given or ())
        )
        model = (GraduatedTiers if kind == "GRADUATED" else VolumeTiers)(tiers, currency)
    elif kind == "PACKAGE":
        amount = _required(errors, price.package_amount, (*path, "packageAmount"), kind)
        size = _required(errors, price.package_size, (*path, "packageSize"), kind)
        model = Package(amount, size, currency) if amount is not None and size is not None else None
    elif kind == "PERCENTAGE":
        rate = _required(errors, price.rate, (*path, "rate"), kind)
        model = (
            Percentage(
                rate,
                currency,
                _money(errors, price.fixed_amount, currency, (*path, "fixedAmount")),
                _money(errors, price.min_amount, currency, (*path, "minAmount")),
                _money(errors, price.max_amount, currency, (*path, "maxAmount")),
            )
            if rate is not None
            else None
        )
    errors.raise_if_any()
    assert model is not None
    return model


async def create_plan(info: strawberry.Info[Context], input: inputs.CreatePlanInput) -> Any:
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
        if not is_known_currency(str(minimum.currency)):
            errors.add(ErrorCode.UNKNOWN_CURRENCY, (*path, "currency"), "Not an ISO 4217 code.")
            continue
        money = _money(errors, minimum.amount, str(minimum.currency), (*path, "amount"))
        if money is not None:
            found.append(money)
    return tuple(found)


async def update_plan(info: strawberry.Info[Context], input: inputs.UpdatePlanInput) -> Any:
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


async def archive_plan(info: strawberry.Info[Context], input: inputs.ArchivePlanInput) -> Any:
    from schema.types import ArchivePlanPayload, Plan

    try:
        archived = await services.archive_plan(info.context.uow(), str(input.id))
    except DomainError as error:
        return ArchivePlanPayload(plan=None, user_errors=user_errors(error))
    info.context.loaders.plan_by_id.clear(archived.id).prime(archived.id, archived)
    return ArchivePlanPayload(plan=Plan.from_domain(archived), user_errors=[])
