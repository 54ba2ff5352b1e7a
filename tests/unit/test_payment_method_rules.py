"""What Ledgerline accepts from a caller as a provider's token, and from a provider as the
description of a card, before anything is stored."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain.errors import DomainError, ErrorCode
from domain.payment_methods import check_card_details, check_provider_token
from domain.payments import CardDetails

FIELD = ("input", "providerToken")
VISA = CardDetails("pm_1Q2w3E4r", "visa", "4242", 12, 2034, "Xt5EWLLDS7FJjR1c")


def _code(error: DomainError) -> ErrorCode:
    [only] = error.errors
    assert only.field == FIELD
    return only.code


@pytest.mark.parametrize("token", ["tok_visa", "pm_1Q2w3E4r5T6y7U8i", "src:abc.def-1"])
def test_provider_tokens_are_taken_as_given(token: str) -> None:
    assert check_provider_token(token, FIELD) == token


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("", ErrorCode.REQUIRED),
        ("t" * 256, ErrorCode.TOO_LONG),
        ("tok visa", ErrorCode.PAYMENT_METHOD_INVALID),
        ("tok_visa\n", ErrorCode.PAYMENT_METHOD_INVALID),
        ("tók", ErrorCode.PAYMENT_METHOD_INVALID),
    ],
)
def test_malformed_tokens_are_refused(token: str, code: ErrorCode) -> None:
    with pytest.raises(DomainError) as refused:
        check_provider_token(token, FIELD)
    assert _code(refused.value) == code


def test_a_well_formed_card_description_is_kept() -> None:
    assert check_card_details(VISA, FIELD) == VISA


@pytest.mark.parametrize(
    "card",
    [
        replace(VISA, last4="424"),
        replace(VISA, last4="42a2"),
        replace(VISA, exp_month=13),
        replace(VISA, exp_month=0),
        replace(VISA, exp_year=99),
        replace(VISA, brand="Visa Card"),
        replace(VISA, fingerprint=""),
        replace(VISA, reference="has space"),
        # a provider that hands back a card number as its reference or fingerprint
        replace(VISA, reference="4242424242424242"),
        replace(VISA, fingerprint="4242 4242 4242 4242"),
    ],
)
def test_a_card_description_that_cannot_be_stored_is_refused(card: CardDetails) -> None:
    with pytest.raises(DomainError) as refused:
        check_card_details(card, FIELD)
    assert _code(refused.value) == ErrorCode.PAYMENT_METHOD_INVALID
