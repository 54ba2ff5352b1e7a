"""POST /oauth/token: the client-credentials grant (RFC 6749 §4.4) and its errors (§5.2)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest

from tests.conftest import Tenant
from tests.conftest import TestDatabase as SessionDatabase

VIEWER = "{ viewer { account { id } clientId scopes } }"

CLIENT_SCOPES = ["customers:read", "customers:write"]


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    # RFC 6749 §2.3.1: each part is form-urlencoded before the Basic encoding.
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


async def request_token(
    client: httpx.AsyncClient,
    form: dict[str, str],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post("/oauth/token", data=form, headers=headers or {})


async def call_viewer(client: httpx.AsyncClient, access_token: str) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": VIEWER},
        headers={"Authorization": f"Bearer {access_token}"},
    )


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error
    assert "access_token" not in body
    return body


async def test_client_credentials_with_http_basic_issue_a_bearer_token(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # given
    client_id, secret = await tenant.create_client(CLIENT_SCOPES)
    # when
    response = await request_token(
        client, {"grant_type": "client_credentials"}, basic_auth(client_id, secret)
    )
    # then
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert set(body["scope"].split()) == set(CLIENT_SCOPES)
    assert body["access_token"].count(".") == 2


async def test_client_credentials_in_form_fields_issue_a_bearer_token(
    tenant: Tenant, client: httpx.AsyncClient, settings: Any
) -> None:
    # given
    client_id, secret = await tenant.create_client(CLIENT_SCOPES)
    # when
    response = await request_token(
        client,
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    # then
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.token_ttl_seconds
    assert set(body["scope"].split()) == set(CLIENT_SCOPES)


async def test_issued_token_calls_graphql_as_the_clients_tenant_with_its_scopes(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # given
    client_id, secret = await tenant.create_client(CLIENT_SCOPES)
    token = (
        await request_token(
            client, {"grant_type": "client_credentials"}, basic_auth(client_id, secret)
        )
    ).json()["access_token"]
    # when
    response = await call_viewer(client, token)
    # then
    assert response.status_code == 200, response.text
    viewer = response.json()["data"]["viewer"]
    assert viewer["account"]["id"] == tenant.id
    assert viewer["clientId"] == client_id
    assert sorted(viewer["scopes"]) == sorted(CLIENT_SCOPES)


async def test_requested_scope_narrows_the_token_to_those_scopes(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # given
    client_id, secret = await tenant.create_client(CLIENT_SCOPES)
    # when
    response = await request_token(
        client,
        {"grant_type": "client_credentials", "scope": "customers:read"},
        basic_auth(client_id, secret),
    )
    # then
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scope"] == "customers:read"
    viewer = (await call_viewer(client, body["access_token"])).json()["data"]["viewer"]
    assert viewer["scopes"] == ["customers:read"]


async def test_requested_scopes_separated_by_several_spaces_are_each_granted(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # given
    client_id, secret = await tenant.create_client(CLIENT_SCOPES)
    # when
    response = await request_token(
        client,
        {"grant_type": "client_credentials", "scope": " customers:read  customers:write"},
        basic_auth(client_id, secret),
    )
    # then
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "customers:read customers:write"


@pytest.mark.parametrize(
    "requested",
    [
        pytest.param("invoices:read", id="scope-the-client-lacks"),
        pytest.param("customers:read payments:write", id="one-scope-the-client-lacks"),
        pytest.param("customers:read admin", id="unknown-scope"),
        pytest.param("customers:*", id="wildcard-is-unknown"),
        pytest.param('customers:read "admin"', id="unknown-scope-with-quotes"),
        pytest.param("customers:read caf\u00e9:write", id="unknown-non-ascii-scope"),
        pytest.param("customers:read\u00a0customers:write", id="joined-by-a-no-break-space"),
        pytest.param("customers:read\tcustomers:write", id="joined-by-a-tab"),
    ],
)
async def test_scope_beyond_the_clients_scopes_is_invalid_scope(
    tenant: Tenant, client: httpx.AsyncClient, requested: str
) -> None:
    # given
    client_id, secret = await tenant.create_client(CLIENT_SCOPES)
    # when
    response = await request_token(
        client,
        {"grant_type": "client_credentials", "scope": requested},
        basic_auth(client_id, secret),
    )
    # then
    assert_oauth_error(response, 400, "invalid_scope")


async def test_wrong_secret_with_basic_is_invalid_client_with_a_basic_challenge(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # given
    client_id, _secret = await tenant.create_client(CLIENT_SCOPES)
    # when
    response = await request_token(
        client, {"grant_type": "client_credentials"}, basic_auth(client_id, "llsec_wrong")
    )
    # then
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].lower().startswith("basic")


async def test_unknown_client_with_basic_is_invalid_client_with_a_basic_challenge(
    client: httpx.AsyncClient,
) -> None:
    # when
    response = await request_token(
        client, {"grant_type": "client_credentials"}, basic_auth("cli_nobody", "llsec_x")
    )
    # then
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].lower().startswith("basic")


async def test_wrong_secret_in_form_is_invalid_client(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # given
    client_id, secret = await tenant.create_client(CLIENT_SCOPES)
    # when
    response = await request_token(
        client,
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret + "x",
        },
    )
    # then
    assert_oauth_error(response, 401, "invalid_client")


async def test_unknown_client_in_form_is_invalid_client(client: httpx.AsyncClient) -> None:
    # when
    response = await request_token(
        client,
        {
            "grant_type": "client_credentials",
            "client_id": "cli_nobody",
            "client_secret": "llsec_x",
        },
    )
    # then
    assert_oauth_error(response, 401, "invalid_client")


async def test_another_clients_secret_does_not_authenticate_a_client(
    tenant: Tenant, other_tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # given
    client_id, _secret = await tenant.create_client(CLIENT_SCOPES)
    _other_id, other_secret = await other_tenant.create_client(CLIENT_SCOPES)
    # when
    response = await request_token(
        client, {"grant_type": "client_credentials"}, basic_auth(client_id, other_secret)
    )
    # then
    assert_oauth_error(response, 401, "invalid_client")


async def test_request_without_credentials_is_invalid_client(client: httpx.AsyncClient) -> None:
    # when
    response = await request_token(client, {"grant_type": "client_credentials"})
    # then
    assert_oauth_error(response, 401, "invalid_client")


@pytest.mark.parametrize(
    "form",
    [
        pytest.param({"grant_type": "password", "username": "a", "password": "b"}, id="password"),
        pytest.param({"grant_type": "authorization_code", "code": "abc"}, id="code"),
        pytest.param({"grant_type": "refresh_token", "refresh_token": "r"}, id="refresh"),
    ],
)
async def test_grant_other_than_client_credentials_is_unsupported_grant_type(
    tenant: Tenant, client: httpx.AsyncClient, form: dict[str, str]
) -> None:
    # given
    client_id, secret = await tenant.create_client(CLIENT_SCOPES)
    # when
    response = await request_token(client, form, basic_auth(client_id, secret))
    # then
    assert_oauth_error(response, 400, "unsupported_grant_type")


async def test_missing_grant_type_is_refused_as_a_bad_request(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # given
    client_id, secret = await tenant.create_client(CLIENT_SCOPES)
    # when
    response = await request_token(
        client, {"scope": "customers:read"}, basic_auth(client_id, secret)
    )
    # then
    assert response.status_code == 400, response.text
    assert response.json()["error"] in {"invalid_request", "unsupported_grant_type"}


async def test_credentials_in_both_basic_and_form_are_invalid_request(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # given
    client_id, secret = await tenant.create_client(CLIENT_SCOPES)
    # when
    response = await request_token(
        client,
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        basic_auth(client_id, secret),
    )
    # then
    assert_oauth_error(response, 400, "invalid_request")


async def test_json_body_instead_of_form_is_invalid_request(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    # given
    client_id, secret = await tenant.create_client(CLIENT_SCOPES)
    # when
    response = await client.post(
        "/oauth/token",
        json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    # then
    assert_oauth_error(response, 400, "invalid_request")


async def test_client_secret_is_stored_only_as_a_hash(
    tenant: Tenant, client: httpx.AsyncClient, test_database: SessionDatabase
) -> None:
    # given
    client_id, secret = await tenant.create_client(CLIENT_SCOPES)
    # when
    conn = await asyncpg.connect(test_database.admin_dsn)
    try:
        row = await conn.fetchrow("select * from oauth_clients where id = $1", client_id)
    finally:
        await conn.close()
    # then
    assert row is not None
    assert row["tenant_id"] == tenant.id
    stored = " ".join(str(value) for value in row.values())
    secret_body = secret.removeprefix("llsec_")
    assert secret_body not in stored
    assert row["secret_hash"] != secret
    # and the stored hash still authenticates the secret it came from
    response = await request_token(
        client, {"grant_type": "client_credentials"}, basic_auth(client_id, secret)
    )
    assert response.status_code == 200, response.text
