"""A price as a caller states it becomes a price model: each model needs its own fields,
a missing one is REQUIRED at its path, an amount of money must be exact to the currency's
minor unit, an unknown currency is refused before anything else, and the fields of other
models are ignored."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.currency import exponent_of
from domain.errors import DomainError, ErrorCode
from domain.money import Money
from domain.pricing import (
    MODEL_KINDS,
    FlatFee,
    GraduatedTiers,
    Package,
    Percentage,
    PerUnit,
    PriceTerms,
    Tier,
    TierTerms,
    VolumeTiers,
    money_from_terms,
    price_model_from_terms,
)

PATH = ("input", "prices", "3")
currencies = st.sampled_from(["JPY", "USD", "KWD", "EUR", "BHD", "CLF"])


def refused(terms: PriceTerms) -> list[tuple[ErrorCode, tuple[str, ...] | None, str]]:
    with pytest.raises(DomainError) as raised:
        price_model_from_terms(terms, PATH)
    return [(e.code, e.field, e.message) for e in raised.value.errors]


@pytest.mark.parametrize(
    ("terms", "model"),
    [
        (PriceTerms("FLAT_FEE", "USD", amount=Decimal("49.00")), FlatFee(Money(4900, "USD"))),
        (
            PriceTerms("PER_UNIT", "USD", unit_amount=Decimal("0.0125")),
            PerUnit(Decimal("0.0125"), "USD"),
        ),
        (
            PriceTerms(
                "GRADUATED",
                "USD",
                tiers=[
                    TierTerms(Decimal(5), Decimal(7), Decimal("10")),
                    TierTerms(None, Decimal(6)),
                ],
            ),
            GraduatedTiers(
                (Tier(Decimal(5), Decimal(7), Money(1000, "USD")), Tier(None, Decimal(6))), "USD"
            ),
        ),
        (
            PriceTerms("VOLUME", "JPY", tiers=[TierTerms(None, Decimal(3))]),
            VolumeTiers((Tier(None, Decimal(3)),), "JPY"),
        ),
        (
            PriceTerms("PACKAGE", "USD", package_amount=Decimal(5), package_size=5),
            Package(Decimal(5), 5, "USD"),
        ),
        (
            PriceTerms(
                "PERCENTAGE",
                "USD",
                rate=Decimal("2.9"),
                fixed_amount=Decimal("0.30"),
                min_amount=Decimal("0.50"),
                max_amount=Decimal("20"),
            ),
            Percentage(
                Decimal("2.9"), "USD", Money(30, "USD"), Money(50, "USD"), Money(2000, "USD")
            ),
        ),
        (PriceTerms("PERCENTAGE", "USD", rate=Decimal(1)), Percentage(Decimal(1), "USD")),
    ],
    ids=lambda value: getattr(value, "model", None) or type(value).__name__,
)
def test_each_model_is_built_from_the_fields_it_needs(terms: PriceTerms, model: object) -> None:
    # when / then
    assert price_model_from_terms(terms, PATH) == model


def test_the_fields_of_other_models_are_ignored() -> None:
    # given: a flat fee that also states a unit amount, tiers and a rate
    terms = PriceTerms(
        "FLAT_FEE",
        "USD",
        amount=Decimal(1),
        unit_amount=Decimal("-1"),
        tiers=[],
        rate=Decimal("1.005"),
        fixed_amount=Decimal("1.005"),
    )
    # when / then
    assert price_model_from_terms(terms, PATH) == FlatFee(Money(100, "USD"))


@pytest.mark.parametrize(
    ("kind", "needed"),
    [
        ("FLAT_FEE", ["amount"]),
        ("PER_UNIT", ["unitAmount"]),
        ("GRADUATED", ["tiers"]),
        ("VOLUME", ["tiers"]),
        ("PACKAGE", ["packageAmount", "packageSize"]),
        ("PERCENTAGE", ["rate"]),
    ],
)
def test_every_field_a_model_needs_and_lacks_is_required_at_its_path(
    kind: str, needed: list[str]
) -> None:
    # when
    errors = refused(PriceTerms(kind, "USD"))
    # then
    assert errors == [
        (ErrorCode.REQUIRED, (*PATH, name), f"A {kind} price needs {name}.") for name in needed
    ]


def test_every_kind_the_api_and_storage_name_is_understood() -> None:
    # then: no model's name is missing from the terms' dispatch
    for kind in MODEL_KINDS.values():
        errors = refused(PriceTerms(kind, "USD"))
        assert errors and all(code is ErrorCode.REQUIRED for code, _, _ in errors)


def test_an_unknown_model_kind_is_refused_at_model() -> None:
    # when / then
    assert [e[:2] for e in refused(PriceTerms("BESPOKE", "USD"))] == [
        (ErrorCode.INVALID, (*PATH, "model"))
    ]


def test_an_unknown_currency_is_refused_alone_before_the_fields() -> None:
    # given: a flat fee that lacks its amount too
    terms = PriceTerms("FLAT_FEE", "ZZZ")
    # when / then
    assert refused(terms) == [
        (ErrorCode.UNKNOWN_CURRENCY, (*PATH, "currency"), "Not an ISO 4217 code.")
    ]


def test_every_amount_finer_than_the_minor_unit_is_invalid_at_its_path_at_once() -> None:
    # given
    graduated = PriceTerms(
        "GRADUATED",
        "USD",
        tiers=[
            TierTerms(Decimal(5), Decimal("0.001"), Decimal("1.005")),
            TierTerms(None, Decimal(1), Decimal("2.001")),
        ],
    )
    percentage = PriceTerms(
        "PERCENTAGE",
        "JPY",
        rate=Decimal(1),
        fixed_amount=Decimal("0.5"),
        min_amount=Decimal(1),
        max_amount=Decimal("0.1"),
    )
    # when / then: a unit amount may be finer than the minor unit, a flat amount may not
    assert [e[:2] for e in refused(graduated)] == [
        (ErrorCode.INVALID, (*PATH, "tiers", "0", "flatAmount")),
        (ErrorCode.INVALID, (*PATH, "tiers", "1", "flatAmount")),
    ]
    assert [e[:2] for e in refused(percentage)] == [
        (ErrorCode.INVALID, (*PATH, "fixedAmount")),
        (ErrorCode.INVALID, (*PATH, "maxAmount")),
    ]


def test_a_percentage_without_a_rate_reads_none_of_its_amounts() -> None:
    # given
    terms = PriceTerms("PERCENTAGE", "USD", fixed_amount=Decimal("1.005"))
    # when / then: the missing rate is the one thing to fix first
    assert [e[:2] for e in refused(terms)] == [(ErrorCode.REQUIRED, (*PATH, "rate"))]


def test_the_model_is_not_validated_beyond_its_fields() -> None:
    # given: descending tiers and a negative unit amount are validate_price's to refuse
    terms = PriceTerms(
        "VOLUME",
        "USD",
        tiers=[TierTerms(Decimal(10), Decimal("-1")), TierTerms(Decimal(5), Decimal(1))],
    )
    # when
    model = price_model_from_terms(terms, PATH)
    # then
    assert model == VolumeTiers(
        (Tier(Decimal(10), Decimal("-1")), Tier(Decimal(5), Decimal(1))), "USD"
    )


@given(currency=currencies, minor=st.integers(-(10**15), 10**15))
def test_an_amount_exact_to_the_minor_unit_is_that_much_money(currency: str, minor: int) -> None:
    # given: the amount in major units, as a caller writes it
    stated = Decimal(minor).scaleb(-exponent_of(currency))
    # when
    flat = price_model_from_terms(PriceTerms("FLAT_FEE", currency, amount=stated))
    alone = money_from_terms(stated, currency)
    # then
    assert flat == FlatFee(Money(minor, currency))
    assert alone == Money(minor, currency)


@given(currency=currencies, minor=st.integers(1, 10**12), extra=st.integers(1, 9))
def test_an_amount_finer_than_the_minor_unit_is_never_rounded(
    currency: str, minor: int, extra: int
) -> None:
    # given: one more decimal than the currency has, not zero
    stated = (Decimal(minor) * 10 + extra).scaleb(-exponent_of(currency) - 1)
    # when / then
    with pytest.raises(DomainError) as raised:
        money_from_terms(stated, currency, ("input", "minimumCommitments", "0"))
    assert [(e.code, e.field) for e in raised.value.errors] == [
        (ErrorCode.INVALID, ("input", "minimumCommitments", "0", "amount"))
    ]


def test_money_in_an_unknown_currency_is_refused_at_currency() -> None:
    # when / then
    with pytest.raises(DomainError) as raised:
        money_from_terms(Decimal("1.005"), "ZZZ", ("input", "minimumCommitments", "1"))
    assert [(e.code, e.field) for e in raised.value.errors] == [
        (ErrorCode.UNKNOWN_CURRENCY, ("input", "minimumCommitments", "1", "currency"))
    ]
