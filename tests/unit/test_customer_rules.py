"""The rules a customer's details follow: each problem has a code and an input field path,
every problem is reported at once, and accepted input comes back normalised."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.card_data import contains_card_number
from domain.customers import (
    ADDRESS_LINE_MAX_LENGTH,
    EMAIL_MAX_LENGTH,
    EXTERNAL_ID_MAX_LENGTH,
    METADATA_KEY_MAX_LENGTH,
    METADATA_MAX_KEYS,
    METADATA_VALUE_MAX_LENGTH,
    NAME_MAX_LENGTH,
    TAX_ID_VALUE_MAX_LENGTH,
    TAX_IDS_MAX,
    UNSET,
    Address,
    Customer,
    CustomerChanges,
    CustomerDraft,
    TaxId,
    TaxIdType,
    apply_changes,
    validate_changes,
    validate_draft,
)
from domain.errors import DomainError, ErrorCode
from domain.money import Money

Problems = list[tuple[ErrorCode, tuple[str, ...] | None]]


def draft(**overrides: Any) -> CustomerDraft:
    return replace(CustomerDraft(name="Acme Corporation", currency="USD"), **overrides)


def problems_of(call: Any, *args: Any) -> Problems:
    with pytest.raises(DomainError) as raised:
        call(*args)
    assert raised.value.errors, "a DomainError lists its problems"
    return [(error.code, error.field) for error in raised.value.errors]


def existing_customer() -> Customer:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    return Customer(
        id="cus_existing",
        tenant_id="t-1",
        name="Acme Corporation",
        email="billing@acme.example",
        currency="USD",
        external_id="acme-001",
        address=Address(country="US", city="San Francisco"),
        tax_ids=(TaxId(TaxIdType.US_EIN, "12-3456789"),),
        metadata={"tier": "gold"},
        balance=Money(-500, "USD"),
        created_at=created,
        updated_at=created,
        archived_at=None,
    )


# --- normalisation ----------------------------------------------------------------------


def test_valid_draft_comes_back_trimmed_and_normalised() -> None:
    # given
    given_draft = CustomerDraft(
        name="  Bäckerei Müller GmbH \t",
        currency=" eur ",
        email="  Rechnung@MUELLER.Example ",
        external_id="  mueller-002 ",
        address=Address(
            country=" de ",
            line1="  Hauptstraße 5 ",
            line2="   ",
            city=" Berlin",
            state="",
            postal_code=" 10115 ",
        ),
        tax_ids=(TaxId(TaxIdType.EU_VAT, "  DE123456789 "),),
        metadata={"plan_hint": "enterprise"},
    )
    # when
    clean = validate_draft(given_draft)
    # then
    assert clean == CustomerDraft(
        name="Bäckerei Müller GmbH",
        currency="EUR",
        email="Rechnung@mueller.example",
        external_id="mueller-002",
        address=Address(
            country="DE",
            line1="Hauptstraße 5",
            line2=None,
            city="Berlin",
            state=None,
            postal_code="10115",
        ),
        tax_ids=(TaxId(TaxIdType.EU_VAT, "DE123456789"),),
        metadata={"plan_hint": "enterprise"},
    )


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_blank_optional_texts_become_none(blank: str | None) -> None:
    # when
    clean = validate_draft(draft(email=blank, external_id=blank))
    # then
    assert clean.email is None
    assert clean.external_id is None


def test_draft_without_optional_details_is_accepted_as_is() -> None:
    # when
    clean = validate_draft(draft())
    # then
    assert clean == CustomerDraft(name="Acme Corporation", currency="USD")


# --- name -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "   ", "\t\n"], ids=repr)
def test_blank_name_is_required(name: str) -> None:
    # when / then
    assert problems_of(validate_draft, draft(name=name)) == [
        (ErrorCode.REQUIRED, ("input", "name"))
    ]


def test_name_of_201_characters_is_too_long() -> None:
    # when / then
    assert problems_of(validate_draft, draft(name="n" * 201)) == [
        (ErrorCode.TOO_LONG, ("input", "name"))
    ]


def test_name_of_200_characters_with_surrounding_spaces_is_accepted() -> None:
    # when
    clean = validate_draft(draft(name="  " + "n" * NAME_MAX_LENGTH + "  "))
    # then
    assert clean.name == "n" * 200


def storable(text: str) -> bool:
    """Text the storage rules let through: no NUL character, no card number."""
    return "\x00" not in text and not contains_card_number(text)


non_blank_names = st.text(min_size=1, max_size=NAME_MAX_LENGTH).filter(
    lambda s: bool(s.strip()) and storable(s)
)


@given(name=non_blank_names)
def test_any_non_blank_name_up_to_200_characters_is_accepted_trimmed(name: str) -> None:
    # when
    clean = validate_draft(draft(name=name))
    # then
    assert clean.name == name.strip()


@given(name=st.text(min_size=NAME_MAX_LENGTH + 1, max_size=400).filter(storable))
def test_any_name_over_200_characters_after_trimming_is_too_long(name: str) -> None:
    # given
    trimmed = name.strip()
    # when
    if len(trimmed) > NAME_MAX_LENGTH:
        problems = problems_of(validate_draft, draft(name=name))
        # then
        assert problems == [(ErrorCode.TOO_LONG, ("input", "name"))]
    elif trimmed:
        assert validate_draft(draft(name=name)).name == trimmed


# --- email ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email", ["not-an-email", "a@", "@acme.example", "a@b", "two@@acme.example", "a b@acme.example"]
)
def test_malformed_email_is_invalid(email: str) -> None:
    # when / then
    assert problems_of(validate_draft, draft(email=email)) == [
        (ErrorCode.INVALID_EMAIL, ("input", "email"))
    ]


def test_email_over_254_characters_is_too_long() -> None:
    # given
    domain = "@" + ".".join(["b" * 60] * 3) + ".example"
    email = "a" * (EMAIL_MAX_LENGTH + 1 - len(domain)) + domain
    assert len(email) == EMAIL_MAX_LENGTH + 1
    # when / then
    assert problems_of(validate_draft, draft(email=email)) == [
        (ErrorCode.TOO_LONG, ("input", "email"))
    ]


def test_email_domain_is_lower_cased_and_local_part_kept() -> None:
    # when
    clean = validate_draft(draft(email=" Jane.Doe@Example.COM "))
    # then
    assert clean.email == "Jane.Doe@example.com"


# --- currency ---------------------------------------------------------------------------


@pytest.mark.parametrize(("currency", "code"), [("usd", "USD"), (" jpy ", "JPY"), ("Kwd", "KWD")])
def test_currency_is_upper_cased(currency: str, code: str) -> None:
    # when / then
    assert validate_draft(draft(currency=currency)).currency == code


@pytest.mark.parametrize("currency", ["", "XXX", "US", "DOLLAR", "XAU"])
def test_unknown_currency_is_refused(currency: str) -> None:
    # when / then
    assert problems_of(validate_draft, draft(currency=currency)) == [
        (ErrorCode.UNKNOWN_CURRENCY, ("input", "currency"))
    ]


# --- external id ------------------------------------------------------------------------


def test_external_id_over_255_characters_is_too_long() -> None:
    # when / then
    assert validate_draft(draft(external_id="x" * EXTERNAL_ID_MAX_LENGTH)).external_id
    assert problems_of(validate_draft, draft(external_id="x" * 256)) == [
        (ErrorCode.TOO_LONG, ("input", "externalId"))
    ]


# --- address ----------------------------------------------------------------------------


@pytest.mark.parametrize("country", ["", "ZZ", "DEU", "D", "276", "XK"])
def test_country_must_be_an_iso_3166_alpha_2_code(country: str) -> None:
    # when / then
    assert problems_of(validate_draft, draft(address=Address(country=country))) == [
        (ErrorCode.INVALID_COUNTRY, ("input", "address", "country"))
    ]


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("line1", "line1"),
        ("line2", "line2"),
        ("city", "city"),
        ("state", "state"),
        ("postal_code", "postalCode"),
    ],
)
def test_address_line_over_200_characters_is_too_long_at_its_path(line: str, field: str) -> None:
    # given
    address = replace(Address(country="FR"), **{line: "x" * (ADDRESS_LINE_MAX_LENGTH + 1)})
    # when / then
    assert validate_draft(
        draft(address=replace(address, **{line: "x" * ADDRESS_LINE_MAX_LENGTH}))
    ).address
    assert problems_of(validate_draft, draft(address=address)) == [
        (ErrorCode.TOO_LONG, ("input", "address", field))
    ]


# --- tax ids ----------------------------------------------------------------------------


def test_more_than_five_tax_ids_are_too_many() -> None:
    # given
    tax_ids = tuple(TaxId(TaxIdType.OTHER, f"ID{i}") for i in range(TAX_IDS_MAX + 1))
    # when / then
    assert validate_draft(draft(tax_ids=tax_ids[:TAX_IDS_MAX])).tax_ids == tax_ids[:TAX_IDS_MAX]
    assert problems_of(validate_draft, draft(tax_ids=tax_ids)) == [
        (ErrorCode.TOO_MANY, ("input", "taxIds"))
    ]


def test_blank_tax_id_value_is_required_at_its_index() -> None:
    # given
    tax_ids = (TaxId(TaxIdType.EU_VAT, "DE123456789"), TaxId(TaxIdType.GB_VAT, "  "))
    # when / then
    assert problems_of(validate_draft, draft(tax_ids=tax_ids)) == [
        (ErrorCode.REQUIRED, ("input", "taxIds", "1", "value"))
    ]


@pytest.mark.parametrize(
    "value", ["DE#123", "12_345", "<script>", "x" * (TAX_ID_VALUE_MAX_LENGTH + 1), "ÄÖ123"]
)
def test_tax_id_with_other_characters_or_too_long_is_invalid(value: str) -> None:
    # when / then
    assert problems_of(validate_draft, draft(tax_ids=(TaxId(TaxIdType.OTHER, value),))) == [
        (ErrorCode.INVALID, ("input", "taxIds", "0", "value"))
    ]


@pytest.mark.parametrize(
    "value", ["12.345.678/0001-95", "GB 123 4567 89", "12-3456789", "x" * TAX_ID_VALUE_MAX_LENGTH]
)
def test_tax_id_of_letters_digits_spaces_dots_dashes_and_slashes_is_accepted(value: str) -> None:
    # when / then
    assert validate_draft(draft(tax_ids=(TaxId(TaxIdType.OTHER, value),))).tax_ids == (
        TaxId(TaxIdType.OTHER, value),
    )


# --- metadata ---------------------------------------------------------------------------


def test_metadata_at_its_bounds_is_accepted() -> None:
    # given
    metadata = {
        f"{i:0{METADATA_KEY_MAX_LENGTH}d}": "v" * METADATA_VALUE_MAX_LENGTH
        for i in range(METADATA_MAX_KEYS)
    }
    # when / then
    assert validate_draft(draft(metadata=metadata)).metadata == metadata


def test_more_than_fifty_metadata_keys_are_too_many() -> None:
    # given
    metadata = {f"k{i}": "v" for i in range(METADATA_MAX_KEYS + 1)}
    # when / then
    assert problems_of(validate_draft, draft(metadata=metadata)) == [
        (ErrorCode.TOO_MANY, ("input", "metadata"))
    ]


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ({"k" * 41: "v"}, (ErrorCode.INVALID, ("input", "metadata", "k" * 40))),
        ({"": "v"}, (ErrorCode.INVALID, ("input", "metadata", ""))),
        ({"count": 3}, (ErrorCode.INVALID, ("input", "metadata", "count"))),
        ({"nested": {"a": "b"}}, (ErrorCode.INVALID, ("input", "metadata", "nested"))),
        ({"note": "v" * 501}, (ErrorCode.TOO_LONG, ("input", "metadata", "note"))),
        (["a", "b"], (ErrorCode.INVALID, ("input", "metadata"))),
        ("text", (ErrorCode.INVALID, ("input", "metadata"))),
    ],
    ids=["long-key", "empty-key", "int-value", "object-value", "long-value", "list", "string"],
)
def test_metadata_problems_have_their_code_and_key_path(
    metadata: Any, problem: tuple[ErrorCode, tuple[str, ...]]
) -> None:
    # when / then
    assert problems_of(validate_draft, draft(metadata=metadata)) == [problem]


# --- text that must never be stored --------------------------------------------------

CARD_NUMBER = "4111 1111 1111 1111"  # a test Visa number that passes the Luhn check


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": f"Card {CARD_NUMBER}"}, ("input", "name")),
        ({"name": "4111-1111-1111-1111"}, ("input", "name")),
        ({"external_id": "4111111111111111"}, ("input", "externalId")),
        ({"address": Address(country="US", line1=CARD_NUMBER)}, ("input", "address", "line1")),
        ({"metadata": {"note": f"paid with {CARD_NUMBER}"}}, ("input", "metadata", "note")),
        ({"metadata": {"4111111111111111": "v"}}, ("input", "metadata", "4111111111111111")),
    ],
    ids=["name", "name-dashes", "external-id", "address-line", "metadata-value", "metadata-key"],
)
def test_card_number_in_free_text_is_refused_at_its_path(
    overrides: dict[str, Any], field: tuple[str, ...]
) -> None:
    # when / then
    assert problems_of(validate_draft, draft(**overrides)) == [(ErrorCode.CARD_DATA_REFUSED, field)]


@pytest.mark.parametrize(
    "name", ["Order 4111111111111112", "Acme 1234 5678", "Tel +1 415 555 0100", "Shop 12345"]
)
def test_digits_that_are_not_a_card_number_are_accepted(name: str) -> None:
    # when / then
    assert validate_draft(draft(name=name)).name == name


def test_card_number_in_changes_is_refused() -> None:
    # when / then
    assert problems_of(validate_changes, CustomerChanges(name=CARD_NUMBER)) == [
        (ErrorCode.CARD_DATA_REFUSED, ("input", "name"))
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "Acme\x00Corp"}, ("input", "name")),
        ({"external_id": "a\x00"}, ("input", "externalId")),
        ({"address": Address(country="US", city="San\x00Jose")}, ("input", "address", "city")),
        ({"metadata": {"note": "\x00"}}, ("input", "metadata", "note")),
    ],
    ids=["name", "external-id", "address-city", "metadata-value"],
)
def test_nul_character_in_text_is_invalid_at_its_path(
    overrides: dict[str, Any], field: tuple[str, ...]
) -> None:
    # when / then
    assert problems_of(validate_draft, draft(**overrides)) == [(ErrorCode.INVALID, field)]


# --- all at once ------------------------------------------------------------------------


def test_every_problem_of_a_draft_is_reported_at_once() -> None:
    # given
    bad = CustomerDraft(
        name=" ",
        currency="ZZZ",
        email="nope",
        external_id="x" * 256,
        address=Address(country="ZZ", city="c" * 201),
        tax_ids=(TaxId(TaxIdType.OTHER, ""),),
        metadata={"k": 1},
    )
    # when
    problems = problems_of(validate_draft, bad)
    # then
    assert problems == [
        (ErrorCode.REQUIRED, ("input", "name")),
        (ErrorCode.INVALID_EMAIL, ("input", "email")),
        (ErrorCode.UNKNOWN_CURRENCY, ("input", "currency")),
        (ErrorCode.TOO_LONG, ("input", "externalId")),
        (ErrorCode.INVALID_COUNTRY, ("input", "address", "country")),
        (ErrorCode.TOO_LONG, ("input", "address", "city")),
        (ErrorCode.REQUIRED, ("input", "taxIds", "0", "value")),
        (ErrorCode.INVALID, ("input", "metadata", "k")),
    ]


# --- partial updates --------------------------------------------------------------------


def test_changes_left_unset_stay_unset() -> None:
    # when
    clean = validate_changes(CustomerChanges())
    # then
    assert clean == CustomerChanges()
    assert all(
        getattr(clean, name) is UNSET
        for name in ("name", "email", "currency", "external_id", "address", "tax_ids", "metadata")
    )


def test_given_changes_are_validated_and_normalised_like_a_draft() -> None:
    # when
    clean = validate_changes(
        CustomerChanges(
            name="  New Name ",
            currency="gbp",
            email=" Ops@Acme.EXAMPLE ",
            address=Address(country="gb", city=" London "),
            tax_ids=(TaxId(TaxIdType.GB_VAT, " GB123456789 "),),
            metadata={"a": "b"},
        )
    )
    # then
    assert clean == CustomerChanges(
        name="New Name",
        currency="GBP",
        email="Ops@acme.example",
        external_id=UNSET,
        address=Address(country="GB", city="London"),
        tax_ids=(TaxId(TaxIdType.GB_VAT, "GB123456789"),),
        metadata={"a": "b"},
    )


def test_none_clears_optional_fields() -> None:
    # when
    clean = validate_changes(
        CustomerChanges(email=None, external_id=None, address=None, tax_ids=(), metadata=None)
    )
    # then
    assert clean.email is None
    assert clean.external_id is None
    assert clean.address is None
    assert clean.tax_ids == ()
    assert clean.metadata == {}
    assert clean.name is UNSET
    assert clean.currency is UNSET


@pytest.mark.parametrize("name", [None, "", "  "])
def test_name_cannot_be_cleared(name: str | None) -> None:
    # when / then
    assert problems_of(validate_changes, CustomerChanges(name=name)) == [  # type: ignore[arg-type]
        (ErrorCode.REQUIRED, ("input", "name"))
    ]


def test_every_problem_of_changes_is_reported_with_its_path() -> None:
    # when
    problems = problems_of(
        validate_changes,
        CustomerChanges(
            name="n" * 201,
            currency="usdollar",
            email="x@",
            address=Address(country="XX"),
            tax_ids=tuple(TaxId(TaxIdType.OTHER, "A") for _ in range(6)),
            metadata={"k": "v" * 501},
        ),
    )
    # then
    assert problems == [
        (ErrorCode.TOO_LONG, ("input", "name")),
        (ErrorCode.INVALID_EMAIL, ("input", "email")),
        (ErrorCode.UNKNOWN_CURRENCY, ("input", "currency")),
        (ErrorCode.INVALID_COUNTRY, ("input", "address", "country")),
        (ErrorCode.TOO_MANY, ("input", "taxIds")),
        (ErrorCode.TOO_LONG, ("input", "metadata", "k")),
    ]


def test_applying_no_changes_keeps_the_customer() -> None:
    # given
    customer = existing_customer()
    # when / then
    assert apply_changes(customer, validate_changes(CustomerChanges())) == customer


def test_applying_changes_replaces_given_fields_and_clears_nulls_only() -> None:
    # given
    customer = existing_customer()
    changes = validate_changes(
        CustomerChanges(name="Acme Inc.", email=None, address=None, metadata={"tier": "silver"})
    )
    # when
    changed = apply_changes(customer, changes)
    # then
    assert changed == replace(
        customer, name="Acme Inc.", email=None, address=None, metadata={"tier": "silver"}
    )
    assert changed.external_id == "acme-001"
    assert changed.tax_ids == customer.tax_ids
    assert changed.currency == "USD"
    assert changed.balance == Money(-500, "USD")
    assert customer.name == "Acme Corporation", "the original is not modified"
