"""Accounts: the merchants (tenants) every object belongs to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from domain.ids import prefix_of

# An account id is either one of our opaque `acct_…` ids (domain/ids.py) or a slug chosen by
# whoever creates the account (`ledgerline clients create --tenant demo`). It comes back in
# every token's `tenant` claim, an external identity provider's included, and names the
# tenant in SQL, logs and responses: plain ASCII only, so no NUL, space, control or look-alike
# character gets that far. The accounts table's CHECK (migration 0001) holds the same rule.
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
ACCOUNT_ID_FORMAT = (
    "1 to 63 lowercase ASCII letters, digits, '-' or '_', starting with a letter or digit"
    " (or an acct_ id)"
)


class InvalidAccountId(ValueError):
    """Not an account id; the message says what one looks like."""


def is_account_id(text: object) -> bool:
    """Whether `text` has the account id format (ACCOUNT_ID_FORMAT)."""
    if not isinstance(text, str):
        return False
    # fullmatch, not `$`: `$` would also accept a trailing newline.
    return _SLUG.fullmatch(text) is not None or prefix_of(text) == "acct"


def check_account_id(text: str) -> str:
    """`text` if it is an account id; InvalidAccountId otherwise."""
    if not is_account_id(text):
        raise InvalidAccountId(f"an account id is {ACCOUNT_ID_FORMAT}, not {text!r}")
    return text


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    created_at: datetime
