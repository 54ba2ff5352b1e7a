"""Card numbers are refused wherever free text enters (PCI DSS), and ordinary numbers that
merely pass the Luhn check (keys, timestamps, phone numbers) are not card numbers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.card_data import (
    _RUN,
    card_candidates,
    contains_card_number,
    issued_by_a_network,
    luhn_valid,
)
from domain.customers import Address, CustomerDraft, validate_draft
from domain.errors import DomainError, ErrorCode

# (prefix, length) of numbers each network issues.
ISSUED = [
    ("4", 16), ("4", 19), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16), ("34", 15),
    ("37", 15), ("300", 14), ("36", 14), ("6011", 16), ("65", 19), ("3528", 16), ("62", 17),
    ("50", 16), ("67", 19), ("2200", 16), ("3088", 16), ("81", 16), ("6062", 16), ("38", 14),
]  # fmt: skip


def _with_check_digit(body: str) -> str:
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return body + digit
    raise AssertionError("a Luhn check digit always exists")


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    prefix, length = draw(st.sampled_from(ISSUED))
    body = draw(st.text(alphabet="0123456789", min_size=length - len(prefix) - 1).filter(bool))
    return _with_check_digit((prefix + body)[: length - 1])


def _in_fours(number: str, separator: str = " ") -> str:
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


@given(card_numbers())
def test_every_networks_numbers_are_found_in_a_row_or_printed(number: str) -> None:
    assert contains_card_number(number)
    assert contains_card_number(f"card: {number} thanks")
    if len(number) in (14, 15, 16, 19):
        assert contains_card_number(f"card: {_in_fours(number, '-')}.")
        assert contains_card_number(f"No 1 {_in_fours(number)} 12/34 123")
    if len(number) in (14, 15):  # American Express and Diners print 4-6-5 and 4-6-4
        assert contains_card_number(f"{number[:4]} {number[4:10]} {number[10:]}")


@given(card_numbers())
def test_a_wrong_check_digit_is_not_a_card_number(number: str) -> None:
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not contains_card_number(wrong)


@pytest.mark.parametrize(
    "text",
    [
        "+1 415 555 0100",
        "DE123456789",
        "12.345.678/0001-95",
        "order 2026-11-26",
        "1234",
        # Luhn-valid, but no network issues them or cards are not written so:
        "20261126-123458",  # a dated idempotency key
        "1764158400002",  # a millisecond timestamp
        "+4915112345678",  # an E.164 phone number
        "7000000000000000003",  # a 19-digit id outside every issuer range
        "12345678-1234-1234-1234-123456789019",  # a UUID of digits only
        "4111 1111 1111 11",  # a Visa prefix, but 14 digits
        "5039621723215",  # an EAN-13 barcode (UK)
        "ref 1234 5678 9012 4242 4242 4242 4242 42",  # fours inside a longer reference
    ],
)
def test_ordinary_numbers_are_not_card_numbers(text: str) -> None:
    digits = "".join(ch for ch in text if ch.isdigit())
    assert not contains_card_number(text), (text, luhn_valid(digits))


def test_the_luhn_valid_examples_above_are_luhn_valid() -> None:
    # so the test above proves the issuer and format rules, not the check digit
    for text in [
        "20261126-123458",
        "1764158400002",
        "+4915112345678",
        "7000000000000000003",
        "5039621723215",
    ]:
        assert luhn_valid("".join(ch for ch in text if ch.isdigit())), text


def test_issuer_ranges_and_lengths() -> None:
    assert issued_by_a_network("4242424242424242")
    assert issued_by_a_network("378282246310005")  # American Express
    assert not issued_by_a_network("4242424242424")  # 13-digit Visa: no longer issued
    assert not issued_by_a_network("2720999999999999"[:15])
    assert not issued_by_a_network("2721000000000000")  # past Mastercard's 2-series


def _one_pass_reference(text: str) -> bool:
    return any(issued_by_a_network(d) and luhn_valid(d) for d in card_candidates(text))


@given(st.text(alphabet="0123456789 -x\u0663", max_size=80))
def test_the_quick_scan_finds_what_one_pass_over_the_whole_text_finds(text: str) -> None:
    # the run prefilter must never hide a candidate that the exact patterns would see
    assert contains_card_number(text) == _one_pass_reference(text)
    assert all(len(run.group()) >= 13 for run in _RUN.finditer(text))


def test_a_customer_carrying_a_card_number_is_refused_with_the_field_path() -> None:
    # given a card number in metadata and in an address line
    draft = CustomerDraft(
        name="Acme",
        currency="USD",
        address=Address(country="US", line1="4111 1111 1111 1111"),
        metadata={"note": "card 4242424242424242"},
    )
    # when
    with pytest.raises(DomainError) as refused:
        validate_draft(draft)
    # then
    assert {(e.code, e.field) for e in refused.value.errors} == {
        (ErrorCode.CARD_DATA_REFUSED, ("input", "address", "line1")),
        (ErrorCode.CARD_DATA_REFUSED, ("input", "metadata", "note")),
    }


@pytest.mark.parametrize(
    "text",
    [
        "77f578613140401680762a9af4046a6d",  # a hex UUID whose digits pass as a Visa
        "x4111111111111111",
        "4111111111111111y",
        "key_4111111111111111",
        "ab4111 1111 1111 1111",
    ],
)
def test_a_number_glued_to_a_letter_is_not_a_card_number(text: str) -> None:
    assert not contains_card_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "card:4111111111111111",
        "(4111111111111111)",
        "ab 4111 1111 1111 1111",
        "ab12 4111 1111 1111 1111 z",
        "é 4111111111111111.",
    ],
)
def test_a_card_number_beside_punctuation_or_after_a_space_is_found(text: str) -> None:
    assert contains_card_number(text)
