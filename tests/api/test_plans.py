"""Plans and prices through the API: every price model, validation with field paths,
immutability of prices, previews with their breakdown, events, scopes and tenants."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from tests.conftest import Tenant

PLAN_FIELDS = """
  id code name description interval intervalCount trialDays currencies archived
  minimumCommitments { amount currency }
  prices {
    id model currency billingMode metricCode
    amount { amount currency }
    unitAmount packageAmount packageSize rate
    tiers { upTo unitAmount flatAmount { amount } }
    fixedAmount { amount } minAmount { amount } maxAmount { amount }
  }
"""
CREATE_PLAN = f"""
mutation CreatePlan($input: CreatePlanInput!) {{
  createPlan(input: $input) {{ plan {{ {PLAN_FIELDS} }} userErrors {{ code field message }} }}
}}
"""
UPDATE_PLAN = """
mutation UpdatePlan($input: UpdatePlanInput!) {
  updatePlan(input: $input) { plan { id name description trialDays } userErrors { code field } }
}
"""
ARCHIVE_PLAN = """
mutation ArchivePlan($input: ArchivePlanInput!) {
  archivePlan(input: $input) { plan { id archived } userErrors { code field } }
}
"""
PLANS = """
query Plans($first: Int, $after: String, $filter: PlanFilter) {
  plans(first: $first, after: $after, filter: $filter) {
    totalCount edges { node { code } } pageInfo { hasNextPage endCursor }
  }
}
"""
PRICE_FOR = """
query PriceFor($id: ID!, $quantity: Decimal!) {
  plan(id: $id) { prices { priceFor(quantity: $quantity) {
    total { amount currency formatted }
    lines { description tier quantity unitAmount flatAmount { amount } amount { amount } }
  } } }
}
"""
PREVIEW = """
query Preview($price: PriceInput!, $quantity: Decimal!) {
  previewPrice(price: $price, quantity: $quantity) {
    breakdown { total { amount currency } lines { tier quantity amount { amount } } }
    userErrors { code field message }
  }
}
"""
CREATE_METRIC = """
mutation($input: CreateBillableMetricInput!) {
  createBillableMetric(input: $input) { billableMetric { code } userErrors { code } }
}
"""

# Stripe's tiered pricing example ("Set up tiered pricing"): 1-5 at $5, 6-10 at $4, then $3.
TIERS = [
    {"upTo": "5", "unitAmount": "5.00"},
    {"upTo": "10", "unitAmount": "4.00"},
    {"upTo": None, "unitAmount": "3.00"},
]


def _plan_input(code: str = "pro", **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": "Pro",
        "interval": "MONTH",
        "prices": [{"model": "FLAT_FEE", "currency": "USD", "amount": "49.00"}],
        **extra,
    }


async def _create(tenant: Tenant, plan_input: dict[str, Any]) -> dict[str, Any]:
    body = await tenant.gql(CREATE_PLAN, {"input": plan_input})
    return body["data"]["createPlan"]


async def test_a_plan_with_every_price_model_and_several_currencies_is_created(
    tenant: Tenant,
) -> None:
    # given a metric for the metered prices
    await tenant.gql(
        CREATE_METRIC,
        {"input": {"code": "gb", "name": "GB", "aggregation": "SUM", "property": "gb"}},
    )
    prices = [
        {"model": "FLAT_FEE", "currency": "USD", "amount": "49.00"},
        {"model": "FLAT_FEE", "currency": "JPY", "amount": "5000"},
        {"model": "PER_UNIT", "currency": "USD", "unitAmount": "10.00"},
        {
            "model": "GRADUATED",
            "currency": "USD",
            "billingMode": "METERED",
            "metricCode": "gb",
            "tiers": TIERS,
        },
        {
            "model": "VOLUME",
            "currency": "EUR",
            "billingMode": "METERED",
            "metricCode": "gb",
            "tiers": TIERS,
        },
        {
            "model": "PACKAGE",
            "currency": "USD",
            "billingMode": "METERED",
            "metricCode": "gb",
            "packageAmount": "5.00",
            "packageSize": 5,
        },
        {
            "model": "PERCENTAGE",
            "currency": "USD",
            "billingMode": "METERED",
            "metricCode": "gb",
            "rate": "2.9",
            "fixedAmount": "0.30",
            "minAmount": "0.50",
            "maxAmount": "20.00",
        },
    ]
    # when
    payload = await _create(
        tenant,
        _plan_input(
            prices=prices,
            trialDays=14,
            minimumCommitments=[{"amount": "100.00", "currency": "USD"}],
        ),
    )
    # then
    assert payload["userErrors"] == []
    plan = payload["plan"]
    assert plan["id"].startswith("plan_")
    assert plan["currencies"] == ["EUR", "JPY", "USD"]
    assert [p["model"] for p in plan["prices"]] == [p["model"] for p in prices]
    assert all(p["id"].startswith("price_") for p in plan["prices"])
    assert plan["prices"][1]["amount"] == {"amount": "5000", "currency": "JPY"}
    assert plan["prices"][3]["tiers"][2] == {"upTo": None, "unitAmount": "3.00", "flatAmount": None}
    assert plan["prices"][6]["minAmount"] == {"amount": "0.50"}
    assert plan["minimumCommitments"] == [{"amount": "100.00", "currency": "USD"}]


@pytest.mark.parametrize(
    ("quantity", "graduated", "volume"),
    [("12", "51.00", "36.00"), ("5", "25.00", "25.00"), ("0", "0.00", "0.00")],
)
async def test_a_plans_prices_price_a_quantity_with_a_breakdown(
    tenant: Tenant, quantity: str, graduated: str, volume: str
) -> None:
    # given Stripe's tiers as a graduated and a volume price
    plan = (
        await _create(
            tenant,
            _plan_input(
                prices=[
                    {"model": "GRADUATED", "currency": "USD", "tiers": TIERS},
                    {"model": "VOLUME", "currency": "USD", "tiers": TIERS},
                ]
            ),
        )
    )["plan"]
    # when
    body = await tenant.gql(PRICE_FOR, {"id": plan["id"], "quantity": quantity})
    # then
    grad, vol = (p["priceFor"] for p in body["data"]["plan"]["prices"])
    assert (grad["total"]["amount"], vol["total"]["amount"]) == (graduated, volume)
    if quantity == "12":
        assert [(line["tier"], line["quantity"]) for line in grad["lines"]] == [
            (0, "5"),
            (1, "5"),
            (2, "2"),
        ]
        assert len(vol["lines"]) == 1
        assert grad["total"]["formatted"] == "$51.00"


async def test_a_price_can_be_previewed_before_it_is_saved(tenant: Tenant) -> None:
    # $5 per block of 5 units: 14 units are 3 blocks
    body = await tenant.gql(
        PREVIEW,
        {
            "price": {
                "model": "PACKAGE",
                "currency": "USD",
                "packageAmount": "5",
                "packageSize": 5,
            },
            "quantity": "14",
        },
    )
    preview = body["data"]["previewPrice"]
    assert preview["userErrors"] == []
    assert preview["breakdown"]["total"] == {"amount": "15.00", "currency": "USD"}


@pytest.mark.parametrize(
    ("prices", "code", "field"),
    [
        ([], "REQUIRED", ["input", "prices"]),
        (
            [{"model": "PER_UNIT", "currency": "USD"}],
            "REQUIRED",
            ["input", "prices", "0", "unitAmount"],
        ),
        (
            [{"model": "FLAT_FEE", "currency": "ZZZ", "amount": "1"}],
            "UNKNOWN_CURRENCY",
            ["input", "prices", "0", "currency"],
        ),
        (
            [{"model": "FLAT_FEE", "currency": "USD", "amount": "1.005"}],
            "INVALID",
            ["input", "prices", "0", "amount"],
        ),
        (
            [{"model": "GRADUATED", "currency": "USD", "tiers": [TIERS[1], TIERS[0], TIERS[2]]}],
            "INVALID",
            ["input", "prices", "0", "tiers", "1", "upTo"],
        ),
        (
            [{"model": "VOLUME", "currency": "USD", "tiers": TIERS[:2]}],
            "INVALID",
            ["input", "prices", "0", "tiers", "1", "upTo"],
        ),
        (
            [{"model": "PER_UNIT", "currency": "USD", "unitAmount": "1", "billingMode": "METERED"}],
            "REQUIRED",
            ["input", "prices", "0", "metricCode"],
        ),
        (
            [
                {
                    "model": "PER_UNIT",
                    "currency": "USD",
                    "unitAmount": "1",
                    "billingMode": "METERED",
                    "metricCode": "nope",
                }
            ],
            "NOT_FOUND",
            ["input", "prices", "0", "metricCode"],
        ),
        (
            [{"model": "PER_UNIT", "currency": "USD", "unitAmount": "-1"}],
            "INVALID",
            ["input", "prices", "0", "unitAmount"],
        ),
    ],
)
async def test_an_invalid_plan_is_refused_with_its_field_and_nothing_is_written(
    tenant: Tenant, admin: asyncpg.Connection, prices: list[Any], code: str, field: list[str]
) -> None:
    payload = await _create(tenant, _plan_input(prices=prices))
    assert payload["plan"] is None
    assert (code, field) in [(e["code"], e["field"]) for e in payload["userErrors"]], payload
    assert await admin.fetchval("select count(*) from plans where tenant_id = $1", tenant.id) == 0
    assert await admin.fetchval("select count(*) from events where tenant_id = $1", tenant.id) == 0


async def test_a_plan_code_is_unique_in_an_account(tenant: Tenant) -> None:
    assert (await _create(tenant, _plan_input()))["userErrors"] == []
    again = await _create(tenant, _plan_input())
    assert [(e["code"], e["field"]) for e in again["userErrors"]] == [
        ("DUPLICATE", ["input", "code"])
    ]


async def test_a_plan_changes_its_details_and_emits_events(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    plan = (await _create(tenant, _plan_input(description="Old")))["plan"]
    # when
    updated = (
        await tenant.gql(
            UPDATE_PLAN,
            {"input": {"id": plan["id"], "name": "Pro 2026", "description": None, "trialDays": 7}},
        )
    )["data"]["updatePlan"]
    archived = (await tenant.gql(ARCHIVE_PLAN, {"input": {"id": plan["id"]}}))["data"][
        "archivePlan"
    ]
    again = (await tenant.gql(ARCHIVE_PLAN, {"input": {"id": plan["id"]}}))["data"]["archivePlan"]
    # then
    assert updated["plan"] == {
        "id": plan["id"],
        "name": "Pro 2026",
        "description": None,
        "trialDays": 7,
    }
    assert archived["plan"]["archived"] is True
    assert [e["code"] for e in again["userErrors"]] == ["ALREADY_ARCHIVED"]
    types = [
        r["type"]
        for r in await admin.fetch(
            "select type from events where tenant_id = $1 order by created_at", tenant.id
        )
    ]
    assert types == ["plan.created", "plan.updated", "plan.archived"]
    definition = await admin.fetchval(
        "select definition from prices where plan_id = $1 and archived_at is null", plan["id"]
    )
    assert '"49.00"' not in definition  # money stored as minor units
    assert "4900" in definition


UPDATE_PRICES = f"""
mutation UpdatePlan($input: UpdatePlanInput!) {{
  updatePlan(input: $input) {{ plan {{ {PLAN_FIELDS} }} userErrors {{ code field message }} }}
}}
"""
NODE = "query Node($id: ID!) { node(id: $id) { id } }"


async def test_a_plan_without_subscriptions_replaces_its_prices_with_new_ids(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given: a flat fee with a minimum commitment
    plan = (
        await _create(
            tenant,
            _plan_input(minimumCommitments=[{"amount": "10.00", "currency": "USD"}]),
        )
    )["plan"]
    old_price = plan["prices"][0]["id"]
    # when: the prices become graduated tiers in USD and EUR, the minimum moves to EUR
    new_prices = [
        {"model": "GRADUATED", "currency": "USD", "tiers": TIERS},
        {"model": "PER_UNIT", "currency": "EUR", "unitAmount": "4.50"},
    ]
    body = await tenant.gql(
        UPDATE_PRICES,
        {
            "input": {
                "id": plan["id"],
                "prices": new_prices,
                "minimumCommitments": [{"amount": "25.00", "currency": "EUR"}],
            }
        },
    )
    payload = body["data"]["updatePlan"]
    # then
    assert payload["userErrors"] == []
    updated = payload["plan"]
    assert [(p["model"], p["currency"]) for p in updated["prices"]] == [
        ("GRADUATED", "USD"),
        ("PER_UNIT", "EUR"),
    ]
    assert updated["currencies"] == ["EUR", "USD"]
    assert updated["minimumCommitments"] == [{"amount": "25.00", "currency": "EUR"}]
    new_ids = [p["id"] for p in updated["prices"]]
    assert old_price not in new_ids and all(i.startswith("price_") for i in new_ids)
    # the replaced price is archived, not gone: a price id always means one price
    assert (await tenant.gql(NODE, {"id": old_price}))["data"]["node"] == {"id": old_price}
    assert (await tenant.gql(NODE, {"id": new_ids[0]}))["data"]["node"] == {"id": new_ids[0]}
    priced = await tenant.gql(PRICE_FOR, {"id": plan["id"], "quantity": "12"})
    assert priced["data"]["plan"]["prices"][0]["priceFor"]["total"]["amount"] == "51.00"
    # and plan.updated carries the new price ids
    data = await admin.fetch(
        "select data from events where tenant_id = $1 and type = 'plan.updated'", tenant.id
    )
    assert len(data) == 1
    assert json.loads(data[0]["data"])["priceIds"] == new_ids


async def test_replacement_prices_are_checked_like_new_ones_and_nothing_is_written(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    plan = (await _create(tenant, _plan_input()))["plan"]
    cases = [
        # tiers out of order
        (
            {"prices": [{"model": "VOLUME", "currency": "USD", "tiers": TIERS[::-1]}]},
            ("INVALID", ["input", "prices", "0", "tiers", "2", "upTo"]),
        ),
        ({"prices": []}, ("REQUIRED", ["input", "prices"])),
        # a minimum commitment in a currency the plan has no price in
        (
            {"minimumCommitments": [{"amount": "5.00", "currency": "JPY"}]},
            ("INVALID", ["input", "minimumCommitments", "0"]),
        ),
        (
            {
                "prices": [
                    {
                        "model": "PER_UNIT",
                        "currency": "USD",
                        "unitAmount": "1",
                        "billingMode": "METERED",
                    }
                ]
            },
            ("REQUIRED", ["input", "prices", "0", "metricCode"]),
        ),
    ]
    for change, expected in cases:
        # when
        body = await tenant.gql(UPDATE_PRICES, {"input": {"id": plan["id"], "name": "X", **change}})
        payload = body["data"]["updatePlan"]
        # then
        assert payload["plan"] is None
        assert expected in [(e["code"], e["field"]) for e in payload["userErrors"]], payload
    after = await tenant.gql(PRICE_FOR, {"id": plan["id"], "quantity": "1"})
    assert after["data"]["plan"]["prices"][0]["priceFor"]["total"]["amount"] == "49.00"
    assert await admin.fetchval("select name from plans where id = $1", plan["id"]) == "Pro"
    assert (
        await admin.fetchval(
            "select count(*) from events where tenant_id = $1 and type = 'plan.updated'", tenant.id
        )
        == 0
    )


async def test_plans_are_listed_with_keyset_pages_and_filtered(tenant: Tenant) -> None:
    for i in range(5):
        await _create(tenant, _plan_input(code=f"p{i}"))
    first = (await tenant.gql(PLANS, {"first": 3}))["data"]["plans"]
    rest = (await tenant.gql(PLANS, {"first": 3, "after": first["pageInfo"]["endCursor"]}))["data"][
        "plans"
    ]
    codes = [e["node"]["code"] for e in first["edges"] + rest["edges"]]
    assert codes == ["p4", "p3", "p2", "p1", "p0"]
    assert first["totalCount"] == 5 and first["pageInfo"]["hasNextPage"]


async def test_another_accounts_plan_and_price_read_as_null(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    plan = (await _create(other_tenant, _plan_input()))["plan"]
    price_id = plan["prices"][0]["id"]
    body = await tenant.gql(
        "query($p: ID!, $q: ID!) "
        "{ plan(id: $p) { id } a: node(id: $p) { id } b: node(id: $q) { id } }",
        {"p": plan["id"], "q": price_id},
    )
    assert body["data"] == {"plan": None, "a": None, "b": None}
    own = await other_tenant.gql(
        "query($q: ID!) { node(id: $q) { ... on Price { id model } } }", {"q": price_id}
    )
    assert own["data"]["node"] == {"id": price_id, "model": "FLAT_FEE"}


async def test_plans_need_the_catalog_scopes(tenant: Tenant) -> None:
    refused = await tenant.gql(CREATE_PLAN, {"input": _plan_input()}, scopes=["catalog:read"])
    assert refused["errors"][0]["extensions"]["requiredScope"] == "catalog:write"
    listed = await tenant.gql(PLANS, {"first": 1}, scopes=["customers:read"])
    assert listed["errors"][0]["extensions"]["requiredScope"] == "catalog:read"


async def test_a_percentage_price_of_no_transaction_costs_nothing(tenant: Tenant) -> None:
    price = {
        "model": "PERCENTAGE",
        "currency": "USD",
        "rate": "2.9",
        "fixedAmount": "0.30",
        "minAmount": "0.50",
    }
    body = await tenant.gql(PREVIEW, {"price": price, "quantity": "0"})
    assert body["data"]["previewPrice"]["breakdown"]["total"]["amount"] == "0.00"
    paid = await tenant.gql(PREVIEW, {"price": price, "quantity": "10.00"})
    # 2.9% of 10.00 + 0.30 = 0.59, held at the 0.50 minimum only when below it
    assert paid["data"]["previewPrice"]["breakdown"]["total"]["amount"] == "0.59"


async def test_preview_errors_name_the_field_inside_the_price(tenant: Tenant) -> None:
    body = await tenant.gql(
        PREVIEW,
        {"price": {"model": "VOLUME", "currency": "USD", "tiers": TIERS[:2]}, "quantity": "1"},
    )
    errors = body["data"]["previewPrice"]["userErrors"]
    assert ["price", "tiers", "1", "upTo"] in [e["field"] for e in errors]


async def test_a_licensed_quantity_is_whole_and_a_metered_one_may_be_fractional(
    tenant: Tenant,
) -> None:
    # given a per-seat price
    plan = (
        await _create(
            tenant,
            _plan_input(prices=[{"model": "PER_UNIT", "currency": "USD", "unitAmount": "10"}]),
        )
    )["plan"]
    per_unit = {"model": "PER_UNIT", "currency": "USD", "unitAmount": "10"}
    # when
    seats = await tenant.gql(PRICE_FOR, {"id": plan["id"], "quantity": "2.5"})
    licensed = await tenant.gql(PREVIEW, {"price": per_unit, "quantity": "2.5"})
    metered = await tenant.gql(
        PREVIEW,
        {"price": {**per_unit, "billingMode": "METERED", "metricCode": "gb"}, "quantity": "2.5"},
    )
    # a percentage's quantity is a transaction amount, whatever the billing mode says
    percentage = {"model": "PERCENTAGE", "currency": "USD", "rate": "10"}
    fee = await tenant.gql(PREVIEW, {"price": percentage, "quantity": "10.05"})
    # then
    assert fee["data"]["previewPrice"]["breakdown"]["total"]["amount"] == "1.01"
    assert seats["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    errors = licensed["data"]["previewPrice"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", ["quantity"])]
    assert metered["data"]["previewPrice"]["breakdown"]["total"]["amount"] == "25.00"
