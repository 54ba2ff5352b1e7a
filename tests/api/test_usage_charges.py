"""What a customer's usage costs under a metered price: quantities priced by their model,
percentages charged per transaction (fixed fee, minimum and maximum on each)."""

from __future__ import annotations

from typing import Any

from tests.api.test_usage import WINDOW, _customer, _event, _metric, _record
from tests.conftest import Tenant

CREATE_PLAN = """
mutation CreatePlan($input: CreatePlanInput!) {
  createPlan(input: $input) { plan { prices { id } } userErrors { code field message } }
}
"""
CHARGE = """
query Charge($id: ID!, $price: ID!, $from: DateTime!, $to: DateTime!) {
  customer(id: $id) {
    usageCharge(priceId: $price, from: $from, to: $to) {
      price { id model } metric { code } quantity eventCount
      breakdown { total { amount currency } lines { quantity count amount { amount } } }
    }
  }
}
"""
CUSTOMERS_CHARGE = """
query CustomersCharge($price: ID!, $from: DateTime!, $to: DateTime!) {
  customers(first: 100) {
    edges { node { usageCharge(priceId: $price, from: $from, to: $to) {
      breakdown { total { amount } }
    } } }
  }
}
"""
# Stripe's standard card pricing with a cap: 2.9 % + 0.30 per payment, 0.50 to 20.00.
PERCENTAGE = {
    "model": "PERCENTAGE",
    "currency": "USD",
    "billingMode": "METERED",
    "metricCode": "payments",
    "rate": "2.9",
    "fixedAmount": "0.30",
    "minAmount": "0.50",
    "maxAmount": "20.00",
}


async def _price(tenant: Tenant, price: dict[str, Any], code: str = "pay") -> str:
    body = await tenant.gql(
        CREATE_PLAN, {"input": {"code": code, "name": code, "interval": "MONTH", "prices": [price]}}
    )
    payload = body["data"]["createPlan"]
    assert payload["userErrors"] == [], payload
    return payload["plan"]["prices"][0]["id"]


async def _charge(tenant: Tenant, customer: str, price: str) -> dict[str, Any]:
    body = await tenant.gql(CHARGE, {"id": customer, "price": price, **WINDOW})
    return body


async def test_a_percentage_price_charges_each_transaction_within_its_minimum_and_maximum(
    tenant: Tenant,
) -> None:
    # given payments of 10.00 (twice), 1000.00 and 0.05
    customer = await _customer(tenant)
    await _metric(tenant, "payments", "SUM", "amount")
    price = await _price(tenant, PERCENTAGE)
    amounts = ["10.00", "1000.00", "10.00", "0.05"]
    events = [_event(f"p{i}", customer, "payments", amount=a) for i, a in enumerate(amounts)]
    assert (await _record(tenant, events))["accepted"] == 4
    # when
    charge = (await _charge(tenant, customer, price))["data"]["customer"]["usageCharge"]
    # then: 0.05 -> 0.30145 -> 0.50 (minimum); 10.00 -> 0.59 twice; 1000.00 -> 29.30 -> 20.00
    # (priced on the sum, 1020.05, it would be capped once at 20.00)
    assert charge["quantity"] == "1020.05"
    assert charge["eventCount"] == 4
    # in at most three lines however many payments: at the rate, the minimum, the maximum
    assert charge["breakdown"]["lines"] == [
        {"quantity": "20", "count": 2, "amount": {"amount": "1.18"}},
        {"quantity": "0.05", "count": 1, "amount": {"amount": "0.50"}},
        {"quantity": "1000", "count": 1, "amount": {"amount": "20.00"}},
    ]
    assert charge["breakdown"]["total"] == {"amount": "21.68", "currency": "USD"}


async def test_a_tiered_metered_price_charges_the_windows_quantity(tenant: Tenant) -> None:
    # given 12 GB of usage under Stripe's graduated example (5 at 5.00, 5 at 4.00, then 3.00)
    customer = await _customer(tenant)
    await _metric(tenant, "gb", "SUM", "gb")
    tiers = [
        {"upTo": "5", "unitAmount": "5.00"},
        {"upTo": "10", "unitAmount": "4.00"},
        {"upTo": None, "unitAmount": "3.00"},
    ]
    price = await _price(
        tenant,
        {
            "model": "GRADUATED",
            "currency": "USD",
            "billingMode": "METERED",
            "metricCode": "gb",
            "tiers": tiers,
        },
    )
    await _record(tenant, [_event("a", customer, "gb", gb=7), _event("b", customer, "gb", gb=5)])
    # when
    charge = (await _charge(tenant, customer, price))["data"]["customer"]["usageCharge"]
    # then
    assert charge["quantity"] == "12"
    assert charge["breakdown"]["total"]["amount"] == "51.00"
    assert charge["metric"] == {"code": "gb"}


async def test_a_percentage_price_needs_a_sum_metric(tenant: Tenant) -> None:
    await _metric(tenant, "payments", "COUNT")
    body = await tenant.gql(
        CREATE_PLAN,
        {"input": {"code": "p", "name": "P", "interval": "MONTH", "prices": [PERCENTAGE]}},
    )
    errors = body["data"]["createPlan"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("INVALID", ["input", "prices", "0", "metricCode"])
    ]


async def test_unknown_foreign_and_licensed_prices(tenant: Tenant, other_tenant: Tenant) -> None:
    customer = await _customer(tenant)
    await _metric(other_tenant, "payments", "SUM", "amount")
    foreign = await _price(other_tenant, PERCENTAGE)
    licensed = await _price(
        tenant, {"model": "PER_UNIT", "currency": "USD", "unitAmount": "5"}, code="seats"
    )
    # foreign and unknown ids read as null
    for price in (foreign, "price_doesnotexist", "cus_wrongprefix"):
        body = await _charge(tenant, customer, price)
        assert body["data"]["customer"]["usageCharge"] is None, body
    # a licensed price has no usage to charge
    body = await _charge(tenant, customer, licensed)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # and the field needs both read scopes
    refused = await tenant.gql(
        CHARGE, {"id": customer, "price": licensed, **WINDOW}, scopes=["customers:read"]
    )
    assert refused["errors"][0]["extensions"]["requiredScope"] == "catalog:read"


async def test_charges_of_a_page_of_customers_cost_the_same_statements_for_5_and_50(
    tenant: Tenant, other_tenant: Tenant, count_statements: Any
) -> None:
    # given two accounts, one with 5 customers and one with 50, each paying 10.00
    async def setup(owner: Tenant, n: int) -> str:
        await _metric(owner, "payments", "SUM", "amount")
        price = await _price(owner, PERCENTAGE)
        ids = [await _customer(owner) for _ in range(n)]
        events = [_event(f"k{i}", cid, "payments", amount="10.00") for i, cid in enumerate(ids)]
        await _record(owner, events)
        return price

    small_price = await setup(tenant, 5)
    large_price = await setup(other_tenant, 50)
    # when
    with count_statements as small:
        await tenant.gql(CUSTOMERS_CHARGE, {"price": small_price, **WINDOW})
    with count_statements as large:
        body = await other_tenant.gql(CUSTOMERS_CHARGE, {"price": large_price, **WINDOW})
    # then
    assert small.count == large.count
    totals = {
        e["node"]["usageCharge"]["breakdown"]["total"]["amount"]
        for e in body["data"]["customers"]["edges"]
    }
    assert totals == {"0.59"}


async def test_a_licensed_percentage_naming_an_unknown_metric_gets_user_errors(
    tenant: Tenant,
) -> None:
    licensed = {k: v for k, v in PERCENTAGE.items() if k != "billingMode"} | {"metricCode": "nope"}
    body = await tenant.gql(
        CREATE_PLAN,
        {"input": {"code": "p", "name": "P", "interval": "MONTH", "prices": [licensed]}},
    )
    assert "errors" not in body, body
    errors = body["data"]["createPlan"]["userErrors"]
    assert {(e["code"], tuple(e["field"])) for e in errors} == {
        ("INVALID", ("input", "prices", "0", "metricCode")),
        ("INVALID", ("input", "prices", "0", "billingMode")),
    }


async def test_one_customers_charge_out_of_range_fails_alone(tenant: Tenant) -> None:
    # given one ordinary payment and one whose fee is beyond any amount Ledgerline holds
    await _metric(tenant, "payments", "SUM", "amount")
    price = await _price(tenant, PERCENTAGE | {"maxAmount": None})
    ordinary, huge = await _customer(tenant), await _customer(tenant)
    await _record(
        tenant,
        [
            _event("a", ordinary, "payments", amount="12.00"),
            _event("b", huge, "payments", amount="99999999999999999999999999"),
        ],
    )
    # when
    response = await tenant.post(CUSTOMERS_CHARGE, {"price": price, **WINDOW})
    body = response.json()
    # then: the ordinary customer's charge is there, the other one's is an error at its path
    charges = [e["node"]["usageCharge"] for e in body["data"]["customers"]["edges"]]
    assert {"breakdown": {"total": {"amount": "0.65"}}} in charges
    assert charges.count(None) == 1
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_a_price_charges_only_a_customer_billed_in_its_currency(tenant: Tenant) -> None:
    # given a JPY customer with payments, and a USD percentage price
    created = await tenant.gql(
        """mutation($input: CreateCustomerInput!) { createCustomer(input: $input) {
             customer { id } } }""",
        {"input": {"name": "Sakura K.K.", "currency": "JPY"}},
    )
    customer = created["data"]["createCustomer"]["customer"]["id"]
    await _metric(tenant, "payments", "SUM", "amount")
    price = await _price(tenant, PERCENTAGE)
    assert (await _record(tenant, [_event("y1", customer, "payments", amount="1000")]))[
        "accepted"
    ] == 1

    # when its usage is priced under the USD price
    body = await _charge(tenant, customer, price)

    # then it is refused, not billed as if yen were dollars
    assert body["data"]["customer"]["usageCharge"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == "This price is in USD; the customer is billed in JPY."
