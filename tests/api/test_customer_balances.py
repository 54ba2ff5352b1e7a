"""Customer balances through the real app: adjustments, the ledger behind the balance,
and bad input written nowhere."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.api.billing_documents import CREATE_CUSTOMER
from tests.api.credit_documents import adjust, balance_of, customer
from tests.conftest import Tenant

ARCHIVE = """
mutation($input: ArchiveCustomerInput!) { archiveCustomer(input: $input) { userErrors { code } } }
"""


async def _ledger(admin: asyncpg.Connection, tenant: Tenant) -> int:
    return int(
        await admin.fetchval(
            "select count(*) from customer_balance_transactions where tenant_id = $1", tenant.id
        )
    )


async def test_adjustments_credit_and_take_back_and_the_balance_is_their_sum(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a EUR customer
    customer_id = await customer(tenant, "EUR")
    # when 25.00 is credited, then 10.00 taken back
    credited = await adjust(tenant, customer_id, "-25.00", "Goodwill for the outage")
    taken = await adjust(tenant, customer_id, "10", "Goodwill corrected")
    # then each is a transaction in the customer's currency, with the balance it left
    assert credited["userErrors"] == [] and taken["userErrors"] == []
    first = credited["balanceTransaction"]
    assert first["kind"] == "ADJUSTMENT"
    assert first["amount"] == {"amount": "-25.00", "currency": "EUR"}
    assert first["endingBalance"] == {"amount": "-25.00"}
    assert first["description"] == "Goodwill for the outage"
    assert taken["balanceTransaction"]["customer"]["balance"] == {"amount": "-15.00"}
    held = await balance_of(tenant, customer_id)
    assert held["balance"] == {"amount": "-15.00", "currency": "EUR"}
    assert [t["amount"]["amount"] for t in held["balanceTransactions"]] == ["10.00", "-25.00"]
    # and the stored balance is the sum of the ledger
    stored = await admin.fetchrow(
        "select balance, (select sum(amount) from customer_balance_transactions t"
        " where t.tenant_id = c.tenant_id and t.customer_id = c.id) as ledger"
        " from customers c where tenant_id = $1 and id = $2",
        tenant.id,
        customer_id,
    )
    assert stored["balance"] == stored["ledger"] == -1500


BAD_ADJUSTMENTS: dict[str, tuple[dict[str, Any], str, list[str]]] = {
    "zero": ({"amount": "0"}, "INVALID", ["input", "amount"]),
    "finer than cents": ({"amount": "-1.001"}, "INVALID", ["input", "amount"]),
    "no description": ({"description": "  "}, "INVALID", ["input", "description"]),
    "a description too long": ({"description": "x" * 501}, "INVALID", ["input", "description"]),
    "more credit taken than held": (
        {"amount": "5.01"},
        "BALANCE_INSUFFICIENT",
        ["input", "amount"],
    ),
    "an unknown customer": (
        {"customerId": "cus_000000000000000000000000"},
        "NOT_FOUND",
        ["input", "customerId"],
    ),
    "not a customer id": (
        {"customerId": "inv_000000000000000000000000"},
        "NOT_FOUND",
        ["input", "customerId"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_ADJUSTMENTS))
async def test_a_bad_adjustment_is_refused_and_nothing_is_written(
    tenant: Tenant, admin: asyncpg.Connection, case: str
) -> None:
    # given a customer holding 5.00 of credit
    customer_id = await customer(tenant)
    assert (await adjust(tenant, customer_id, "-5.00"))["userErrors"] == []
    given, code, field = BAD_ADJUSTMENTS[case]
    variables = {"customerId": customer_id, "amount": "-1.00", "description": "Why", **given}
    # when
    body = await tenant.gql(
        "mutation($input: AdjustCustomerBalanceInput!) { adjustCustomerBalance(input: $input)"
        " { balanceTransaction { id } userErrors { code field } } }",
        {"input": variables},
    )
    # then
    payload = body["data"]["adjustCustomerBalance"]
    assert payload["balanceTransaction"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    assert await _ledger(admin, tenant) == 1
    assert (await balance_of(tenant, customer_id))["balance"]["amount"] == "-5.00"


async def test_foreign_and_archived_customers_are_not_adjusted(
    tenant: Tenant, other_tenant: Tenant, admin: asyncpg.Connection
) -> None:
    theirs = await customer(other_tenant)
    assert [e["code"] for e in (await adjust(tenant, theirs, "-1.00"))["userErrors"]] == [
        "NOT_FOUND"
    ]
    archived = await customer(tenant)
    await tenant.gql(ARCHIVE, {"input": {"id": archived}})
    assert [e["code"] for e in (await adjust(tenant, archived, "-1.00"))["userErrors"]] == [
        "ARCHIVED"
    ]
    assert await _ledger(admin, tenant) == await _ledger(admin, other_tenant) == 0


async def test_a_new_customer_has_no_transactions(tenant: Tenant) -> None:
    body = await tenant.gql(CREATE_CUSTOMER, {"input": {"name": "New", "currency": "JPY"}})
    customer_id = body["data"]["createCustomer"]["customer"]["id"]
    held = await balance_of(tenant, customer_id)
    assert held["balance"] == {"amount": "0", "currency": "JPY"}
    assert held["balanceTransactions"] == []
