"""Exact money: integer minor units of one ISO 4217 currency. Never floats.

THE rounding rule
-----------------
An amount that is computed (a quantity times a unit price, a percentage of an amount)
is worked out exactly in `Decimal` and rounded **once per computed line**, **half-up to
the currency's minor unit**: `ROUND_HALF_UP`, a tie (exactly .5 of a minor unit) goes
away from zero, so 0.125 USD is 0.13 and -0.125 USD is -0.13. Only `Money.round_from`
(and `line_amount`, built on it) rounds; sums of lines, allocations and differences of
`Money` are exact integer arithmetic and never round again. An amount beyond a
PostgreSQL BIGINT of minor units is refused (`InvalidAmount`), never wrapped or clipped.

Splitting an amount (discounts, taxes across lines) uses `Money.allocate`: the parts
always sum exactly to the whole, by the largest-remainder method.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)
from functools import lru_cache
from typing import Final

from babel import Locale
from babel.numbers import NumberPattern

from domain.currency import exponent_of

# A plain decimal numeral: no exponent, no NaN or Infinity, no grouping.
DECIMAL_PATTERN = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$")
# Amounts live in PostgreSQL BIGINT columns.
MAX_MINOR_UNITS = 2**63 - 1
# THE rounding rule (see the module docstring).
ROUNDING: Final = ROUND_HALF_UP
# Digits that exact intermediate arithmetic may use; beyond them a computation is refused
# rather than rounded (inputs are at most 64-character numerals, so products fit easily).
EXACT_DIGITS: Final = 400
_EXACT_CONTEXT: Final = Context(
    prec=EXACT_DIGITS,
    rounding=ROUNDING,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)


class InvalidAmount(ValueError):
    pass


def parse_decimal(text: str) -> Decimal:
    """Parse a decimal numeral exactly; refuses floats' notations (1e3, NaN, Infinity)."""
    if not isinstance(text, str) or len(text) > 64 or not DECIMAL_PATTERN.fullmatch(text):
        raise InvalidAmount(f'{text!r} is not a decimal number such as "12.50"')
    return Decimal(text)


def format_decimal(value: Decimal) -> str:
    """The canonical numeral of a Decimal: no exponent notation, no trailing sign on zero."""
    if not value.is_finite():
        raise InvalidAmount("amounts are finite")
    text = format(value, "f")
    return text.lstrip("-") if value.is_zero() else text


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of one currency in integer minor units (cents for USD, yen for JPY)."""

    minor_units: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor_units, bool) or not isinstance(self.minor_units, int):
            raise InvalidAmount("money is held in integer minor units")
        if abs(self.minor_units) > MAX_MINOR_UNITS:
            raise InvalidAmount("amount is out of range")
        exponent_of(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, amount: Decimal, currency: str) -> Money:
        """Exact conversion; an amount finer than the currency's minor unit is refused.

        Integer arithmetic on the decimal's digits: Decimal operations round to the
        context's precision, which would hide a fraction of a minor unit.
        """
        if not isinstance(amount, Decimal) or not amount.is_finite():
            raise InvalidAmount("amounts are finite decimals")
        sign, digits, exponent = amount.as_tuple()
        assert isinstance(exponent, int)
        # Trailing zeros carry no value: "1.500" is 15 tenths.
        while len(digits) > 1 and digits[-1] == 0:
            digits, exponent = digits[:-1], exponent + 1
        shift = exponent + exponent_of(currency)
        if any(digits) and shift < 0:
            raise InvalidAmount(
                f"{currency} amounts have at most {exponent_of(currency)} decimal places"
            )
        if any(digits) and len(digits) + shift > 19:  # beyond BIGINT; never build huge ints
            raise InvalidAmount("amount is out of range")
        minor = int("".join(map(str, digits))) * 10 ** max(shift, 0) if any(digits) else 0
        return cls(-minor if sign else minor, currency)

    @property
    def amount(self) -> Decimal:
        """The amount in major units, with exactly the currency's number of decimals."""
        exponent = exponent_of(self.currency)
        return Decimal(self.minor_units).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))

    @classmethod
    def round_from(cls, amount: Decimal, currency: str) -> Money:
        """An amount in major units rounded half-up to the currency's minor unit (THE rule).

        Integer arithmetic on the decimal's digits, so no context precision can round
        first; an amount beyond BIGINT minor units, or not finite, is refused.
        """
        if not isinstance(amount, Decimal) or not amount.is_finite():
            raise InvalidAmount("amounts are finite decimals")
        sign, digits, exponent = amount.as_tuple()
        assert isinstance(exponent, int)
        coefficient = int("".join(map(str, digits)))
        if coefficient == 0:
            return cls.zero(currency)
        shift = exponent + exponent_of(currency)
        magnitude = len(digits) + shift  # the amount in minor units is below 10**magnitude
        if magnitude > 19:  # at least 10**18 * 10 > BIGINT; never build huge ints
            raise InvalidAmount("amount is out of range")
        if shift >= 0:
            minor = coefficient * 10**shift
        elif magnitude < 0:  # below a tenth of a minor unit
            minor = 0
        else:
            divisor = 10**-shift
            minor, remainder = divmod(coefficient, divisor)
            if 2 * remainder >= divisor:  # half-up: a tie goes away from zero
                minor += 1
        return cls(-minor if sign else minor, currency)

    def __add__(self, other: Money) -> Money:
        self._require_same_currency(other)
        return Money(self.minor_units + other.minor_units, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._require_same_currency(other)
        return Money(self.minor_units - other.minor_units, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor_units, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._require_same_currency(other)
        return self.minor_units < other.minor_units

    def __le__(self, other: Money) -> bool:
        self._require_same_currency(other)
        return self.minor_units <= other.minor_units

    def __gt__(self, other: Money) -> bool:
        self._require_same_currency(other)
        return self.minor_units > other.minor_units

    def __ge__(self, other: Money) -> bool:
        self._require_same_currency(other)
        return self.minor_units >= other.minor_units

    def is_zero(self) -> bool:
        return self.minor_units == 0

    def is_negative(self) -> bool:
        return self.minor_units < 0

    def allocate(self, weights: Sequence[int]) -> list[Money]:
        """Split into parts proportional to non-negative integer weights, exactly.

        Largest remainder: each part gets the floor of its exact share (of the amount's
        magnitude), and the minor units left over go one each to the parts with the
        largest remainders (the earlier part on a tie). The parts sum exactly to the
        whole, each differs from its exact share by less than one minor unit, a zero
        weight gets zero, and a negative amount splits like its magnitude, negated.
        """
        weights = list(weights)
        if not weights:
            raise InvalidAllocation("allocation needs at least one weight")
        if any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for w in weights):
            raise InvalidAllocation("allocation weights are non-negative integers")
        total = sum(weights)
        if total == 0:
            raise InvalidAllocation("allocation weights cannot all be zero")
        magnitude = abs(self.minor_units)
        shares = [divmod(magnitude * weight, total) for weight in weights]
        parts = [share for share, _ in shares]
        left_over = magnitude - sum(parts)  # fewer than len(weights)
        by_remainder = sorted(range(len(weights)), key=lambda i: (-shares[i][1], i))
        for index in by_remainder[:left_over]:
            parts[index] += 1
        sign = -1 if self.minor_units < 0 else 1
        return [Money(sign * part, self.currency) for part in parts]

    def split(self, parts: int) -> list[Money]:
        """Split into `parts` equal parts that sum exactly; they differ by at most one minor
        unit, the larger ones first."""
        if isinstance(parts, bool) or not isinstance(parts, int) or parts < 1:
            raise InvalidAllocation("split into a positive whole number of parts")
        return self.allocate([1] * parts)

    def _require_same_currency(self, other: Money) -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other!r}")


class CurrencyMismatch(ValueError):
    pass


class InvalidAllocation(ValueError):
    pass


def sum_money(items: Iterable[Money], currency: str) -> Money:
    """The exact sum of amounts of `currency` (zero for none); another currency is refused.

    Intermediate sums are unbounded integers: only the total must fit a BIGINT.
    """
    exponent_of(currency)
    total = 0
    for item in items:
        if not isinstance(item, Money) or item.currency != currency:
            raise CurrencyMismatch(f"cannot add {item!r} to a sum of {currency}")
        total += item.minor_units
    return Money(total, currency)


@contextmanager
def exact_decimals() -> Iterator[None]:
    """Decimal arithmetic inside is exact or refused: an operation that would round
    (beyond `EXACT_DIGITS` digits) or is invalid raises `InvalidAmount` instead."""
    try:
        with localcontext(_EXACT_CONTEXT):
            yield
    except DecimalException as error:
        raise InvalidAmount("the computation is out of range") from error


def line_amount(unit_price: Decimal, quantity: Decimal, currency: str) -> Money:
    """One computed line: `quantity` units at an exact `unit_price` in major units (which may
    be finer than the minor unit, "0.0125"), multiplied exactly and rounded once (THE rule)."""
    for value in (unit_price, quantity):
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise InvalidAmount("unit prices and quantities are decimals, never floats")
    with exact_decimals():
        exact = Decimal(unit_price) * Decimal(quantity)
    return Money.round_from(exact, currency)


def format_money(money: Money, locale: str = "en_US") -> str:
    """The amount in the locale's conventions ("$12.50", "¥1,000", "12,50 €"), with exactly
    the ISO 4217 minor-unit digits (CLDR's own digit counts differ for a few currencies)."""
    pattern = _currency_pattern(locale, exponent_of(money.currency))
    return str(pattern.apply(money.amount, locale, currency=money.currency, currency_digits=False))


@lru_cache(maxsize=256)
def _currency_pattern(locale: str, exponent: int) -> NumberPattern:
    pattern: NumberPattern = copy.copy(Locale.parse(locale).currency_formats["standard"])
    pattern.frac_prec = (exponent, exponent)
    return pattern


def format_unit_price(amount: Decimal, currency: str, locale: str = "en_US") -> str:
    """A per-unit price in the locale's conventions: at least the currency's minor-unit digits,
    and every finer digit it has ("$0.0125" a unit), which a price may carry and an amount never.
    """
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidAmount("unit prices are finite decimals")
    exponent = exponent_of(currency)
    finest = amount.normalize().as_tuple().exponent
    assert isinstance(finest, int)
    digits = max(exponent, -finest)
    pattern: NumberPattern = copy.copy(_currency_pattern(locale, exponent))
    pattern.frac_prec = (exponent, digits)
    return str(pattern.apply(amount, locale, currency=currency, currency_digits=False))
