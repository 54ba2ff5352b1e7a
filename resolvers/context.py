"""The typed request context: who calls, the tenant transaction, and this request's loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from auth.principal import Principal
from infra.db import TenantConnection
from infra.uow import SqlUnitOfWork
from resolvers.loaders import Loaders


@dataclass
class Context:
    principal: Principal
    db: TenantConnection
    request: Any = None
    # Set when execution starts (after validation): only then is an idempotent response kept.
    began_executing: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(self.db, self.principal)

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db)
