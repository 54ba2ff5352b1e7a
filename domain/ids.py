"""Prefixed, opaque, unguessable identifiers (`cus_…`, `evt_…`), as in API.md, and the node
registry: what each prefix names, how a request reads it by id, and who may read it."""

from __future__ import annotations

import secrets
import string
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from domain.ports import Reads

_ALPHABET = string.digits + string.ascii_letters
# 22 base62 characters carry 130 bits: as unguessable as a UUID4, shorter to paste.
_RANDOM_LENGTH = 22
_BASE = len(_ALPHABET)
# Random bytes below 248 (4 x 62) map evenly onto the alphabet and the others are dropped,
# so each character is a uniform, independent draw. 32 bytes keep 22 or more but for about
# one draw in 500 million, which draws again. `bytes.translate` does it in C, four times
# faster than base 62 digits of one big draw: the billing run makes ids by the 100,000.
_UNIFORM_BELOW = 4 * _BASE
_DRAW = 32
_TO_ALPHABET = bytes(ord(_ALPHABET[b % _BASE]) if b < _UNIFORM_BELOW else 0 for b in range(256))
_BEYOND_UNIFORM = bytes(range(_UNIFORM_BELOW, 256))


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of object with an id.

    `by_ids` reads objects of the kind by id within the request's tenant, in key order
    with None for an id not found; the kinds that have it are nodes (`node(id:)`).
    `read_scope` is the OAuth scope a token needs to read them, through `node`, their
    lists and the events about them; events themselves have none: each is read with the
    scope of the object it is about.
    """

    prefix: str
    type_name: str
    read_scope: str | None = None
    by_ids: Callable[[Reads, Sequence[str]], Awaitable[Sequence[object | None]]] | None = None


# The node registry: one line per kind (prefix, API type, read scope, reader).
KINDS: Final[dict[str, Kind]] = {
    kind.prefix: kind
    for kind in (
        Kind("acct", "Account"),
        Kind("cli", "OAuthClient"),
        Kind("cus", "Customer", "customers:read", lambda r, ids: r.customers.by_ids(ids)),
        Kind("evt", "Event", None, lambda r, ids: r.events.by_ids(ids)),
        Kind("bm", "BillableMetric", "catalog:read", lambda r, ids: r.metrics.by_ids(ids)),
        Kind("plan", "Plan", "catalog:read", lambda r, ids: r.plans.by_ids(ids)),
        Kind("price", "Price", "catalog:read", lambda r, ids: r.plans.prices_by_ids(ids)),
        Kind(
            "sub",
            "Subscription",
            "subscriptions:read",
            lambda r, ids: r.subscriptions.by_ids(ids),
        ),
        Kind("inv", "Invoice", "invoices:read", lambda r, ids: r.invoices.by_ids(ids)),
        Kind("il", "InvoiceLine", "invoices:read"),
        Kind("cpn", "Coupon", "catalog:read", lambda r, ids: r.coupons.by_ids(ids)),
        Kind("di", "Discount", "catalog:read", lambda r, ids: r.coupons.discounts_by_ids(ids)),
        Kind("txr", "TaxRate", "catalog:read", lambda r, ids: r.tax_rates.by_ids(ids)),
        Kind(
            "pm",
            "PaymentMethod",
            "payments:read",
            lambda r, ids: r.payment_methods.by_ids(ids),
        ),
        Kind("pay", "Payment", "payments:read", lambda r, ids: r.payments.by_ids(ids)),
        Kind("re", "Refund", "payments:read", lambda r, ids: r.refunds.by_ids(ids)),
        Kind("cn", "CreditNote", "invoices:read", lambda r, ids: r.credit_notes.by_ids(ids)),
        Kind(
            "cbtxn",
            "CustomerBalanceTransaction",
            "customers:read",
            lambda r, ids: r.balances.by_ids(ids),
        ),
        Kind(
            "we",
            "WebhookEndpoint",
            "webhooks:manage",
            lambda r, ids: r.webhook_endpoints.by_ids(ids),
        ),
        Kind(
            "whd",
            "WebhookDelivery",
            "webhooks:manage",
            lambda r, ids: r.webhook_deliveries.by_ids(ids),
        ),
        Kind("aud", "AuditEntry", "audit:read"),
    )
}

PREFIXES: Final[dict[str, str]] = {prefix: kind.type_name for prefix, kind in KINDS.items()}


def new_id(prefix: str) -> str:
    """A fresh identifier with the given prefix."""
    if prefix not in KINDS:
        raise ValueError(f"unknown id prefix {prefix!r}")
    while True:
        body = secrets.token_bytes(_DRAW).translate(_TO_ALPHABET, _BEYOND_UNIFORM)
        if len(body) >= _RANDOM_LENGTH:
            return f"{prefix}_{body[:_RANDOM_LENGTH].decode('ascii')}"


def prefix_of(identifier: str) -> str | None:
    """The prefix of a well-formed identifier, or None for anything else."""
    prefix, sep, body = identifier.partition("_")
    if not sep or prefix not in KINDS:
        return None
    if not (1 <= len(body) <= 64) or any(ch not in _ALPHABET for ch in body):
        return None
    return prefix


def kind_of(identifier: str) -> Kind | None:
    """The kind of a well-formed identifier, or None for anything else."""
    prefix = prefix_of(identifier)
    return None if prefix is None else KINDS[prefix]
