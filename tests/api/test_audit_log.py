"""The audit log: every mutation that ran leaves one entry (who, what, when, outcome) in the
transaction of its writes, with no personal data in it; entries are never changed nor
deleted; `auditLog` lists them with filters, under `audit:read` only, within the tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from infra.repositories.audit import SqlAuditRepository
from tests.api.test_privacy import ATTACH, _customer, _history
from tests.conftest import Tenant

CREATE_CUSTOMER = """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code } }
}
"""
UPDATE_CUSTOMER = """
mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { id } userErrors { code } }
}
"""
AUDIT_LOG = """
query Audit($filter: AuditLogFilter, $first: Int, $after: String) {
  auditLog(filter: $filter, first: $first, after: $after) {
    totalCount
    edges { node {
      id occurredAt clientId subject operation operationName objectIds input outcome
      errorCodes requestId
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
PERSON = {
    "name": "Ada Lovelace",
    "email": "ada@lovelace.example",
    "currency": "EUR",
    "externalId": "crm-ada-1815",
    "address": {"country": "GB", "line1": "12 St James's Square", "city": "London"},
    "taxIds": [{"type": "GB_VAT", "value": "GB123456789"}],
    "metadata": {"nickname": "Enchantress of Numbers"},
}
SECRETS = [
    "Ada",
    "Lovelace",
    "ada@",
    "crm-ada",
    "James",
    "London",
    "GB123456789",
    "Enchantress",
    "nickname",
]


async def _entries(tenant: Tenant, **filter: Any) -> list[dict[str, Any]]:
    body = await tenant.gql(AUDIT_LOG, {"filter": filter or None, "first": 100})
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"]["auditLog"]["edges"]]


async def _create_customer(tenant: Tenant, **headers: str) -> str:
    body = await tenant.gql(CREATE_CUSTOMER, {"input": PERSON}, headers=headers)
    assert body["data"]["createCustomer"]["userErrors"] == [], body
    return str(body["data"]["createCustomer"]["customer"]["id"])


async def test_a_mutation_is_recorded_with_who_what_and_outcome_but_no_personal_data(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # when a customer is created with personal data
    customer_id = await _create_customer(tenant, **{"X-Request-Id": "req-42"})

    # then one entry tells who did what, when and how it ended
    [entry] = await _entries(tenant, objectId=customer_id)
    assert entry["id"].startswith("aud_")
    assert entry["clientId"] == "test-client" and entry["subject"] == "test-client"
    assert entry["operation"] == "createCustomer"
    assert entry["operationName"] == "CreateCustomer"
    assert entry["objectIds"] == [customer_id]
    assert entry["outcome"] == "OK" and entry["errorCodes"] == []
    assert entry["requestId"] == "req-42"
    occurred = datetime.fromisoformat(entry["occurredAt"])
    assert abs(occurred - datetime.now(UTC)) < timedelta(minutes=1)
    # and the input's shape is kept, its personal data is not
    assert entry["input"] == {
        "input": {
            "name": "[redacted]",
            "email": "[redacted]",
            "currency": "EUR",
            "externalId": "[redacted]",
            "address": "[redacted]",
            "taxIds": "[redacted]",
            "metadata": "[redacted]",
            "taxExempt": "NONE",
            "preferredLocale": "en",
            "netTermsDays": 30,
        }
    }
    stored = await admin.fetchval(
        "select row_to_json(a)::text from audit_log a where tenant_id = $1", tenant.id
    )
    assert stored is not None
    assert not [secret for secret in SECRETS if secret in stored]


async def test_a_refused_mutation_is_recorded_with_its_user_error_codes(tenant: Tenant) -> None:
    # when a mutation is refused
    body = await tenant.gql(UPDATE_CUSTOMER, {"input": {"id": "cus_missing", "name": "X"}})
    assert body["data"]["updateCustomer"]["userErrors"] == [{"code": "NOT_FOUND"}]

    # then its entry says so, and names the id it was asked about
    [entry] = await _entries(tenant, outcomes=["USER_ERRORS"])
    assert entry["operation"] == "updateCustomer"
    assert entry["errorCodes"] == ["NOT_FOUND"]
    assert entry["objectIds"] == ["cus_missing"]
    assert entry["input"] == {"input": {"id": "cus_missing", "name": "[redacted]"}}


async def test_the_log_is_filtered_by_operation_client_time_and_object(tenant: Tenant) -> None:
    # given mutations by two clients
    first = await _create_customer(tenant)
    other_token = tenant.app.state.issuer.issue(
        client_id="cli_other", tenant_id=tenant.id, scopes=["customers:write"]
    ).access_token
    response = await tenant.client.post(
        "/graphql",
        json={"query": UPDATE_CUSTOMER, "variables": {"input": {"id": first, "name": "B"}}},
        headers={"Authorization": f"Bearer {other_token}"},
    )
    assert response.status_code == 200, response.text
    after_both = datetime.now(UTC) + timedelta(seconds=1)

    # then each filter narrows the log
    assert [e["operation"] for e in await _entries(tenant)] == ["updateCustomer", "createCustomer"]
    by_operation = await _entries(tenant, operations=["createCustomer"])
    assert [e["operation"] for e in by_operation] == ["createCustomer"]
    assert [e["clientId"] for e in await _entries(tenant, clientId="cli_other")] == ["cli_other"]
    assert len(await _entries(tenant, objectId=first)) == 2
    assert await _entries(tenant, objectId="cus_nothing") == []
    assert await _entries(tenant, occurredAfter=after_both.isoformat()) == []
    assert len(await _entries(tenant, occurredBefore=after_both.isoformat())) == 2


async def test_reading_the_log_needs_audit_read_and_shows_only_the_tenants_entries(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    # given an entry in the tenant
    await _create_customer(tenant)

    # when a token without audit:read asks for the log
    response = await tenant.post(AUDIT_LOG, scopes=["customers:read", "customers:write"])

    # then it is refused, as any field a token's scopes do not allow
    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN", "requiredScope": "audit:read"}
    assert response.json()["data"] is None
    # and another tenant sees none of it
    assert await _entries(other_tenant) == []
    assert len(await _entries(tenant)) == 1


async def test_entries_are_never_changed_nor_deleted(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given an entry
    await _create_customer(tenant)

    # when the application's role tries to change or delete it: refused
    async with admin.transaction():
        await admin.execute("set local role ledgerline_app")
        await admin.execute("select set_config('app.tenant_id', $1, true)", tenant.id)
        assert await admin.fetchval("select count(*) from audit_log") == 1
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await admin.execute("update audit_log set outcome = 'ERROR', error_codes = '{X}'")
    async with admin.transaction():
        await admin.execute("set local role ledgerline_app")
        await admin.execute("select set_config('app.tenant_id', $1, true)", tenant.id)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await admin.execute("delete from audit_log")
    # and even the tables' owner is refused by the trigger
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):
        await admin.execute("delete from audit_log where tenant_id = $1", tenant.id)
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):
        await admin.execute(
            "update audit_log set client_id = 'forged' where tenant_id = $1", tenant.id
        )
    assert (
        await admin.fetchval(
            "select count(*) from audit_log where tenant_id = $1 and client_id = 'test-client'",
            tenant.id,
        )
        == 1
    )


async def test_a_replayed_mutation_adds_no_entry(tenant: Tenant) -> None:
    # when a mutation is sent twice with one Idempotency-Key
    for _ in range(2):
        await tenant.gql(CREATE_CUSTOMER, {"input": PERSON}, headers={"Idempotency-Key": "k-1"})
    # then it ran, and was recorded, once
    assert len(await _entries(tenant, operations=["createCustomer"])) == 1


async def test_a_mutation_whose_entry_cannot_be_written_writes_nothing(
    tenant: Tenant, admin: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an audit log that fails
    async def failing(*_: Any) -> None:
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(SqlAuditRepository, "add", failing)

    # when a customer is created
    response = await tenant.post(CREATE_CUSTOMER, {"input": PERSON})

    # then the request fails, and the customer was not kept
    assert response.status_code == 500, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    count = await admin.fetchval("select count(*) from customers where tenant_id = $1", tenant.id)
    assert count == 0


PAY_INVOICE = """
mutation Pay($input: PayInvoiceInput!) {
  payInvoice(input: $input) { payment { id status declineCode } userErrors { code } }
}
"""


async def test_a_payment_which_commits_on_its_own_is_recorded_as_answered(
    tenant: Tenant,
) -> None:
    # given an issued invoice of a customer whose card is declined
    customer_id = await _customer(tenant)
    invoice_id = await _history(tenant, customer_id)
    body = await tenant.gql(
        ATTACH,
        {"input": {"customerId": customer_id, "providerToken": "tok_card_declined"}},
    )
    method_id = body["data"]["attachPaymentMethod"]["paymentMethod"]["id"]

    # when the invoice is paid with it
    pay = {"invoiceId": invoice_id, "paymentMethodId": method_id}
    body = await tenant.gql(PAY_INVOICE, {"input": pay})
    payment = body["data"]["payInvoice"]["payment"]
    assert payment["status"] == "FAILED", body

    # then the entry names the invoice, the method and the failed payment: the answer given
    [entry] = await _entries(tenant, operations=["payInvoice"])
    assert entry["outcome"] == "OK"
    assert entry["objectIds"] == [invoice_id, method_id, payment["id"]]
    assert entry["input"] == {
        "input": {"invoiceId": invoice_id, "paymentMethodId": method_id, "amount": None}
    }


async def test_a_long_operation_name_is_kept_cut_and_the_mutation_is_not_refused(
    tenant: Tenant,
) -> None:
    # given an operation named with 300 characters
    name = "Op" + "x" * 298
    document = CREATE_CUSTOMER.replace("CreateCustomer(", f"{name}(", 1)
    # when it runs
    body = await tenant.gql(document, {"input": PERSON})
    # then the customer is created and the entry keeps the name's first 200 characters
    assert body["data"]["createCustomer"]["userErrors"] == [], body
    [entry] = await _entries(tenant)
    assert entry["operationName"] == name[:200]
