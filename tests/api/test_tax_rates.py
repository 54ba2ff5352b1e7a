"""Tax rates through the API: created, listed with filters, read as nodes; bad input
refused with its field and nothing written; scopes and tenants."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.conftest import Tenant

RATE_FIELDS = "id displayName description percentage inclusive country region active createdAt"
CREATE_TAX_RATE = f"""
mutation CreateTaxRate($input: CreateTaxRateInput!) {{
  createTaxRate(input: $input) {{ taxRate {{ {RATE_FIELDS} }} userErrors {{ code field message }} }}
}}
"""
TAX_RATES = """
query TaxRates($first: Int, $after: String, $filter: TaxRateFilter, $orderBy: TaxRateOrder) {
  taxRates(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount edges { node { id displayName country region active } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def _create(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    rate = {"displayName": "VAT", "percentage": "19", "inclusive": True, "country": "DE"}
    body = await tenant.gql(CREATE_TAX_RATE, {"input": {**rate, **fields}})
    payload: dict[str, Any] = body["data"]["createTaxRate"]
    return payload


async def _rate(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    payload = await _create(tenant, **fields)
    assert payload["userErrors"] == [], payload
    rate: dict[str, Any] = payload["taxRate"]
    return rate


def _names(body: dict[str, Any]) -> list[str]:
    return [e["node"]["displayName"] for e in body["data"]["taxRates"]["edges"]]


async def test_a_tax_rate_is_created_normalised_and_read_as_a_node(tenant: Tenant) -> None:
    # when
    rate = await _rate(
        tenant,
        displayName="  Sales tax ",
        percentage="8.875",
        inclusive=False,
        country="us",
        region="ny",
        description="New York City",
    )
    # then
    assert rate["id"].startswith("txr_")
    assert {k: v for k, v in rate.items() if k not in ("id", "createdAt")} == {
        "displayName": "Sales tax",
        "description": "New York City",
        "percentage": "8.875",
        "inclusive": False,
        "country": "US",
        "region": "NY",
        "active": True,
    }
    node = await tenant.gql(
        f"query($id: ID!) {{ node(id: $id) {{ ... on TaxRate {{ {RATE_FIELDS} }} }} }}",
        {"id": rate["id"]},
    )
    assert node["data"]["node"] == rate


async def test_tax_rates_are_listed_newest_first_and_filtered_by_country_and_active(
    tenant: Tenant,
) -> None:
    # given
    await _rate(tenant, displayName="DE VAT")
    await _rate(tenant, displayName="DE reduced", percentage="7", active=False)
    await _rate(tenant, displayName="FR TVA", percentage="20", country="FR")
    # when
    every = await tenant.gql(TAX_RATES, {"first": 10})
    german = await tenant.gql(TAX_RATES, {"filter": {"country": "de"}})
    active_german = await tenant.gql(TAX_RATES, {"filter": {"country": "DE", "active": True}})
    inactive = await tenant.gql(TAX_RATES, {"filter": {"active": False}})
    oldest_first = await tenant.gql(TAX_RATES, {"orderBy": {"direction": "ASC"}, "first": 2})
    # then
    assert _names(every) == ["FR TVA", "DE reduced", "DE VAT"]
    assert every["data"]["taxRates"]["totalCount"] == 3
    assert _names(german) == ["DE reduced", "DE VAT"]
    assert german["data"]["taxRates"]["totalCount"] == 2
    assert _names(active_german) == ["DE VAT"]
    assert _names(inactive) == ["DE reduced"]
    assert _names(oldest_first) == ["DE VAT", "DE reduced"]
    page = oldest_first["data"]["taxRates"]["pageInfo"]
    rest = await tenant.gql(
        TAX_RATES, {"orderBy": {"direction": "ASC"}, "after": page["endCursor"]}
    )
    assert page["hasNextPage"] and _names(rest) == ["FR TVA"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"displayName": " "}, ("REQUIRED", ["input", "displayName"])),
        ({"displayName": "x" * 101}, ("TOO_LONG", ["input", "displayName"])),
        ({"percentage": "-1"}, ("INVALID", ["input", "percentage"])),
        ({"percentage": "100.01"}, ("INVALID", ["input", "percentage"])),
        ({"percentage": "7.12345"}, ("INVALID", ["input", "percentage"])),
        ({"country": "XX"}, ("INVALID_COUNTRY", ["input", "country"])),
        ({"country": "Germany"}, ("INVALID_COUNTRY", ["input", "country"])),
        ({"region": "r" * 65}, ("TOO_LONG", ["input", "region"])),
        ({"description": "d" * 501}, ("TOO_LONG", ["input", "description"])),
    ],
)
async def test_a_bad_tax_rate_is_refused_with_its_field_and_nothing_is_written(
    tenant: Tenant, admin: asyncpg.Connection, fields: dict[str, Any], expected: tuple[str, Any]
) -> None:
    # when
    payload = await _create(tenant, **fields)
    # then
    assert payload["taxRate"] is None
    assert expected in [(e["code"], e["field"]) for e in payload["userErrors"]], payload
    count = await admin.fetchval("select count(*) from tax_rates where tenant_id = $1", tenant.id)
    assert count == 0


async def test_a_zero_rate_is_a_rate(tenant: Tenant) -> None:
    # zero-rated goods are taxed at 0 %, which invoices show
    rate = await _rate(tenant, displayName="Zero-rated", percentage="0")
    assert rate["percentage"] == "0"


async def test_tax_rates_need_the_catalog_scopes(tenant: Tenant, admin: asyncpg.Connection) -> None:
    # given
    rate = await _rate(tenant)
    # when
    created = await tenant.gql(
        CREATE_TAX_RATE,
        {"input": {"displayName": "VAT", "percentage": "20", "inclusive": True, "country": "FR"}},
        scopes=["catalog:read", "customers:write"],
    )
    listed = await tenant.gql(TAX_RATES, {"first": 1}, scopes=["catalog:write"])
    read = await tenant.gql(
        "query($id: ID!) { node(id: $id) { id } }", {"id": rate["id"]}, scopes=["customers:read"]
    )
    # then
    assert created["data"] is None
    assert created["errors"][0]["extensions"] == {
        "code": "FORBIDDEN",
        "requiredScope": "catalog:write",
    }
    assert listed["errors"][0]["extensions"]["requiredScope"] == "catalog:read"
    assert read["data"] == {"node": None}
    count = await admin.fetchval("select count(*) from tax_rates where tenant_id = $1", tenant.id)
    assert count == 1


async def test_another_accounts_tax_rate_reads_as_null(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    # given
    rate = await _rate(other_tenant)
    # when
    body = await tenant.gql(
        "query($id: ID!) { node(id: $id) { id } taxRates { totalCount } }", {"id": rate["id"]}
    )
    # then
    assert body["data"] == {"node": None, "taxRates": {"totalCount": 0}}
