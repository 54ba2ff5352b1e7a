"""What a provider reports later (Stripe's webhooks, through the settlement sink) settles
the payment or refund it names: once, never undone by a late PENDING, and a reference
Ledgerline does not know changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import asyncpg

from domain.dunning import DunningPolicy
from domain.money import Money
from domain.payments import (
    CardDetails,
    ChargeResult,
    ChargeStatus,
    RefundResult,
    RefundStatus,
)
from domain.refunds import RefundReason
from domain.services.payments import pay_invoice
from domain.services.refunds import refund_payment
from infra.clock import SYSTEM_CLOCK
from infra.payments.settlement import RecordedSettlements
from infra.uow import SqlUnitOfWork
from tests.api.test_payments import open_invoice
from tests.conftest import Tenant


class Processing:
    """A provider named like Stripe whose charges and refunds are still processing."""

    name = "stripe"

    async def describe_payment_method(self, token: str) -> CardDetails:
        raise NotImplementedError

    async def charge(
        self, amount: Money, ref: str, key: str, metadata: Mapping[str, str]
    ) -> ChargeResult:
        return ChargeResult(ChargeStatus.PENDING, "pi_" + key[-12:])

    async def retrieve_charge(self, provider_reference: str) -> ChargeResult:
        return ChargeResult(ChargeStatus.PENDING, provider_reference)

    async def refund(self, reference: str, amount: Money, key: str) -> RefundResult:
        return RefundResult(RefundStatus.PENDING, "re_" + key[-12:])

    async def retrieve_refund(self, refund_reference: str) -> RefundResult:
        return RefundResult(RefundStatus.PENDING, refund_reference)


async def test_reported_outcomes_settle_payments_and_refunds_once(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a payment the provider is still processing
    _, invoice_id, _ = await open_invoice(tenant, "50.00")
    engine = tenant.app.state.engine
    uow = SqlUnitOfWork.owning(engine, tenant.id)
    now = datetime.now(UTC)
    payment = await pay_invoice(
        uow, Processing(), invoice_id, None, None, request_key=None, now=now
    )
    assert payment.status.value == "PENDING" and payment.provider_reference
    sink = RecordedSettlements(engine, "stripe", DunningPolicy(), SYSTEM_CLOCK)
    # when the provider reports it succeeded, twice, then (late) that it was processing
    succeeded = ChargeResult(ChargeStatus.SUCCEEDED, payment.provider_reference)
    await sink.charge_settled(tenant.id, payment.provider_reference, succeeded)
    await sink.charge_settled(tenant.id, payment.provider_reference, succeeded)
    late = ChargeResult(ChargeStatus.PENDING, payment.provider_reference)
    await sink.charge_settled(tenant.id, payment.provider_reference, late)
    # and reports a charge Ledgerline never made
    await sink.charge_settled(tenant.id, "pi_unknown", succeeded)
    # then the payment succeeded once and the invoice is paid
    row = await admin.fetchrow("select status from payments where id = $1", payment.id)
    assert row["status"] == "SUCCEEDED"
    invoice = await admin.fetchrow(
        "select status, amount_paid from invoices where id = $1", invoice_id
    )
    assert (invoice["status"], invoice["amount_paid"]) == ("PAID", 5000)
    succeeded_events = await admin.fetchval(
        "select count(*) from events where tenant_id = $1 and type = 'payment.succeeded'",
        tenant.id,
    )
    assert succeeded_events == 1
    # and a refund it processes is settled when reported, once
    refund = await refund_payment(
        uow,
        Processing(),
        payment.id,
        None,
        RefundReason.DUPLICATE,
        request_key=None,
        now=now,
    )
    assert refund.status.value == "PENDING" and refund.provider_reference
    done = RefundResult(RefundStatus.SUCCEEDED, refund.provider_reference)
    await sink.refund_settled(tenant.id, refund.provider_reference, done)
    await sink.refund_settled(tenant.id, refund.provider_reference, done)
    refunded = await admin.fetchval(
        "select amount_refunded from payments where id = $1", payment.id
    )
    assert refunded == 5000
