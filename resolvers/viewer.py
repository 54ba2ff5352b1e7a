"""`viewer`: the calling account and the token's scopes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import strawberry

from domain.accounts import Account

if TYPE_CHECKING:
    from resolvers.context import Context


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the account the token acts for (None if it is gone) and its grant."""

    account: Account | None
    client_id: str
    scopes: list[str]


async def viewer(info: strawberry.Info[Context]) -> Caller:
    principal = info.context.principal
    account: Account | None = await info.context.loaders.account_by_id.load(principal.tenant_id)
    return Caller(account=account, client_id=principal.client_id, scopes=sorted(principal.scopes))
