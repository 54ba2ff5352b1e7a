"""Planned `viewer`: the token's account, client and scopes; SQL only for the account's
name or creation time (its id is the token's tenant, whose account the endpoint checked)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from auth.principal import Principal
from infra.db import ReadConnection
from infra.planned.selection import NotPlannable, Selected

ACCOUNT_SQL = "select name, created_at from accounts where id = $1"


@dataclass
class ViewerPlan:
    top: list[tuple[str, str, Any]]
    needs_database: bool

    @classmethod
    def plan(cls, fields: dict[str, Selected], nested: Any) -> ViewerPlan:
        top: list[tuple[str, str, Any]] = []
        needs_database = False
        for key, selected in fields.items():
            if selected.name in ("clientId", "scopes", "__typename"):
                top.append((key, selected.name, None))
            elif selected.name == "account":
                account = [(k, s.name) for k, s in nested(selected, {"Account"}).items()]
                unknown = {name for _, name in account} - {"id", "name", "createdAt", "__typename"}
                if unknown:
                    raise NotPlannable(f"Account.{unknown.pop()}")
                needs_database |= any(name in ("name", "createdAt") for _, name in account)
                top.append((key, "account", account))
            else:
                raise NotPlannable(f"Viewer.{selected.name}")
        return cls(top, needs_database)

    def bind(self, principal: Principal) -> Callable[[ReadConnection | None], Any]:
        async def run(db: ReadConnection | None) -> Any:
            row = None
            if self.needs_database:
                assert db is not None
                rows = await db.fetch(ACCOUNT_SQL, principal.tenant_id)
                if not rows:
                    raise NotPlannable("no account")
                row = rows[0]
            answer: dict[str, Any] = {}
            for key, what, account in self.top:
                if what == "clientId":
                    answer[key] = principal.client_id
                elif what == "scopes":
                    answer[key] = sorted(principal.scopes)
                elif what == "__typename":
                    answer[key] = "Viewer"
                else:
                    answer[key] = _account(account, principal.tenant_id, row)
            return answer

        return run


def _account(fields: list[tuple[str, str]], tenant_id: str, row: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for key, name in fields:
        if name == "id":
            answer[key] = tenant_id
        elif name == "name":
            answer[key] = row["name"]
        elif name == "createdAt":
            answer[key] = row["created_at"].isoformat()
        else:
            answer[key] = "Account"
    return answer
