"""Payment processors (domain.payments.PaymentProvider), chosen per tenant in the settings
(PAYMENT_PROVIDER, TENANT_PAYMENT_PROVIDERS; Stripe's keys in STRIPE_SECRET_KEY,
TENANT_STRIPE_SECRET_KEYS)."""

from __future__ import annotations

import stripe as stripe_library
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.payments import PaymentProvider
from infra.payments.sandbox import SandboxPaymentProvider

# (Named apart: importing the submodule infra.payments.stripe binds `stripe` in this package.)
from infra.payments.stripe import StripePaymentProvider, stripe_client
from infra.settings import Settings


class PaymentProviders:
    """The payment processor of each tenant, as configured. Refuses settings that cannot
    work (SettingsError) when built, so a misconfigured server does not start."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        settings.check_payment_providers()
        self._engine = engine
        self._settings = settings
        # One pool of HTTPS connections to Stripe, made on first use; a client per API key.
        self._stripe_http: stripe_library.HTTPXClient | None = None
        self._stripe_clients: dict[str, stripe_library.StripeClient] = {}

    def for_tenant(self, tenant_id: str) -> PaymentProvider:
        name = self._settings.payment_provider_of(tenant_id)
        if name == "sandbox":
            return SandboxPaymentProvider(
                self._engine, tenant_id, settle_seconds=self._settings.sandbox_settle_seconds
            )
        if name == "stripe":
            return StripePaymentProvider(self._stripe_client(tenant_id))
        raise LookupError(f"no payment provider named {name!r}")

    async def aclose(self) -> None:
        """Closes the Stripe clients' connections (at shutdown)."""
        http, self._stripe_http, self._stripe_clients = self._stripe_http, None, {}
        if http is not None:
            await http.close_async()  # type: ignore[no-untyped-call]

    def _stripe_client(self, tenant_id: str) -> stripe_library.StripeClient:
        key = self._settings.stripe_secret_key_of(tenant_id)
        if key is None:  # check_payment_providers refused this at start-up
            raise LookupError(f"no Stripe API key for account {tenant_id!r}")
        client = self._stripe_clients.get(key)
        if client is None:
            if self._stripe_http is None:
                self._stripe_http = stripe_library.HTTPXClient(
                    timeout=self._settings.stripe_timeout
                )
            client = self._stripe_clients[key] = stripe_client(
                key,
                self._stripe_http,
                max_network_retries=self._settings.stripe_max_network_retries,
                api_base=self._settings.stripe_api_base,
            )
        return client
