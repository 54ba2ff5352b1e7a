"""How a price model turns a quantity into an amount, line by line.

Each line is computed exactly and rounded once, half-up to the currency's minor unit
(`domain.money`'s rule); the total is the exact sum of the lines. An amount beyond BIGINT
minor units is refused with a `DomainError` at the quantity's field, never wrapped.

Quantities are non-negative finite `Decimal`s and may be fractional: usage sums (GB-hours,
API seconds) are, and every model has a natural meaning for them (graduated tiers split
the quantity continuously at the bounds, a partial package counts as a whole one).
Licensed quantities (seats on a subscription) must be whole: price them with
`whole_units=True`. A zero quantity costs nothing: no tier is reached, so no tier's flat
fee is charged (a flat fee per period is the one model that ignores the quantity).

Every function validates its model again (`domain.pricing.validation`), with paths
relative to the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TypeGuard, assert_never

from domain.errors import DomainError, ErrorCode, FieldError, FieldErrors
from domain.money import (
    InvalidAmount,
    Money,
    exact_decimals,
    format_decimal,
    line_amount,
    sum_money,
)
from domain.pricing.models import (
    FlatFee,
    GraduatedTiers,
    MeteredUsage,
    MinimumCommitment,
    Package,
    Percentage,
    PerUnit,
    PriceBreakdown,
    PriceLine,
    PriceModel,
    Tier,
    TransactionFees,
    VolumeTiers,
)
from domain.pricing.validation import (
    check_money,
    validate_minimum_commitment,
    validate_price,
    validate_quantity,
)


def price_for(
    model: PriceModel,
    quantity: Decimal,
    *,
    whole_units: bool = False,
    field: tuple[str, ...] = ("quantity",),
) -> PriceBreakdown:
    """The amount a quantity costs under `model`, line by line.

    For `Percentage` the quantity is one transaction's amount in major units of the
    price's currency (exact to its minor unit); see `price_transactions` for several.
    A negative (or, with `whole_units`, fractional) quantity and a total beyond BIGINT
    minor units are refused with a `DomainError` at `field`.
    """
    validate_price(model)
    validate_quantity(quantity, field, whole_units=whole_units)
    quantity = Decimal(quantity)
    try:
        match model:
            case FlatFee():
                lines = [_flat_fee_line(model)]
            case PerUnit():
                lines = [_per_unit_line(model, quantity)]
            case GraduatedTiers():
                lines = _graduated_lines(model, quantity)
            case VolumeTiers():
                lines = _volume_lines(model, quantity)
            case Package():
                lines = [_package_line(model, quantity)]
            case Percentage() if quantity == 0:
                lines = []  # no transaction, no fee: the fixed fee and minimum need one
            case Percentage():
                try:
                    transaction = Money.from_decimal(quantity, model.currency)
                except InvalidAmount:
                    raise DomainError(
                        [
                            FieldError(
                                ErrorCode.INVALID,
                                field,
                                f"a transaction amount is exact to the {model.currency} minor unit",
                            )
                        ]
                    ) from None
                lines = [_percentage_line(model, transaction.amount)]
            case _:
                assert_never(model)
        return PriceBreakdown(
            sum_money((line.amount for line in lines), model.currency), tuple(lines)
        )
    except InvalidAmount:
        raise DomainError(
            [FieldError(ErrorCode.INVALID, field, "the amount for this quantity is out of range")]
        ) from None


def price_transactions(
    model: Percentage, amounts: Sequence[Money], field: tuple[str, ...] = ("transactions",)
) -> PriceBreakdown:
    """The fees of a period's transactions: one line per transaction, in order."""
    validate_price(model)
    errors = FieldErrors()
    for index, amount in enumerate(amounts):
        check_money(errors, amount, model.currency, field + (str(index),))
    errors.raise_if_any()
    return _summed(
        model.currency,
        lambda: [_percentage_line(model, amount.amount) for amount in amounts],
        field,
    )


def charges_each_transaction(model: PriceModel) -> TypeGuard[Percentage]:
    """Whether a metered price charges each event as one transaction (so it needs each
    event's value, `MeteredUsage.value_counts`) rather than the period's quantity."""
    return isinstance(model, Percentage)


def price_usage(model: PriceModel, usage: MeteredUsage) -> PriceBreakdown:
    """What a period's usage costs under a metered price. A percentage price charges each
    event's value as one transaction (fixed fee, minimum and maximum per transaction), so
    a value finer than the minor unit is priced exactly and rounded once per transaction."""
    if charges_each_transaction(model):
        validate_price(model)
        return _summed(
            model.currency,
            lambda: _percentage_usage_lines(model, usage.value_counts),
            ("usage",),
        )
    return price_for(model, usage.quantity, field=("usage",))


def price_transaction_fees(
    model: Percentage, fees: TransactionFees, field: tuple[str, ...] = ("usage",)
) -> PriceBreakdown:
    """What a period's transactions cost when their fees were summed where they are stored
    (the billing run's `TransactionFees`): one line saying how many transactions, their
    volume and the terms of each, its amount the sum of their fees; no transaction, no line
    (as `price_usage`). Fees in another currency or negative figures are a `DomainError`."""
    validate_price(model)
    errors = FieldErrors()
    check_money(errors, fees.fees, model.currency, field + ("fees",))
    if fees.count < 0 or fees.volume < 0:
        errors.add(ErrorCode.INVALID, field, "transactions and their volume are not negative")
    errors.raise_if_any()
    if fees.count == 0:
        return PriceBreakdown(Money.zero(model.currency), ())
    description = (
        f"{fees.count} transaction{'' if fees.count == 1 else 's'} totalling "
        f"{_amount_text(fees.volume, model.currency)} at {_percentage_terms(model)} per "
        f"transaction, each fee rounded once{_percentage_bounds(model)}"
    )
    line = PriceLine(
        description=description,
        tier=None,
        quantity=fees.volume,
        unit_amount=model.rate.scaleb(-2),
        flat_amount=model.fixed_amount,
        amount=fees.fees,
        count=fees.count,
    )
    return PriceBreakdown(fees.fees, (line,))


def _summed(
    currency: str, compute: Callable[[], list[PriceLine]], field: tuple[str, ...]
) -> PriceBreakdown:
    """The lines `compute` makes and their total; an amount beyond what Money holds is the
    caller's error at `field`."""
    try:
        lines = compute()
        return PriceBreakdown(sum_money((line.amount for line in lines), currency), tuple(lines))
    except InvalidAmount:
        raise DomainError(
            [FieldError(ErrorCode.INVALID, field, "the fees are out of range")]
        ) from None


def minimum_commitment_shortfall(
    commitment: MinimumCommitment, period_total: Money
) -> PriceBreakdown:
    """What tops a period's total up to the commitment: the shortfall, or zero (no line)
    when the total meets it. The total is in the commitment's currency."""
    validate_minimum_commitment(commitment)
    shortfall = max(commitment.amount - period_total, Money.zero(commitment.currency))
    if shortfall.is_zero():
        return PriceBreakdown(shortfall, ())
    line = PriceLine(
        description=(
            f"minimum commitment {format_decimal(commitment.amount.amount)}: shortfall "
            f"of a period total of {format_decimal(period_total.amount)}"
        ),
        tier=None,
        quantity=Decimal(1),
        unit_amount=None,
        flat_amount=shortfall,
        amount=shortfall,
    )
    return PriceBreakdown(shortfall, (line,))


def _flat_fee_line(model: FlatFee) -> PriceLine:
    return PriceLine(
        description="flat fee per period",
        tier=None,
        quantity=Decimal(1),
        unit_amount=None,
        flat_amount=model.amount,
        amount=model.amount,
    )


def _per_unit_line(model: PerUnit, quantity: Decimal) -> PriceLine:
    return PriceLine(
        description=f"{format_decimal(quantity)} x {format_decimal(model.unit_amount)}",
        tier=None,
        quantity=quantity,
        unit_amount=model.unit_amount,
        flat_amount=None,
        amount=line_amount(model.unit_amount, quantity, model.currency),
    )


def _tier_line(
    tier: Tier, index: int, quantity: Decimal, currency: str, description: str
) -> PriceLine:
    amount = line_amount(tier.unit_amount, quantity, currency)
    if tier.flat_amount is not None:
        amount += tier.flat_amount
    return PriceLine(
        description=description,
        tier=index,
        quantity=quantity,
        unit_amount=tier.unit_amount,
        flat_amount=tier.flat_amount,
        amount=amount,
    )


def _tier_range(lower: Decimal, up_to: Decimal | None) -> str:
    if up_to is None:
        return f"above {format_decimal(lower)}"
    return f"above {format_decimal(lower)} up to {format_decimal(up_to)}"


def _graduated_lines(model: GraduatedTiers, quantity: Decimal) -> list[PriceLine]:
    lines: list[PriceLine] = []
    lower = Decimal(0)
    for index, tier in enumerate(model.tiers):
        if quantity <= lower:
            break
        with exact_decimals():
            upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
            in_tier = upper - lower
        lines.append(
            _tier_line(
                tier,
                index,
                in_tier,
                model.currency,
                f"tier {index + 1} ({_tier_range(lower, tier.up_to)}): "
                f"{format_decimal(in_tier)} x {format_decimal(tier.unit_amount)}",
            )
        )
        if tier.up_to is None:
            break
        lower = tier.up_to
    return lines


def _volume_lines(model: VolumeTiers, quantity: Decimal) -> list[PriceLine]:
    if quantity == 0:
        return []
    lower = Decimal(0)
    for index, tier in enumerate(model.tiers):
        if tier.up_to is None or quantity <= tier.up_to:
            return [
                _tier_line(
                    tier,
                    index,
                    quantity,
                    model.currency,
                    f"tier {index + 1} ({_tier_range(lower, tier.up_to)}): all "
                    f"{format_decimal(quantity)} x {format_decimal(tier.unit_amount)}",
                )
            ]
        lower = tier.up_to
    raise AssertionError("validated tiers end open-ended")  # pragma: no cover


def _package_line(model: Package, quantity: Decimal) -> PriceLine:
    with exact_decimals():
        whole, partial = divmod(quantity, model.package_size)
        packages = whole + (1 if partial else 0)
    return PriceLine(
        description=(
            f"{format_decimal(packages)} x {model.package_size}-unit package at "
            f"{format_decimal(model.package_amount)} for {format_decimal(quantity)} units"
        ),
        tier=None,
        quantity=packages,
        unit_amount=model.package_amount,
        flat_amount=None,
        amount=line_amount(model.package_amount, packages, model.currency),
    )


def _amount_text(amount: Decimal, currency: str) -> str:
    """An amount as people read it in its currency ("5.00" USD), exact when finer."""
    try:
        return format_decimal(Money.from_decimal(amount, currency).amount)
    except InvalidAmount:
        return format_decimal(amount)


def _percentage_fee(model: Percentage, transaction: Decimal) -> tuple[Money, str | None]:
    """One transaction's fee, rounded once, and the bound it was held at ("minimum",
    "maximum") if any."""
    with exact_decimals():
        exact = transaction * model.rate.scaleb(-2)
        if model.fixed_amount is not None:
            exact += model.fixed_amount.amount
    fee = Money.round_from(exact, model.currency)
    if model.min_amount is not None and fee < model.min_amount:
        return model.min_amount, "minimum"
    if model.max_amount is not None and fee > model.max_amount:
        return model.max_amount, "maximum"
    return fee, None


def _percentage_terms(model: Percentage) -> str:
    terms = f"{format_decimal(model.rate)}%"
    if model.fixed_amount is not None:
        terms += f" + {format_decimal(model.fixed_amount.amount)}"
    return terms


def _percentage_bounds(model: Percentage) -> str:
    """The bounds each fee is held within, as a clause of a line's description."""
    low, high = model.min_amount, model.max_amount
    if low is not None and high is not None:
        return f" and held within [{format_decimal(low.amount)}, {format_decimal(high.amount)}]"
    if low is not None:
        return f" and held at {format_decimal(low.amount)} or more"
    if high is not None:
        return f" and held at {format_decimal(high.amount)} or less"
    return ""


def _percentage_line(model: Percentage, transaction: Decimal) -> PriceLine:
    fee, bound = _percentage_fee(model, transaction)
    description = f"{format_decimal(model.rate)}% of {_amount_text(transaction, model.currency)}"
    if model.fixed_amount is not None:
        description += f" + {format_decimal(model.fixed_amount.amount)}"
    if bound is not None:
        description += f" ({bound})"
    return PriceLine(
        description=description,
        tier=None,
        quantity=transaction,
        unit_amount=model.rate.scaleb(-2),
        flat_amount=model.fixed_amount,
        amount=fee,
    )


def _percentage_usage_lines(
    model: Percentage, value_counts: Sequence[tuple[Decimal, int]]
) -> list[PriceLine]:
    """A period's transactions in at most three lines, however many there are: those
    charged the rate, those held at the minimum, those held at the maximum. Each fee is
    still computed and rounded on its own transaction."""
    groups: dict[str | None, tuple[int, Decimal, int]] = {}
    with exact_decimals():
        for value, count in value_counts:
            if count <= 0:
                continue
            fee, bound = _percentage_fee(model, value)
            transactions, volume, minor_units = groups.get(bound, (0, Decimal(0), 0))
            groups[bound] = (
                transactions + count,
                volume + value * count,
                minor_units + fee.minor_units * count,
            )
    lines = []
    for bound in (None, "minimum", "maximum"):
        if bound not in groups:
            continue
        transactions, volume, minor_units = groups[bound]
        volume_text = _amount_text(volume, model.currency)
        if bound is None:
            description = f"{transactions} × {_percentage_terms(model)}, of {volume_text}"
        else:
            held = model.min_amount if bound == "minimum" else model.max_amount
            assert held is not None
            description = (
                f"{transactions} × the {bound} of {format_decimal(held.amount)} "
                f"({_percentage_terms(model)} of {volume_text})"
            )
        lines.append(
            PriceLine(
                description=description,
                tier=None,
                quantity=volume,
                unit_amount=model.rate.scaleb(-2),
                flat_amount=model.fixed_amount,
                amount=Money(minor_units, model.currency),  # out of range: InvalidAmount
                count=transactions,
            )
        )
    return lines
