"""Exact money: integer minor units of one ISO 4217 currency. Never floats."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import NumberPattern

from domain.currency import exponent_of

# A plain decimal numeral: no exponent, no NaN or Infinity, no grouping.
DECIMAL_PATTERN = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$")
# Amounts live in PostgreSQL BIGINT columns.
MAX_MINOR_UNITS = 2**63 - 1


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

    def __add__(self, other: Money) -> Money:
        self._require_same_currency(other)
        return Money(self.minor_units + other.minor_units, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._require_same_currency(other)
        return Money(self.minor_units - other.minor_units, self.currency)

    def _require_same_currency(self, other: Money) -> None:
        if not isinstance(other, Money) or other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other!r}")


class CurrencyMismatch(ValueError):
    pass


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
