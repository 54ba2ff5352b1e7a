"""`viewer`: the calling account and the token's scopes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import strawberry

if TYPE_CHECKING:
    from resolvers.context import Context


async def viewer(info: strawberry.Info[Context]) -> Any:
    from schema.types import Account, Viewer

    principal = info.context.principal
    account = await info.context.loaders.account_by_id.load(principal.tenant_id)
    return Viewer(
        account=Account(
            id=strawberry.ID(account.id), name=account.name, created_at=account.created_at
        )
        if account
        else None,
        client_id=principal.client_id,
        scopes=sorted(principal.scopes),
    )
