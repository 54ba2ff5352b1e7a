"""Usage charges: what a customer's usage of a metric in a window costs under a metered
price of a plan, as dashboards read it before any invoice exists.

A metered price charges the window's aggregated quantity, except a percentage price,
which charges each event as one transaction (`charges_each_transaction`): it needs each
event's value, not only their sum. A licensed price has no usage charge: its quantity is
set on the subscription.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from domain.errors import DomainError, ErrorCode, FieldError
from domain.metrics import BillableMetric
from domain.plans import BillingMode, PlanPrice
from domain.pricing import MeteredUsage, PriceBreakdown, price_usage


@dataclass(frozen=True, slots=True)
class UsageCharge:
    """A customer's usage of a metric in a window and what it costs."""

    metric: BillableMetric
    quantity: Decimal
    event_count: int
    breakdown: PriceBreakdown


def check_metered(price: PlanPrice, field: tuple[str, ...] = ("priceId",)) -> None:
    """Only a metered price charges usage."""
    if price.billing_mode is not BillingMode.METERED:
        raise DomainError(
            [
                FieldError(
                    ErrorCode.INVALID,
                    field,
                    "This price is licensed: its quantity is set, not metered.",
                )
            ]
        )


def check_currency(
    price: PlanPrice, customer_currency: str, field: tuple[str, ...] = ("priceId",)
) -> None:
    """A price charges only a customer billed in its own currency: no conversion happens
    anywhere, so pricing a JPY customer's usage under a USD price would bill yen as dollars."""
    if price.currency != customer_currency:
        raise DomainError(
            [
                FieldError(
                    ErrorCode.CURRENCY_MISMATCH,
                    field,
                    f"This price is in {price.currency}; the customer is billed in "
                    f"{customer_currency}.",
                )
            ]
        )


def charge_usage(
    price: PlanPrice,
    metric: BillableMetric,
    quantity: Decimal,
    event_count: int,
    value_counts: Iterable[tuple[Decimal, int]] = (),
) -> UsageCharge:
    """What usage measured in a window costs under a metered price: `quantity` and
    `event_count` the window's aggregate, `value_counts` each distinct event value with
    the number of events that carried it (needed only where `charges_each_transaction`).
    A licensed price, or an amount out of range, is a `DomainError`."""
    check_metered(price)
    breakdown = price_usage(price.model, MeteredUsage(quantity, tuple(value_counts)))
    return UsageCharge(metric, quantity, event_count, breakdown)
