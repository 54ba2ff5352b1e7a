"""Ledgerline's amounts (minor units of ISO 4217's exponent, domain/currency.py) in the unit
Stripe's API takes, which is not always the same.

Stripe's rules (docs.stripe.com/currencies, "Zero-decimal", "Three-decimal" and "Special
cases"), and what is done with each:
- Zero-decimal currencies (BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF)
  are sent in whole units. ISO gives all of them exponent 0 except MGA (2): an MGA amount is
  sent divided by 100, and one with fractions of an ariary is refused.
- ISK is two-decimal in Stripe's API (for backwards compatibility) though ISO and the card
  networks make it zero-decimal: sent multiplied by 100, so always a multiple of 100 as
  Stripe requires.
- Three-decimal currencies (BHD JOD KWD OMR TND) are sent in thousandths, but the last digit
  must be 0: an amount that is not a multiple of 10 is refused (never rounded: which way to
  round money is the caller's rule, not the adapter's).
- HUF and TWD are two-decimal for charges and refunds (zero-decimal only for payouts, which
  Ledgerline does not make): sent as they are.
- Other currencies with more than two decimals (IQD, LYD, CLF, UYW) are not among Stripe's
  three-decimal currencies: refused, since the unit Stripe would read is unknown.
Every other currency is sent in ISO minor units; whether Stripe accepts it for the account
(supported currencies, minimum and maximum amounts) is Stripe's answer to give.
"""

from __future__ import annotations

from typing import Final

from domain.currency import exponent_of
from domain.money import Money
from domain.payments import PaymentProviderError

ZERO_DECIMAL: Final = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()
)
THREE_DECIMAL: Final = frozenset("BHD JOD KWD OMR TND".split())
# Stripe's exponent where it is neither ISO's nor set by the two lists above.
_SPECIAL: Final = {"ISK": 2}


class AmountNotRepresentable(PaymentProviderError):
    """Stripe cannot be sent this amount exactly in this currency (see the module)."""


def stripe_exponent(currency: str) -> int:
    """The number of decimals of the unit Stripe's API counts `currency` in."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    if currency in _SPECIAL:
        return _SPECIAL[currency]
    iso = exponent_of(currency)
    if iso > 2:
        raise AmountNotRepresentable(f"Stripe does not take amounts in {currency}")
    return iso


def to_stripe(amount: Money) -> tuple[int, str]:
    """(`amount` in Stripe's unit, the currency as Stripe spells it: lowercase)."""
    currency = amount.currency
    shift = stripe_exponent(currency) - exponent_of(currency)
    if shift >= 0:
        value = amount.minor_units * 10**shift
    else:
        value, rest = divmod(amount.minor_units, 10**-shift)
        if rest:
            raise AmountNotRepresentable(
                f"Stripe charges {currency} in whole units only, not {amount.amount}"
            )
    if currency in THREE_DECIMAL and value % 10:
        raise AmountNotRepresentable(
            f"Stripe takes {currency} in multiples of 0.010 only, not {amount.amount}"
        )
    return value, currency.lower()
