"""Subscriptions through the real app: subscribe, change with proration, cancel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.api.billing_documents import (
    CANCEL_SUBSCRIPTION,
    CHANGE_PLAN,
    CREATE_CUSTOMER,
    CREATE_PLAN,
    CREATE_SUBSCRIPTION,
    REACTIVATE_SUBSCRIPTION,
    monthly_plan,
)
from tests.conftest import Tenant

UPDATE_PLAN = """
mutation($input: UpdatePlanInput!) {
  updatePlan(input: $input) { plan { id } userErrors { code field } }
}
"""


async def customer(tenant: Tenant, currency: str = "USD") -> str:
    body = await tenant.gql(CREATE_CUSTOMER, {"input": {"name": "Acme", "currency": currency}})
    return str(body["data"]["createCustomer"]["customer"]["id"])


async def plan(tenant: Tenant, code: str, amount: str, currency: str = "USD", **extra: Any) -> str:
    body = await tenant.gql(CREATE_PLAN, {"input": monthly_plan(code, amount, currency, **extra)})
    assert body["data"]["createPlan"]["userErrors"] == []
    return str(body["data"]["createPlan"]["plan"]["id"])


async def subscribe(tenant: Tenant, **values: Any) -> dict[str, Any]:
    body = await tenant.gql(CREATE_SUBSCRIPTION, {"input": values})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["createSubscription"]
    return result


async def test_subscribing_invoices_the_first_period_in_advance(tenant: Tenant) -> None:
    # given a customer and a plan of 10.00 per seat
    cus, pro = await customer(tenant), await plan(tenant, "pro", "10")

    # when the customer subscribes with 3 seats
    result = await subscribe(tenant, customerId=cus, planId=pro, quantity=3)

    # then the subscription is active and its first invoice is finalized for 30.00
    assert result["userErrors"] == []
    assert result["subscription"]["status"] == "ACTIVE"
    invoice = result["invoice"]
    assert invoice["status"] == "OPEN"
    assert invoice["billingReason"] == "SUBSCRIPTION_CREATE"
    assert invoice["number"].endswith("-000001")
    assert invoice["total"]["amount"] == "30.00"
    [line] = invoice["lines"]
    assert line["kind"] == "SUBSCRIPTION"
    assert line["quantity"] == "3"
    assert "3 x 10" in line["explanation"]


async def test_a_trial_is_free_and_has_no_invoice(tenant: Tenant) -> None:
    cus, pro = await customer(tenant), await plan(tenant, "pro", "10", trialDays=14)
    result = await subscribe(tenant, customerId=cus, planId=pro)
    assert result["subscription"]["status"] == "TRIALING"
    assert result["subscription"]["trialEnd"] is not None
    assert result["invoice"] is None


async def test_bad_subscriptions_get_user_errors_and_write_nothing(tenant: Tenant) -> None:
    cus = await customer(tenant, "JPY")
    usd_plan = await plan(tenant, "pro", "10")
    # a plan in another currency than the customer's
    result = await subscribe(tenant, customerId=cus, planId=usd_plan)
    assert [e["code"] for e in result["userErrors"]] == ["CURRENCY_MISMATCH"]
    # unknown ids
    result = await subscribe(tenant, customerId="cus_nope", planId=usd_plan)
    assert [e["code"] for e in result["userErrors"]] == ["NOT_FOUND"]
    # a quantity out of range
    result = await subscribe(tenant, customerId=cus, planId=usd_plan, quantity=0)
    assert [e["code"] for e in result["userErrors"]] == ["INVALID"]
    body = await tenant.gql("{ subscriptions { totalCount } invoices { totalCount } }")
    assert body["data"] == {"subscriptions": {"totalCount": 0}, "invoices": {"totalCount": 0}}


async def test_a_fractional_licensed_quantity_is_refused(tenant: Tenant) -> None:
    cus, pro = await customer(tenant), await plan(tenant, "pro", "10")
    response = await tenant.post(
        CREATE_SUBSCRIPTION, {"input": {"customerId": cus, "planId": pro, "quantity": 1.5}}
    )
    assert response.status_code == 400  # GraphQL's Int refuses 1.5 before any resolver


async def test_a_plan_in_use_cannot_change_its_prices(tenant: Tenant) -> None:
    cus, pro = await customer(tenant), await plan(tenant, "pro", "10")
    await subscribe(tenant, customerId=cus, planId=pro)
    body = await tenant.gql(
        UPDATE_PLAN,
        {
            "input": {
                "id": pro,
                "prices": [{"model": "PER_UNIT", "currency": "USD", "unitAmount": "12"}],
            }
        },
    )
    assert [e["code"] for e in body["data"]["updatePlan"]["userErrors"]] == ["IN_USE"]


async def test_an_upgrade_mid_period_invoices_separate_proration_lines(tenant: Tenant) -> None:
    cus = await customer(tenant)
    basic, pro = await plan(tenant, "basic", "10"), await plan(tenant, "pro", "20")
    sub = (await subscribe(tenant, customerId=cus, planId=basic))["subscription"]

    body = await tenant.gql(CHANGE_PLAN, {"input": {"id": sub["id"], "planId": pro}})
    result = body["data"]["changeSubscriptionPlan"]

    assert result["userErrors"] == []
    assert result["subscription"]["planId"] == pro
    lines = result["invoice"]["lines"]
    assert [line["kind"] for line in lines] == ["PRORATION", "PRORATION"]
    credit, charge = (line["amount"]["amount"] for line in lines)
    # changed within a second of the start: the whole period is credited and charged
    assert credit.startswith("-") and abs(float(credit)) <= 10
    assert 0 < float(charge) <= 20
    assert "Unused time" in lines[0]["explanation"]


async def test_cancel_at_period_end_is_undoable_and_cancel_twice_is_refused(
    tenant: Tenant,
) -> None:
    cus, pro = await customer(tenant), await plan(tenant, "pro", "10")
    sub = (await subscribe(tenant, customerId=cus, planId=pro))["subscription"]

    later = await tenant.gql(CANCEL_SUBSCRIPTION, {"input": {"id": sub["id"]}})
    assert later["data"]["cancelSubscription"]["subscription"]["cancelAtPeriodEnd"] is True
    undone = await tenant.gql(REACTIVATE_SUBSCRIPTION, {"input": {"id": sub["id"]}})
    assert undone["data"]["reactivateSubscription"]["subscription"]["cancelAtPeriodEnd"] is False

    now = await tenant.gql(
        CANCEL_SUBSCRIPTION, {"input": {"id": sub["id"], "atPeriodEnd": False, "prorate": True}}
    )
    canceled = now["data"]["cancelSubscription"]
    assert canceled["subscription"]["status"] == "CANCELED"
    assert canceled["invoice"]["lines"][0]["kind"] == "PRORATION"

    again = await tenant.gql(CANCEL_SUBSCRIPTION, {"input": {"id": sub["id"]}})
    assert [e["code"] for e in again["data"]["cancelSubscription"]["userErrors"]] == [
        "ALREADY_CANCELED"
    ]


async def test_another_tenants_subscription_is_not_found(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    cus, pro = await customer(tenant), await plan(tenant, "pro", "10")
    sub = (await subscribe(tenant, customerId=cus, planId=pro))["subscription"]
    body = await other_tenant.gql(CANCEL_SUBSCRIPTION, {"input": {"id": sub["id"]}})
    assert [e["code"] for e in body["data"]["cancelSubscription"]["userErrors"]] == ["NOT_FOUND"]
    body = await other_tenant.gql(
        "query($id: ID!) { subscription(id: $id) { id } node(id: $id) { id } }", {"id": sub["id"]}
    )
    assert body["data"] == {"subscription": None, "node": None}


async def test_upcoming_invoice_previews_the_renewal_without_writing(tenant: Tenant) -> None:
    cus, pro = await customer(tenant), await plan(tenant, "pro", "10")
    sub = (await subscribe(tenant, customerId=cus, planId=pro, quantity=2))["subscription"]
    query = """
    query($id: ID!) { subscription(id: $id) {
      upcomingInvoice { id status total { amount } periodStart lines { kind amount { amount } } }
      customer { subscriptions { id } invoices { id } }
    } }"""
    body = await tenant.gql(query, {"id": sub["id"]})
    assert "errors" not in body, body
    upcoming = body["data"]["subscription"]["upcomingInvoice"]
    assert upcoming["status"] == "DRAFT"
    assert upcoming["total"]["amount"] == "20.00"
    assert upcoming["periodStart"] == sub["currentPeriodEnd"]
    customer_links = body["data"]["subscription"]["customer"]
    assert [s["id"] for s in customer_links["subscriptions"]] == [sub["id"]]
    assert len(customer_links["invoices"]) == 1  # the first period's only: nothing written


async def test_upcoming_invoices_of_several_subscriptions_in_one_request(tenant: Tenant) -> None:
    # given three subscriptions
    pro = await plan(tenant, "pro", "10")
    for seats in (1, 2, 3):
        await subscribe(tenant, customerId=await customer(tenant), planId=pro, quantity=seats)
    # when one request previews all of them (sibling resolvers run concurrently)
    query = "{ subscriptions { edges { node { quantity upcomingInvoice { total { amount } } } } } }"
    for _ in range(5):
        body = await tenant.gql(query)
        # then each preview answers, none trips over another's savepoint
        assert "errors" not in body, body
        totals = {
            e["node"]["quantity"]: e["node"]["upcomingInvoice"]["total"]["amount"]
            for e in body["data"]["subscriptions"]["edges"]
        }
        assert totals == {1: "10.00", 2: "20.00", 3: "30.00"}


async def test_a_change_to_another_interval_restarts_the_cycle_now(tenant: Tenant) -> None:
    # given a monthly subscription and a yearly plan
    cus = await customer(tenant)
    monthly = await plan(tenant, "monthly", "10")
    yearly_input = {**monthly_plan("yearly", "100"), "interval": "YEAR"}
    body = await tenant.gql(CREATE_PLAN, {"input": yearly_input})
    yearly = body["data"]["createPlan"]["plan"]["id"]
    sub = (await subscribe(tenant, customerId=cus, planId=monthly))["subscription"]

    # when it moves to the yearly plan
    body = await tenant.gql(CHANGE_PLAN, {"input": {"id": sub["id"], "planId": yearly}})
    result = body["data"]["changeSubscriptionPlan"]

    # then the unused month is credited and a full year charged from now
    assert result["userErrors"] == []
    kinds = [(line["kind"], line["amount"]["amount"]) for line in result["invoice"]["lines"]]
    assert kinds[-1] == ("SUBSCRIPTION", "100.00")
    credits = [amount for kind, amount in kinds if kind == "PRORATION"]
    assert len(credits) == 1 and credits[0].startswith("-")
    body = await tenant.gql(
        "query($id: ID!) { subscription(id: $id) { currentPeriodStart currentPeriodEnd"
        " billingCycleAnchor } }",
        {"id": sub["id"]},
    )
    period = body["data"]["subscription"]
    start = datetime.fromisoformat(period["currentPeriodStart"])
    end = datetime.fromisoformat(period["currentPeriodEnd"])
    assert period["billingCycleAnchor"] == period["currentPeriodStart"]
    assert (end.year - start.year, end.month, end.day) == (1, start.month, start.day)
