"""`viewer`: the merchant's account and what the calling token allows."""

from __future__ import annotations

from datetime import datetime

import strawberry

import domain.accounts as accounts_domain
from resolvers.viewer import Caller


@strawberry.type(description="A merchant: the tenant every object belongs to.")
class Account:
    id: strawberry.ID = strawberry.field(description="The account id: the `tenant` of tokens.")
    name: str = strawberry.field(description="The merchant's name.")
    created_at: datetime = strawberry.field(description="When the account was opened.")

    @classmethod
    def from_domain(cls, account: accounts_domain.Account) -> Account:
        return cls(id=strawberry.ID(account.id), name=account.name, created_at=account.created_at)


@strawberry.type(description="Who is calling: the account and what the token allows.")
class Viewer:
    account: Account | None = strawberry.field(description="The merchant the token acts for.")
    client_id: str = strawberry.field(description="The OAuth client (or subject) of the token.")
    scopes: list[str] = strawberry.field(description="The scopes granted to this token.")

    @classmethod
    def from_domain(cls, caller: Caller) -> Viewer:
        return cls(
            account=Account.from_domain(caller.account) if caller.account else None,
            client_id=caller.client_id,
            scopes=caller.scopes,
        )
