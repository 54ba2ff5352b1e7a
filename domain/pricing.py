"""Price models: pure functions from a quantity to an amount, with a per-line breakdown.

The models are the ones Stripe Billing and Lago offer:

- `FlatFee`: one amount per period, whatever the quantity;
- `PerUnit`: quantity x unit amount;
- `GraduatedTiers`: each unit priced by the tier it falls in (plus each reached tier's
  optional flat fee);
- `VolumeTiers`: every unit priced at the tier the total falls in (plus that tier's flat fee);
- `Package`: a price per block of `package_size` units, a partial block rounded up;
- `Percentage`: a rate of a transaction's amount plus a fixed fee per transaction,
  the fee of each transaction clamped to an optional minimum and maximum;
- `MinimumCommitment`: the shortfall between a period's total and a minimum.

Tiers follow Stripe's `up_to`: a tier covers the quantities above the previous tier's
`up_to` up to and including its own; the last tier is open-ended (`up_to=None`). Since a
tier starts where the previous one ends, tiers can have neither gaps nor overlaps; they
must ascend strictly (no duplicate bounds).

Amounts: a unit amount is an exact `Decimal` in major units that may be finer than the
minor unit ("0.0125" USD, at most `UNIT_AMOUNT_MAX_DECIMALS` decimals; Stripe's
`unit_amount_decimal` has 12 decimals of the minor unit); a flat amount is `Money`. Each
breakdown line is computed exactly and rounded once, half-up to the currency's minor unit
(`domain.money`'s rule); the total is the exact sum of the lines. An amount beyond BIGINT
minor units is refused.

Quantities are non-negative finite `Decimal`s and may be fractional: usage sums (GB-hours,
API seconds) are, and every model has a natural meaning for them (graduated tiers split
the quantity continuously at the bounds, a partial package counts as a whole one).
Licensed quantities (seats on a subscription) must be whole: price them with
`whole_units=True`. A zero quantity costs nothing: no tier is reached, so no tier's flat
fee is charged (a flat fee per period is the one model that ignores the quantity).

Validation errors are `DomainError`s whose field paths are the caller's prefix followed by
the input's names in GraphQL spelling (`tiers`, `2`, `upTo`); pricing functions validate
their model again, with paths relative to the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, assert_never

from domain.currency import is_known_currency
from domain.errors import DomainError, ErrorCode, FieldError, FieldErrors
from domain.money import (
    InvalidAmount,
    Money,
    exact_decimals,
    format_decimal,
    line_amount,
    sum_money,
)

MAX_TIERS: Final = 100
UNIT_AMOUNT_MAX_DECIMALS: Final = 12
RATE_MAX_DECIMALS: Final = 12
HUNDRED_PERCENT: Final = Decimal(100)


@dataclass(frozen=True, slots=True)
class Tier:
    """Quantities above the previous tier's `up_to`, up to and including this one's."""

    up_to: Decimal | None  # None: open-ended, the last tier only
    unit_amount: Decimal  # exact, major units, may be finer than the minor unit
    flat_amount: Money | None = None


@dataclass(frozen=True, slots=True)
class FlatFee:
    amount: Money

    @property
    def currency(self) -> str:
        return self.amount.currency


@dataclass(frozen=True, slots=True)
class PerUnit:
    unit_amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class GraduatedTiers:
    tiers: tuple[Tier, ...]
    currency: str


@dataclass(frozen=True, slots=True)
class VolumeTiers:
    tiers: tuple[Tier, ...]
    currency: str


@dataclass(frozen=True, slots=True)
class Package:
    package_amount: Decimal  # the price of one block, exact, major units
    package_size: int  # units per block
    currency: str


@dataclass(frozen=True, slots=True)
class Percentage:
    """`rate` percent of each transaction's amount (Decimal("2.9") is 2.9 %) plus
    `fixed_amount`; the fee of each transaction is then held within min and max."""

    rate: Decimal
    currency: str
    fixed_amount: Money | None = None
    min_amount: Money | None = None
    max_amount: Money | None = None


@dataclass(frozen=True, slots=True)
class MinimumCommitment:
    """A period's minimum spend: a total below it is topped up by the shortfall."""

    amount: Money

    @property
    def currency(self) -> str:
        return self.amount.currency


PriceModel = FlatFee | PerUnit | GraduatedTiers | VolumeTiers | Package | Percentage


@dataclass(frozen=True, slots=True)
class PriceLine:
    """One computed line: `amount` is `quantity x unit_amount` rounded once, plus
    `flat_amount` (a percentage fee then held within its minimum and maximum)."""

    description: str
    tier: int | None  # the index of the tier this line prices, for tiered models
    quantity: Decimal  # units, packages (Package) or the transaction amount (Percentage)
    unit_amount: Decimal | None  # per unit, per package, or the rate as a fraction
    flat_amount: Money | None
    amount: Money
    # Percentage of usage: how many transactions the line stands for (`quantity` is then
    # their volume and `amount` the sum of their fees, each rounded once).
    count: int = 1


@dataclass(frozen=True, slots=True)
class PriceBreakdown:
    total: Money
    lines: tuple[PriceLine, ...]


# --- validation -------------------------------------------------------------------------


def price_errors(model: PriceModel, field: tuple[str, ...] = ()) -> list[FieldError]:
    """Everything wrong with a price model, at paths under `field`."""
    errors = FieldErrors()
    currency_ok = _check_currency(errors, model.currency, field)
    match model:
        case FlatFee():
            _check_money(errors, model.amount, model.currency, field + ("amount",))
        case PerUnit():
            if currency_ok:
                _check_unit_amount(
                    errors, model.unit_amount, model.currency, field + ("unitAmount",)
                )
        case GraduatedTiers() | VolumeTiers():
            if currency_ok:
                _check_tiers(errors, model.tiers, model.currency, field + ("tiers",))
        case Package():
            if currency_ok:
                _check_unit_amount(
                    errors, model.package_amount, model.currency, field + ("packageAmount",)
                )
            size = model.package_size
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                errors.add(
                    ErrorCode.INVALID,
                    field + ("packageSize",),
                    "a package holds a positive whole number of units",
                )
        case Percentage():
            _check_percentage(errors, model, field)
        case _:
            assert_never(model)
    return errors.errors


def validate_price(model: PriceModel, field: tuple[str, ...] = ()) -> None:
    """Raise a `DomainError` listing everything wrong with the model."""
    errors = price_errors(model, field)
    if errors:
        raise DomainError(errors)


def validate_minimum_commitment(commitment: MinimumCommitment, field: tuple[str, ...] = ()) -> None:
    errors = FieldErrors()
    _check_money(errors, commitment.amount, commitment.currency, field + ("amount",))
    errors.raise_if_any()


def validate_quantity(
    quantity: Decimal, field: tuple[str, ...] = ("quantity",), *, whole_units: bool = False
) -> None:
    """A quantity is a finite non-negative decimal; a whole number where `whole_units`."""
    if isinstance(quantity, bool) or not isinstance(quantity, Decimal | int):
        raise TypeError("quantities are decimals, never floats")
    quantity = Decimal(quantity)
    if not quantity.is_finite():
        raise DomainError([FieldError(ErrorCode.INVALID, field, "a quantity is a finite number")])
    if quantity < 0:
        raise DomainError([FieldError(ErrorCode.INVALID, field, "a quantity cannot be negative")])
    if whole_units and _decimals(quantity) > 0:
        raise DomainError(
            [FieldError(ErrorCode.INVALID, field, "this quantity is a whole number of units")]
        )


def _check_currency(errors: FieldErrors, currency: str, field: tuple[str, ...]) -> bool:
    if isinstance(currency, str) and is_known_currency(currency):
        return True
    errors.add(ErrorCode.UNKNOWN_CURRENCY, field + ("currency",), f"{currency!r} is not a currency")
    return False


def _check_money(errors: FieldErrors, money: object, currency: str, field: tuple[str, ...]) -> None:
    if not isinstance(money, Money):
        errors.add(ErrorCode.INVALID, field, "an amount of money is required")
    elif money.currency != currency:
        errors.add(
            ErrorCode.INVALID, field, f"the amount is in {money.currency}, the price in {currency}"
        )
    elif money.is_negative():
        errors.add(ErrorCode.INVALID, field, "the amount cannot be negative")


def _decimals(value: Decimal) -> int:
    """Significant decimal places ("1.50" has 1), from the digits: never context-rounded."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing_zeros)) if any(digits) else 0


def _check_unit_amount(
    errors: FieldErrors, amount: object, currency: str, field: tuple[str, ...]
) -> None:
    if isinstance(amount, bool) or not isinstance(amount, Decimal) or not amount.is_finite():
        errors.add(ErrorCode.INVALID, field, "a unit amount is a finite decimal")
    elif amount < 0:
        errors.add(ErrorCode.INVALID, field, "a unit amount cannot be negative")
    elif _decimals(amount) > UNIT_AMOUNT_MAX_DECIMALS:
        errors.add(
            ErrorCode.INVALID,
            field,
            f"a unit amount has at most {UNIT_AMOUNT_MAX_DECIMALS} decimal places",
        )
    else:
        try:
            Money.round_from(amount, currency)
        except InvalidAmount:
            errors.add(ErrorCode.INVALID, field, "the unit amount is out of range")


def _check_tiers(
    errors: FieldErrors, tiers: Sequence[Tier], currency: str, field: tuple[str, ...]
) -> None:
    if not tiers:
        errors.add(ErrorCode.REQUIRED, field, "at least one tier is required")
        return
    if len(tiers) > MAX_TIERS:
        errors.add(ErrorCode.TOO_MANY, field, f"at most {MAX_TIERS} tiers")
        return
    last = len(tiers) - 1
    previous: Decimal | None = Decimal(0)  # the highest bound so far; None once unusable
    for index, tier in enumerate(tiers):
        path = field + (str(index),)
        if not isinstance(tier, Tier):
            errors.add(ErrorCode.INVALID, path, "a tier is required")
            previous = None
            continue
        up_to = tier.up_to
        if up_to is None:
            if index != last:
                errors.add(ErrorCode.INVALID, path + ("upTo",), "only the last tier is open-ended")
                previous = None
        elif isinstance(up_to, bool) or not isinstance(up_to, Decimal) or not up_to.is_finite():
            errors.add(ErrorCode.INVALID, path + ("upTo",), "a tier's upTo is a finite number")
            previous = None
        else:
            if index == last:
                errors.add(
                    ErrorCode.INVALID,
                    path + ("upTo",),
                    "the last tier is open-ended: its upTo is null",
                )
            if up_to <= 0:
                errors.add(ErrorCode.INVALID, path + ("upTo",), "a tier's upTo is above zero")
            elif previous is not None and up_to <= previous:
                errors.add(
                    ErrorCode.INVALID,
                    path + ("upTo",),
                    f"tiers ascend: upTo is above the previous tier's ({format_decimal(previous)})",
                )
            if previous is not None and up_to > previous:
                previous = up_to  # an out-of-order bound is reported once, not blamed on the next
        _check_unit_amount(errors, tier.unit_amount, currency, path + ("unitAmount",))
        if tier.flat_amount is not None:
            _check_money(errors, tier.flat_amount, currency, path + ("flatAmount",))


def _check_percentage(errors: FieldErrors, model: Percentage, field: tuple[str, ...]) -> None:
    rate = model.rate
    if isinstance(rate, bool) or not isinstance(rate, Decimal) or not rate.is_finite():
        errors.add(ErrorCode.INVALID, field + ("rate",), "a rate is a finite decimal")
    elif not 0 <= rate <= HUNDRED_PERCENT:
        errors.add(ErrorCode.INVALID, field + ("rate",), "a rate is between 0 and 100 percent")
    elif _decimals(rate) > RATE_MAX_DECIMALS:
        errors.add(
            ErrorCode.INVALID,
            field + ("rate",),
            f"a rate has at most {RATE_MAX_DECIMALS} decimal places",
        )
    bounds: dict[str, Money] = {}
    for name, money in (
        ("fixedAmount", model.fixed_amount),
        ("minAmount", model.min_amount),
        ("maxAmount", model.max_amount),
    ):
        if money is not None:
            before = len(errors.errors)
            _check_money(errors, money, model.currency, field + (name,))
            if len(errors.errors) == before:
                bounds[name] = money
    if (
        "minAmount" in bounds
        and "maxAmount" in bounds
        and bounds["minAmount"] > bounds["maxAmount"]
    ):
        errors.add(ErrorCode.INVALID, field + ("maxAmount",), "the maximum is below the minimum")


# --- pricing ----------------------------------------------------------------------------


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
        _check_money(errors, amount, model.currency, field + (str(index),))
    errors.raise_if_any()
    return _summed(
        model.currency,
        lambda: [_percentage_line(model, amount.amount) for amount in amounts],
        field,
    )


@dataclass(frozen=True, slots=True)
class MeteredUsage:
    """A customer's usage of a metric in a period, as a metered price needs it: the
    aggregated quantity, and each distinct event value with the number of events that
    carried it (a percentage price charges every transaction, not the period's sum)."""

    quantity: Decimal
    value_counts: tuple[tuple[Decimal, int], ...] = ()


def price_usage(model: PriceModel, usage: MeteredUsage) -> PriceBreakdown:
    """What a period's usage costs under a metered price. A percentage price charges each
    event's value as one transaction (fixed fee, minimum and maximum per transaction), so
    a value finer than the minor unit is priced exactly and rounded once per transaction."""
    if isinstance(model, Percentage):
        validate_price(model)
        return _summed(
            model.currency,
            lambda: _percentage_usage_lines(model, usage.value_counts),
            ("usage",),
        )
    return price_for(model, usage.quantity, field=("usage",))


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
