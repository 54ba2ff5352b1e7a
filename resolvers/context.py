"""The typed request context: who calls, what it may read and change, its loaders, the time.

Built per request by the GraphQL endpoint (`infra/http/graphql.py`); every resolver takes
`info: strawberry.Info[Context]`. Loaders live here, never at module level, so nothing is
cached across requests or tenants.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from auth.principal import Principal
from domain.payments import PaymentProvider
from domain.ports import Clock, Reads, UnitOfWork
from domain.webhooks import DestinationPolicy
from resolvers.loaders import Loaders

if TYPE_CHECKING:
    from starlette.requests import Request


@dataclass
class Context:
    principal: Principal
    reads: Reads
    new_unit_of_work: Callable[[], UnitOfWork]
    clock: Clock
    # Where webhooks may be sent, in this deployment (production or development).
    webhook_destinations: DestinationPolicy
    request: Request | None = None
    # Set when execution starts (after validation): only then is an idempotent response kept.
    began_executing: bool = False
    # Set by a mutation whose answer carries a secret (a webhook signing secret): the
    # response is then kept for idempotent replay only sealed, never in clear.
    answers_secret: bool = False
    # Sibling fields resolve concurrently, and a unit of work is a savepoint on the request's
    # one connection: fields that open one (a preview) take turns.
    unit_of_work_turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    # The tenant's payment processor, as configured (infra/payments), made when first asked.
    new_payment_provider: Callable[[], PaymentProvider] | None = None
    # Units of work whose transactions commit on their own, whatever becomes of the
    # request's: the phases of a payment around the provider's call (money moved at a
    # provider cannot be rolled back with a request).
    new_money_unit_of_work: Callable[[], UnitOfWork] | None = None
    # What the operation costs (schema/cost.py), when the HTTP endpoint has costed it.
    query_cost: int | None = None

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(self.reads, self.principal)

    def uow(self) -> UnitOfWork:
        return self.new_unit_of_work()

    def money_unit_of_work(self) -> UnitOfWork:
        if self.new_money_unit_of_work is None:
            raise RuntimeError("no money unit of work is configured for this request")
        return self.new_money_unit_of_work()

    @property
    def idempotency_key(self) -> str | None:
        """The request's Idempotency-Key header (mutations only; checked by the endpoint)."""
        if self.request is None:
            return None
        key: str | None = self.request.headers.get("idempotency-key")
        return key

    @cached_property
    def payment_provider(self) -> PaymentProvider:
        if self.new_payment_provider is None:
            raise RuntimeError("no payment provider is configured for this request")
        return self.new_payment_provider()
