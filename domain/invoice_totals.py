"""An invoice's totals: its lines' amounts, the discounts taken off them, and their tax.

The order of operations is Stripe's: discounts come off the lines first, then each line is
taxed on what is left, rounded once per line (`domain.taxes.line_tax`), and the taxes are
summarised per rate. Every split of an amount over lines is `Money.allocate`, so the parts
always sum exactly to what the invoice shows.

Discounts apply in the order given, each to what the earlier ones left, and only to
discountable lines of their plans that still have a positive amount: a discount never
turns a line into a credit, and an invoice's discounts together never exceed its subtotal
(nor anything when proration credits outweigh its charges), as Stripe's amount-off coupons
never raise a customer's balance (API changelog, 2013-10-29).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from domain.coupons import Discount
from domain.money import CurrencyMismatch, Money, exact_decimals, sum_money
from domain.percentages import HUNDRED
from domain.taxes import TaxDecision, TaxRate, line_tax


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """A line to total: `amount` may be negative (a proration credit); `plan_id` says which
    plan-restricted discounts reach it."""

    key: str
    amount: Money
    plan_id: str | None
    tax: TaxDecision
    discountable: bool = True


@dataclass(frozen=True, slots=True)
class AppliedDiscount:
    """A discount as one invoice applies it: exactly one of `percent_off` and `amount_off`;
    `plan_ids` empty reaches every line."""

    discount_id: str
    percent_off: Decimal | None
    amount_off: Money | None
    plan_ids: frozenset[str] = frozenset()

    @classmethod
    def from_discount(cls, discount: Discount) -> AppliedDiscount:
        coupon = discount.coupon
        return cls(
            discount_id=discount.id,
            percent_off=coupon.percent_off,
            amount_off=coupon.amount_off,
            plan_ids=frozenset(coupon.applies_to_plans),
        )


@dataclass(frozen=True, slots=True)
class LineTotals:
    """One line after discounts and tax. `taxable_amount` is `amount - discount_total`:
    the net for an exclusive rate, the gross (tax inside) for an inclusive one."""

    key: str
    amount: Money
    discounts: tuple[tuple[str, Money], ...]  # (discount id, amount taken off this line)
    discount_total: Money
    taxable_amount: Money
    tax_amount: Money
    tax_rate: TaxRate | None
    inclusive: bool


@dataclass(frozen=True, slots=True)
class TaxBreakdownEntry:
    """One rate's lines summed: what an invoice's tax table shows per rate."""

    rate: TaxRate
    taxable_amount: Money
    tax_amount: Money


@dataclass(frozen=True, slots=True)
class InvoiceTotals:
    """An invoice's amounts. `total = subtotal - discount_total + exclusive_tax_total`:
    inclusive tax is already inside the lines' amounts. `discount_amounts` has one entry
    per discount, in the given order (zero when it found nothing to discount)."""

    currency: str
    lines: tuple[LineTotals, ...]
    subtotal: Money
    discount_total: Money
    discount_amounts: tuple[tuple[str, Money], ...]
    tax_total: Money
    exclusive_tax_total: Money
    total: Money
    breakdown: tuple[TaxBreakdownEntry, ...]
    reverse_charge: bool


def compute_totals(
    currency: str, lines: Sequence[ChargeLine], discounts: Sequence[AppliedDiscount]
) -> InvoiceTotals:
    """The totals of an invoice in `currency`. A line or an amount off in another currency
    is a programming error (`CurrencyMismatch`): callers check currencies first."""
    keys = [line.key for line in lines]
    if len(set(keys)) != len(keys):
        raise ValueError("each line of an invoice has its own key")
    subtotal = sum_money((line.amount for line in lines), currency)  # refuses other currencies
    if discounts:
        per_line, discount_amounts = _allocate_discounts(currency, lines, discounts)
    else:  # most invoices (every renewal without a coupon): nothing to share out
        per_line, discount_amounts = [[] for _ in lines], []
    zero = Money.zero(currency)
    line_totals = tuple(
        _line_totals(currency, line, tuple(parts), zero) for line, parts in zip(lines, per_line)
    )
    discount_total = sum_money((line.discount_total for line in line_totals), currency)
    tax_total = sum_money((line.tax_amount for line in line_totals), currency)
    exclusive_tax_total = sum_money(
        (line.tax_amount for line in line_totals if not line.inclusive), currency
    )
    return InvoiceTotals(
        currency=currency,
        lines=line_totals,
        subtotal=subtotal,
        discount_total=discount_total,
        discount_amounts=tuple(discount_amounts),
        tax_total=tax_total,
        exclusive_tax_total=exclusive_tax_total,
        total=subtotal - discount_total + exclusive_tax_total,
        breakdown=_breakdown(currency, line_totals),
        reverse_charge=any(line.tax.reverse_charge for line in lines),
    )


def _allocate_discounts(
    currency: str, lines: Sequence[ChargeLine], discounts: Sequence[AppliedDiscount]
) -> tuple[list[list[tuple[str, Money]]], list[tuple[str, Money]]]:
    """Each line's discounts, and each discount's amount over the invoice."""
    remaining = [line.amount.minor_units for line in lines]
    # Credit lines can bring the subtotal below the discountable charges: the discounts
    # together stop at the subtotal, so the invoice never ends up owing the customer.
    left_to_give = max(0, sum(remaining))
    per_line: list[list[tuple[str, Money]]] = [[] for _ in lines]
    amounts: list[tuple[str, Money]] = []
    for discount in discounts:
        eligible = [
            index
            for index, line in enumerate(lines)
            if line.discountable
            and remaining[index] > 0
            and (not discount.plan_ids or line.plan_id in discount.plan_ids)
        ]
        base = Money(sum(remaining[index] for index in eligible), currency)
        granted = min(_wanted(discount, base), base.minor_units, left_to_give)
        amounts.append((discount.discount_id, Money(granted, currency)))
        if granted == 0:
            continue
        # In proportion to what each line has left, so no part exceeds it (each part is
        # within one minor unit of its exact share, and the shares are at most the rest).
        parts = Money(granted, currency).allocate([remaining[index] for index in eligible])
        for index, part in zip(eligible, parts):
            if not part.is_zero():
                per_line[index].append((discount.discount_id, part))
                remaining[index] -= part.minor_units
        left_to_give -= granted
    return per_line, amounts


def _wanted(discount: AppliedDiscount, base: Money) -> int:
    """What a discount would take off `base` (minor units), before any cap: a percentage
    worked out once on the eligible sum and rounded once, or the whole amount off."""
    if (discount.percent_off is None) == (discount.amount_off is None):
        raise ValueError("a discount takes either a percentage or an amount off")
    if discount.amount_off is not None:
        if discount.amount_off.currency != base.currency:
            raise CurrencyMismatch(
                f"an amount off in {discount.amount_off.currency} on a {base.currency} invoice"
            )
        if discount.amount_off.minor_units <= 0:
            raise ValueError("an amount off is positive")
        return discount.amount_off.minor_units
    assert discount.percent_off is not None
    if not 0 < discount.percent_off <= HUNDRED:
        raise ValueError("a percentage off is more than 0 and at most 100")
    with exact_decimals():
        exact = base.amount * discount.percent_off / HUNDRED
    return Money.round_from(exact, base.currency).minor_units


def _line_totals(
    currency: str, line: ChargeLine, discounts: tuple[tuple[str, Money], ...], zero: Money
) -> LineTotals:
    if discounts:
        discount_total = sum_money((amount for _, amount in discounts), currency)
        taxable = line.amount - discount_total
    else:
        discount_total, taxable = zero, line.amount
    rate = line.tax.rate
    tax = zero if rate is None else line_tax(taxable, rate).tax
    return LineTotals(
        key=line.key,
        amount=line.amount,
        discounts=discounts,
        discount_total=discount_total,
        taxable_amount=taxable,
        tax_amount=tax,
        tax_rate=rate,
        inclusive=rate is not None and rate.inclusive,
    )


def _breakdown(currency: str, lines: Sequence[LineTotals]) -> tuple[TaxBreakdownEntry, ...]:
    """Per rate, in the order rates first appear on the invoice."""
    rates: dict[str, TaxRate] = {}
    taxable: dict[str, list[Money]] = {}
    taxes: dict[str, list[Money]] = {}
    for line in lines:
        if line.tax_rate is None:
            continue
        rate_id = line.tax_rate.id
        rates.setdefault(rate_id, line.tax_rate)
        taxable.setdefault(rate_id, []).append(line.taxable_amount)
        taxes.setdefault(rate_id, []).append(line.tax_amount)
    return tuple(
        TaxBreakdownEntry(
            rate=rate,
            taxable_amount=sum_money(taxable[rate_id], currency),
            tax_amount=sum_money(taxes[rate_id], currency),
        )
        for rate_id, rate in rates.items()
    )
