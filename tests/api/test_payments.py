"""Paying invoices and refunding payments through the real app, against the sandbox
processor: full and partial payments, declines, bad input, retries after a timeout with the
same Idempotency-Key, concurrent refunds, links and lists."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from domain.services.payments import pay_invoice, settle_stale
from infra.payments.sandbox import SandboxPaymentProvider
from infra.uow import SqlUnitOfWork
from tests.api.billing_documents import ADD_LINE, CREATE_CUSTOMER, CREATE_INVOICE, FINALIZE, VOID
from tests.conftest import Tenant

PAY = """
mutation($input: PayInvoiceInput!) {
  payInvoice(input: $input) {
    payment { id status amount { amount currency } declineCode attempt providerReference
              amountRefunded { amount }
              invoice { id status amountPaid { amount } amountRemaining { amount } paidAt } }
    userErrors { code field message }
  }
}
"""
REFUND = """
mutation($input: RefundPaymentInput!) {
  refundPayment(input: $input) {
    refund { id status amount { amount } reason failureCode
             payment { id amountRefunded { amount } } }
    userErrors { code field message }
  }
}
"""
ATTACH = """
mutation($input: AttachPaymentMethodInput!) {
  attachPaymentMethod(input: $input) { paymentMethod { id } userErrors { code } }
}
"""
INVOICE_PAYMENTS = """
query($id: ID!) {
  invoice(id: $id) {
    status amountPaid { amount }
    payments { id status amount { amount } refunds { id status amount { amount } } }
  }
}
"""
LISTS = """
query($invoiceId: ID!) {
  payments(first: 10, filter: {invoiceId: $invoiceId}) {
    totalCount edges { node { id status } }
  }
  refunds(first: 10, filter: {invoiceId: $invoiceId}) { totalCount edges { node { id } } }
}
"""


async def open_invoice(
    tenant: Tenant, amount: str = "100.00", currency: str = "USD", token: str | None = "tok_visa"
) -> tuple[str, str, str | None]:
    """A customer with a method (`token`) and an open invoice of `amount`: (customer,
    invoice, method)."""
    body = await tenant.gql(CREATE_CUSTOMER, {"input": {"name": "Payer", "currency": currency}})
    customer_id = body["data"]["createCustomer"]["customer"]["id"]
    method_id = None
    if token is not None:
        body = await tenant.gql(
            ATTACH, {"input": {"customerId": customer_id, "providerToken": token}}
        )
        method_id = body["data"]["attachPaymentMethod"]["paymentMethod"]["id"]
    body = await tenant.gql(CREATE_INVOICE, {"input": {"customerId": customer_id}})
    invoice_id = body["data"]["createInvoice"]["invoice"]["id"]
    await tenant.gql(
        ADD_LINE, {"input": {"invoiceId": invoice_id, "description": "Work", "unitAmount": amount}}
    )
    body = await tenant.gql(FINALIZE, {"input": {"id": invoice_id}})
    assert body["data"]["finalizeInvoice"]["invoice"]["status"] == "OPEN", body
    return customer_id, invoice_id, method_id


async def pay(tenant: Tenant, headers: dict[str, str] | None = None, **input: Any) -> Any:
    body = await tenant.gql(PAY, {"input": input}, headers=headers)
    assert "errors" not in body, body
    return body["data"]["payInvoice"]


async def refund(tenant: Tenant, headers: dict[str, str] | None = None, **input: Any) -> Any:
    body = await tenant.gql(REFUND, {"input": input}, headers=headers)
    assert "errors" not in body, body
    return body["data"]["refundPayment"]


async def charges(admin: asyncpg.Connection, tenant: Tenant) -> list[dict[str, Any]]:
    rows = await admin.fetch(
        "select * from sandbox_requests where tenant_id = $1 and kind = 'charge'", tenant.id
    )
    return [dict(row) for row in rows]


async def test_a_full_payment_pays_the_invoice(tenant: Tenant, admin: asyncpg.Connection) -> None:
    # given an open invoice of 100.00 and a customer whose default card succeeds
    _, invoice_id, _ = await open_invoice(tenant)
    # when it is paid without an amount or a method
    result = await pay(tenant, invoiceId=invoice_id)
    # then all of it was charged once, and the invoice is paid
    payment = result["payment"]
    assert result["userErrors"] == []
    assert payment["status"] == "SUCCEEDED" and payment["amount"]["amount"] == "100.00"
    assert payment["invoice"]["status"] == "PAID"
    assert payment["invoice"]["amountRemaining"]["amount"] == "0.00"
    assert payment["invoice"]["paidAt"] is not None
    made = await charges(admin, tenant)
    assert [(c["amount"], c["currency"]) for c in made] == [(10000, "USD")]
    types = await admin.fetch(
        "select type from events where tenant_id = $1 order by seq", tenant.id
    )
    assert [r["type"] for r in types][-2:] == ["payment.succeeded", "invoice.paid"]


async def test_partial_payments_add_up_and_overpayment_is_refused(tenant: Tenant) -> None:
    _, invoice_id, _ = await open_invoice(tenant, "100.00")
    first = await pay(tenant, invoiceId=invoice_id, amount="30.25")
    assert first["payment"]["status"] == "SUCCEEDED"
    assert first["payment"]["invoice"]["status"] == "OPEN"
    assert first["payment"]["invoice"]["amountRemaining"]["amount"] == "69.75"
    too_much = await pay(tenant, invoiceId=invoice_id, amount="69.76")
    assert [e["code"] for e in too_much["userErrors"]] == ["AMOUNT_EXCEEDS_REMAINING"]
    assert too_much["userErrors"][0]["field"] == ["input", "amount"]
    rest = await pay(tenant, invoiceId=invoice_id, amount="69.75")
    assert rest["payment"]["invoice"]["status"] == "PAID"
    again = await pay(tenant, invoiceId=invoice_id)
    assert [e["code"] for e in again["userErrors"]] == ["ALREADY_PAID"]


async def test_a_decline_is_a_failed_payment_and_the_invoice_stays_open(
    tenant: Tenant,
) -> None:
    _, invoice_id, _ = await open_invoice(tenant, token="tok_insufficient_funds")
    result = await pay(tenant, invoiceId=invoice_id)
    assert result["userErrors"] == []
    assert result["payment"]["status"] == "FAILED"
    assert result["payment"]["declineCode"] == "insufficient_funds"
    assert result["payment"]["invoice"]["status"] == "OPEN"
    assert result["payment"]["invoice"]["amountPaid"]["amount"] == "0.00"


async def test_bad_input_is_refused_and_nothing_reaches_the_provider(
    tenant: Tenant, other_tenant: Tenant, admin: asyncpg.Connection
) -> None:
    _, invoice_id, _ = await open_invoice(tenant)
    other_customer, other_invoice, other_method = await open_invoice(tenant, "5.00")
    _, foreign_invoice, _ = await open_invoice(other_tenant)
    body = await tenant.gql(CREATE_CUSTOMER, {"input": {"name": "Drafty", "currency": "USD"}})
    drafty = body["data"]["createCustomer"]["customer"]["id"]
    body = await tenant.gql(CREATE_INVOICE, {"input": {"customerId": drafty}})
    draft_id = body["data"]["createInvoice"]["invoice"]["id"]
    _, voided, _ = await open_invoice(tenant, "7.00")
    await tenant.gql(VOID, {"input": {"id": voided}})
    _, no_method_invoice, _ = await open_invoice(tenant, "8.00", token=None)
    cases: list[tuple[dict[str, Any], str, list[str]]] = [
        ({"invoiceId": draft_id}, "NOT_OPEN", ["input", "invoiceId"]),
        ({"invoiceId": voided}, "NOT_OPEN", ["input", "invoiceId"]),
        ({"invoiceId": foreign_invoice}, "NOT_FOUND", ["input", "invoiceId"]),
        ({"invoiceId": "inv_unknown"}, "NOT_FOUND", ["input", "invoiceId"]),
        ({"invoiceId": "cus_notaninvoice"}, "NOT_FOUND", ["input", "invoiceId"]),
        (
            {"invoiceId": invoice_id, "paymentMethodId": other_method},
            "NOT_FOUND",
            ["input", "paymentMethodId"],
        ),
        ({"invoiceId": invoice_id, "amount": "0"}, "INVALID", ["input", "amount"]),
        ({"invoiceId": invoice_id, "amount": "-5"}, "INVALID", ["input", "amount"]),
        ({"invoiceId": invoice_id, "amount": "0.001"}, "INVALID", ["input", "amount"]),
        (
            {"invoiceId": invoice_id, "amount": "100.01"},
            "AMOUNT_EXCEEDS_REMAINING",
            ["input", "amount"],
        ),
        ({"invoiceId": no_method_invoice}, "NO_PAYMENT_METHOD", ["input", "paymentMethodId"]),
    ]
    for input, code, field in cases:
        result = await pay(tenant, **input)
        assert result["payment"] is None, input
        assert [(e["code"], e["field"]) for e in result["userErrors"]] == [(code, field)], input
    assert await charges(admin, tenant) == []
    assert (
        await admin.fetchval("select count(*) from payments where tenant_id = $1", tenant.id) == 0
    )
    assert other_customer and other_invoice


async def test_a_timeout_retried_with_the_same_key_charges_once_and_answers_the_same(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a card whose first charge is made but never answered
    _, invoice_id, _ = await open_invoice(tenant, token="tok_timeout_once")
    headers = {"Idempotency-Key": "pay-timeout-1"}
    # when the payment is asked twice with the same key
    first = await tenant.post(PAY, {"input": {"invoiceId": invoice_id}}, headers=headers)
    second = await tenant.post(PAY, {"input": {"invoiceId": invoice_id}}, headers=headers)
    # then the provider charged once, and both answers are the same payment, succeeded
    assert first.content == second.content
    assert second.headers.get("idempotent-replayed") == "true"
    payment = first.json()["data"]["payInvoice"]["payment"]
    assert payment["status"] == "SUCCEEDED"
    assert len(await charges(admin, tenant)) == 1


class Died(Exception):
    """The process stops right after the provider charged: nothing after runs."""


class DiesAfterCharging:
    """The sandbox, but the caller dies once the charge is made, before settling it."""

    def __init__(self, provider: SandboxPaymentProvider) -> None:
        self._provider = provider
        self.name = provider.name

    async def charge(self, *args: Any) -> Any:
        await self._provider.charge(*args)
        raise Died


async def test_a_retry_of_a_request_that_died_resumes_its_payment(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a payment whose request died between the provider's charge and the settlement
    _, invoice_id, _ = await open_invoice(tenant)
    engine = tenant.app.state.engine
    dying = DiesAfterCharging(SandboxPaymentProvider(engine, tenant.id))
    with pytest.raises(Died):
        await pay_invoice(
            SqlUnitOfWork.owning(engine, tenant.id, statement_timeout=15),
            dying,  # type: ignore[arg-type]
            invoice_id,
            None,
            None,
            request_key="k-died/payInvoice",
            now=datetime.now(UTC),
        )
    [pending] = await admin.fetch("select * from payments where tenant_id = $1", tenant.id)
    assert pending["status"] == "PENDING"
    # when the caller retries with the same Idempotency-Key
    again = await pay(tenant, invoiceId=invoice_id, headers={"Idempotency-Key": "k-died"})
    # then the same payment settles, and the provider charged once
    assert again["payment"]["id"] == pending["id"]
    assert again["payment"]["status"] == "SUCCEEDED"
    assert again["payment"]["invoice"]["status"] == "PAID"
    assert len(await charges(admin, tenant)) == 1


async def test_refunds_partial_full_and_beyond(tenant: Tenant) -> None:
    _, invoice_id, _ = await open_invoice(tenant, "100.00")
    payment = (await pay(tenant, invoiceId=invoice_id))["payment"]
    part = await refund(tenant, paymentId=payment["id"], amount="40.00", reason="DUPLICATE")
    assert part["userErrors"] == []
    assert part["refund"]["status"] == "SUCCEEDED" and part["refund"]["reason"] == "DUPLICATE"
    assert part["refund"]["payment"]["amountRefunded"]["amount"] == "40.00"
    beyond = await refund(tenant, paymentId=payment["id"], amount="60.01")
    assert [e["code"] for e in beyond["userErrors"]] == ["REFUND_EXCEEDS_PAYMENT"]
    rest = await refund(tenant, paymentId=payment["id"])
    assert rest["refund"]["amount"]["amount"] == "60.00"
    nothing_left = await refund(tenant, paymentId=payment["id"])
    assert [e["code"] for e in nothing_left["userErrors"]] == ["REFUND_EXCEEDS_PAYMENT"]
    body = await tenant.gql(INVOICE_PAYMENTS, {"id": invoice_id})
    [listed] = body["data"]["invoice"]["payments"]
    assert [r["amount"]["amount"] for r in listed["refunds"]] == ["40.00", "60.00"]
    body = await tenant.gql(LISTS, {"invoiceId": invoice_id})
    assert body["data"]["payments"]["totalCount"] == 1
    assert body["data"]["refunds"]["totalCount"] == 2


async def test_refunding_a_failed_or_unknown_payment_is_refused(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    _, invoice_id, _ = await open_invoice(tenant, token="tok_card_declined")
    failed = (await pay(tenant, invoiceId=invoice_id))["payment"]
    result = await refund(tenant, paymentId=failed["id"])
    assert [e["code"] for e in result["userErrors"]] == ["PAYMENT_NOT_REFUNDABLE"]
    _, other_invoice, _ = await open_invoice(other_tenant)
    foreign = (await pay(other_tenant, invoiceId=other_invoice))["payment"]
    result = await refund(tenant, paymentId=foreign["id"])
    assert [e["code"] for e in result["userErrors"]] == ["NOT_FOUND"]
    result = await refund(tenant, paymentId=foreign["id"], amount="0")
    assert [e["code"] for e in result["userErrors"]] == ["NOT_FOUND"]


@pytest.mark.parametrize("callers", [64])
async def test_concurrent_refunds_never_exceed_the_payment(
    tenant: Tenant, admin: asyncpg.Connection, callers: int
) -> None:
    # given a payment of 100.00
    _, invoice_id, _ = await open_invoice(tenant, "100.00")
    payment = (await pay(tenant, invoiceId=invoice_id))["payment"]
    # when 64 callers refund 10.00 each at once
    results = await asyncio.gather(
        *(refund(tenant, paymentId=payment["id"], amount="10.00") for _ in range(callers))
    )
    # then exactly 10 succeed, the others are refused, and 100.00 is stored
    succeeded = [r for r in results if r["refund"] is not None]
    refused = [r for r in results if r["refund"] is None]
    assert len(succeeded) == 10
    assert {e["code"] for r in refused for e in r["userErrors"]} == {"REFUND_EXCEEDS_PAYMENT"}
    row = await admin.fetchrow(
        "select amount_refunded, (select sum(amount) from refunds r where r.payment_id = p.id"
        " and r.status = 'SUCCEEDED') as refunded from payments p where id = $1",
        payment["id"],
    )
    assert row["amount_refunded"] == 10000 and row["refunded"] == 10000
    given_back = await admin.fetchval(
        "select sum(amount) from sandbox_requests where tenant_id = $1 and kind = 'refund'",
        tenant.id,
    )
    assert given_back == 10000


async def test_paying_an_invoice_the_same_request_changed_answers_busy(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a draft invoice, finalized and paid in one document: the request holds the
    # invoice's lock until it ends, and a payment commits apart from the request
    body = await tenant.gql(CREATE_CUSTOMER, {"input": {"name": "Hasty", "currency": "USD"}})
    customer_id = body["data"]["createCustomer"]["customer"]["id"]
    await tenant.gql(ATTACH, {"input": {"customerId": customer_id, "providerToken": "tok_visa"}})
    body = await tenant.gql(CREATE_INVOICE, {"input": {"customerId": customer_id}})
    invoice_id = body["data"]["createInvoice"]["invoice"]["id"]
    await tenant.gql(
        ADD_LINE, {"input": {"invoiceId": invoice_id, "description": "X", "unitAmount": "9"}}
    )
    document = """
    mutation($id: ID!) {
      finalizeInvoice(input: {id: $id}) { invoice { status } userErrors { code } }
      payInvoice(input: {invoiceId: $id}) { payment { id } userErrors { code field } }
    }
    """
    # when it runs
    body = await tenant.gql(document, {"id": invoice_id})
    # then the payment is refused as BUSY (retry on its own), and nothing was charged
    assert body["data"]["finalizeInvoice"]["invoice"]["status"] == "OPEN"
    assert body["data"]["payInvoice"] == {
        "payment": None,
        "userErrors": [{"code": "BUSY", "field": None}],
    }
    assert await charges(admin, tenant) == []
    retried = await pay(tenant, invoiceId=invoice_id)
    assert retried["payment"]["invoice"]["status"] == "PAID"


async def test_a_charge_that_fails_later_is_settled_by_the_reconciler(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a card whose charges are PENDING at first and fail once they settle
    _, invoice_id, _ = await open_invoice(tenant, token="tok_delayed_failure")
    engine = tenant.app.state.engine
    provider = SandboxPaymentProvider(engine, tenant.id, settle_seconds=0.5)
    uow = SqlUnitOfWork.owning(engine, tenant.id)
    now = datetime.now(UTC)
    pending = await pay_invoice(uow, provider, invoice_id, None, None, request_key=None, now=now)
    assert pending.status.value == "PENDING" and pending.provider_reference
    # when the reconciler runs once the payment is stale, and the processor settled it
    await asyncio.sleep(0.6)
    settled = await settle_stale(uow, provider, now + timedelta(minutes=2))
    # then it failed with the processor's code, once, and the invoice is still owed
    assert settled == 1
    row = await admin.fetchrow("select * from payments where id = $1", pending.id)
    assert (row["status"], row["decline_code"]) == ("FAILED", "processing_error")
    assert await settle_stale(uow, provider, now + timedelta(minutes=3)) == 0
    status = await admin.fetchval("select status from invoices where id = $1", invoice_id)
    assert status == "OPEN"
    failures = await admin.fetchval(
        "select count(*) from events where tenant_id = $1 and type = 'payment.failed'", tenant.id
    )
    assert failures == 1


async def test_ten_callers_paying_one_invoice_at_once_charge_it_once(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    _, invoice_id, _ = await open_invoice(tenant, "100.00")
    results = await asyncio.gather(*(pay(tenant, invoiceId=invoice_id) for _ in range(10)))
    paid = [r for r in results if r["payment"] is not None]
    assert len(paid) == 1 and paid[0]["payment"]["status"] == "SUCCEEDED"
    assert {e["code"] for r in results if r["payment"] is None for e in r["userErrors"]} <= {
        "AMOUNT_EXCEEDS_REMAINING",
        "ALREADY_PAID",
    }
    assert [c["amount"] for c in await charges(admin, tenant)] == [10000]
    amount_paid = await admin.fetchval("select amount_paid from invoices where id = $1", invoice_id)
    assert amount_paid == 10000
