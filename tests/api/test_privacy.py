"""Personal data: `eraseCustomerData` replaces a customer's personal data wherever it is
held, keeps amounts and the bill-to of issued invoices, refuses another tenant's customer
and one still billed; `customerDataExport` answers everything held about one customer.
Both are audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.conftest import Tenant

CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code } }
}
"""
CREATE_METRIC = """
mutation($input: CreateBillableMetricInput!) {
  createBillableMetric(input: $input) { billableMetric { code } userErrors { code } }
}
"""
RECORD_USAGE = """
mutation($input: RecordUsageInput!) {
  recordUsage(input: $input) { accepted userErrors { code } }
}
"""
CREATE_INVOICE = """
mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { invoice { id } } }
"""
ADD_LINE = """
mutation($input: AddInvoiceLineInput!) {
  addInvoiceLine(input: $input) { invoice { id } userErrors { code } }
}
"""
FINALIZE = """
mutation($id: ID!) {
  finalizeInvoice(input: {id: $id}) { invoice { id number } userErrors { code } }
}
"""
ATTACH = """
mutation($input: AttachPaymentMethodInput!) {
  attachPaymentMethod(input: $input) { paymentMethod { id } userErrors { code } }
}
"""
CREATE_PLAN = """
mutation($input: CreatePlanInput!) { createPlan(input: $input) { plan { id } } }
"""
CREATE_SUBSCRIPTION = """
mutation($input: CreateSubscriptionInput!) {
  createSubscription(input: $input) { subscription { id } userErrors { code } }
}
"""
ERASE = """
mutation Erase($id: ID!) {
  eraseCustomerData(input: {customerId: $id}) {
    customer { id name email externalId address { country } taxIds { value } metadata archived }
    userErrors { code field }
  }
}
"""
EXPORT = "query Export($id: ID!) { customerDataExport(customerId: $id) }"
AUDIT = """
query($id: ID!) {
  auditLog(filter: {objectId: $id}, first: 50) { edges { node { operation outcome errorCodes } } }
}
"""
PERSON = {
    "name": "Grace Hopper",
    "email": "grace@hopper.example",
    "currency": "USD",
    "externalId": "crm-grace",
    "address": {"country": "US", "line1": "1 Compiler Way", "city": "Arlington"},
    "taxIds": [{"type": "US_EIN", "value": "12-3456789"}],
    "metadata": {"rank": "Rear Admiral"},
}
PERSONAL = ["Grace", "Hopper", "grace@", "crm-grace", "Compiler", "Arlington", "3456789", "Admiral"]


async def _customer(tenant: Tenant) -> str:
    body = await tenant.gql(CREATE_CUSTOMER, {"input": PERSON})
    assert body["data"]["createCustomer"]["userErrors"] == [], body
    return str(body["data"]["createCustomer"]["customer"]["id"])


async def _history(tenant: Tenant, customer_id: str) -> str:
    """Usage with a billing dimension and a personal property, a card, and an issued
    invoice; the invoice's id."""
    metric = {"code": "calls", "name": "Calls", "aggregation": "COUNT"}
    body = await tenant.gql(CREATE_METRIC, {"input": {**metric, "filters": {"region": ["eu"]}}})
    assert body["data"]["createBillableMetric"]["userErrors"] == [], body
    event = {
        "idempotencyKey": "call-1",
        "customerId": customer_id,
        "metricCode": "calls",
        "timestamp": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "properties": {"region": "eu", "caller": "grace@hopper.example"},
    }
    body = await tenant.gql(RECORD_USAGE, {"input": {"events": [event]}})
    assert body["data"]["recordUsage"]["accepted"] == 1, body
    attach = {"customerId": customer_id, "providerToken": "tok_visa"}
    body = await tenant.gql(ATTACH, {"input": attach})
    assert body["data"]["attachPaymentMethod"]["userErrors"] == [], body
    body = await tenant.gql(CREATE_INVOICE, {"input": {"customerId": customer_id}})
    invoice_id = str(body["data"]["createInvoice"]["invoice"]["id"])
    line = {"invoiceId": invoice_id, "description": "Consulting", "unitAmount": "100"}
    body = await tenant.gql(ADD_LINE, {"input": line})
    assert body["data"]["addInvoiceLine"]["userErrors"] == [], body
    body = await tenant.gql(FINALIZE, {"id": invoice_id})
    assert body["data"]["finalizeInvoice"]["userErrors"] == [], body
    return invoice_id


async def _held(admin: asyncpg.Connection, tenant: Tenant, customer_id: str) -> str:
    """What the rows erasure rewrites hold about the customer, as text."""
    rows = await admin.fetch(
        """
        select row_to_json(c)::text from customers c where tenant_id = $1 and id = $2
        union all select data::text from events where tenant_id = $1 and object_id = $2
        union all select properties::text from usage_events
            where tenant_id = $1 and customer_id = $2
        union all select string_agg(trigram, '') from customer_search_trigrams
            where tenant_id = $1 and customer_id = $2
        """,
        tenant.id,
        customer_id,
    )
    return "\n".join(row[0] or "" for row in rows)


async def test_erasure_replaces_personal_data_and_keeps_what_tax_law_requires(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a customer with personal data, usage, a card and an issued invoice
    customer_id = await _customer(tenant)
    invoice_id = await _history(tenant, customer_id)
    assert "Grace Hopper" in await _held(admin, tenant, customer_id)

    # when its data is erased
    body = await tenant.gql(ERASE, {"id": customer_id})

    # then the answer shows the customer without personal data, archived
    payload = body["data"]["eraseCustomerData"]
    assert payload["userErrors"] == []
    assert payload["customer"] == {
        "id": customer_id,
        "name": "[erased]",
        "email": None,
        "externalId": None,
        "address": None,
        "taxIds": [],
        "metadata": {},
        "archived": True,
    }
    # and no row erasure rewrites holds any of it (the customer, its events, its usage, the
    # search index), while usage keeps its billing dimension and its count
    held = await _held(admin, tenant, customer_id)
    assert [item for item in PERSONAL if item.lower() in held.lower()] == []
    properties = await admin.fetchval(
        "select properties::text from usage_events where tenant_id = $1 and customer_id = $2",
        tenant.id,
        customer_id,
    )
    assert properties == '{"region": "eu"}'
    # and the issued invoice keeps its amounts and the bill-to it was issued with
    invoice = await admin.fetchrow(
        "select total, customer_snapshot->>'name' as name from invoices"
        " where tenant_id = $1 and id = $2",
        tenant.id,
        invoice_id,
    )
    assert invoice is not None and (invoice["total"], invoice["name"]) == (10000, "Grace Hopper")
    # and the erasure is in the audit log
    audit = await tenant.gql(AUDIT, {"id": customer_id})
    operations = [e["node"] for e in audit["data"]["auditLog"]["edges"]]
    assert operations[0] == {"operation": "eraseCustomerData", "outcome": "OK", "errorCodes": []}


async def test_erasing_another_tenants_customer_is_not_found_and_changes_nothing(
    tenant: Tenant, other_tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a customer of another tenant
    theirs = await _customer(other_tenant)
    # when this tenant asks to erase it, or an id that never existed
    for customer_id in (theirs, "cus_nothing", "not-an-id"):
        body = await tenant.gql(ERASE, {"id": customer_id})
        # then it is not found, as any unknown id
        assert body["data"]["eraseCustomerData"] == {
            "customer": None,
            "userErrors": [{"code": "NOT_FOUND", "field": ["input", "customerId"]}],
        }
    # and the customer is as it was
    assert "Grace Hopper" in await _held(admin, other_tenant, theirs)


async def test_a_customer_still_billed_is_not_erased(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a customer with a live subscription
    customer_id = await _customer(tenant)
    plan = {
        "code": "basic",
        "name": "Basic",
        "interval": "MONTH",
        "prices": [{"model": "FLAT_FEE", "currency": "USD", "amount": "9.00"}],
    }
    body = await tenant.gql(CREATE_PLAN, {"input": plan})
    plan_id = body["data"]["createPlan"]["plan"]["id"]
    subscribe = {"customerId": customer_id, "planId": plan_id}
    body = await tenant.gql(CREATE_SUBSCRIPTION, {"input": subscribe})
    assert body["data"]["createSubscription"]["userErrors"] == [], body
    # when its data is to be erased
    body = await tenant.gql(ERASE, {"id": customer_id})
    # then it is refused until the subscription is canceled, and nothing changed
    assert body["data"]["eraseCustomerData"]["userErrors"] == [
        {"code": "IN_USE", "field": ["input", "customerId"]}
    ]
    assert "Grace Hopper" in await _held(admin, tenant, customer_id)


async def test_the_export_holds_everything_about_the_customer_and_no_provider_token(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    # given a customer with a history
    customer_id = await _customer(tenant)
    invoice_id = await _history(tenant, customer_id)

    # when its data is exported with customers:read only
    body = await tenant.gql(EXPORT, {"id": customer_id}, scopes=["customers:read"])

    # then the document holds the customer and all about it
    assert "errors" not in body, body
    export: dict[str, Any] = body["data"]["customerDataExport"]
    assert export["customer"]["email"] == "grace@hopper.example"
    assert export["customer"]["address"]["city"] == "Arlington"
    [card] = export["payment_methods"]
    assert (card["brand"], card["last4"]) == ("visa", "4242")
    assert "provider_reference" not in card and "fingerprint" not in card
    assert "tok_visa" not in str(export)
    [invoice] = export["invoices"]
    assert invoice["id"] == invoice_id and invoice["total"] == 10000
    assert [line["description"] for line in invoice["lines"]] == ["Consulting"]
    assert invoice["lines"][0]["quantity"] == "1"
    [usage] = export["usage_events"]
    assert usage["properties"] == {"region": "eu", "caller": "grace@hopper.example"}
    types = {event["type"] for event in export["events"]}
    assert {"customer.created", "invoice.created", "invoice.finalized"} <= types
    assert export["subscriptions"] == [] and export["payments"] == []
    # and another tenant gets nothing
    body = await other_tenant.gql(EXPORT, {"id": customer_id})
    assert body["data"] == {"customerDataExport": None}
    # and the export is in the audit log
    audit = await tenant.gql(AUDIT, {"id": customer_id})
    latest = audit["data"]["auditLog"]["edges"][0]["node"]
    assert latest == {"operation": "customerDataExport", "outcome": "OK", "errorCodes": []}


async def test_exporting_needs_customers_read(tenant: Tenant) -> None:
    customer_id = await _customer(tenant)
    response = await tenant.post(EXPORT, {"id": customer_id}, scopes=["invoices:read"])
    assert response.status_code == 200, response.text
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN", "requiredScope": "customers:read"}
    assert response.json()["data"] == {"customerDataExport": None}
