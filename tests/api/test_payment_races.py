"""Where payments meet credit notes, voids, refunds reported late and the worker: money is
never kept for nothing, never given back twice, and no payment is left behind."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

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
from domain.services.payments import pay_invoice, settle_charge
from domain.services.refunds import refund_payment, settle_reported_refund, settle_stale_refunds
from infra.collection_worker import collect_tenant
from infra.payments.sandbox import SandboxPaymentProvider
from infra.uow import SqlUnitOfWork
from tests.api.billing_documents import VOID
from tests.api.credit_documents import credit
from tests.api.test_collection import ATTACH, subscribed
from tests.api.test_payments import open_invoice, pay, refund
from tests.conftest import Tenant


class Slow:
    """A provider whose charges and refunds are processing until asked again."""

    name = "sandbox"

    def __init__(self) -> None:
        self.refund_calls = 0

    async def describe_payment_method(self, token: str) -> CardDetails:
        raise NotImplementedError

    async def charge(
        self, amount: Money, ref: str, key: str, metadata: Mapping[str, str]
    ) -> ChargeResult:
        return ChargeResult(ChargeStatus.PENDING, "ch_" + key[-12:])

    async def retrieve_charge(self, provider_reference: str) -> ChargeResult:
        return ChargeResult(ChargeStatus.PENDING, provider_reference)

    async def refund(self, reference: str, amount: Money, key: str) -> RefundResult:
        self.refund_calls += 1
        return RefundResult(RefundStatus.PENDING, "re_" + key[-12:])

    async def retrieve_refund(self, refund_reference: str) -> RefundResult:
        return RefundResult(RefundStatus.SUCCEEDED, refund_reference)


def uow_of(tenant: Tenant) -> SqlUnitOfWork:
    return SqlUnitOfWork.owning(tenant.app.state.engine, tenant.id)  # type: ignore[return-value]


async def test_a_payment_in_progress_is_not_credited_away_and_still_settles(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given 100.00 being paid (the provider has not answered)
    _, invoice_id, _ = await open_invoice(tenant, "100.00")
    now = datetime.now(UTC)
    pending = await pay_invoice(
        uow_of(tenant), Slow(), invoice_id, None, None, request_key=None, now=now
    )
    # when the amount due is credited away meanwhile: refused, the payment may yet succeed
    reduced = await credit(tenant, invoice_id, amount="100.00", outcome="REDUCE_AMOUNT_DUE")
    assert [e["code"] for e in reduced["userErrors"]] == ["CREDIT_NOTE_EXCEEDS_REMAINING"]
    # and voiding it is refused too: the customer's money is on its way
    body = await tenant.gql(VOID, {"input": {"id": invoice_id}})
    assert [e["code"] for e in body["data"]["voidInvoice"]["userErrors"]] == ["IN_USE"]
    # then the payment settles and pays the invoice
    done = ChargeResult(ChargeStatus.SUCCEEDED, pending.provider_reference or "")
    settled = await settle_charge(uow_of(tenant), pending.id, done, now)
    assert settled.status.value == "SUCCEEDED"
    status = await admin.fetchval("select status from invoices where id = $1", invoice_id)
    assert status == "PAID"


async def test_a_partly_paid_invoice_cannot_be_voided(tenant: Tenant) -> None:
    _, invoice_id, _ = await open_invoice(tenant, "100.00")
    await pay(tenant, invoiceId=invoice_id, amount="10.00")
    body = await tenant.gql(VOID, {"input": {"id": invoice_id}})
    assert [e["code"] for e in body["data"]["voidInvoice"]["userErrors"]] == ["IN_USE"]


async def test_money_refunded_is_not_credited_again_nor_credit_refunded(tenant: Tenant) -> None:
    # a refund first: the invoice has nothing left to credit
    _, first, _ = await open_invoice(tenant, "100.00")
    payment = (await pay(tenant, invoiceId=first))["payment"]
    assert (await refund(tenant, paymentId=payment["id"]))["refund"]["status"] == "SUCCEEDED"
    credited = await credit(tenant, first, amount="100.00", outcome="CREDIT_BALANCE")
    assert [e["code"] for e in credited["userErrors"]] == ["CREDIT_NOTE_EXCEEDS_CREDITABLE"]
    # a credit to the balance first: the payment has nothing left to refund
    _, second, _ = await open_invoice(tenant, "100.00")
    payment = (await pay(tenant, invoiceId=second))["payment"]
    assert (await credit(tenant, second, amount="100.00"))["userErrors"] == []
    refused = await refund(tenant, paymentId=payment["id"])
    assert [e["code"] for e in refused["userErrors"]] == ["REFUND_EXCEEDS_PAYMENT"]
    part = await credit(tenant, second, amount="0.01")
    assert [e["code"] for e in part["userErrors"]] == ["CREDIT_NOTE_EXCEEDS_CREDITABLE"]


async def test_a_refund_that_fails_after_it_succeeded_is_taken_back(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    _, invoice_id, _ = await open_invoice(tenant, "100.00")
    payment = (await pay(tenant, invoiceId=invoice_id))["payment"]
    given = (await refund(tenant, paymentId=payment["id"], amount="30.00"))["refund"]
    reference = await admin.fetchval(
        "select provider_reference from refunds where id = $1", given["id"]
    )
    # when the processor reports, later, that it failed after all
    failed = RefundResult(RefundStatus.FAILED, reference, "expired_or_canceled_card")
    await settle_reported_refund(uow_of(tenant), "sandbox", reference, failed, datetime.now(UTC))
    # then nothing counts as given back, and the amount may be refunded again
    row = await admin.fetchrow(
        "select status, failure_code from refunds where id = $1", given["id"]
    )
    assert (row["status"], row["failure_code"]) == ("FAILED", "expired_or_canceled_card")
    refunded = await admin.fetchval(
        "select amount_refunded from payments where id = $1", payment["id"]
    )
    assert refunded == 0
    events = await admin.fetchval(
        "select count(*) from events where tenant_id = $1 and type = 'refund.failed'", tenant.id
    )
    assert events == 1
    # (the sandbox does not model a bank refund failing late: it answers this one as it sees
    # fit; what matters is that Ledgerline offers all 100.00 again)
    again = await refund(tenant, paymentId=payment["id"])
    assert again["refund"]["amount"]["amount"] == "100.00"


async def test_the_reconciler_reads_a_pending_refund_and_never_asks_again(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    _, invoice_id, _ = await open_invoice(tenant, "100.00")
    payment = (await pay(tenant, invoiceId=invoice_id))["payment"]
    slow = Slow()
    now = datetime.now(UTC)
    pending = await refund_payment(
        uow_of(tenant), slow, payment["id"], None, RefundReason.OTHER, request_key=None, now=now
    )
    assert pending.status.value == "PENDING" and slow.refund_calls == 1
    for minutes in (2, 3, 4):
        await settle_stale_refunds(uow_of(tenant), slow, now + timedelta(minutes=minutes))
    assert slow.refund_calls == 1
    status = await admin.fetchval("select status from refunds where id = $1", pending.id)
    assert status == "SUCCEEDED"


async def test_an_invoice_a_manual_payment_was_covering_is_collected_once_it_fails(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a subscription invoice being paid by hand when the worker comes by
    customer_id, _, invoice_id = await subscribed(tenant, "tok_visa")
    now = datetime.now(UTC)
    manual = await pay_invoice(
        uow_of(tenant), Slow(), invoice_id, None, None, request_key=None, now=now
    )
    engine = tenant.app.state.engine
    sandbox = SandboxPaymentProvider(engine, tenant.id)
    await collect_tenant(engine, sandbox, tenant.id, now, DunningPolicy())
    assert (
        await admin.fetchval("select count(*) from payments where invoice_id = $1", invoice_id) == 1
    )
    # when the manual payment is declined
    declined = ChargeResult(ChargeStatus.FAILED, manual.provider_reference or "", "card_declined")
    await settle_charge(uow_of(tenant), manual.id, declined, now)
    # then the worker charges the invoice at its next look
    await collect_tenant(engine, sandbox, tenant.id, now + timedelta(hours=2), DunningPolicy())
    status = await admin.fetchval("select status from invoices where id = $1", invoice_id)
    assert status == "PAID"
    assert customer_id and ATTACH
