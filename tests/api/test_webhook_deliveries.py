"""Webhook deliveries through the API without a worker: a new endpoint is ENABLED with no
deliveries; enabling and retrying refuse unknown and foreign ids with nothing written; a
token without webhooks:manage is refused. (Delivery itself: tests/integration/
test_webhook_delivery.py and tests/e2e/test_webhook_workers.py.)"""

from __future__ import annotations

import asyncpg

from tests.conftest import Tenant

CREATE = """
mutation {
  createWebhookEndpoint(input: {url: "https://hooks.example.com/x", events: ["*"]}) {
    webhookEndpoint { id status disabledAt disabledReason deliveries { id } }
    userErrors { code }
  }
}
"""
ENABLE = """
mutation($id: ID!) {
  enableWebhookEndpoint(input: {id: $id}) {
    webhookEndpoint { id status } userErrors { code field }
  }
}
"""
RETRY = """
mutation($id: ID!) {
  retryWebhookDelivery(input: {deliveryId: $id}) {
    webhookDelivery { id } userErrors { code field }
  }
}
"""


async def _endpoint(tenant: Tenant) -> dict[str, object]:
    body = await tenant.gql(CREATE)
    payload = body["data"]["createWebhookEndpoint"]
    assert payload["userErrors"] == []
    endpoint: dict[str, object] = payload["webhookEndpoint"]
    return endpoint


async def test_a_new_endpoint_is_enabled_and_has_no_deliveries(tenant: Tenant) -> None:
    endpoint = await _endpoint(tenant)
    assert endpoint["status"] == "ENABLED"
    assert endpoint["disabledAt"] is None and endpoint["disabledReason"] is None
    assert endpoint["deliveries"] == []


async def test_enabling_an_enabled_endpoint_changes_nothing(tenant: Tenant) -> None:
    endpoint = await _endpoint(tenant)
    payload = (await tenant.gql(ENABLE, {"id": endpoint["id"]}))["data"]["enableWebhookEndpoint"]
    assert payload == {
        "webhookEndpoint": {"id": endpoint["id"], "status": "ENABLED"},
        "userErrors": [],
    }


async def test_unknown_and_foreign_ids_are_not_found_and_nothing_is_written(
    tenant: Tenant, other_tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given another account's endpoint
    foreign = await _endpoint(other_tenant)
    before = await admin.fetchval("select count(*) from webhook_deliveries")
    for endpoint_id in (foreign["id"], "we_unknown000000000000000", "cus_notanendpoint000000"):
        # when this account enables it
        body = await tenant.gql(ENABLE, {"id": endpoint_id})
        # then it is not found
        assert body["data"]["enableWebhookEndpoint"] == {
            "webhookEndpoint": None,
            "userErrors": [{"code": "NOT_FOUND", "field": ["input", "id"]}],
        }
    for delivery_id in ("whd_unknown00000000000000", "not-an-id", str(foreign["id"])):
        body = await tenant.gql(RETRY, {"id": delivery_id})
        assert body["data"]["retryWebhookDelivery"] == {
            "webhookDelivery": None,
            "userErrors": [{"code": "NOT_FOUND", "field": ["input", "deliveryId"]}],
        }
    assert await admin.fetchval("select count(*) from webhook_deliveries") == before


async def test_without_webhooks_manage_both_mutations_are_forbidden(tenant: Tenant) -> None:
    endpoint = await _endpoint(tenant)
    for document, variables in ((ENABLE, {"id": endpoint["id"]}), (RETRY, {"id": "whd_x"})):
        body = await tenant.gql(document, variables, scopes=["customers:read"])
        assert body["data"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
