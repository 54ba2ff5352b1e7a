"""Coupons through the API: creating and listing them, applying them to customers and
subscriptions, every reason a coupon is refused (with nothing written), concurrent
redemptions against the maximum, scopes and tenants."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.coupons import add_months
from domain.money import Money
from domain.services.subscriptions import create_subscription
from domain.subscriptions import SubscriptionDraft
from infra.app import create_app
from infra.settings import Settings
from tests.conftest import Tenant, TestDatabase, make_tenant
from tests.support.billing import Billing
from tests.support.clock import FixedClock

COUPON_FIELDS = """
  id code name percentOff amountOff { amount currency } duration durationInMonths
  maxRedemptions timesRedeemed redeemBy appliesToPlans createdAt
"""
CREATE_COUPON = f"""
mutation CreateCoupon($input: CreateCouponInput!) {{
  createCoupon(input: $input) {{ coupon {{ {COUPON_FIELDS} }} userErrors {{ code field message }} }}
}}
"""
APPLY_COUPON = """
mutation ApplyCoupon($input: ApplyCouponInput!) {
  applyCoupon(input: $input) {
    discount { id customerId subscriptionId start end coupon { id timesRedeemed } }
    userErrors { code field message }
  }
}
"""
COUPONS = """
query Coupons($first: Int, $after: String, $filter: CouponFilter, $orderBy: CouponOrder) {
  coupons(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount edges { cursor node { id code name } } pageInfo { hasNextPage endCursor }
  }
}
"""
CREATE_PLAN = """
mutation CreatePlan($input: CreatePlanInput!) {
  createPlan(input: $input) { plan { id } userErrors { code field } }
}
"""
CREATE_CUSTOMER = """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code field } }
}
"""
ARCHIVE_CUSTOMER = """
mutation ArchiveCustomer($input: ArchiveCustomerInput!) {
  archiveCustomer(input: $input) { customer { id } userErrors { code } }
}
"""

NOW = datetime.now(UTC).replace(microsecond=0)  # billing boundaries are whole seconds


async def _plan(tenant: Tenant, code: str = "pro") -> str:
    body = await tenant.gql(
        CREATE_PLAN,
        {
            "input": {
                "code": code,
                "name": code.title(),
                "interval": "MONTH",
                "prices": [{"model": "FLAT_FEE", "currency": "USD", "amount": "49.00"}],
            }
        },
    )
    payload = body["data"]["createPlan"]
    assert payload["userErrors"] == [], payload
    return str(payload["plan"]["id"])


async def _customer(tenant: Tenant, currency: str = "USD") -> str:
    body = await tenant.gql(
        CREATE_CUSTOMER, {"input": {"name": "Grace Hopper", "currency": currency}}
    )
    payload = body["data"]["createCustomer"]
    assert payload["userErrors"] == [], payload
    return str(payload["customer"]["id"])


async def _create(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = await tenant.gql(
        CREATE_COUPON, {"input": {"name": "Spring sale", "percentOff": "25", **fields}}
    )
    payload: dict[str, Any] = body["data"]["createCoupon"]
    return payload


async def _coupon(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    payload = await _create(tenant, **fields)
    assert payload["userErrors"] == [], payload
    coupon: dict[str, Any] = payload["coupon"]
    return coupon


async def _apply(tenant: Tenant, coupon_id: str, **target: str) -> dict[str, Any]:
    body = await tenant.gql(APPLY_COUPON, {"input": {"couponId": coupon_id, **target}})
    payload: dict[str, Any] = body["data"]["applyCoupon"]
    return payload


def _errors(payload: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


async def _subscribe(app: Any, tenant: Tenant, customer_id: str, plan_id: str) -> str:
    billing = Billing(app.state.engine, tenant.id)
    subscription = await billing.subscribe(customer_id, plan_id, NOW, NOW)
    return subscription.id


async def _redemptions(admin: asyncpg.Connection, coupon_id: str) -> tuple[int, int]:
    """(times_redeemed, discounts stored) of a coupon."""
    redeemed = await admin.fetchval("select times_redeemed from coupons where id = $1", coupon_id)
    stored = await admin.fetchval("select count(*) from discounts where coupon_id = $1", coupon_id)
    return redeemed, stored


async def test_coupons_are_created_listed_and_read_by_id(tenant: Tenant) -> None:
    # given a plan to restrict one coupon to
    plan_id = await _plan(tenant)
    # when
    percent = await _coupon(tenant, code="spring-25", maxRedemptions=100)
    amount = await _coupon(
        tenant,
        name="Welcome",
        percentOff=None,
        amountOff={"amount": "10.00", "currency": "usd"},
        duration="REPEATING",
        durationInMonths=3,
        redeemBy=(NOW + timedelta(days=30)).isoformat(),
        appliesToPlans=[plan_id, plan_id],
    )
    # then
    assert percent["id"].startswith("cpn_")
    assert (percent["percentOff"], percent["amountOff"], percent["duration"]) == (
        "25",
        None,
        "ONCE",
    )
    assert (percent["code"], percent["maxRedemptions"], percent["timesRedeemed"]) == (
        "spring-25",
        100,
        0,
    )
    assert amount["amountOff"] == {"amount": "10.00", "currency": "USD"}
    assert (amount["duration"], amount["durationInMonths"]) == ("REPEATING", 3)
    assert amount["appliesToPlans"] == [plan_id]  # each plan once
    listed = (await tenant.gql(COUPONS, {"first": 10}))["data"]["coupons"]
    assert [e["node"]["id"] for e in listed["edges"]] == [amount["id"], percent["id"]]
    assert listed["totalCount"] == 2
    oldest_first = await tenant.gql(COUPONS, {"orderBy": {"direction": "ASC"}})
    assert [e["node"]["name"] for e in oldest_first["data"]["coupons"]["edges"]] == [
        "Spring sale",
        "Welcome",
    ]
    by_code = await tenant.gql(COUPONS, {"filter": {"code": "spring-25"}})
    assert [e["node"]["id"] for e in by_code["data"]["coupons"]["edges"]] == [percent["id"]]
    read = await tenant.gql(
        f"query($id: ID!) {{ coupon(id: $id) {{ {COUPON_FIELDS} }} "
        "node(id: $id) { id ... on Coupon { name percentOff } } }",
        {"id": amount["id"]},
    )
    assert read["data"]["coupon"] == amount
    assert read["data"]["node"] == {"id": amount["id"], "name": "Welcome", "percentOff": None}


async def test_coupons_are_paged_by_cursor(tenant: Tenant) -> None:
    # given
    for i in range(5):
        await _coupon(tenant, code=f"c{i}")
    # when
    first = (await tenant.gql(COUPONS, {"first": 3}))["data"]["coupons"]
    rest = (await tenant.gql(COUPONS, {"first": 3, "after": first["pageInfo"]["endCursor"]}))[
        "data"
    ]["coupons"]
    # then
    codes = [e["node"]["code"] for e in first["edges"] + rest["edges"]]
    assert codes == ["c4", "c3", "c2", "c1", "c0"]
    assert first["pageInfo"]["hasNextPage"] and not rest["pageInfo"]["hasNextPage"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"percentOff": None}, ("REQUIRED", ["input", "percentOff"])),
        (
            {"amountOff": {"amount": "5.00", "currency": "USD"}},
            ("INVALID", ["input", "amountOff"]),
        ),
        ({"percentOff": "0"}, ("INVALID", ["input", "percentOff"])),
        ({"percentOff": "100.5"}, ("INVALID", ["input", "percentOff"])),
        ({"percentOff": "12.34567"}, ("INVALID", ["input", "percentOff"])),
        (
            {"percentOff": None, "amountOff": {"amount": "-5.00", "currency": "USD"}},
            ("INVALID", ["input", "amountOff"]),
        ),
        (
            {"percentOff": None, "amountOff": {"amount": "5.001", "currency": "USD"}},
            ("INVALID", ["input", "amountOff", "amount"]),
        ),
        (
            {"percentOff": None, "amountOff": {"amount": "5", "currency": "XYZ"}},
            ("UNKNOWN_CURRENCY", ["input", "amountOff", "currency"]),
        ),
        ({"duration": "REPEATING"}, ("REQUIRED", ["input", "durationInMonths"])),
        (
            {"duration": "REPEATING", "durationInMonths": 121},
            ("INVALID", ["input", "durationInMonths"]),
        ),
        ({"durationInMonths": 3}, ("INVALID", ["input", "durationInMonths"])),
        ({"maxRedemptions": 0}, ("INVALID", ["input", "maxRedemptions"])),
        (
            {"redeemBy": (NOW - timedelta(minutes=1)).isoformat()},
            ("INVALID", ["input", "redeemBy"]),
        ),
        ({"name": "  "}, ("REQUIRED", ["input", "name"])),
        ({"name": "x" * 201}, ("TOO_LONG", ["input", "name"])),
        ({"code": "Not A Code"}, ("INVALID", ["input", "code"])),
        ({"appliesToPlans": ["cus_123"]}, ("INVALID", ["input", "appliesToPlans", "0"])),
        (
            {"appliesToPlans": ["plan_doesNotExist1234567"]},
            ("NOT_FOUND", ["input", "appliesToPlans", "0"]),
        ),
    ],
)
async def test_a_bad_coupon_is_refused_with_its_field_and_nothing_is_written(
    tenant: Tenant, admin: asyncpg.Connection, fields: dict[str, Any], expected: tuple[str, Any]
) -> None:
    # when
    payload = await _create(tenant, **fields)
    # then
    assert payload["coupon"] is None
    assert expected in _errors(payload), payload
    assert await admin.fetchval("select count(*) from coupons where tenant_id = $1", tenant.id) == 0


async def test_a_coupon_for_another_accounts_plan_is_not_found(
    tenant: Tenant, other_tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a plan of this account and one of another
    own = await _plan(tenant)
    foreign = await _plan(other_tenant)
    # when
    payload = await _create(tenant, appliesToPlans=[own, foreign])
    # then
    assert _errors(payload) == [("NOT_FOUND", ["input", "appliesToPlans", "1"])]
    assert await admin.fetchval("select count(*) from coupons where tenant_id = $1", tenant.id) == 0


async def test_a_coupon_code_is_unique_in_the_account(tenant: Tenant, other_tenant: Tenant) -> None:
    # given
    await _coupon(tenant, code="launch")
    # when
    again = await _create(tenant, code="launch")
    elsewhere = await _create(other_tenant, code="launch")
    # then
    assert _errors(again) == [("DUPLICATE", ["input", "code"])]
    assert elsewhere["userErrors"] == []


async def test_a_coupon_applied_to_a_customer_discounts_all_their_invoices(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    customer_id = await _customer(tenant)
    coupon = await _coupon(tenant, duration="REPEATING", durationInMonths=2)
    # when
    payload = await _apply(tenant, coupon["id"], customerId=customer_id)
    # then
    assert payload["userErrors"] == []
    discount = payload["discount"]
    assert discount["id"].startswith("di_")
    assert (discount["customerId"], discount["subscriptionId"]) == (customer_id, None)
    assert discount["coupon"] == {"id": coupon["id"], "timesRedeemed": 1}
    start = datetime.fromisoformat(discount["start"])
    assert datetime.fromisoformat(discount["end"]) == add_months(start, 2)
    row = await admin.fetchrow(
        "select customer_id, subscription_id, coupon_id from discounts where id = $1",
        discount["id"],
    )
    assert dict(row) == {
        "customer_id": customer_id,
        "subscription_id": None,
        "coupon_id": coupon["id"],
    }
    node = await tenant.gql(
        "query($id: ID!) { node(id: $id) { id ... on Discount { customerId coupon { id } } } }",
        {"id": discount["id"]},
    )
    assert node["data"]["node"] == {
        "id": discount["id"],
        "customerId": customer_id,
        "coupon": {"id": coupon["id"]},
    }


async def test_a_customers_discount_takes_its_part_off_their_next_subscription_invoice(
    app: Any, tenant: Tenant
) -> None:
    # given 25 % off applied to the customer, before they subscribe to a 49.00 plan
    customer_id = await _customer(tenant)
    plan_id = await _plan(tenant)
    coupon = await _coupon(tenant, percentOff="25")
    assert (await _apply(tenant, coupon["id"], customerId=customer_id))["userErrors"] == []
    # when
    billing = Billing(app.state.engine, tenant.id)
    # a period starting after the discount did (billing boundaries are whole seconds)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    _, invoice = await create_subscription(
        billing.uow(), SubscriptionDraft(customer_id, plan_id, start=start), start
    )
    # then the first invoice reads the stored discount with its coupon
    assert invoice is not None
    assert invoice.totals.discount_total == Money(1225, "USD")
    assert invoice.totals.total == Money(3675, "USD")


async def test_a_coupon_applies_only_to_subscriptions_of_its_plans(
    app: Any, tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a coupon for the pro plan, and subscriptions to pro and to basic
    pro, basic = await _plan(tenant, "pro"), await _plan(tenant, "basic")
    customer_id = await _customer(tenant)
    on_pro = await _subscribe(app, tenant, customer_id, pro)
    on_basic = await _subscribe(app, tenant, customer_id, basic)
    coupon = await _coupon(tenant, appliesToPlans=[pro])
    # when
    refused = await _apply(tenant, coupon["id"], subscriptionId=on_basic)
    applied = await _apply(tenant, coupon["id"], subscriptionId=on_pro)
    # then
    assert refused["discount"] is None
    assert _errors(refused) == [("COUPON_NOT_APPLICABLE", ["input", "couponId"])]
    assert applied["userErrors"] == []
    assert applied["discount"]["subscriptionId"] == on_pro
    assert applied["discount"]["customerId"] == customer_id
    assert await _redemptions(admin, coupon["id"]) == (1, 1)


async def test_an_amount_off_in_another_currency_than_the_customers_is_refused(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a USD customer and a coupon of 10 EUR off
    customer_id = await _customer(tenant, "USD")
    coupon = await _coupon(
        tenant, percentOff=None, amountOff={"amount": "10.00", "currency": "EUR"}
    )
    # when
    payload = await _apply(tenant, coupon["id"], customerId=customer_id)
    # then
    assert _errors(payload) == [("CURRENCY_MISMATCH", ["input", "couponId"])]
    assert await _redemptions(admin, coupon["id"]) == (0, 0)


async def test_an_exhausted_coupon_is_refused(tenant: Tenant, admin: asyncpg.Connection) -> None:
    # given a coupon that can be redeemed once, already redeemed
    customer_id = await _customer(tenant)
    coupon = await _coupon(tenant, maxRedemptions=1)
    first = await _apply(tenant, coupon["id"], customerId=customer_id)
    assert first["userErrors"] == []
    # when
    second = await _apply(tenant, coupon["id"], customerId=await _customer(tenant))
    # then
    assert second["discount"] is None
    assert _errors(second) == [("COUPON_EXHAUSTED", ["input", "couponId"])]
    assert await _redemptions(admin, coupon["id"]) == (1, 1)


async def test_unknown_and_foreign_ids_are_not_found_and_nothing_is_written(
    app: Any, tenant: Tenant, other_tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a coupon and a customer of each account
    coupon = await _coupon(tenant)
    customer_id = await _customer(tenant)
    foreign_coupon = await _coupon(other_tenant)
    foreign_customer = await _customer(other_tenant)
    foreign_plan = await _plan(other_tenant)
    foreign_subscription = await _subscribe(app, other_tenant, foreign_customer, foreign_plan)
    cases = [
        ((foreign_coupon["id"], {"customerId": customer_id}), ["input", "couponId"]),
        (("cpn_unknown0000000000000000", {"customerId": customer_id}), ["input", "couponId"]),
        ((customer_id, {"customerId": customer_id}), ["input", "couponId"]),
        ((coupon["id"], {"customerId": foreign_customer}), ["input", "customerId"]),
        ((coupon["id"], {"customerId": "cus_unknown000000000000000"}), ["input", "customerId"]),
        ((coupon["id"], {"subscriptionId": foreign_subscription}), ["input", "subscriptionId"]),
        ((coupon["id"], {"subscriptionId": customer_id}), ["input", "subscriptionId"]),
    ]
    for (coupon_id, target), field in cases:
        # when
        payload = await _apply(tenant, coupon_id, **target)
        # then
        assert payload["discount"] is None
        assert _errors(payload) == [("NOT_FOUND", field)], (coupon_id, target)
    assert await _redemptions(admin, coupon["id"]) == (0, 0)
    assert await _redemptions(admin, foreign_coupon["id"]) == (0, 0)


async def test_a_coupon_is_applied_to_exactly_one_target(
    app: Any, tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    customer_id = await _customer(tenant)
    plan_id = await _plan(tenant)
    subscription_id = await _subscribe(app, tenant, customer_id, plan_id)
    coupon = await _coupon(tenant)
    # when
    neither = await _apply(tenant, coupon["id"])
    both = await _apply(
        tenant, coupon["id"], customerId=customer_id, subscriptionId=subscription_id
    )
    # then
    assert _errors(neither) == [("REQUIRED", ["input", "customerId"])]
    assert _errors(both) == [("INVALID", ["input", "customerId"])]
    assert await _redemptions(admin, coupon["id"]) == (0, 0)


async def test_an_archived_customer_gets_no_discount(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    customer_id = await _customer(tenant)
    await tenant.gql(ARCHIVE_CUSTOMER, {"input": {"id": customer_id}})
    coupon = await _coupon(tenant)
    # when
    payload = await _apply(tenant, coupon["id"], customerId=customer_id)
    # then
    assert _errors(payload) == [("ARCHIVED", ["input", "customerId"])]
    assert await _redemptions(admin, coupon["id"]) == (0, 0)


CLOCK_START = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def clocked_app(
    settings: Settings, test_database: TestDatabase
) -> AsyncIterator[tuple[Any, FixedClock]]:
    """The application, with the clock it reads the time from (the test moves it)."""
    clock = FixedClock(CLOCK_START)
    application = create_app(settings, test_database.url, clock=clock)
    async with application.router.lifespan_context(application):
        yield application, clock


async def test_a_coupon_cannot_be_applied_once_its_redeem_by_has_passed(
    clocked_app: tuple[Any, FixedClock], admin: asyncpg.Connection
) -> None:
    application, clock = clocked_app
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://ledgerline.test") as c:
        # given a coupon redeemable for one more day, and a customer
        tenant = await make_tenant(application, c)
        customer_id = await _customer(tenant)
        coupon = await _coupon(tenant, redeemBy=(CLOCK_START + timedelta(days=1)).isoformat())
        # when the day passes
        clock.advance(timedelta(days=1))
        payload = await _apply(tenant, coupon["id"], customerId=customer_id)
    # then
    assert _errors(payload) == [("COUPON_EXPIRED", ["input", "couponId"])]
    assert await _redemptions(admin, coupon["id"]) == (0, 0)


@pytest.fixture
async def warm_pool(app: Any) -> None:
    """Fill the app's pool, so concurrent requests start together rather than one at a time
    behind new connections."""
    engine: AsyncEngine = app.state.engine
    connections = await asyncio.gather(*(engine.connect() for _ in range(engine.pool.size())))
    for connection in connections:
        await connection.close()


async def test_concurrent_applications_never_redeem_a_coupon_past_its_maximum(
    app: Any, tenant: Tenant, admin: asyncpg.Connection, warm_pool: None
) -> None:
    # given a coupon that can be redeemed 10 times, and 50 customers
    billing = Billing(app.state.engine, tenant.id)
    customers = [await billing.customer() for _ in range(50)]
    coupon = await _coupon(tenant, maxRedemptions=10)
    # when all 50 apply it at once
    payloads = await asyncio.gather(
        *(_apply(tenant, coupon["id"], customerId=customer_id) for customer_id in customers)
    )
    # then exactly 10 succeed, and the other 40 are told it is exhausted
    applied = [p for p in payloads if p["discount"] is not None]
    refused = [p for p in payloads if p["discount"] is None]
    assert len(applied) == 10, payloads
    assert all(p["userErrors"] == [] for p in applied)
    assert all(_errors(p) == [("COUPON_EXHAUSTED", ["input", "couponId"])] for p in refused)
    assert await _redemptions(admin, coupon["id"]) == (10, 10)
    discounted = {
        row["customer_id"]
        for row in await admin.fetch(
            "select customer_id from discounts where coupon_id = $1", coupon["id"]
        )
    }
    assert discounted == {p["discount"]["customerId"] for p in applied}


async def test_coupons_need_their_scopes(tenant: Tenant) -> None:
    # given
    customer_id = await _customer(tenant)
    coupon = await _coupon(tenant)
    # when
    created = await tenant.gql(
        CREATE_COUPON,
        {"input": {"name": "X", "percentOff": "5"}},
        scopes=["catalog:read", "subscriptions:write"],
    )
    applied = await tenant.gql(
        APPLY_COUPON,
        {"input": {"couponId": coupon["id"], "customerId": customer_id}},
        scopes=["catalog:write", "catalog:read"],
    )
    listed = await tenant.gql(COUPONS, {"first": 1}, scopes=["catalog:write"])
    read = await tenant.gql(
        "query($id: ID!) { node(id: $id) { id } }", {"id": coupon["id"]}, scopes=["customers:read"]
    )
    # then
    assert created["data"] is None
    assert created["errors"][0]["extensions"] == {
        "code": "FORBIDDEN",
        "requiredScope": "catalog:write",
    }
    assert applied["data"] is None
    assert applied["errors"][0]["extensions"]["requiredScope"] == "subscriptions:write"
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert read["data"] == {"node": None}
    everything = await tenant.gql(COUPONS, {"first": 10})
    assert everything["data"]["coupons"]["totalCount"] == 1


async def test_another_accounts_coupon_reads_as_null(tenant: Tenant, other_tenant: Tenant) -> None:
    # given
    coupon = await _coupon(other_tenant)
    # when
    body = await tenant.gql(
        "query($id: ID!) { coupon(id: $id) { id } node(id: $id) { id } coupons { totalCount } }",
        {"id": coupon["id"]},
    )
    # then
    assert body["data"] == {"coupon": None, "node": None, "coupons": {"totalCount": 0}}
