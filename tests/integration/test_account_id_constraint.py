"""The accounts table's CHECK and domain.accounts agree on what an account id is: the domain
rule refuses a bad id before any SQL (CLI, token check), the constraint is the backstop."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from domain.accounts import is_account_id
from tests.unit.test_account_ids import IDS_IN_USE, NOT_ACCOUNT_IDS


class _Undo(Exception):
    pass


async def table_accepts(admin: asyncpg.Connection, account_id: str) -> bool:
    """Whether the accounts table takes `account_id`; the row is rolled back either way."""
    try:
        async with admin.transaction():
            await admin.execute(
                "insert into accounts (id, name) values ($1, 'Constraint probe')", account_id
            )
            raise _Undo
    except _Undo:
        return True
    except (asyncpg.CheckViolationError, asyncpg.CharacterNotInRepertoireError):
        return False


# The one place they differ on purpose: the table takes an `acct_` id of any length, the
# domain (like domain.ids.prefix_of) only up to 64 characters after the prefix.
AGREEING = [value for value in NOT_ACCOUNT_IDS if value.id != "acct-id-too-long"]


@pytest.mark.parametrize("text", IDS_IN_USE + AGREEING)
async def test_the_accounts_table_takes_exactly_the_account_ids(
    admin: asyncpg.Connection, text: Any
) -> None:
    # when
    accepted = await table_accepts(admin, text)
    # then
    assert accepted == is_account_id(text)
