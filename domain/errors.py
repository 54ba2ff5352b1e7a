"""Domain errors and their codes: the one place that names what can go wrong for a caller.

Services raise these; a mutation's resolver answers them (`resolvers/errors.py`) and its
payload lists them as `userErrors` (`schema/errors.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ErrorCode(str, Enum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    TOO_MANY = "TOO_MANY"
    INVALID_EMAIL = "INVALID_EMAIL"
    UNKNOWN_CURRENCY = "UNKNOWN_CURRENCY"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    INVALID_COUNTRY = "INVALID_COUNTRY"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    CARD_DATA_REFUSED = "CARD_DATA_REFUSED"
    ARCHIVED = "ARCHIVED"
    ALREADY_ARCHIVED = "ALREADY_ARCHIVED"
    IN_USE = "IN_USE"
    # Lifecycles: the object is not in a state that allows the change.
    ALREADY_CANCELED = "ALREADY_CANCELED"
    NOT_DRAFT = "NOT_DRAFT"
    NOT_OPEN = "NOT_OPEN"
    # Coupons that cannot be redeemed.
    COUPON_EXPIRED = "COUPON_EXPIRED"
    COUPON_EXHAUSTED = "COUPON_EXHAUSTED"
    COUPON_NOT_APPLICABLE = "COUPON_NOT_APPLICABLE"
    # Payment methods: the provider does not know the token, or the method is detached.
    PAYMENT_METHOD_INVALID = "PAYMENT_METHOD_INVALID"
    PAYMENT_METHOD_DETACHED = "PAYMENT_METHOD_DETACHED"
    # Payments and refunds: nothing (more) to pay or refund; no method to charge.
    ALREADY_PAID = "ALREADY_PAID"
    AMOUNT_EXCEEDS_REMAINING = "AMOUNT_EXCEEDS_REMAINING"
    NO_PAYMENT_METHOD = "NO_PAYMENT_METHOD"
    PAYMENT_NOT_REFUNDABLE = "PAYMENT_NOT_REFUNDABLE"
    REFUND_EXCEEDS_PAYMENT = "REFUND_EXCEEDS_PAYMENT"
    # Another change of the same object holds it (or this request changed it earlier).
    BUSY = "BUSY"
    # Webhook endpoints: a destination refused (SSRF), an event type that does not exist.
    URL_NOT_ALLOWED = "URL_NOT_ALLOWED"
    UNKNOWN_EVENT_TYPE = "UNKNOWN_EVENT_TYPE"
    # Credit notes: beyond what the invoice (or a line) has left to credit, beyond what is
    # left to pay (REDUCE_AMOUNT_DUE) or what was paid (REFUND).
    CREDIT_NOTE_EXCEEDS_CREDITABLE = "CREDIT_NOTE_EXCEEDS_CREDITABLE"
    CREDIT_NOTE_EXCEEDS_REMAINING = "CREDIT_NOTE_EXCEEDS_REMAINING"
    CREDIT_NOTE_EXCEEDS_PAID = "CREDIT_NOTE_EXCEEDS_PAID"
    # Customer balance: an adjustment would take more credit than the customer has.
    BALANCE_INSUFFICIENT = "BALANCE_INSUFFICIENT"
    # A documented option this deployment does not offer yet.
    NOT_SUPPORTED = "NOT_SUPPORTED"
    WEBHOOK_ENDPOINT_DISABLED = "WEBHOOK_ENDPOINT_DISABLED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    IDEMPOTENCY_KEY_IN_USE = "IDEMPOTENCY_KEY_IN_USE"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One thing wrong with a caller's input, at a path relative to the mutation's `input`."""

    code: ErrorCode
    field: tuple[str, ...] | None
    message: str


class DomainError(Exception):
    """A rule refused the request; nothing was written."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors


class NotFound(DomainError):
    def __init__(self, field: tuple[str, ...], what: str) -> None:
        super().__init__([FieldError(ErrorCode.NOT_FOUND, field, f"{what} not found")])


class FieldErrors:
    """Collects every problem of an input so the caller sees all of them at once."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, code: ErrorCode, field: tuple[str, ...], message: str) -> None:
        self.errors.append(FieldError(code, field, message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise DomainError(self.errors)
