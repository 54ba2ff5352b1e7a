"""The settlement sink (domain.payments.SettlementSink): what a provider reports later on
its own (Stripe's webhooks) is recorded against the payment or refund it names, each in a
transaction of its own, through the same settling the payments service does: once, never
undoing a SUCCEEDED or FAILED with a late PENDING, ignoring references it does not know."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.dunning import DunningPolicy
from domain.payments import ChargeResult, RefundResult
from domain.ports import Clock
from domain.services.payments import settle_reported_charge
from domain.services.refunds import settle_reported_refund
from infra.uow import SqlUnitOfWork


class RecordedSettlements:
    def __init__(
        self, engine: AsyncEngine, provider: str, dunning: DunningPolicy, clock: Clock
    ) -> None:
        self._engine = engine
        self._provider = provider
        self._dunning = dunning
        self._clock = clock

    async def charge_settled(
        self, tenant_id: str, provider_reference: str, result: ChargeResult
    ) -> None:
        await settle_reported_charge(
            SqlUnitOfWork.owning(self._engine, tenant_id),
            self._provider,
            provider_reference,
            result,
            self._clock.now(),
            self._dunning,
        )

    async def refund_settled(
        self, tenant_id: str, provider_reference: str, result: RefundResult
    ) -> None:
        await settle_reported_refund(
            SqlUnitOfWork.owning(self._engine, tenant_id),
            self._provider,
            provider_reference,
            result,
            self._clock.now(),
        )
