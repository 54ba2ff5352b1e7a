"""Percentages as callers state them: a coupon's percent off, a tax rate's percentage.

Both follow Stripe's shape (`percent_off`, `percentage`: up to 4 decimal places), so one
rule checks them; only whether 0 % makes sense differs (a 0 % tax rate is real, zero-rated
goods; a 0 % coupon discounts nothing).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from domain.errors import ErrorCode, FieldErrors

PERCENTAGE_MAX_DECIMALS: Final = 4
HUNDRED: Final = Decimal(100)


def decimal_places(value: Decimal) -> int:
    """Significant decimal places ("12.50" has 1), read from the digits so that no decimal
    context can round first."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing_zeros)) if any(digits) else 0


def check_percentage(
    errors: FieldErrors, value: object, field: tuple[str, ...], *, zero_allowed: bool
) -> None:
    """A finite decimal in [0, 100] (or (0, 100]) with at most 4 decimal places."""
    lowest = "0" if zero_allowed else "more than 0"
    if isinstance(value, bool) or not isinstance(value, Decimal) or not value.is_finite():
        errors.add(ErrorCode.INVALID, field, "A percentage is a finite decimal number.")
    elif value < 0 or value > HUNDRED or (value == 0 and not zero_allowed):
        errors.add(ErrorCode.INVALID, field, f"A percentage is {lowest} to 100.")
    elif decimal_places(value) > PERCENTAGE_MAX_DECIMALS:
        errors.add(
            ErrorCode.INVALID,
            field,
            f"A percentage has at most {PERCENTAGE_MAX_DECIMALS} decimal places.",
        )
