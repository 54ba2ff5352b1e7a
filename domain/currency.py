"""ISO 4217 currencies and their minor-unit exponents.

The data comes from the `iso4217` package, which ships the ISO 4217 maintenance
agency's list; funds and metals without a minor unit (XAU, XDR...) are not
billable currencies and are left out.
"""

from __future__ import annotations

from functools import lru_cache

import iso4217


@lru_cache(maxsize=1)
def _exponents() -> dict[str, int]:
    return {
        currency.code: currency.exponent
        for currency in iso4217.Currency
        if currency.exponent is not None
    }


def is_known_currency(code: str) -> bool:
    return code in _exponents()


def exponent_of(code: str) -> int:
    """The number of digits after the decimal point in the currency's minor unit."""
    try:
        return _exponents()[code]
    except KeyError:
        raise UnknownCurrency(code) from None


def known_currencies() -> list[str]:
    return sorted(_exponents())


class UnknownCurrency(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(f"{code!r} is not an ISO 4217 currency code")
        self.code = code
