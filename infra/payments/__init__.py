"""Payment processors (domain.payments.PaymentProvider), chosen per tenant in the settings
(PAYMENT_PROVIDER, TENANT_PAYMENT_PROVIDERS)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.payments import PaymentProvider
from infra.payments.sandbox import SandboxPaymentProvider
from infra.settings import Settings


class PaymentProviders:
    """The payment processor of each tenant, as configured."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings

    def for_tenant(self, tenant_id: str) -> PaymentProvider:
        name = self._settings.payment_provider_of(tenant_id)
        if name == "sandbox":
            return SandboxPaymentProvider(
                self._engine, tenant_id, settle_seconds=self._settings.sandbox_settle_seconds
            )
        raise LookupError(f"no payment provider named {name!r}")
