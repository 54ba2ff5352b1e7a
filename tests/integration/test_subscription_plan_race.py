"""Subscribing while the plan's prices are replaced: the share lock on the plan row makes
one wait for the other, so a subscription never lands on prices being replaced."""

from __future__ import annotations

import asyncio

from tests.api.billing_documents import (
    CREATE_CUSTOMER,
    CREATE_PLAN,
    CREATE_SUBSCRIPTION,
    monthly_plan,
)
from tests.conftest import Tenant

UPDATE_PLAN = """
mutation($input: UpdatePlanInput!) {
  updatePlan(input: $input) { plan { id prices { id } } userErrors { code } }
}
"""
PLAN = "query($id: ID!) { plan(id: $id) { prices { id } } }"


async def test_subscribing_and_replacing_prices_at_once_never_mix(tenant: Tenant) -> None:
    body = await tenant.gql(CREATE_CUSTOMER, {"input": {"name": "Racer", "currency": "USD"}})
    customer = body["data"]["createCustomer"]["customer"]["id"]
    outcomes = set()
    for round_ in range(12):
        # given a plan nobody uses yet
        created = await tenant.gql(CREATE_PLAN, {"input": monthly_plan(f"race-{round_}", "10")})
        plan = created["data"]["createPlan"]["plan"]
        new_prices = [{"model": "PER_UNIT", "currency": "USD", "unitAmount": "12"}]
        # when a subscription and a price replacement race
        subscribed, updated = await asyncio.gather(
            tenant.gql(
                CREATE_SUBSCRIPTION, {"input": {"customerId": customer, "planId": plan["id"]}}
            ),
            tenant.gql(UPDATE_PLAN, {"input": {"id": plan["id"], "prices": new_prices}}),
        )
        subscription = subscribed["data"]["createSubscription"]["subscription"]
        update_errors = [e["code"] for e in updated["data"]["updatePlan"]["userErrors"]]
        current = (await tenant.gql(PLAN, {"id": plan["id"]}))["data"]["plan"]["prices"]
        # then either the subscription came first (the update is refused: IN_USE) or the
        # update did (the subscription is on the new prices): never on replaced ones
        assert subscription is not None
        assert subscription["priceIds"] == [p["id"] for p in current]
        if update_errors:
            assert update_errors == ["IN_USE"]
            assert current == plan["prices"]
            outcomes.add("subscription first")
        else:
            assert current != plan["prices"]
            outcomes.add("update first")
    assert outcomes  # at least one ordering was seen; both usually are
