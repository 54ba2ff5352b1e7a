"""Card numbers are refused wherever free text enters (PCI DSS)."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.card_data import _CANDIDATE, contains_card_number, luhn_valid
from domain.customers import Address, CustomerDraft, validate_draft
from domain.errors import DomainError, ErrorCode


def _with_check_digit(body: str) -> str:
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return body + digit
    raise AssertionError("a Luhn check digit always exists")


@given(st.text(alphabet="0123456789", min_size=12, max_size=18))
def test_any_luhn_valid_number_of_card_length_is_detected(body: str) -> None:
    number = _with_check_digit(body)
    assert contains_card_number(number)
    assert contains_card_number(f"card: {number[:4]} {number[4:8]} {number[8:]} thanks")


@given(st.text(alphabet="0123456789", min_size=12, max_size=18))
def test_a_wrong_check_digit_is_not_a_card_number(body: str) -> None:
    number = _with_check_digit(body)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not contains_card_number(wrong)


def _one_pass_reference(text: str) -> bool:
    return any(
        13 <= len(digits) <= 19 and luhn_valid(digits)
        for digits in (re.sub(r"[ -]", "", m.group()) for m in _CANDIDATE.finditer(text))
    )


@given(st.text(alphabet="0123456789 -x\u0663", max_size=80))
def test_the_quick_scan_finds_what_one_pass_over_the_whole_text_finds(text: str) -> None:
    # the run prefilter must never hide a candidate that the exact pattern would see
    assert contains_card_number(text) == _one_pass_reference(text)


@pytest.mark.parametrize(
    "text", ["+1 415 555 0100", "DE123456789", "12.345.678/0001-95", "order 2026-11-26", "1234"]
)
def test_ordinary_numbers_are_not_card_numbers(text: str) -> None:
    assert not contains_card_number(text)


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
