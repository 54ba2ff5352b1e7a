"""The sandbox payment processor behaves like a real one behind a network boundary: its
tokens succeed, decline, time out once or fail later; every charge and refund is answered
once per idempotency key, across connections and concurrent calls, never charged twice."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.money import Money
from domain.payments import (
    ChargeStatus,
    IdempotencyKeyMismatch,
    PaymentMethodRejected,
    PaymentProviderError,
    ProviderUnavailable,
    RefundStatus,
)
from infra.payments import PaymentProviders
from infra.payments.sandbox import DELAYED_FAILURE_CODE, SandboxPaymentProvider
from infra.settings import Settings
from tests.conftest import Tenant

TEN_EUR = Money(1000, "EUR")


async def _charges(admin: asyncpg.Connection, tenant: Tenant, kind: str = "charge") -> int:
    count: int = await admin.fetchval(
        "select count(*) from sandbox_requests where tenant_id = $1 and kind = $2",
        tenant.id,
        kind,
    )
    return count


@pytest.fixture
def sandbox(engine: AsyncEngine, tenant: Tenant) -> SandboxPaymentProvider:
    return SandboxPaymentProvider(engine, tenant.id, settle_seconds=0.3)


async def test_a_charge_repeated_with_its_key_is_answered_without_charging_again(
    sandbox: SandboxPaymentProvider, tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # when the same charge is sent twice with one key, and once with another
    first = await sandbox.charge(TEN_EUR, "tok_visa", "pay-1", {"invoice": "inv_1"})
    again = await sandbox.charge(TEN_EUR, "tok_visa", "pay-1", {"invoice": "inv_1"})
    other = await sandbox.charge(TEN_EUR, "tok_visa", "pay-2", {})
    # then
    assert first.status is ChargeStatus.SUCCEEDED and first.decline_code is None
    assert again == first
    assert other.provider_reference != first.provider_reference
    assert await _charges(admin, tenant) == 2


async def test_concurrent_charges_with_one_key_charge_once(
    engine: AsyncEngine, tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given several processes' providers (each its own connections)
    providers = [SandboxPaymentProvider(engine, tenant.id) for _ in range(5)]
    # when they all send the same charge at once
    results = await asyncio.gather(
        *(p.charge(TEN_EUR, "tok_visa", "pay-concurrent", {}) for p in providers)
    )
    # then one charge, the same answer for all
    assert len({result.provider_reference for result in results}) == 1
    assert await _charges(admin, tenant) == 1


async def test_a_key_reused_for_another_charge_is_refused(
    sandbox: SandboxPaymentProvider, tenant: Tenant, admin: asyncpg.Connection
) -> None:
    await sandbox.charge(TEN_EUR, "tok_visa", "pay-1", {})
    with pytest.raises(IdempotencyKeyMismatch):
        await sandbox.charge(Money(999, "EUR"), "tok_visa", "pay-1", {})
    with pytest.raises(IdempotencyKeyMismatch):
        await sandbox.charge(TEN_EUR, "tok_mastercard", "pay-1", {})
    assert await _charges(admin, tenant) == 1


async def test_keys_belong_to_their_tenant(
    engine: AsyncEngine, tenant: Tenant, other_tenant: Tenant
) -> None:
    ours = await SandboxPaymentProvider(engine, tenant.id).charge(TEN_EUR, "tok_visa", "k", {})
    theirs = await SandboxPaymentProvider(engine, other_tenant.id).charge(
        Money(5, "USD"), "tok_visa", "k", {}
    )
    assert ours.provider_reference != theirs.provider_reference


@pytest.mark.parametrize(
    ("token", "decline_code"),
    [("tok_card_declined", "card_declined"), ("tok_insufficient_funds", "insufficient_funds")],
)
async def test_declining_cards_fail_with_their_decline_code(
    sandbox: SandboxPaymentProvider, token: str, decline_code: str
) -> None:
    result = await sandbox.charge(TEN_EUR, token, f"pay-{token}", {})
    assert result.status is ChargeStatus.FAILED
    assert result.decline_code == decline_code
    # a retry with the key is the same decline, not a new attempt
    assert await sandbox.charge(TEN_EUR, token, f"pay-{token}", {}) == result


async def test_a_charge_that_times_out_once_was_made_and_a_retry_with_its_key_finds_it(
    sandbox: SandboxPaymentProvider, tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # when the first call's answer is lost
    with pytest.raises(ProviderUnavailable):
        await sandbox.charge(TEN_EUR, "tok_timeout_once", "pay-timeout", {})
    # then the charge was made all the same, and the retry answers it
    assert await _charges(admin, tenant) == 1
    retried = await sandbox.charge(TEN_EUR, "tok_timeout_once", "pay-timeout", {})
    assert retried.status is ChargeStatus.SUCCEEDED
    assert await sandbox.retrieve_charge(retried.provider_reference) == retried
    assert await _charges(admin, tenant) == 1
    # and another charge of the card times out once too
    with pytest.raises(ProviderUnavailable):
        await sandbox.charge(TEN_EUR, "tok_timeout_once", "pay-timeout-2", {})


async def test_a_delayed_failure_is_pending_then_failed(sandbox: SandboxPaymentProvider) -> None:
    # when
    pending = await sandbox.charge(TEN_EUR, "tok_delayed_failure", "pay-later", {})
    soon = await sandbox.retrieve_charge(pending.provider_reference)
    await asyncio.sleep(0.4)
    later = await sandbox.retrieve_charge(pending.provider_reference)
    # then
    assert pending.status is ChargeStatus.PENDING and pending.decline_code is None
    assert soon.status is ChargeStatus.PENDING
    assert later.status is ChargeStatus.FAILED
    assert later.decline_code == DELAYED_FAILURE_CODE
    # and a retry with the key answers the charge as it stands
    assert await sandbox.charge(TEN_EUR, "tok_delayed_failure", "pay-later", {}) == later


async def test_unknown_tokens_and_references_are_rejected(sandbox: SandboxPaymentProvider) -> None:
    with pytest.raises(PaymentMethodRejected):
        await sandbox.describe_payment_method("tok_nope")
    with pytest.raises(PaymentMethodRejected):
        await sandbox.charge(TEN_EUR, "tok_nope", "pay-nope", {})
    with pytest.raises(PaymentProviderError):
        await sandbox.retrieve_charge("sbx_ch_unknown")
    with pytest.raises(PaymentProviderError):
        await sandbox.refund("sbx_ch_unknown", TEN_EUR, "re-nope")


async def test_a_charge_needs_a_key_and_a_positive_amount(sandbox: SandboxPaymentProvider) -> None:
    with pytest.raises(PaymentProviderError):
        await sandbox.charge(TEN_EUR, "tok_visa", "", {})
    with pytest.raises(PaymentProviderError):
        await sandbox.charge(Money(0, "EUR"), "tok_visa", "pay-zero", {})


async def test_describing_a_token_gives_the_card_but_never_its_number(
    sandbox: SandboxPaymentProvider,
) -> None:
    visa = await sandbox.describe_payment_method("tok_visa")
    assert (visa.reference, visa.brand, visa.last4) == ("tok_visa", "visa", "4242")
    assert 1 <= visa.exp_month <= 12 and visa.exp_year >= 2030
    assert visa.fingerprint == (await sandbox.describe_payment_method("tok_visa")).fingerprint


# ------------------------------------------------------------------------ refunds


async def test_refunds_are_answered_once_per_key_and_never_exceed_the_charge(
    sandbox: SandboxPaymentProvider, tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a 10.00 charge
    charge = await sandbox.charge(TEN_EUR, "tok_visa", "pay-1", {})
    # when 6.00 is refunded (twice with one key), then 5.00, then 4.00
    first = await sandbox.refund(charge.provider_reference, Money(600, "EUR"), "re-1")
    replay = await sandbox.refund(charge.provider_reference, Money(600, "EUR"), "re-1")
    too_much = await sandbox.refund(charge.provider_reference, Money(500, "EUR"), "re-2")
    rest = await sandbox.refund(charge.provider_reference, Money(400, "EUR"), "re-3")
    # then
    assert first.status is RefundStatus.SUCCEEDED and replay == first
    assert too_much.status is RefundStatus.FAILED
    assert too_much.failure_code == "amount_too_large"
    assert rest.status is RefundStatus.SUCCEEDED
    assert await _charges(admin, tenant, "refund") == 3
    with pytest.raises(IdempotencyKeyMismatch):
        await sandbox.refund(charge.provider_reference, Money(100, "EUR"), "re-1")


async def test_concurrent_refunds_never_exceed_the_charge(
    engine: AsyncEngine, tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a 10.00 charge
    providers = [SandboxPaymentProvider(engine, tenant.id) for _ in range(4)]
    charge = await providers[0].charge(TEN_EUR, "tok_visa", "pay-1", {})
    # when twelve refunds of 1.00 race
    results = await asyncio.gather(
        *(
            providers[i % 4].refund(charge.provider_reference, Money(100, "EUR"), f"re-{i}")
            for i in range(12)
        )
    )
    # then exactly ten succeed
    assert sum(r.status is RefundStatus.SUCCEEDED for r in results) == 10
    refunded = await admin.fetchval(
        "select sum(amount) from sandbox_requests where tenant_id = $1 and kind = 'refund'"
        " and status = 'SUCCEEDED'",
        tenant.id,
    )
    assert refunded == 1000


async def test_a_failed_charge_is_not_refunded(sandbox: SandboxPaymentProvider) -> None:
    declined = await sandbox.charge(TEN_EUR, "tok_card_declined", "pay-declined", {})
    refund = await sandbox.refund(declined.provider_reference, TEN_EUR, "re-declined")
    assert refund.status is RefundStatus.FAILED
    assert refund.failure_code == "charge_not_succeeded"


# ------------------------------------------------------------------------ configuration


def test_the_provider_is_chosen_per_tenant_in_the_settings(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the environment naming a processor for one account
    monkeypatch.setenv("PAYMENT_PROVIDER", "sandbox")
    monkeypatch.setenv("TENANT_PAYMENT_PROVIDERS", '{"acct-1": "sandbox"}')
    settings = Settings()
    # then
    assert settings.payment_provider_of("acct-1") == "sandbox"
    assert settings.payment_provider_of("acct-2") == "sandbox"
    assert PaymentProviders(engine, settings).for_tenant("acct-1").name == "sandbox"


def test_an_unknown_provider_is_refused_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_PROVIDER", "paypal")
    with pytest.raises(ValidationError):
        Settings()
