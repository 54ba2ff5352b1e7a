"""Automatic collection and dunning through the worker's own entry point, against the
sandbox processor: a subscription's invoice is charged when finalized; a failed charge
makes the subscription PAST_DUE and is retried 1, 3 and 5 days later; a success makes it
ACTIVE again; after the last failure it is canceled (or left past due)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from domain.dunning import DunningPolicy, FinalAction
from infra.billing_worker import bill_tenant
from infra.collection_worker import collect_tenant
from infra.payments.sandbox import SandboxPaymentProvider
from tests.api.billing_documents import (
    CREATE_CUSTOMER,
    CREATE_PLAN,
    CREATE_SUBSCRIPTION,
    monthly_plan,
)
from tests.conftest import Tenant

ATTACH = """
mutation($input: AttachPaymentMethodInput!) {
  attachPaymentMethod(input: $input) { paymentMethod { id } userErrors { code } }
}
"""
PAY = """
mutation($id: ID!) {
  payInvoice(input: {invoiceId: $id}) { payment { status } userErrors { code } }
}
"""
STATE = """
query($sub: ID!, $inv: ID!) {
  subscription(id: $sub) { status }
  invoice(id: $inv) {
    status collectionAttempts nextCollectionAt amountRemaining { amount }
    payments { attempt status declineCode }
  }
}
"""


async def subscribed(tenant: Tenant, token: str, amount: str = "20") -> tuple[str, str, str]:
    """A customer paying with `token`, subscribed to a plan: (customer, subscription, its
    first invoice)."""
    body = await tenant.gql(CREATE_CUSTOMER, {"input": {"name": "Dunned", "currency": "USD"}})
    customer_id = body["data"]["createCustomer"]["customer"]["id"]
    await tenant.gql(ATTACH, {"input": {"customerId": customer_id, "providerToken": token}})
    code = f"p{datetime.now(UTC).timestamp():.0f}{token[-4:]}"
    body = await tenant.gql(CREATE_PLAN, {"input": monthly_plan(code, amount, "USD")})
    plan_id = body["data"]["createPlan"]["plan"]["id"]
    body = await tenant.gql(
        CREATE_SUBSCRIPTION, {"input": {"customerId": customer_id, "planId": plan_id}}
    )
    result = body["data"]["createSubscription"]
    assert result["userErrors"] == [], result
    return customer_id, result["subscription"]["id"], result["invoice"]["id"]


async def state(tenant: Tenant, subscription_id: str, invoice_id: str) -> dict[str, Any]:
    body = await tenant.gql(STATE, {"sub": subscription_id, "inv": invoice_id})
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def collect(tenant: Tenant, at: datetime, policy: DunningPolicy = DunningPolicy()) -> None:
    """The worker's round for this test's tenant (others' invoices are theirs)."""
    engine = tenant.app.state.engine
    provider = SandboxPaymentProvider(engine, tenant.id)
    await collect_tenant(engine, provider, tenant.id, at, policy)


async def test_a_subscription_invoice_is_charged_when_the_worker_runs(tenant: Tenant) -> None:
    _, sub, inv = await subscribed(tenant, "tok_visa")
    before = await state(tenant, sub, inv)
    assert before["invoice"]["status"] == "OPEN" and before["invoice"]["nextCollectionAt"]
    await collect(tenant, datetime.now(UTC))
    after = await state(tenant, sub, inv)
    assert after["invoice"]["status"] == "PAID"
    assert after["invoice"]["payments"] == [
        {"attempt": 1, "status": "SUCCEEDED", "declineCode": None}
    ]
    assert after["subscription"]["status"] == "ACTIVE"
    assert after["invoice"]["nextCollectionAt"] is None
    # a second run charges nothing more
    await collect(tenant, datetime.now(UTC) + timedelta(days=10))
    again = await state(tenant, sub, inv)
    assert len(again["invoice"]["payments"]) == 1


async def test_failures_are_retried_on_schedule_and_a_success_restores_the_subscription(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    customer_id, sub, inv = await subscribed(tenant, "tok_card_declined")
    start = datetime.now(UTC)
    # the first attempt fails: past due, retried a day later
    await collect(tenant, start)
    first = await state(tenant, sub, inv)
    assert first["subscription"]["status"] == "PAST_DUE"
    assert first["invoice"]["collectionAttempts"] == 1
    next_at = datetime.fromisoformat(first["invoice"]["nextCollectionAt"])
    assert timedelta(hours=23) < next_at - start <= timedelta(days=1, minutes=1)
    # nothing happens before the retry is due
    await collect(tenant, start + timedelta(hours=12))
    assert (await state(tenant, sub, inv))["invoice"]["collectionAttempts"] == 1
    # the second attempt, a day later, fails too: the third is two days after it
    await collect(tenant, next_at)
    second = await state(tenant, sub, inv)
    assert second["invoice"]["collectionAttempts"] == 2
    third_at = datetime.fromisoformat(second["invoice"]["nextCollectionAt"])
    assert third_at - next_at == timedelta(days=2)
    # the customer adds a good card as default; the third attempt succeeds
    await tenant.gql(
        ATTACH,
        {"input": {"customerId": customer_id, "providerToken": "tok_visa", "setAsDefault": True}},
    )
    await collect(tenant, third_at)
    third = await state(tenant, sub, inv)
    assert third["invoice"]["status"] == "PAID"
    assert third["subscription"]["status"] == "ACTIVE"
    assert [(p["attempt"], p["status"]) for p in third["invoice"]["payments"]] == [
        (1, "FAILED"),
        (2, "FAILED"),
        (3, "SUCCEEDED"),
    ]
    kinds = [
        r["type"]
        for r in await admin.fetch(
            "select type from events where tenant_id = $1 and type like any"
            " (array['payment.%', 'subscription.updated', 'invoice.paid']) order by seq",
            tenant.id,
        )
    ]
    assert kinds == [
        "payment.failed",
        "subscription.updated",  # PAST_DUE
        "payment.failed",
        "payment.succeeded",
        "invoice.paid",
        "subscription.updated",  # ACTIVE again
    ]


async def test_after_the_last_failure_the_subscription_is_canceled(tenant: Tenant) -> None:
    _, sub, inv = await subscribed(tenant, "tok_insufficient_funds")
    at = datetime.now(UTC)
    for _ in range(4):  # the first attempt and three retries
        await collect(tenant, at)
        at = at + timedelta(days=3)
    final = await state(tenant, sub, inv)
    assert final["invoice"]["collectionAttempts"] == 4
    assert final["invoice"]["nextCollectionAt"] is None
    assert final["invoice"]["status"] == "OPEN"
    assert final["subscription"]["status"] == "CANCELED"


async def test_the_final_action_may_leave_the_subscription_past_due(tenant: Tenant) -> None:
    _, sub, inv = await subscribed(tenant, "tok_card_declined")
    policy = DunningPolicy((1,), FinalAction.LEAVE_PAST_DUE)
    at = datetime.now(UTC)
    for _ in range(2):
        await collect(tenant, at, policy)
        at = at + timedelta(days=1, minutes=1)
    final = await state(tenant, sub, inv)
    assert final["invoice"]["collectionAttempts"] == 2
    assert final["subscription"]["status"] == "PAST_DUE"


async def test_a_customer_without_a_method_fails_the_attempt_without_the_provider(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    body = await tenant.gql(CREATE_CUSTOMER, {"input": {"name": "NoCard", "currency": "USD"}})
    customer_id = body["data"]["createCustomer"]["customer"]["id"]
    body = await tenant.gql(CREATE_PLAN, {"input": monthly_plan("nocard", "5", "USD")})
    plan_id = body["data"]["createPlan"]["plan"]["id"]
    body = await tenant.gql(
        CREATE_SUBSCRIPTION, {"input": {"customerId": customer_id, "planId": plan_id}}
    )
    sub = body["data"]["createSubscription"]["subscription"]["id"]
    inv = body["data"]["createSubscription"]["invoice"]["id"]
    await collect(tenant, datetime.now(UTC))
    after = await state(tenant, sub, inv)
    assert after["invoice"]["payments"] == [
        {"attempt": 1, "status": "FAILED", "declineCode": "no_payment_method"}
    ]
    assert after["subscription"]["status"] == "PAST_DUE"
    charged = await admin.fetchval(
        "select count(*) from sandbox_requests where tenant_id = $1", tenant.id
    )
    assert charged == 0


def test_the_schedule_counts_days_after_the_first_failure() -> None:
    policy = DunningPolicy((1, 3, 5))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    second = policy.next_attempt_at(1, t0)
    assert second == t0 + timedelta(days=1)
    assert second is not None
    third = policy.next_attempt_at(2, second)
    assert third == t0 + timedelta(days=3)
    assert third is not None
    assert policy.next_attempt_at(3, third) == t0 + timedelta(days=5)
    assert policy.next_attempt_at(4, t0) is None


async def test_a_send_invoice_subscription_is_not_charged(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    body = await tenant.gql(CREATE_CUSTOMER, {"input": {"name": "Wire", "currency": "USD"}})
    customer_id = body["data"]["createCustomer"]["customer"]["id"]
    await tenant.gql(ATTACH, {"input": {"customerId": customer_id, "providerToken": "tok_visa"}})
    body = await tenant.gql(CREATE_PLAN, {"input": monthly_plan("wire", "5", "USD")})
    plan_id = body["data"]["createPlan"]["plan"]["id"]
    body = await tenant.gql(
        CREATE_SUBSCRIPTION,
        {
            "input": {
                "customerId": customer_id,
                "planId": plan_id,
                "collectionMethod": "SEND_INVOICE",
            }
        },
    )
    sub = body["data"]["createSubscription"]["subscription"]["id"]
    inv = body["data"]["createSubscription"]["invoice"]["id"]
    await collect(tenant, datetime.now(UTC))
    after = await state(tenant, sub, inv)
    assert after["invoice"]["status"] == "OPEN" and after["invoice"]["payments"] == []
    assert after["invoice"]["nextCollectionAt"] is None
    assert after["subscription"]["status"] == "ACTIVE"
    assert (
        await admin.fetchval("select collection_method from subscriptions where id = $1", sub)
        == "SEND_INVOICE"
    )


async def test_paying_one_invoice_leaves_a_subscription_past_due_on_another(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a subscription whose first invoice and renewal were both declined
    customer_id, sub, first = await subscribed(tenant, "tok_card_declined")
    await collect(tenant, datetime.now(UTC))
    period_end = await admin.fetchval(
        "select current_period_end from subscriptions where id = $1", sub
    )
    renewal_at = period_end + timedelta(seconds=1)
    await bill_tenant(tenant.app.state.engine, tenant.id, renewal_at)
    await collect(tenant, renewal_at)
    renewal = await admin.fetchval(
        "select id from invoices where subscription_id = $1 and id <> $2", sub, first
    )
    assert (await state(tenant, sub, renewal))["invoice"]["collectionAttempts"] == 1
    # when the customer pays the first one by hand with a good card
    await tenant.gql(
        ATTACH,
        {"input": {"customerId": customer_id, "providerToken": "tok_visa", "setAsDefault": True}},
    )
    paid = await tenant.gql(PAY, {"id": first})
    assert paid["data"]["payInvoice"]["payment"]["status"] == "SUCCEEDED"
    # then the subscription is still past due: the renewal is owed
    assert (await state(tenant, sub, first))["subscription"]["status"] == "PAST_DUE"
    # and once that is paid too, it is active again
    paid = await tenant.gql(PAY, {"id": renewal})
    assert paid["data"]["payInvoice"]["payment"]["status"] == "SUCCEEDED"
    assert (await state(tenant, sub, renewal))["subscription"]["status"] == "ACTIVE"
