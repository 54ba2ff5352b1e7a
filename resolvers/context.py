"""The typed request context: who calls, what it may read and change, its loaders, the time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from auth.principal import Principal
from domain.ports import Clock, ReadModel, UnitOfWork
from resolvers.loaders import Loaders


@dataclass
class Context:
    principal: Principal
    reads: ReadModel
    new_unit_of_work: Callable[[], UnitOfWork]
    clock: Clock
    request: Any = None
    # Set when execution starts (after validation): only then is an idempotent response kept.
    began_executing: bool = False

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(self.reads, self.principal)

    def uow(self) -> UnitOfWork:
        return self.new_unit_of_work()
