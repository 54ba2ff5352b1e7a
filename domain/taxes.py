"""Taxes: the merchant's tax rates, which rate a customer's line bears, and the tax it owes.

Which rate applies is a port (`TaxProvider`), so an external tax engine (Stripe Tax,
Avalara, Anrok) can replace the default, which picks among the merchant's own rates by the
customer's country and region (`RateTableTaxProvider`, Stripe's "tax rates"). How much tax
a line owes once its rate is known is one rule (`line_tax`), rounded once per line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Context, Decimal, localcontext
from enum import Enum
from typing import Final, Protocol

from domain.customers import is_country_code
from domain.errors import ErrorCode, FieldErrors
from domain.money import EXACT_DIGITS, ROUNDING, Money, exact_decimals
from domain.percentages import HUNDRED, check_percentage

DISPLAY_NAME_MAX_LENGTH: Final = 100
REGION_MAX_LENGTH: Final = 64
DESCRIPTION_MAX_LENGTH: Final = 500


@dataclass(frozen=True, slots=True)
class TaxRateDraft:
    """What a caller asks for when creating a tax rate, before validation.

    `inclusive`: the percentage is inside the prices (EU consumer prices) rather than
    added on top (US sales tax). `region`: a state or province code ("CA", "QC"); None
    means the whole country.
    """

    display_name: str
    percentage: Decimal
    inclusive: bool
    country: str
    region: str | None = None
    active: bool = True
    description: str | None = None


@dataclass(frozen=True, slots=True)
class TaxRate:
    id: str
    display_name: str
    percentage: Decimal
    inclusive: bool
    country: str
    region: str | None
    active: bool
    description: str | None
    created_at: datetime


def validate_tax_rate(draft: TaxRateDraft, field: tuple[str, ...] = ("input",)) -> TaxRateDraft:
    """Normalise a draft (country and region upper case) or raise a DomainError listing
    every problem with its field path."""
    errors = FieldErrors()
    display_name = (draft.display_name or "").strip()
    if not display_name:
        errors.add(ErrorCode.REQUIRED, (*field, "displayName"), "A display name is required.")
    elif len(display_name) > DISPLAY_NAME_MAX_LENGTH:
        errors.add(
            ErrorCode.TOO_LONG,
            (*field, "displayName"),
            f"At most {DISPLAY_NAME_MAX_LENGTH} characters.",
        )
    check_percentage(errors, draft.percentage, (*field, "percentage"), zero_allowed=True)
    # The same rule as customers' addresses, whose country picks the rate.
    country = (draft.country or "").strip().upper()
    if not is_country_code(country):
        errors.add(
            ErrorCode.INVALID_COUNTRY,
            (*field, "country"),
            "Not an ISO 3166-1 alpha-2 country code (such as US, DE, JP).",
        )
    region = (draft.region or "").strip().upper() or None
    if region is not None and len(region) > REGION_MAX_LENGTH:
        errors.add(
            ErrorCode.TOO_LONG, (*field, "region"), f"At most {REGION_MAX_LENGTH} characters."
        )
    description = (draft.description or "").strip() or None
    if description is not None and len(description) > DESCRIPTION_MAX_LENGTH:
        errors.add(
            ErrorCode.TOO_LONG,
            (*field, "description"),
            f"At most {DESCRIPTION_MAX_LENGTH} characters.",
        )
    for name, text in (
        ("displayName", display_name),
        ("region", region),
        ("description", description),
    ):
        if text is not None and "\x00" in text:
            # PostgreSQL text cannot hold NUL; refuse it as input, not as a server error.
            errors.add(ErrorCode.INVALID, (*field, name), "Text cannot contain NUL characters.")
    errors.raise_if_any()
    return replace(
        draft, display_name=display_name, country=country, region=region, description=description
    )


class TaxExemption(str, Enum):
    """A customer's tax status, as Stripe's `tax_exempt`."""

    NONE = "NONE"
    EXEMPT = "EXEMPT"
    # A business customer that accounts for the tax itself (EU VAT Directive art. 196):
    # no tax is charged, and the invoice must say "Reverse charge".
    REVERSE = "REVERSE"


@dataclass(frozen=True, slots=True)
class TaxCustomer:
    """What tax decisions need to know of a customer: where they are and their status."""

    country: str | None
    region: str | None
    exemption: TaxExemption = TaxExemption.NONE


@dataclass(frozen=True, slots=True)
class TaxDecision:
    """The rate one line bears (None: no tax), and whether the customer self-accounts it."""

    rate: TaxRate | None
    reverse_charge: bool = False


NO_TAX: Final = TaxDecision(None)


@dataclass(frozen=True, slots=True)
class TaxableLine:
    """A line as a tax provider sees it; `key` identifies it within one request."""

    key: str
    amount: Money
    plan_id: str | None
    description: str


class TaxProvider(Protocol):
    """Decides the tax of a customer's lines: one decision per line, in the lines' order."""

    async def decide(
        self, customer: TaxCustomer, lines: Sequence[TaxableLine]
    ) -> list[TaxDecision]: ...


class RateTable(Protocol):
    """The merchant's active tax rates of one country (a repository implements it)."""

    async def active_rates(self, country: str) -> list[TaxRate]: ...


class RateTableTaxProvider:
    """The default provider: the merchant's own rates, chosen by the customer's country and
    region.

    A rate of the customer's region beats a country-wide one; among several equally good
    candidates the earliest created wins (then the smallest id), so the same invoice always
    gets the same rate. Every line bears the same rate: rates here do not vary by product.
    """

    def __init__(self, rates: RateTable) -> None:
        self._rates = rates

    async def decide(
        self, customer: TaxCustomer, lines: Sequence[TaxableLine]
    ) -> list[TaxDecision]:
        if customer.exemption is TaxExemption.REVERSE:
            return [TaxDecision(None, reverse_charge=True) for _ in lines]
        if customer.exemption is TaxExemption.EXEMPT or not customer.country or not lines:
            return [NO_TAX for _ in lines]
        country = customer.country.strip().upper()
        rate = choose_rate(await self._rates.active_rates(country), country, customer.region)
        return [TaxDecision(rate) for _ in lines]


def choose_rate(rates: Sequence[TaxRate], country: str, region: str | None) -> TaxRate | None:
    """The rate for a place among `rates`: an active rate of the region, else an active
    country-wide one, the earliest created; a rate of another region never applies."""
    wanted = (region or "").strip().upper() or None
    candidates = [rate for rate in rates if rate.active and rate.country == country]
    regional = [rate for rate in candidates if wanted is not None and rate.region == wanted]
    nationwide = [rate for rate in candidates if rate.region is None]
    for group in (regional, nationwide):
        if group:
            return min(group, key=lambda rate: (rate.created_at, rate.id))
    return None


@dataclass(frozen=True, slots=True)
class LineTax:
    """One line's tax: `net + tax == gross`, exactly."""

    net: Money
    tax: Money
    gross: Money


# Dividing by 100 + p rarely terminates, so the quotient cannot be exact; with this many
# digits it still rounds half-up as exact arithmetic would. In minor units the quotient is
# N / D with D = 10**6 + 10**4 * p (p has at most 4 decimals): it is either exactly on a
# tie, and then Decimal's result is exact, or at least 1 / (2 * D) away from every tie,
# far more than the error of a 400-digit quotient of an amount below 10**19.
_QUOTIENT_CONTEXT: Final = Context(prec=EXACT_DIGITS, rounding=ROUNDING)


def line_tax(amount: Money, rate: TaxRate) -> LineTax:
    """The tax of one line at `rate`, rounded once, half away from zero (THE rule).

    Exclusive: `amount` is the net, tax = amount × p / 100, gross = net + tax. Inclusive:
    `amount` is the gross, tax = gross × p / (100 + p), net = gross − tax (the "VAT
    fraction" of HMRC's VAT Notice 700: 1/6 at 20 %). A credit line (negative) is taxed
    as its magnitude, negated.
    """
    percentage = rate.percentage
    if rate.inclusive:
        with localcontext(_QUOTIENT_CONTEXT):
            exact = amount.amount * percentage / (HUNDRED + percentage)
        tax = Money.round_from(exact, amount.currency)
        return LineTax(net=amount - tax, tax=tax, gross=amount)
    with exact_decimals():
        exact = amount.amount * percentage / HUNDRED
    tax = Money.round_from(exact, amount.currency)
    return LineTax(net=amount, tax=tax, gross=amount + tax)
