"""Payment methods: a customer's card as the payment provider knows it.

Ledgerline keeps only the provider's reference with the card's brand, last 4 digits,
expiry and fingerprint (PCI DSS: never the number, nor the CVV). A customer has at most
one default method, the one automatic collection charges; a detached method stays on
record (payments made with it keep pointing at it) but is no longer listed nor charged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from domain.card_data import contains_card_number
from domain.errors import ErrorCode, FieldErrors
from domain.payments import CardDetails

TOKEN_MAX_LENGTH: Final = 255
# Provider tokens and references are ASCII identifiers (`tok_visa`, `pm_1Q2w3E...`).
_TOKEN = re.compile(r"[A-Za-z0-9_.:-]+")
_LAST4 = re.compile(r"[0-9]{4}")
_BRAND = re.compile(r"[a-z_]{1,32}")
# How many of a customer's methods `customer.paymentMethods` lists.
LISTED_PER_CUSTOMER: Final = 100


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    id: str
    customer_id: str
    provider: str
    provider_reference: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    fingerprint: str
    is_default: bool
    created_at: datetime
    detached_at: datetime | None

    @property
    def detached(self) -> bool:
        return self.detached_at is not None


def check_provider_token(token: str, field: tuple[str, ...]) -> str:
    """The token as given, or a DomainError: 1 to 255 characters of letters, digits and
    `_ . : -` (what providers' tokens are made of)."""
    errors = FieldErrors()
    if not token:
        errors.add(ErrorCode.REQUIRED, field, "Give the payment provider's token.")
    elif len(token) > TOKEN_MAX_LENGTH:
        errors.add(ErrorCode.TOO_LONG, field, f"At most {TOKEN_MAX_LENGTH} characters.")
    elif not _TOKEN.fullmatch(token):
        errors.add(
            ErrorCode.PAYMENT_METHOD_INVALID,
            field,
            "Not a payment provider's token: letters, digits, `_`, `.`, `:` or `-`.",
        )
    errors.raise_if_any()
    return token


def check_card_details(card: CardDetails, field: tuple[str, ...]) -> CardDetails:
    """What a provider answered, checked before it is stored: a provider bug or a changed
    API must not write a malformed card (the table's CHECKs back this up)."""
    valid = (
        bool(_TOKEN.fullmatch(card.reference))
        and len(card.reference) <= TOKEN_MAX_LENGTH
        and bool(_BRAND.fullmatch(card.brand))
        and bool(_LAST4.fullmatch(card.last4))
        and 1 <= card.exp_month <= 12
        and 2000 <= card.exp_year <= 2100
        and 1 <= len(card.fingerprint) <= 64
        # what a provider hands back is stored as it is: never a card number in it
        and not contains_card_number(f"{card.reference}\n{card.fingerprint}")
    )
    if not valid:
        errors = FieldErrors()
        errors.add(
            ErrorCode.PAYMENT_METHOD_INVALID,
            field,
            "The payment provider described this payment method in a way we cannot store.",
        )
        errors.raise_if_any()
    return card


class PaymentMethodRepository(Protocol):
    async def add(self, method: PaymentMethod) -> PaymentMethod: ...

    async def get(self, payment_method_id: str) -> PaymentMethod | None: ...

    async def default_of(self, customer_id: str) -> PaymentMethod | None:
        """The customer's default method (attached), if any."""
        ...

    async def set_default(self, customer_id: str, payment_method_id: str | None) -> None:
        """Makes the method the customer's only default (None: none). Call it with the
        customer locked, as two defaults at once are refused by a unique index."""
        ...

    async def detach(self, payment_method_id: str) -> PaymentMethod:
        """Marks the method detached (and no longer the default)."""
        ...


class PaymentMethodReads(Protocol):
    async def by_ids(self, ids: Sequence[str]) -> list[PaymentMethod | None]: ...

    async def by_customers(self, customer_ids: Sequence[str]) -> list[list[PaymentMethod]]:
        """Each customer's attached methods, the default first, then newest first (at most
        LISTED_PER_CUSTOMER each), in one statement."""
        ...
