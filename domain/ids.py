"""Prefixed, opaque, unguessable identifiers (`cus_…`, `evt_…`), as in API.md."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.digits + string.ascii_letters
# 22 base62 characters carry 130 bits: as unguessable as a UUID4, shorter to paste.
_RANDOM_LENGTH = 22

PREFIXES: dict[str, str] = {
    "acct": "Account",
    "cus": "Customer",
    "evt": "Event",
    "cli": "OAuthClient",
    "bm": "BillableMetric",
    "plan": "Plan",
    "price": "Price",
}


def new_id(prefix: str) -> str:
    """A fresh identifier with the given prefix."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))
    return f"{prefix}_{body}"


def prefix_of(identifier: str) -> str | None:
    """The prefix of a well-formed identifier, or None for anything else."""
    prefix, sep, body = identifier.partition("_")
    if not sep or prefix not in PREFIXES:
        return None
    if not (1 <= len(body) <= 64) or any(ch not in _ALPHABET for ch in body):
        return None
    return prefix
