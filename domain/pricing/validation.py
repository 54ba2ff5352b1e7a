"""The rules a price model, a minimum commitment and a quantity must meet.

Errors are `FieldError`s whose paths are the caller's prefix followed by the input's names
in GraphQL spelling (`tiers`, `2`, `upTo`), so an API answers them as `userErrors` as they
are. Everything wrong is reported at once; a bound out of order is blamed once, not on
every tier after it.

Tiers can have neither gaps nor overlaps, since a tier starts where the previous one ends:
they must ascend strictly (no duplicate bounds) and only the last is open-ended. A unit
amount has at most `UNIT_AMOUNT_MAX_DECIMALS` decimals (Stripe's `unit_amount_decimal` has
12 decimals of the minor unit) and fits BIGINT minor units once rounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final, assert_never

from domain.currency import is_known_currency
from domain.errors import DomainError, ErrorCode, FieldError, FieldErrors
from domain.money import InvalidAmount, Money, format_decimal
from domain.pricing.models import (
    FlatFee,
    GraduatedTiers,
    MinimumCommitment,
    Package,
    Percentage,
    PerUnit,
    PriceModel,
    Tier,
    VolumeTiers,
)

MAX_TIERS: Final = 100
UNIT_AMOUNT_MAX_DECIMALS: Final = 12
RATE_MAX_DECIMALS: Final = 12
HUNDRED_PERCENT: Final = Decimal(100)


def price_errors(model: PriceModel, field: tuple[str, ...] = ()) -> list[FieldError]:
    """Everything wrong with a price model, at paths under `field`."""
    errors = FieldErrors()
    currency_ok = _check_currency(errors, model.currency, field)
    match model:
        case FlatFee():
            check_money(errors, model.amount, model.currency, field + ("amount",))
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
    check_money(errors, commitment.amount, commitment.currency, field + ("amount",))
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


def check_money(errors: FieldErrors, money: object, currency: str, field: tuple[str, ...]) -> None:
    """An amount of a price (a flat fee, a bound, a transaction) is `Money` in the price's
    currency and is not negative."""
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
            check_money(errors, tier.flat_amount, currency, path + ("flatAmount",))


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
            check_money(errors, money, model.currency, field + (name,))
            if len(errors.errors) == before:
                bounds[name] = money
    if (
        "minAmount" in bounds
        and "maxAmount" in bounds
        and bounds["minAmount"] > bounds["maxAmount"]
    ):
        errors.add(ErrorCode.INVALID, field + ("maxAmount",), "the maximum is below the minimum")
