"""What the services need from the outside world; `infra/` implements it."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol

from domain.customers import Customer, CustomerDraft
from domain.events import Event


class CustomerRepository(Protocol):
    async def get(self, customer_id: str, *, for_update: bool = False) -> Customer | None: ...

    async def add(self, customer_id: str, draft: CustomerDraft) -> Customer:
        """Stores a new customer; raises DomainError(DUPLICATE) if its external id is taken."""
        ...

    async def save(self, customer: Customer) -> Customer:
        """Stores changed details; raises DomainError(DUPLICATE) if its external id is taken."""
        ...

    async def archive(self, customer_id: str) -> Customer: ...


class EventRepository(Protocol):
    async def add(self, event_type: str, object_id: str, data: dict[str, Any]) -> Event: ...


class UnitOfWork(Protocol):
    """One atomic change for one tenant: leaving without `commit()` undoes everything."""

    tenant_id: str
    customers: CustomerRepository
    events: EventRepository

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...
