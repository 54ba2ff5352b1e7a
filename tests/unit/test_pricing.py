"""Price models turn a quantity into an amount, line by line: each line exact and rounded
once half-up to the minor unit, the total the exact sum of the lines, tiers validated with
field paths, and amounts beyond BIGINT refused rather than wrapped."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from domain.currency import exponent_of
from domain.errors import DomainError, ErrorCode
from domain.money import CurrencyMismatch, Money
from domain.pricing import (
    MAX_TIERS,
    FlatFee,
    GraduatedTiers,
    MeteredUsage,
    MinimumCommitment,
    Package,
    Percentage,
    PerUnit,
    PriceBreakdown,
    PriceModel,
    Tier,
    VolumeTiers,
    minimum_commitment_shortfall,
    price_errors,
    price_for,
    price_transactions,
    price_usage,
    validate_price,
)

BIGINT = 2**63 - 1
PRICE_PATH = ("input", "prices", "0")

currencies = st.sampled_from(["JPY", "USD", "KWD", "EUR", "BHD", "CLF"])


def decimal_of(digits: int, places: int) -> Decimal:
    return Decimal(f"{digits}E-{places}")


# Bounded so that any product fits a BIGINT even for CLF (4 decimals): at most 10**6 x 10**7
# major units; amounts beyond BIGINT have their own test.
unit_amounts = st.builds(decimal_of, st.integers(0, 10**6), st.integers(0, 12))
quantities = st.builds(decimal_of, st.integers(0, 10**7), st.integers(0, 4))


def half_up(value: Fraction) -> int:
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return -magnitude if value < 0 else magnitude


def rounded_line(unit_amount: Decimal, quantity: Decimal, currency: str) -> int:
    """The reference for one line in minor units, computed on exact rationals."""
    return half_up(Fraction(unit_amount) * Fraction(quantity) * 10 ** exponent_of(currency))


@st.composite
def tier_lists(
    draw: st.DrawFn, currency: str, max_bound: int = 10_000, fractional: bool = True
) -> tuple[Tier, ...]:
    count = draw(st.integers(1, 6))
    places = draw(st.integers(0, 2)) if fractional else 0
    scaled = draw(
        st.lists(
            st.integers(1, max_bound * 10**places),
            min_size=count - 1,
            max_size=count - 1,
            unique=True,
        )
    )
    bounds: list[Decimal | None] = [decimal_of(b, places) for b in sorted(scaled)]
    tiers = []
    for up_to in [*bounds, None]:
        flat = draw(st.none() | st.integers(0, 10**6).map(lambda m: Money(m, currency)))
        tiers.append(Tier(up_to=up_to, unit_amount=draw(unit_amounts), flat_amount=flat))
    return tuple(tiers)


@st.composite
def graduated_prices(draw: st.DrawFn, **kwargs: object) -> GraduatedTiers:
    currency = draw(currencies)
    return GraduatedTiers(draw(tier_lists(currency, **kwargs)), currency)  # type: ignore[arg-type]


@st.composite
def volume_prices(draw: st.DrawFn) -> VolumeTiers:
    currency = draw(currencies)
    return VolumeTiers(draw(tier_lists(currency)), currency)


def tiers(*rows: tuple[str | None, str, str | None], currency: str = "USD") -> tuple[Tier, ...]:
    return tuple(
        Tier(
            up_to=None if up_to is None else Decimal(up_to),
            unit_amount=Decimal(unit),
            flat_amount=None if flat is None else Money.from_decimal(Decimal(flat), currency),
        )
        for up_to, unit, flat in rows
    )


def usd(amount: str) -> Money:
    return Money.from_decimal(Decimal(amount), "USD")


def lower_bound(model: GraduatedTiers | VolumeTiers, index: int) -> Decimal:
    previous = model.tiers[index - 1].up_to if index else Decimal(0)
    assert previous is not None
    return previous


def assert_lines_add_up(breakdown: PriceBreakdown) -> None:
    assert breakdown.total.minor_units == sum(line.amount.minor_units for line in breakdown.lines)


# --- worked examples from public pricing docs -------------------------------------------

# Stripe Billing docs, "Set up tiered pricing"
# (https://docs.stripe.com/subscriptions/pricing-models/tiered-pricing): Typographic's fonts,
# 1-5 at 7 USD, 6-10 at 6.50 USD, 11+ at 6 USD.
STRIPE_TYPOGRAPHIC_TIERS = tiers(("5", "7", None), ("10", "6.50", None), (None, "6", None))
# The issue's example in Stripe's `up_to` form: up to 5 at 5.00, up to 10 at 4.00, then 3.00.
ISSUE_TIERS = tiers(("5", "5.00", None), ("10", "4.00", None), (None, "3.00", None))
# Lago docs, "Graduated" charge model (https://getlago.com/docs/guide/plans/charges/
# charge-models/graduated): 1 USD a unit for the first 100, 0.50 for the next 100, then 0.10.
LAGO_GRADUATED_TIERS = tiers(("100", "1", None), ("200", "0.50", None), (None, "0.10", None))


@pytest.mark.parametrize(
    ("source", "tier_rows", "quantity", "total"),
    [
        ("Stripe tiered pricing, volume table", STRIPE_TYPOGRAPHIC_TIERS, "1", "7.00"),
        ("Stripe tiered pricing, volume table", STRIPE_TYPOGRAPHIC_TIERS, "5", "35.00"),
        ("Stripe tiered pricing, volume table", STRIPE_TYPOGRAPHIC_TIERS, "6", "39.00"),
        ("Stripe tiered pricing, volume table", STRIPE_TYPOGRAPHIC_TIERS, "20", "120.00"),
        ("Stripe tiered pricing, volume table", STRIPE_TYPOGRAPHIC_TIERS, "25", "150.00"),
        ("issue 3, Stripe-style tiers", ISSUE_TIERS, "12", "36.00"),
    ],
)
def test_volume_pricing_matches_worked_examples(
    source: str, tier_rows: tuple[Tier, ...], quantity: str, total: str
) -> None:
    # when
    breakdown = price_for(VolumeTiers(tier_rows, "USD"), Decimal(quantity))
    # then
    assert breakdown.total == usd(total), source
    assert len(breakdown.lines) == 1


@pytest.mark.parametrize(
    ("source", "tier_rows", "quantity", "total", "line_totals"),
    [
        ("Stripe tiered pricing, graduated", STRIPE_TYPOGRAPHIC_TIERS, "1", "7.00", ["7.00"]),
        ("Stripe tiered pricing, graduated", STRIPE_TYPOGRAPHIC_TIERS, "5", "35.00", ["35.00"]),
        (
            "Stripe tiered pricing, graduated",
            STRIPE_TYPOGRAPHIC_TIERS,
            "6",
            "41.50",
            ["35.00", "6.50"],
        ),
        (
            "Stripe tiered pricing, graduated",
            STRIPE_TYPOGRAPHIC_TIERS,
            "20",
            "127.50",
            ["35.00", "32.50", "60.00"],
        ),
        (
            "Stripe tiered pricing, graduated",
            STRIPE_TYPOGRAPHIC_TIERS,
            "25",
            "157.50",
            ["35.00", "32.50", "90.00"],
        ),
        (
            "issue 3: 5 x 5 + 5 x 4 + 2 x 3",
            ISSUE_TIERS,
            "12",
            "51.00",
            ["25.00", "20.00", "6.00"],
        ),
        (
            "Lago graduated charge model",
            LAGO_GRADUATED_TIERS,
            "250",
            "155.00",
            ["100.00", "50.00", "5.00"],
        ),
    ],
)
def test_graduated_pricing_matches_worked_examples(
    source: str,
    tier_rows: tuple[Tier, ...],
    quantity: str,
    total: str,
    line_totals: list[str],
) -> None:
    # when
    breakdown = price_for(GraduatedTiers(tier_rows, "USD"), Decimal(quantity))
    # then
    assert breakdown.total == usd(total), source
    assert [str(line.amount.amount) for line in breakdown.lines] == line_totals
    assert [line.tier for line in breakdown.lines] == list(range(len(line_totals)))


@pytest.mark.parametrize(
    ("source", "quantity", "packages", "total"),
    [
        ("Stripe package pricing (transform_quantity, round up): 5 USD per 5 units", "14", 3, "15"),
        ("Stripe package pricing: 5 USD per 5 units", "15", 3, "15"),
        ("Stripe package pricing: 5 USD per 5 units", "16", 4, "20"),
        ("Stripe package pricing: 5 USD per 5 units", "1", 1, "5"),
        ("Stripe package pricing: 5 USD per 5 units", "0", 0, "0"),
        ("Stripe package pricing: 5 USD per 5 units", "0.5", 1, "5"),
    ],
)
def test_package_pricing_matches_worked_examples(
    source: str, quantity: str, packages: int, total: str
) -> None:
    # when
    breakdown = price_for(Package(Decimal("5"), 5, "USD"), Decimal(quantity))
    # then
    assert breakdown.total == usd(total), source
    (line,) = breakdown.lines
    assert line.quantity == packages


@pytest.mark.parametrize(
    ("transaction", "fee"),
    [("100.00", "3.20"), ("10.00", "0.59"), ("0.50", "0.31"), ("33.33", "1.27")],
)
def test_percentage_pricing_matches_stripe_card_fees(transaction: str, fee: str) -> None:
    # given: Stripe's online card pricing, 2.9 % + 0.30 USD (stripe.com/pricing; the same
    # figures are in Lago's "Clone Stripe pricing" template)
    model = Percentage(Decimal("2.9"), "USD", fixed_amount=usd("0.30"))
    # when
    breakdown = price_for(model, Decimal(transaction))
    # then: 33.33 x 2.9 % + 0.30 = 1.26657, rounded once to 1.27
    assert breakdown.total == usd(fee)


def test_graduated_tiers_with_flat_fees_charge_each_reached_tier_once() -> None:
    # given: Stripe's "flat fee with tiers" shape: a flat fee per tier plus a unit amount
    model = GraduatedTiers(
        tiers(("5", "0", "10.00"), ("10", "1.00", "5.00"), (None, "0.50", None)), "USD"
    )
    # when
    breakdown = price_for(model, Decimal(7))
    # then: 10.00 + (2 x 1.00 + 5.00)
    assert breakdown.total == usd("17.00")
    assert [line.flat_amount for line in breakdown.lines] == [usd("10.00"), usd("5.00")]


def test_volume_tier_flat_fee_is_added_once_to_the_whole_quantity() -> None:
    # given
    model = VolumeTiers(tiers(("10", "2.00", "1.00"), (None, "1.00", "20.00")), "USD")
    # when
    breakdown = price_for(model, Decimal(11))
    # then: 11 x 1.00 + 20.00
    assert breakdown.total == usd("31.00")


# --- graduated --------------------------------------------------------------------------


@given(model=graduated_prices(), quantity=quantities)
def test_graduated_amount_is_the_sum_of_its_tiers(model: GraduatedTiers, quantity: Decimal) -> None:
    # when
    breakdown = price_for(model, quantity)
    # then: each line is its tier's share of the quantity, priced and rounded once
    assert_lines_add_up(breakdown)
    assert sum(line.quantity for line in breakdown.lines) == quantity
    assert [line.tier for line in breakdown.lines] == list(range(len(breakdown.lines)))
    for line in breakdown.lines:
        assert line.tier is not None
        tier = model.tiers[line.tier]
        width = None if tier.up_to is None else tier.up_to - lower_bound(model, line.tier)
        assert 0 < line.quantity and (width is None or line.quantity <= width)
        flat = tier.flat_amount.minor_units if tier.flat_amount else 0
        expected = rounded_line(tier.unit_amount, line.quantity, model.currency) + flat
        assert line.amount == Money(expected, model.currency)
    # every tier below the last one reached is full
    for line in breakdown.lines[:-1]:
        assert line.tier is not None
        assert line.quantity == model.tiers[line.tier].up_to - lower_bound(model, line.tier)  # type: ignore[operator]


@given(model=graduated_prices(max_bound=60, fractional=False), quantity=st.integers(0, 200))
def test_graduated_pricing_charges_each_unit_at_the_tier_it_falls_in(
    model: GraduatedTiers, quantity: int
) -> None:
    # given: an independent count of which tier each unit 1..quantity falls in
    counts = [0] * len(model.tiers)
    for unit in range(1, quantity + 1):
        index = next(
            i for i, tier in enumerate(model.tiers) if tier.up_to is None or unit <= tier.up_to
        )
        counts[index] += 1
    expected = 0
    for tier, count in zip(model.tiers, counts, strict=True):
        if count:
            expected += rounded_line(tier.unit_amount, Decimal(count), model.currency)
            expected += tier.flat_amount.minor_units if tier.flat_amount else 0
    # when
    breakdown = price_for(model, Decimal(quantity))
    # then
    assert breakdown.total == Money(expected, model.currency)


@given(model=graduated_prices(), quantity=quantities, more=quantities)
def test_graduated_amount_never_decreases_as_quantity_grows(
    model: GraduatedTiers, quantity: Decimal, more: Decimal
) -> None:
    # when
    smaller = price_for(model, quantity).total
    larger = price_for(model, quantity + more).total
    # then
    assert smaller <= larger


# --- volume -----------------------------------------------------------------------------


@given(model=volume_prices(), quantity=quantities)
def test_volume_pricing_uses_exactly_the_one_tier_the_total_falls_in(
    model: VolumeTiers, quantity: Decimal
) -> None:
    assume(quantity > 0)
    # when
    breakdown = price_for(model, quantity)
    # then
    (line,) = breakdown.lines
    assert line.tier is not None
    tier = model.tiers[line.tier]
    assert lower_bound(model, line.tier) < quantity
    assert tier.up_to is None or quantity <= tier.up_to
    assert line.quantity == quantity
    flat = tier.flat_amount.minor_units if tier.flat_amount else 0
    expected = rounded_line(tier.unit_amount, quantity, model.currency) + flat
    assert breakdown.total == Money(expected, model.currency)


@pytest.mark.parametrize(
    ("quantity", "tier"), [("4.99", 0), ("5", 0), ("5.01", 1), ("10", 1), ("10.5", 2)]
)
def test_a_tier_bound_is_inclusive(quantity: str, tier: int) -> None:
    # when
    breakdown = price_for(VolumeTiers(ISSUE_TIERS, "USD"), Decimal(quantity))
    # then
    assert breakdown.lines[0].tier == tier


# --- per unit, package, flat fee --------------------------------------------------------


@given(currency=currencies, unit_amount=unit_amounts, quantity=quantities)
def test_per_unit_amount_is_the_exact_product_rounded_once(
    currency: str, unit_amount: Decimal, quantity: Decimal
) -> None:
    # when
    breakdown = price_for(PerUnit(unit_amount, currency), quantity)
    # then
    assert breakdown.total == Money(rounded_line(unit_amount, quantity, currency), currency)


@given(
    currency=currencies,
    package_amount=unit_amounts,
    size=st.integers(1, 1000),
    quantity=quantities,
)
def test_package_pricing_rounds_a_partial_package_up(
    currency: str, package_amount: Decimal, size: int, quantity: Decimal
) -> None:
    # when
    breakdown = price_for(Package(package_amount, size, currency), quantity)
    # then: the fewest whole packages that hold the quantity
    (line,) = breakdown.lines
    packages = line.quantity
    assert packages == packages.to_integral_value()
    assert packages * size >= quantity
    assert (packages - 1) * size < quantity or packages == 0
    assert breakdown.total == Money(rounded_line(package_amount, packages, currency), currency)


@given(currency=currencies, minor=st.integers(0, BIGINT), quantity=quantities)
def test_flat_fee_is_the_same_whatever_the_quantity(
    currency: str, minor: int, quantity: Decimal
) -> None:
    # when
    breakdown = price_for(FlatFee(Money(minor, currency)), quantity)
    # then
    assert breakdown.total == Money(minor, currency)
    assert len(breakdown.lines) == 1


@pytest.mark.parametrize(
    "model",
    [
        GraduatedTiers(tiers(("5", "1", "10.00"), (None, "1", "3.00")), "USD"),
        VolumeTiers(tiers(("5", "1", "10.00"), (None, "1", "3.00")), "USD"),
        PerUnit(Decimal("1.25"), "USD"),
        Package(Decimal("5"), 5, "USD"),
    ],
)
def test_a_zero_quantity_costs_nothing_not_even_a_tier_flat_fee(model: PriceModel) -> None:
    # when
    breakdown = price_for(model, Decimal(0))
    # then
    assert breakdown.total == Money.zero("USD")
    assert all(line.amount.is_zero() for line in breakdown.lines)


# --- percentage and minimum commitment --------------------------------------------------


@st.composite
def percentage_prices(draw: st.DrawFn) -> Percentage:
    currency = draw(currencies)
    money = st.integers(0, 10**7).map(lambda m: Money(m, currency))
    bounds = sorted(draw(st.lists(money, min_size=2, max_size=2)))
    return Percentage(
        rate=draw(st.builds(decimal_of, st.integers(0, 10**6), st.just(4))),  # 0..100 %
        currency=currency,
        fixed_amount=draw(st.none() | money),
        min_amount=draw(st.none() | st.just(bounds[0])),
        max_amount=draw(st.none() | st.just(bounds[1])),
    )


@given(model=percentage_prices(), transactions=st.lists(st.integers(0, 10**12), max_size=10))
def test_percentage_fee_respects_each_transaction_minimum_and_maximum(
    model: Percentage, transactions: list[int]
) -> None:
    # given
    amounts = [Money(minor, model.currency) for minor in transactions]
    # when
    breakdown = price_transactions(model, amounts)
    # then
    assert_lines_add_up(breakdown)
    assert len(breakdown.lines) == len(amounts)
    fixed = model.fixed_amount.minor_units if model.fixed_amount else 0
    for amount, line in zip(amounts, breakdown.lines, strict=True):
        exact = half_up(Fraction(amount.minor_units) * Fraction(model.rate) / 100) + fixed
        expected = exact
        if model.min_amount is not None:
            assert line.amount >= model.min_amount
            expected = max(expected, model.min_amount.minor_units)
        if model.max_amount is not None:
            assert line.amount <= model.max_amount
            expected = min(expected, model.max_amount.minor_units)
        assert line.amount == Money(expected, model.currency)


@given(
    model=percentage_prices(),
    counted=st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 50)), max_size=8),
)
def test_percentage_of_usage_charges_every_transaction_as_if_priced_one_by_one(
    model: Percentage, counted: list[tuple[int, int]]
) -> None:
    # given: distinct event values with how many events carried each
    values = {Money(minor, model.currency): count for minor, count in counted}
    one_by_one = [amount for amount, count in values.items() for _ in range(count)]
    # when
    grouped = price_usage(
        model, MeteredUsage(Decimal(0), tuple((a.amount, n) for a, n in values.items()))
    )
    # then: the same total as a line per transaction, and a line per distinct amount
    assert grouped.total == price_transactions(model, one_by_one).total
    assert_lines_add_up(grouped)
    assert sum(line.count for line in grouped.lines) == len(one_by_one)
    assert len(grouped.lines) <= 3  # at the rate, at the minimum, at the maximum


def test_percentage_of_usage_rounds_each_transaction_once() -> None:
    # given: 2.9 % + 0.30 of 0.05 is 0.30145: 0.30 per transaction, not 3 x 0.30145 rounded
    model = Percentage(Decimal("2.9"), "USD", fixed_amount=usd("0.30"))
    # when
    breakdown = price_usage(model, MeteredUsage(Decimal("0.15"), ((Decimal("0.05"), 3),)))
    # then
    assert breakdown.total == usd("0.90")
    assert [(line.count, line.amount) for line in breakdown.lines] == [(3, usd("0.90"))]


@given(
    model=st.sampled_from([PerUnit(Decimal("0.25"), "USD"), FlatFee(Money(900, "USD"))]),
    quantity=st.integers(0, 10**6),
)
def test_other_metered_prices_charge_the_periods_quantity(model: PriceModel, quantity: int) -> None:
    assert price_usage(model, MeteredUsage(Decimal(quantity))) == price_for(
        model, Decimal(quantity)
    )


@given(
    currency=currencies,
    minimum=st.integers(0, 10**12),
    total=st.integers(0, 10**12),
)
def test_minimum_commitment_charges_exactly_the_shortfall(
    currency: str, minimum: int, total: int
) -> None:
    # when
    breakdown = minimum_commitment_shortfall(
        MinimumCommitment(Money(minimum, currency)), Money(total, currency)
    )
    # then
    assert breakdown.total == Money(max(minimum - total, 0), currency)
    assert len(breakdown.lines) == (1 if total < minimum else 0)


def test_minimum_commitment_refuses_a_total_in_another_currency() -> None:
    # when / then
    with pytest.raises(CurrencyMismatch):
        minimum_commitment_shortfall(MinimumCommitment(usd("100")), Money(100, "EUR"))


def test_percentage_of_a_transaction_finer_than_the_minor_unit_is_refused() -> None:
    # when / then
    with pytest.raises(DomainError) as raised:
        price_for(Percentage(Decimal("1"), "USD"), Decimal("10.001"))
    assert [(e.code, e.field) for e in raised.value.errors] == [(ErrorCode.INVALID, ("quantity",))]


def test_percentage_transactions_in_another_currency_or_negative_are_refused_by_index() -> None:
    # given
    model = Percentage(Decimal("1"), "USD")
    # when / then
    with pytest.raises(DomainError) as raised:
        price_transactions(model, [usd("1"), Money(100, "EUR"), usd("-1")])
    assert [(e.code, e.field) for e in raised.value.errors] == [
        (ErrorCode.INVALID, ("transactions", "1")),
        (ErrorCode.INVALID, ("transactions", "2")),
    ]


# --- currencies, range ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "total"),
    [("JPY", "4"), ("USD", "3.75"), ("KWD", "3.750"), ("CLF", "3.7500")],
)
def test_every_currency_total_has_exactly_its_minor_unit_digits(currency: str, total: str) -> None:
    # given: 3 units at 1.25 (JPY: 3.75 yen rounds half-up to 4)
    model = PerUnit(Decimal("1.25"), currency)
    # when
    breakdown = price_for(model, Decimal(3))
    # then
    assert str(breakdown.total.amount) == total


@pytest.mark.parametrize(("currency", "total"), [("JPY", "0"), ("USD", "0.04"), ("KWD", "0.038")])
def test_a_sub_minor_unit_price_rounds_once_per_line_in_each_currency(
    currency: str, total: str
) -> None:
    # given: 3 units at 0.0125 = 0.0375, rounded once, not 3 x round(0.0125)
    model = PerUnit(Decimal("0.0125"), currency)
    # when / then
    assert str(price_for(model, Decimal(3)).total.amount) == total


@given(
    currency=currencies,
    unit_amount=st.builds(decimal_of, st.integers(1, 10**12), st.integers(0, 4)),
    quantity=st.builds(decimal_of, st.integers(0, 10**16), st.integers(0, 2)),
)
@example(currency="USD", unit_amount=Decimal("1"), quantity=Decimal("92233720368547758.07"))
@example(currency="USD", unit_amount=Decimal("1"), quantity=Decimal("92233720368547758.08"))
@example(currency="JPY", unit_amount=Decimal("1000000000000"), quantity=Decimal("9223373"))
def test_an_amount_beyond_bigint_is_refused_never_wrapped_or_clipped(
    currency: str, unit_amount: Decimal, quantity: Decimal
) -> None:
    # given
    expected = rounded_line(unit_amount, quantity, currency)
    model = PerUnit(unit_amount, currency)
    # when / then
    if expected <= BIGINT:
        assert price_for(model, quantity).total == Money(expected, currency)
    else:
        with pytest.raises(DomainError) as raised:
            price_for(model, quantity)
        assert [(e.code, e.field) for e in raised.value.errors] == [
            (ErrorCode.INVALID, ("quantity",))
        ]


def test_a_graduated_total_beyond_bigint_is_refused_even_when_each_tier_fits() -> None:
    # given: two tiers each just under BIGINT minor units
    model = GraduatedTiers(
        tiers(("1", "90000000000000000", None), (None, "90000000000000000", None)), "USD"
    )
    # when / then
    with pytest.raises(DomainError):
        price_for(model, Decimal(2))


# --- quantities -------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", ["-1", "-0.0001", "NaN", "Infinity", "-Infinity"])
def test_a_negative_or_non_finite_quantity_is_refused_at_its_field(quantity: str) -> None:
    # when / then
    with pytest.raises(DomainError) as raised:
        price_for(PerUnit(Decimal(1), "USD"), Decimal(quantity), field=("input", "quantity"))
    assert [(e.code, e.field) for e in raised.value.errors] == [
        (ErrorCode.INVALID, ("input", "quantity"))
    ]


def test_a_fractional_quantity_is_refused_only_where_whole_units_are_required() -> None:
    # given
    model = PerUnit(Decimal("10"), "USD")
    # when / then: metered usage may be fractional, licensed seats may not
    assert price_for(model, Decimal("1.5")).total == usd("15")
    with pytest.raises(DomainError) as raised:
        price_for(model, Decimal("1.5"), whole_units=True)
    assert raised.value.errors[0].field == ("quantity",)
    assert price_for(model, Decimal("2.000"), whole_units=True).total == usd("20")
    assert price_for(model, Decimal("1E+1"), whole_units=True).total == usd("100")


def test_a_float_quantity_is_a_programming_error() -> None:
    # when / then
    with pytest.raises(TypeError):
        price_for(PerUnit(Decimal(1), "USD"), 1.5)  # type: ignore[arg-type]


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier_list", "expected"),
    [
        ((), [(ErrorCode.REQUIRED, ("tiers",))]),
        (tiers(("5", "1", None), ("10", "1", None)), [(ErrorCode.INVALID, ("tiers", "1", "upTo"))]),
        (
            tiers((None, "1", None), (None, "1", None)),
            [(ErrorCode.INVALID, ("tiers", "0", "upTo"))],
        ),
        (
            tiers(("10", "1", None), ("5", "1", None), (None, "1", None)),
            [(ErrorCode.INVALID, ("tiers", "1", "upTo"))],
        ),
        (
            tiers(("5", "1", None), ("5", "1", None), (None, "1", None)),
            [(ErrorCode.INVALID, ("tiers", "1", "upTo"))],
        ),
        (
            tiers(("10", "1", None), ("5", "1", None), ("7", "1", None), (None, "1", None)),
            [
                (ErrorCode.INVALID, ("tiers", "1", "upTo")),
                (ErrorCode.INVALID, ("tiers", "2", "upTo")),
            ],
        ),
        (tiers(("0", "1", None), (None, "1", None)), [(ErrorCode.INVALID, ("tiers", "0", "upTo"))]),
        (
            tiers(("-5", "1", None), (None, "1", None)),
            [(ErrorCode.INVALID, ("tiers", "0", "upTo"))],
        ),
        (
            tiers(("NaN", "1", None), (None, "1", None)),
            [(ErrorCode.INVALID, ("tiers", "0", "upTo"))],
        ),
        (tiers((None, "-0.01", None)), [(ErrorCode.INVALID, ("tiers", "0", "unitAmount"))]),
        (tiers((None, "NaN", None)), [(ErrorCode.INVALID, ("tiers", "0", "unitAmount"))]),
        (
            tiers((None, "0.0000000000001", None)),  # 13 decimals
            [(ErrorCode.INVALID, ("tiers", "0", "unitAmount"))],
        ),
        (tiers((None, "1E+30", None)), [(ErrorCode.INVALID, ("tiers", "0", "unitAmount"))]),
        (tiers((None, "1", "-1.00")), [(ErrorCode.INVALID, ("tiers", "0", "flatAmount"))]),
        (
            (Tier(None, Decimal(1), Money(100, "EUR")),),
            [(ErrorCode.INVALID, ("tiers", "0", "flatAmount"))],
        ),
        (
            tuple(Tier(Decimal(i + 1), Decimal(1)) for i in range(MAX_TIERS))
            + (Tier(None, Decimal(1)),),
            [(ErrorCode.TOO_MANY, ("tiers",))],
        ),
    ],
    ids=[
        "no tiers",
        "last not open-ended",
        "open-ended before the last",
        "descending",
        "duplicate bound",
        "one bound out of order",
        "zero bound",
        "negative bound",
        "NaN bound",
        "negative unit amount",
        "NaN unit amount",
        "too many decimals",
        "unit amount beyond bigint",
        "negative flat amount",
        "flat amount in another currency",
        "too many tiers",
    ],
)
@pytest.mark.parametrize("model_type", [GraduatedTiers, VolumeTiers])
def test_invalid_tiers_are_reported_at_their_field_path(
    model_type: type[GraduatedTiers] | type[VolumeTiers],
    tier_list: tuple[Tier, ...],
    expected: list[tuple[ErrorCode, tuple[str, ...]]],
) -> None:
    # given
    model = model_type(tier_list, "USD")
    # when
    errors = price_errors(model, PRICE_PATH)
    # then
    assert [(e.code, e.field) for e in errors] == [
        (code, PRICE_PATH + field) for code, field in expected
    ]
    with pytest.raises(DomainError):
        price_for(model, Decimal(1))


def test_every_problem_of_the_tiers_is_reported_at_once() -> None:
    # given
    model = GraduatedTiers(
        (
            Tier(Decimal(5), Decimal("-1")),
            Tier(Decimal(5), Decimal(1), Money(-1, "USD")),
            Tier(Decimal(20), Decimal(1)),
        ),
        "USD",
    )
    # when
    with pytest.raises(DomainError) as raised:
        validate_price(model, PRICE_PATH)
    # then
    assert [e.field for e in raised.value.errors] == [
        PRICE_PATH + ("tiers", "0", "unitAmount"),
        PRICE_PATH + ("tiers", "1", "upTo"),
        PRICE_PATH + ("tiers", "1", "flatAmount"),
        PRICE_PATH + ("tiers", "2", "upTo"),
    ]


@given(model=graduated_prices())
def test_generated_tiers_are_valid(model: GraduatedTiers) -> None:
    # when / then: the property tests above price valid models only
    assert price_errors(model) == []


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (PerUnit(Decimal(1), "XXX"), [(ErrorCode.UNKNOWN_CURRENCY, ("currency",))]),
        (PerUnit(Decimal("-1"), "USD"), [(ErrorCode.INVALID, ("unitAmount",))]),
        (Package(Decimal(5), 0, "USD"), [(ErrorCode.INVALID, ("packageSize",))]),
        (Package(Decimal(5), -5, "USD"), [(ErrorCode.INVALID, ("packageSize",))]),
        (Package(Decimal(5), True, "USD"), [(ErrorCode.INVALID, ("packageSize",))]),
        (Package(Decimal("-5"), 5, "USD"), [(ErrorCode.INVALID, ("packageAmount",))]),
        (FlatFee(Money(-100, "USD")), [(ErrorCode.INVALID, ("amount",))]),
        (Percentage(Decimal("100.01"), "USD"), [(ErrorCode.INVALID, ("rate",))]),
        (Percentage(Decimal("-1"), "USD"), [(ErrorCode.INVALID, ("rate",))]),
        (
            Percentage(Decimal(1), "USD", fixed_amount=Money(30, "EUR")),
            [(ErrorCode.INVALID, ("fixedAmount",))],
        ),
        (
            Percentage(Decimal(1), "USD", min_amount=usd("2"), max_amount=usd("1")),
            [(ErrorCode.INVALID, ("maxAmount",))],
        ),
        (
            Percentage(Decimal(1), "USD", min_amount=usd("-1")),
            [(ErrorCode.INVALID, ("minAmount",))],
        ),
    ],
    ids=repr,
)
def test_invalid_price_models_are_reported_at_their_field_path(
    model: PriceModel, expected: list[tuple[ErrorCode, tuple[str, ...]]]
) -> None:
    # when
    errors = price_errors(model, PRICE_PATH)
    # then
    assert [(e.code, e.field) for e in errors] == [
        (code, PRICE_PATH + field) for code, field in expected
    ]
