"""Taxes: what a valid tax rate is, which rate a customer's line bears, and the tax of a
line, rounded once per line, inclusive or exclusive."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError, ErrorCode
from domain.money import Money
from domain.taxes import (
    LineTax,
    RateTableTaxProvider,
    TaxableLine,
    TaxCustomer,
    TaxDecision,
    TaxExemption,
    TaxProvider,
    TaxRate,
    TaxRateDraft,
    line_tax,
    validate_tax_rate,
)

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def make_rate(percentage: str, inclusive: bool, **changes: object) -> TaxRate:
    rate = TaxRate(
        id="txr_A",
        display_name="VAT",
        percentage=Decimal(percentage),
        inclusive=inclusive,
        country="DE",
        region=None,
        active=True,
        description=None,
        created_at=CREATED,
    )
    return replace(rate, **changes)  # type: ignore[arg-type]


def half_up(value: Fraction) -> int:
    """The reference rule on exact rationals: nearest integer, a tie away from zero."""
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return -magnitude if value < 0 else magnitude


# --- validation -------------------------------------------------------------------------


def test_a_valid_draft_comes_back_normalised() -> None:
    draft = TaxRateDraft(
        display_name=" Sales tax ",
        percentage=Decimal("7.25"),
        inclusive=False,
        country=" us ",
        region=" ca ",
        description="  ",
    )
    clean = validate_tax_rate(draft)
    assert (clean.display_name, clean.country, clean.region, clean.description) == (
        "Sales tax",
        "US",
        "CA",
        None,
    )
    assert clean.active


def test_every_problem_is_reported_at_once() -> None:
    draft = TaxRateDraft(
        display_name="",
        percentage=Decimal("100.5"),
        inclusive=True,
        country="XX",
        region="R" * 65,
        description="d" * 501,
    )
    with pytest.raises(DomainError) as caught:
        validate_tax_rate(draft, field=("input", "taxRate"))
    assert {(e.code, e.field) for e in caught.value.errors} == {
        (ErrorCode.REQUIRED, ("input", "taxRate", "displayName")),
        (ErrorCode.INVALID, ("input", "taxRate", "percentage")),
        (ErrorCode.INVALID_COUNTRY, ("input", "taxRate", "country")),
        (ErrorCode.TOO_LONG, ("input", "taxRate", "region")),
        (ErrorCode.TOO_LONG, ("input", "taxRate", "description")),
    }


@pytest.mark.parametrize(("percentage", "valid"), [
    ("0", True),  # zero-rated supplies are real
    ("100", True),
    ("8.875", True),  # New York City's combined sales tax
    ("19.0000", True),
    ("-0.01", False),
    ("100.0001", False),
    ("7.12345", False),
    ("NaN", False),
])  # fmt: skip
def test_a_percentage_is_0_to_100_with_at_most_four_decimals(percentage: str, valid: bool) -> None:
    draft = TaxRateDraft("VAT", Decimal(percentage), inclusive=True, country="DE")
    if valid:
        assert validate_tax_rate(draft).percentage == Decimal(percentage)
    else:
        with pytest.raises(DomainError) as caught:
            validate_tax_rate(draft)
        assert [(e.code, e.field) for e in caught.value.errors] == [
            (ErrorCode.INVALID, ("input", "percentage"))
        ]


@pytest.mark.parametrize("country", ["", "D", "DEU", "ZZ", "12"])
def test_a_country_is_an_iso_3166_alpha_2_code(country: str) -> None:
    with pytest.raises(DomainError) as caught:
        validate_tax_rate(TaxRateDraft("VAT", Decimal(19), True, country))
    assert [e.code for e in caught.value.errors] == [ErrorCode.INVALID_COUNTRY]


def test_a_display_name_is_at_most_100_characters() -> None:
    assert validate_tax_rate(TaxRateDraft("V" * 100, Decimal(19), True, "DE")).display_name
    with pytest.raises(DomainError) as caught:
        validate_tax_rate(TaxRateDraft("V" * 101, Decimal(19), True, "DE"))
    assert [e.code for e in caught.value.errors] == [ErrorCode.TOO_LONG]


# --- the tax of a line ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "percentage", "inclusive", "net", "tax", "gross"),
    [
        # Stripe support, "Rounding rules": each line's tax rounds on its own,
        # 0.43 at 15% = 0.0645 -> 0.06 and 4.84 at 15% = 0.7265 -> 0.73.
        ("0.43", "USD", "15", False, "0.43", "0.06", "0.49"),
        ("4.84", "USD", "15", False, "4.84", "0.73", "5.57"),
        # Stripe support, "Inclusive and exclusive tax options": 600 EUR at 10% exclusive
        # totals 660; inclusive, the total stays 600 (tax 600 x 10/110 = 54.5454...).
        ("600.00", "EUR", "10", False, "600.00", "60.00", "660.00"),
        ("600.00", "EUR", "10", True, "545.45", "54.55", "600.00"),
        # HMRC VAT Notice 700 §7.3, the VAT fraction: at 20% a VAT-inclusive price holds
        # 1/6 VAT, so 120.00 gross is 100.00 net and 20.00 VAT.
        ("120.00", "GBP", "20", True, "100.00", "20.00", "120.00"),
        # Square's TaxInclusionType docs: a $1.00 item with 10% inclusive tax is $0.91 of
        # item and $0.09 of tax.
        ("1.00", "USD", "10", True, "0.91", "0.09", "1.00"),
        # Japan's consumption tax, 10% (National Tax Agency): 1,100 yen tax included is
        # 1,000 yen and 100 yen of tax; there are no sen to round to.
        ("1100", "JPY", "10", True, "1000", "100", "1100"),
        ("999", "JPY", "10", False, "999", "100", "1099"),  # 99.9 -> 100
        # ISO 4217: KWD has 3 decimals (fils). 12.345 x 5% = 0.61725 -> 0.617.
        ("12.345", "KWD", "5", False, "12.345", "0.617", "12.962"),
        # A credit line is taxed as its magnitude, negated: -0.43 at 15% -> -0.06.
        ("-0.43", "USD", "15", False, "-0.43", "-0.06", "-0.49"),
        ("-120.00", "GBP", "20", True, "-100.00", "-20.00", "-120.00"),
        # A tie rounds away from zero: 0.10 at 5% = 0.005 -> 0.01, and -0.005 -> -0.01.
        ("0.10", "USD", "5", False, "0.10", "0.01", "0.11"),
        ("-0.10", "USD", "5", False, "-0.10", "-0.01", "-0.11"),
        ("50.00", "USD", "0", False, "50.00", "0.00", "50.00"),
    ],
)
def test_worked_examples_of_line_tax(
    amount: str,
    currency: str,
    percentage: str,
    inclusive: bool,
    net: str,
    tax: str,
    gross: str,
) -> None:
    result = line_tax(
        Money.from_decimal(Decimal(amount), currency), make_rate(percentage, inclusive)
    )
    assert result == LineTax(
        net=Money.from_decimal(Decimal(net), currency),
        tax=Money.from_decimal(Decimal(tax), currency),
        gross=Money.from_decimal(Decimal(gross), currency),
    )


currencies = st.sampled_from(["JPY", "USD", "KWD"])  # 0, 2 and 3 decimals
percentages = st.builds(
    lambda units: Decimal(units).scaleb(-4),
    st.integers(min_value=0, max_value=100 * 10**4),
)
amounts = st.integers(min_value=-(10**15), max_value=10**15)


@given(minor=amounts, currency=currencies, percentage=percentages, inclusive=st.booleans())
def test_net_plus_tax_is_the_gross_exactly(
    minor: int, currency: str, percentage: Decimal, inclusive: bool
) -> None:
    result = line_tax(Money(minor, currency), make_rate(str(percentage), inclusive))
    assert result.net + result.tax == result.gross
    assert (result.gross if inclusive else result.net) == Money(minor, currency)


@given(minor=amounts, currency=currencies, percentage=percentages, inclusive=st.booleans())
def test_tax_is_the_exact_share_rounded_half_up_once(
    minor: int, currency: str, percentage: Decimal, inclusive: bool
) -> None:
    p = Fraction(percentage)
    share = p / (100 + p) if inclusive else p / 100
    result = line_tax(Money(minor, currency), make_rate(str(percentage), inclusive))
    assert result.tax.minor_units == half_up(minor * share)


@given(minor=amounts, currency=currencies, percentage=percentages, inclusive=st.booleans())
def test_a_credit_is_taxed_as_the_charge_negated(
    minor: int, currency: str, percentage: Decimal, inclusive: bool
) -> None:
    rate = make_rate(str(percentage), inclusive)
    charge = line_tax(Money(minor, currency), rate)
    credit = line_tax(Money(-minor, currency), rate)
    assert credit == LineTax(net=-charge.net, tax=-charge.tax, gross=-charge.gross)


# --- which rate a line bears ------------------------------------------------------------


class RateTableStub:
    """The merchant's rates in memory; records which countries were asked for."""

    def __init__(self, rates: Sequence[TaxRate], only_active: bool = True) -> None:
        self.rates = list(rates)
        self.only_active = only_active
        self.asked: list[str] = []

    async def active_rates(self, country: str) -> list[TaxRate]:
        self.asked.append(country)
        return [
            rate
            for rate in self.rates
            if rate.country == country and (rate.active or not self.only_active)
        ]


US_WIDE = make_rate("5", False, id="txr_US", country="US")
CALIFORNIA = make_rate("7.25", False, id="txr_CA", country="US", region="CA")
CALIFORNIA_LATER = replace(CALIFORNIA, id="txr_CA2", created_at=CREATED + timedelta(days=1))
NEW_YORK = make_rate("8.875", False, id="txr_NY", country="US", region="NY")
GERMANY = make_rate("19", True, id="txr_DE")

LINES = [
    TaxableLine("seats", Money(5000, "USD"), "plan_A", "Seats"),
    TaxableLine("sms", Money(120, "USD"), "plan_A", "SMS"),
]


async def decide(
    customer: TaxCustomer, rates: Sequence[TaxRate], lines: Sequence[TaxableLine] = LINES
) -> list[TaxDecision]:
    provider: TaxProvider = RateTableTaxProvider(RateTableStub(rates))
    return await provider.decide(customer, lines)


async def test_a_rate_of_the_customers_region_beats_a_country_wide_one() -> None:
    rates = [US_WIDE, CALIFORNIA, NEW_YORK]
    decisions = await decide(TaxCustomer("US", "ca"), rates)
    assert decisions == [TaxDecision(CALIFORNIA), TaxDecision(CALIFORNIA)]


async def test_a_region_without_its_own_rate_gets_the_country_wide_one() -> None:
    decisions = await decide(TaxCustomer("US", "TX"), [CALIFORNIA, US_WIDE])
    assert decisions == [TaxDecision(US_WIDE)] * 2
    assert (
        await decide(TaxCustomer("US", None), [CALIFORNIA, US_WIDE]) == [TaxDecision(US_WIDE)] * 2
    )


async def test_a_rate_of_another_region_never_applies() -> None:
    assert await decide(TaxCustomer("US", "TX"), [CALIFORNIA, NEW_YORK]) == [TaxDecision(None)] * 2


async def test_among_equal_candidates_the_earliest_created_wins() -> None:
    for rates in ([CALIFORNIA_LATER, CALIFORNIA], [CALIFORNIA, CALIFORNIA_LATER]):
        assert await decide(TaxCustomer("US", "CA"), rates) == [TaxDecision(CALIFORNIA)] * 2


async def test_an_inactive_rate_is_never_chosen() -> None:
    # The table may still hand an inactive rate back; the provider does not use it.
    table = RateTableStub([replace(CALIFORNIA, active=False), US_WIDE], only_active=False)
    decisions = await RateTableTaxProvider(table).decide(TaxCustomer("US", "CA"), LINES)
    assert decisions == [TaxDecision(US_WIDE)] * 2


async def test_an_exempt_customer_bears_no_tax() -> None:
    decisions = await decide(TaxCustomer("DE", None, TaxExemption.EXEMPT), [GERMANY])
    assert decisions == [TaxDecision(None, reverse_charge=False)] * 2


async def test_a_reverse_charge_customer_bears_no_tax_and_the_invoice_says_so() -> None:
    decisions = await decide(TaxCustomer("DE", None, TaxExemption.REVERSE), [GERMANY])
    assert decisions == [TaxDecision(None, reverse_charge=True)] * 2


async def test_a_customer_without_a_country_bears_no_tax_and_no_rate_is_read() -> None:
    table = RateTableStub([GERMANY])
    decisions = await RateTableTaxProvider(table).decide(TaxCustomer(None, None), LINES)
    assert decisions == [TaxDecision(None)] * 2
    assert table.asked == []


async def test_one_decision_per_line_in_order() -> None:
    lines = [TaxableLine(str(i), Money(i, "EUR"), None, f"line {i}") for i in range(5)]
    table = RateTableStub([GERMANY])
    decisions = await RateTableTaxProvider(table).decide(TaxCustomer("de", None), lines)
    assert decisions == [TaxDecision(GERMANY)] * 5
    assert table.asked == ["DE"]
    assert await RateTableTaxProvider(table).decide(TaxCustomer("DE", None), []) == []
