"""Proration: the part of a period's charge that a mid-period change credits or charges.

Worked out to the second, as Stripe does ("Stripe calculates proration down to the second
based on the starting timestamp of the billing period and the timestamp of the proration's
triggering event", https://docs.stripe.com/billing/subscriptions/prorations). Changing from
a 10 USD to a 20 USD monthly price halfway through the period credits 5 USD for the unused
time on the old price and charges 10 USD for the remaining time on the new one.

The rule, for a charge `amount` made for a whole `period` and a change at `at`:

    prorated = amount × seconds in [at, period.end) / seconds in period

worked out exactly and rounded **once**, half-up to the currency's minor unit
(`Money.round_from`, THE rounding rule of `domain.money`). `at` is truncated to the whole
second (12:00:00.750 counts as 12:00:00, so the fraction of a second goes to the
customer as unused time), then clamped to the period: a change before the period starts
prorates all of it, one at or after its end prorates nothing. So a credit is never
negative and never more than what was charged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Context, DivisionByZero, InvalidOperation, Overflow, localcontext
from enum import Enum
from typing import Final

from domain.billing_periods import ONE_SECOND, Period, truncate_to_second
from domain.money import EXACT_DIGITS, InvalidAmount, Money, format_decimal

# The quotient amount × seconds / period_seconds rarely terminates (a 31-day month is
# 2,678,400 s = 2^7·3^3·5^2·31), so it is cut, toward zero, after EXACT_DIGITS significant
# digits, then rounded once by Money.round_from. Cutting cannot move the result: the value
# is at most 19 digits of minor units, so the cut falls far below the minor unit, every
# half-way point (…x.5 of a minor unit) is representable, and a cut value lands on the
# same side of it as the exact one (a tie stays a tie, anything above stays above).
_QUOTIENT_CONTEXT: Final = Context(
    prec=EXACT_DIGITS,
    rounding=ROUND_DOWN,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)


class ProrationKind(str, Enum):
    """UNUSED_CREDIT: what is given back for time already paid and not used.
    REMAINING_CHARGE: what the rest of the period costs on a new price."""

    UNUSED_CREDIT = "UNUSED_CREDIT"
    REMAINING_CHARGE = "REMAINING_CHARGE"


@dataclass(frozen=True, slots=True)
class Proration:
    """One prorated amount and everything needed to check it by hand.

    `amount` is positive for a credit as for a charge: the invoice line negates a credit.
    `seconds` is the prorated part [since, period.end) of the `period_seconds` of `period`;
    `period_amount` is what the whole period costs at that price.
    """

    kind: ProrationKind
    label: str
    amount: Money
    period_amount: Money
    seconds: int
    period_seconds: int
    period: Period
    since: datetime

    @property
    def explanation(self) -> str:
        """A line a person can check by hand, e.g. "Unused time on Pro from 2026-03-15
        (USD 30.00 / period 2026-03-01 to 2026-04-01): 1,468,800 s of 2,678,400 s = USD
        16.45"."""
        what = "Unused time" if self.kind is ProrationKind.UNUSED_CREDIT else "Remaining time"
        return (
            f"{what} on {self.label} from {_instant_text(self.since)} "
            f"({_money_text(self.period_amount)} / period {_instant_text(self.period.start)} "
            f"to {_instant_text(self.period.end)}): "
            f"{self.seconds:,} s of {self.period_seconds:,} s = {_money_text(self.amount)}"
        )


def unused_credit(amount: Money, period: Period, at: datetime, label: str) -> Proration:
    """The credit for the unused part [at, period.end) of `amount` charged for the whole
    `period` (a positive amount, at most `amount`)."""
    return _prorate(ProrationKind.UNUSED_CREDIT, amount, period, at, label)


def remaining_charge(amount: Money, period: Period, at: datetime, label: str) -> Proration:
    """The charge for the rest [at, period.end) of `period` at a price of `amount` for the
    whole period."""
    return _prorate(ProrationKind.REMAINING_CHARGE, amount, period, at, label)


def _prorate(
    kind: ProrationKind, amount: Money, period: Period, at: datetime, label: str
) -> Proration:
    if amount.is_negative():
        raise InvalidAmount("a period's charge to prorate cannot be negative")
    since = min(max(truncate_to_second(at), period.start), period.end)
    seconds = (period.end - since) // ONE_SECOND
    period_seconds = period.seconds
    with localcontext(_QUOTIENT_CONTEXT):
        # The product is exact (at most 19 + 12 digits); only the division is cut.
        share = amount.amount * seconds / period_seconds
    return Proration(
        kind=kind,
        label=label,
        amount=Money.round_from(share, amount.currency),
        period_amount=amount,
        seconds=seconds,
        period_seconds=period_seconds,
        period=period,
        since=since,
    )


def _money_text(money: Money) -> str:
    # The amount with exactly the currency's minor-unit digits: "USD 30.00", "JPY 1000".
    return f"{money.currency} {format_decimal(money.amount)}"


def _instant_text(instant: datetime) -> str:
    # Dates alone when the boundary is at midnight UTC, as most are; the time otherwise.
    if instant.hour == instant.minute == instant.second == 0:
        return instant.date().isoformat()
    return instant.strftime("%Y-%m-%d %H:%M:%S UTC")
