"""Webhook endpoints through the API: the signing secret is answered once (create, rotate)
and never again, never logged and never stored in clear; rotation keeps the old secret
signing for a day; delete, list, scopes, tenants; bad URLs and event types refused with
nothing written, and in production non-https or non-public destinations too."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from standardwebhooks import Webhook

from domain.webhooks import SECRET_PREFIX
from infra.app import create_app
from infra.secret_box import SecretBox
from infra.settings import Settings
from infra.uow import SqlUnitOfWork
from infra.webhooks.signing import sign
from tests.conftest import TEST_SECRET_KEY, Tenant, TestDatabase, make_tenant

ENDPOINT_FIELDS = "id url events description createdAt previousSecretExpiresAt"
CREATE = f"""
mutation Create($input: CreateWebhookEndpointInput!) {{
  createWebhookEndpoint(input: $input) {{
    webhookEndpoint {{ {ENDPOINT_FIELDS} }} secret userErrors {{ code field message }}
  }}
}}
"""
ROTATE = f"""
mutation Rotate($id: ID!) {{
  rotateWebhookSecret(input: {{id: $id}}) {{
    webhookEndpoint {{ {ENDPOINT_FIELDS} }} secret userErrors {{ code field message }}
  }}
}}
"""
DELETE = """
mutation Delete($id: ID!) {
  deleteWebhookEndpoint(input: {id: $id}) { deletedWebhookEndpointId userErrors { code field } }
}
"""
READ = f"""
query Read($id: ID!) {{
  webhookEndpoint(id: $id) {{ {ENDPOINT_FIELDS} }}
  node(id: $id) {{ id ... on WebhookEndpoint {{ url events }} }}
  webhookEndpoints(first: 10) {{ totalCount edges {{ node {{ {ENDPOINT_FIELDS} }} }} }}
}}
"""
LIST = """
query List($first: Int, $after: String) {
  webhookEndpoints(first: $first, after: $after) {
    totalCount edges { node { id description } } pageInfo { hasNextPage endCursor }
  }
}
"""
BODY = b'{"type":"invoice.finalized"}'


async def _create(tenant: Tenant, **fields: Any) -> dict[str, Any]:
    endpoint = {"url": "https://hooks.example.com/ledgerline", "events": ["invoice.finalized"]}
    body = await tenant.gql(CREATE, {"input": {**endpoint, **fields}})
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createWebhookEndpoint"]
    return payload


async def _endpoint(tenant: Tenant, **fields: Any) -> tuple[dict[str, Any], str]:
    payload = await _create(tenant, **fields)
    assert payload["userErrors"] == [], payload
    return payload["webhookEndpoint"], payload["secret"]


def _errors(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


async def _count(admin: asyncpg.Connection, tenant: Tenant) -> int:
    count: int = await admin.fetchval(
        "select count(*) from webhook_endpoints where tenant_id = $1", tenant.id
    )
    return count


def _stored_forms(secret: str) -> list[bytes]:
    """What a secret in clear would look like in a column: as text, its base64, its bytes."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    return [secret.encode(), encoded.encode(), base64.b64decode(encoded)]


async def _signing_secrets(app: Any, tenant: Tenant, endpoint_id: str, now: datetime) -> Any:
    uow = SqlUnitOfWork.owning(app.state.engine, tenant.id, secret_box=SecretBox(TEST_SECRET_KEY))
    async with uow:
        found = await uow.webhook_endpoints.signing_secrets(endpoint_id, now)
        await uow.commit()
    return found


async def test_create_answers_the_secret_once_and_reading_never_shows_it(
    tenant: Tenant, app: Any
) -> None:
    # when
    endpoint, secret = await _endpoint(
        tenant, events=["invoice.finalized", "customer.created"], description="Accounting"
    )
    # then the endpoint is as asked, and the secret is a Standard Webhooks secret
    assert endpoint["id"].startswith("we_")
    assert endpoint["url"] == "https://hooks.example.com/ledgerline"
    assert endpoint["events"] == ["invoice.finalized", "customer.created"]
    assert endpoint["description"] == "Accounting"
    assert endpoint["previousSecretExpiresAt"] is None
    assert secret.startswith(SECRET_PREFIX)
    # and reading the endpoint back in every way shows it without any secret
    response = await tenant.post(READ, {"id": endpoint["id"]})
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    data = response.json()["data"]
    assert data["webhookEndpoint"] == endpoint
    assert data["node"] == {
        "id": endpoint["id"],
        "url": endpoint["url"],
        "events": endpoint["events"],
    }
    assert [e["node"] for e in data["webhookEndpoints"]["edges"]] == [endpoint]
    assert secret.removeprefix(SECRET_PREFIX) not in response.text
    # and the secret answered is the one deliveries are signed with
    secrets = await _signing_secrets(app, tenant, endpoint["id"], datetime.now(UTC))
    assert (secrets.current, secrets.previous) == (secret, None)


async def test_the_secret_is_never_logged_nor_stored_in_clear_even_for_idempotent_replay(
    tenant: Tenant, admin: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    # given every SQL statement and its parameters logged
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    variables = {"input": {"url": "https://hooks.example.com/in", "events": ["*"]}}
    headers = {"Idempotency-Key": "webhook-secret-once"}
    # when an endpoint is created and its secret rotated, with an Idempotency-Key
    first = await tenant.post(CREATE, variables, headers=headers)
    payload = first.json()["data"]["createWebhookEndpoint"]
    endpoint_id, secret = payload["webhookEndpoint"]["id"], payload["secret"]
    rotated = await tenant.gql(ROTATE, {"id": endpoint_id})
    new_secret = rotated["data"]["rotateWebhookSecret"]["secret"]
    replay = await tenant.post(CREATE, variables, headers=headers)
    # then the replay answers the same bytes, secret included
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.content == first.content
    # and the statements were logged (the check below can fail), without either secret
    assert "webhook_endpoints" in caplog.text
    stored = await admin.fetchrow(
        "select * from webhook_endpoints where tenant_id = $1 and id = $2", tenant.id, endpoint_id
    )
    kept = await admin.fetchval(
        "select response_body from idempotency_keys where tenant_id = $1 and key = $2",
        tenant.id,
        headers["Idempotency-Key"],
    )
    assert stored["previous_secret"] is not None
    for value in (secret, new_secret):
        for form in _stored_forms(value):
            assert form.decode("latin-1") not in caplog.text
            assert form not in kept
            for column, cell in stored.items():
                cell_bytes = cell if isinstance(cell, bytes) else str(cell).encode()
                assert form not in cell_bytes, column


async def test_the_database_refuses_a_secret_written_in_clear(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given an endpoint
    endpoint, secret = await _endpoint(tenant)
    # when its secret column is overwritten with the secret itself
    with pytest.raises(asyncpg.CheckViolationError):
        await admin.execute(
            "update webhook_endpoints set secret = $1 where tenant_id = $2 and id = $3",
            secret.encode(),
            tenant.id,
            endpoint["id"],
        )


async def test_rotating_answers_a_new_secret_and_the_old_one_signs_beside_it_for_a_day(
    tenant: Tenant, app: Any
) -> None:
    # given
    endpoint, old_secret = await _endpoint(tenant)
    before = datetime.now(UTC)
    # when
    body = await tenant.gql(ROTATE, {"id": endpoint["id"]})
    # then
    payload = body["data"]["rotateWebhookSecret"]
    assert payload["userErrors"] == []
    new_secret = payload["secret"]
    assert new_secret.startswith(SECRET_PREFIX) and new_secret != old_secret
    expires = datetime.fromisoformat(payload["webhookEndpoint"]["previousSecretExpiresAt"])
    assert before + timedelta(hours=24) <= expires <= datetime.now(UTC) + timedelta(hours=24)
    # and a delivery now carries signatures that either secret verifies
    now = datetime.now(UTC)
    secrets = await _signing_secrets(app, tenant, endpoint["id"], now)
    assert (secrets.current, secrets.previous) == (new_secret, old_secret)
    headers = sign(secrets.current, "evt_1", now, BODY, previous_secret=secrets.previous)
    Webhook(new_secret).verify(BODY, headers)
    Webhook(old_secret).verify(BODY, headers)
    # and once the overlap is over only the new secret signs
    later = await _signing_secrets(app, tenant, endpoint["id"], expires + timedelta(seconds=1))
    assert (later.current, later.previous) == (new_secret, None)


async def test_delete_removes_the_endpoint_and_its_secrets(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    endpoint, _secret = await _endpoint(tenant)
    # when
    body = await tenant.gql(DELETE, {"id": endpoint["id"]})
    # then
    assert body["data"]["deleteWebhookEndpoint"] == {
        "deletedWebhookEndpointId": endpoint["id"],
        "userErrors": [],
    }
    assert await _count(admin, tenant) == 0
    read = await tenant.gql(READ, {"id": endpoint["id"]})
    assert read["data"]["webhookEndpoint"] is None and read["data"]["node"] is None
    again = await tenant.gql(DELETE, {"id": endpoint["id"]})
    assert _errors(again["data"]["deleteWebhookEndpoint"]) == [("NOT_FOUND", ["input", "id"])]


async def test_the_list_pages_newest_first_with_a_total(tenant: Tenant) -> None:
    # given
    for name in ("first", "second", "third"):
        await _endpoint(tenant, description=name)
    # when
    first_page = (await tenant.gql(LIST, {"first": 2}))["data"]["webhookEndpoints"]
    after = first_page["pageInfo"]["endCursor"]
    second_page = (await tenant.gql(LIST, {"first": 2, "after": after}))["data"]
    # then
    assert first_page["totalCount"] == 3
    assert [e["node"]["description"] for e in first_page["edges"]] == ["third", "second"]
    assert first_page["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["description"] for e in second_page["webhookEndpoints"]["edges"]] == ["first"]


async def test_every_field_needs_webhooks_manage(tenant: Tenant, admin: asyncpg.Connection) -> None:
    # given an endpoint, and a token with every scope but webhooks:manage
    endpoint, _secret = await _endpoint(tenant)
    scopes = [s for s in tenant.default_scopes if s != "webhooks:manage"]
    variables = {"input": {"url": "https://hooks.example.com/x", "events": ["*"]}}
    # when
    read = (await tenant.post(READ, {"id": endpoint["id"]}, scopes=scopes)).json()
    created = (await tenant.post(CREATE, variables, scopes=scopes)).json()
    rotated = (await tenant.post(ROTATE, {"id": endpoint["id"]}, scopes=scopes)).json()
    deleted = (await tenant.post(DELETE, {"id": endpoint["id"]}, scopes=scopes)).json()
    # then every field is refused, the node is not shown, and nothing changed
    assert {tuple(e["path"]) for e in read["errors"]} == {
        ("webhookEndpoint",),
        ("webhookEndpoints",),
    }
    assert read["data"] is None  # webhookEndpoints is non-null
    for answer in (created, rotated, deleted):
        assert answer["data"] is None
        assert [e["extensions"]["requiredScope"] for e in answer["errors"]] == ["webhooks:manage"]
    node = (
        await tenant.post(
            "query($id: ID!) { node(id: $id) { id } }", {"id": endpoint["id"]}, scopes=scopes
        )
    ).json()
    assert node == {"data": {"node": None}, "extensions": {"cost": 1}}
    row = await admin.fetchrow(
        "select previous_secret from webhook_endpoints where tenant_id = $1", tenant.id
    )
    assert await _count(admin, tenant) == 1 and row["previous_secret"] is None


async def test_another_tenants_endpoint_is_not_found(
    tenant: Tenant, other_tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given an endpoint of another tenant
    theirs, _secret = await _endpoint(other_tenant)
    # when
    read = await tenant.gql(READ, {"id": theirs["id"]})
    rotated = await tenant.gql(ROTATE, {"id": theirs["id"]})
    deleted = await tenant.gql(DELETE, {"id": theirs["id"]})
    # then it is as if it did not exist, and it is untouched
    assert read["data"]["webhookEndpoint"] is None and read["data"]["node"] is None
    assert read["data"]["webhookEndpoints"]["totalCount"] == 0
    rotate_payload = rotated["data"]["rotateWebhookSecret"]
    assert _errors(rotate_payload) == [("NOT_FOUND", ["input", "id"])]
    assert rotate_payload["secret"] is None
    assert _errors(deleted["data"]["deleteWebhookEndpoint"]) == [("NOT_FOUND", ["input", "id"])]
    row = await admin.fetchrow(
        "select previous_secret from webhook_endpoints where tenant_id = $1 and id = $2",
        other_tenant.id,
        theirs["id"],
    )
    assert row is not None and row["previous_secret"] is None


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"events": ["invoice.finalized", "invoice.exploded"]},
            [("UNKNOWN_EVENT_TYPE", ["input", "events", "1"])],
        ),
        ({"events": []}, [("REQUIRED", ["input", "events"])]),
        ({"url": "ftp://hooks.example.com/"}, [("INVALID", ["input", "url"])]),
        ({"url": "https://user:pw@hooks.example.com/"}, [("INVALID", ["input", "url"])]),
        ({"description": "x" * 501}, [("TOO_LONG", ["input", "description"])]),
    ],
)
async def test_bad_input_is_refused_with_nothing_written(
    tenant: Tenant, admin: asyncpg.Connection, fields: dict[str, Any], expected: Any
) -> None:
    # when
    payload = await _create(tenant, **fields)
    # then
    assert _errors(payload) == expected
    assert payload["webhookEndpoint"] is None and payload["secret"] is None
    assert await _count(admin, tenant) == 0


async def test_development_allows_http_to_a_local_receiver(tenant: Tenant) -> None:
    endpoint, _secret = await _endpoint(tenant, url="http://127.0.0.1:9000/hooks")
    assert endpoint["url"] == "http://127.0.0.1:9000/hooks"


# ------------------------------------------------------------------------ production


async def _stub_resolve(host: str, port: int) -> Sequence[str]:
    answers = {
        "hooks.example.com": ["93.184.216.34"],
        "intranet.example.com": ["192.168.10.20"],
        "localhost": ["127.0.0.1"],
    }
    if host not in answers:
        raise OSError("no such host")
    return answers[host]


@pytest.fixture
async def production_tenant(
    settings: Settings, test_database: TestDatabase
) -> AsyncIterator[Tenant]:
    """A tenant of the application as configured for production, resolving with a stub."""
    production = settings.model_copy(
        update={"environment": "production", "oauth_issuer": "https://ledgerline.example"}
    )
    application = create_app(production, test_database.url, resolve=_stub_resolve)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="https://ledgerline.test") as c:
            yield await make_tenant(application, c)


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/in",
        "https://intranet.example.com/in",
        "https://localhost/in",
        "https://127.0.0.1/in",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://nowhere.example.com/in",
    ],
)
async def test_production_refuses_destinations_that_are_not_https_to_public_addresses(
    production_tenant: Tenant, admin: asyncpg.Connection, url: str
) -> None:
    # when
    payload = await _create(production_tenant, url=url)
    # then
    assert _errors(payload) == [("URL_NOT_ALLOWED", ["input", "url"])]
    assert payload["webhookEndpoint"] is None and payload["secret"] is None
    assert await _count(admin, production_tenant) == 0


async def test_production_accepts_https_to_a_public_host(production_tenant: Tenant) -> None:
    endpoint, secret = await _endpoint(production_tenant, url="https://hooks.example.com/in")
    assert endpoint["id"].startswith("we_") and secret.startswith(SECRET_PREFIX)
