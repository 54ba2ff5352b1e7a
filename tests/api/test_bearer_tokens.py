"""Bearer tokens on /graphql (RFC 6750, RFC 8725): what is accepted and what is refused.

Tokens are built here by hand (joserfc, or raw base64 for what joserfc refuses to make), so
each test controls exactly one thing that is wrong with the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from domain.ids import new_id
from infra.app import create_app
from infra.repositories.accounts import ensure_account
from infra.settings import Settings
from tests.conftest import StatementCounter, Tenant
from tests.conftest import TestDatabase as SessionDatabase

VIEWER = "{ viewer { account { id } clientId scopes } }"

LEEWAY_SECONDS = 30


# --- building tokens ---------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(settings: Settings, tenant_id: str, **changes: Any) -> dict[str, Any]:
    """Claims of a valid token for `tenant_id`; a change to None removes the claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.oauth_issuer,
        "aud": settings.oauth_audience,
        "sub": "cli_handmade",
        "client_id": "cli_handmade",
        "tenant": tenant_id,
        "scope": "customers:read",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def signed(claims: dict[str, Any], key: Any, alg: str = "ES256", kid: str | None = None) -> str:
    header = {"alg": alg, "typ": "at+jwt", "kid": kid if kid is not None else key.kid}
    return jwt.encode(header, claims, key, algorithms=[alg])


def unsigned(claims: dict[str, Any], kid: str) -> str:
    """`alg: none` (RFC 7519 §6): no signature at all."""
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    return b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode()) + "."


def hs256_with_secret(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """HS256 with a chosen HMAC secret: the algorithm-confusion attack when the secret is a
    public key (joserfc refuses to make such a key, so the token is assembled here)."""
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


async def call_viewer(client: httpx.AsyncClient, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await client.post("/graphql", json={"query": VIEWER}, headers=headers)


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert "data" not in body or body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.fixture
def server_key(app: Any) -> ECKey:
    return app.state.keys.current


async def make_account(app: Any, account_id: str) -> str:
    async with app.state.engine.begin() as conn:
        await ensure_account(conn, account_id, "Handmade merchant")
    return account_id


# --- our own tokens ----------------------------------------------------------------------


async def test_handmade_token_signed_with_the_servers_key_is_accepted(
    tenant: Tenant, client: httpx.AsyncClient, settings: Settings, server_key: ECKey
) -> None:
    # given (the control for every refusal below: only one thing differs in each)
    token = signed(claims_for(settings, tenant.id), server_key)
    # when
    response = await call_viewer(client, token)
    # then
    assert response.status_code == 200, response.text
    viewer = response.json()["data"]["viewer"]
    assert viewer["account"]["id"] == tenant.id
    assert viewer["clientId"] == "cli_handmade"
    assert viewer["scopes"] == ["customers:read"]


async def test_request_without_authorization_is_401_with_a_bearer_challenge(
    client: httpx.AsyncClient,
) -> None:
    # when
    response = await call_viewer(client, None)
    # then
    assert_refused(response)


async def test_basic_authorization_on_graphql_is_401_with_a_bearer_challenge(
    client: httpx.AsyncClient,
) -> None:
    # when
    response = await client.post(
        "/graphql",
        json={"query": VIEWER},
        headers={"Authorization": "Basic " + b64url(b"cli_x:llsec_y")},
    )
    # then
    assert_refused(response)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("garbage", id="not-a-jwt"),
        pytest.param("a.b.c", id="three-garbage-segments"),
        pytest.param("", id="empty"),
        pytest.param(b64url(b"[1]") + "." + b64url(b"{}") + ".", id="header-not-an-object"),
        pytest.param("e" * 9000 + ".a.b", id="oversized"),
    ],
)
async def test_garbage_token_is_401_with_a_bearer_challenge(
    client: httpx.AsyncClient, token: str
) -> None:
    # when
    response = await call_viewer(client, token)
    # then
    assert_refused(response)


async def test_token_expired_within_the_leeway_is_still_accepted(
    tenant: Tenant, client: httpx.AsyncClient, settings: Settings, server_key: ECKey
) -> None:
    # given
    now = int(time.time())
    token = signed(
        claims_for(settings, tenant.id, iat=now - 600, nbf=now - 600, exp=now - 10), server_key
    )
    # when
    response = await call_viewer(client, token)
    # then
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"]["account"]["id"] == tenant.id


async def test_token_expired_beyond_the_leeway_is_refused(
    tenant: Tenant, client: httpx.AsyncClient, settings: Settings, server_key: ECKey
) -> None:
    # given
    now = int(time.time())
    expired = now - LEEWAY_SECONDS - 30
    token = signed(
        claims_for(settings, tenant.id, iat=now - 600, nbf=now - 600, exp=expired), server_key
    )
    # when
    response = await call_viewer(client, token)
    # then
    assert_refused(response)


async def test_token_not_yet_valid_is_refused(
    tenant: Tenant, client: httpx.AsyncClient, settings: Settings, server_key: ECKey
) -> None:
    # given
    now = int(time.time())
    token = signed(
        claims_for(settings, tenant.id, nbf=now + LEEWAY_SECONDS + 120, exp=now + 900),
        server_key,
    )
    # when
    response = await call_viewer(client, token)
    # then
    assert_refused(response)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"iss": "https://evil.example/"}, id="wrong-iss"),
        pytest.param({"iss": None}, id="no-iss"),
        pytest.param({"aud": "someone-else"}, id="wrong-aud"),
        pytest.param({"aud": None}, id="no-aud"),
        pytest.param({"exp": None}, id="no-exp"),
        pytest.param({"tenant": None}, id="no-tenant"),
        pytest.param({"tenant": ""}, id="empty-tenant"),
    ],
)
async def test_token_with_claims_not_for_this_server_is_refused(
    tenant: Tenant,
    client: httpx.AsyncClient,
    settings: Settings,
    server_key: ECKey,
    changes: dict[str, Any],
) -> None:
    # given
    token = signed(claims_for(settings, tenant.id, **changes), server_key)
    # when
    response = await call_viewer(client, token)
    # then
    assert_refused(response)


@pytest.mark.parametrize(
    "tenant_claim",
    [
        pytest.param("t-1\x00x", id="nul"),
        pytest.param("t" * 64, id="too-long"),
        pytest.param("t 1", id="space"),
        pytest.param("demo\n", id="trailing-newline"),
        pytest.param("t\u00e9", id="non-ascii-letter"),
        pytest.param("-t1", id="leading-hyphen"),
        pytest.param("t-1;drop", id="punctuation"),
        pytest.param(42, id="not-a-string"),
    ],
)
async def test_token_whose_tenant_is_not_an_account_id_is_refused_before_any_sql(
    client: httpx.AsyncClient,
    settings: Settings,
    server_key: ECKey,
    count_statements: StatementCounter,
    tenant_claim: Any,
) -> None:
    # given a token our own key signed: the signature is fine, the tenant is not
    token = signed(claims_for(settings, "t-1", tenant=tenant_claim), server_key)
    # when
    with count_statements:
        response = await call_viewer(client, token)
    # then
    assert_refused(response)
    assert "tenant" in response.json()["errors"][0]["message"]
    assert count_statements.statements == []


@pytest.mark.parametrize(
    "account_id",
    [
        pytest.param("t_" + secrets.token_hex(30) + "z", id="longest-slug"),
        pytest.param(new_id("acct"), id="acct-id"),
    ],
)
async def test_token_whose_tenant_is_an_account_id_at_the_edge_of_the_format_is_accepted(
    app: Any, client: httpx.AsyncClient, settings: Settings, server_key: ECKey, account_id: str
) -> None:
    # given (the controls of the refusals above)
    tenant = await make_account(app, account_id)
    token = signed(claims_for(settings, tenant), server_key)
    # when
    response = await call_viewer(client, token)
    # then
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"]["account"]["id"] == tenant


# --- scopes: RFC 6749 §3.3 ---------------------------------------------------------------

CUSTOMERS_AND_PLANS = {
    "customers:read": ("{ customers(first: 1) { totalCount } }", "customers"),
    "catalog:read": ("{ plans(first: 1) { totalCount } }", "plans"),
}


@pytest.mark.parametrize(
    ("scope", "granted"),
    [
        pytest.param("customers:read catalog:read", ["catalog:read", "customers:read"], id="sp"),
        pytest.param("x\u00a0customers:read", [], id="no-break-space-joins"),
        pytest.param("customers:read\tcatalog:read", [], id="tab-joins"),
        pytest.param("customers:read\ncatalog:read", [], id="newline-joins"),
        pytest.param(
            "customers:read  catalog:read", ["catalog:read", "customers:read"], id="two-spaces"
        ),
        pytest.param(" customers:read ", ["customers:read"], id="spaces-around"),
        pytest.param("customers:read unknown:scope", ["customers:read"], id="unknown-ignored"),
        pytest.param("admin *", [], id="only-unknown"),
        pytest.param("", [], id="empty"),
    ],
)
async def test_token_grants_only_our_scopes_separated_by_ascii_spaces(
    tenant: Tenant,
    client: httpx.AsyncClient,
    settings: Settings,
    server_key: ECKey,
    scope: str,
    granted: list[str],
) -> None:
    # given
    token = signed(claims_for(settings, tenant.id, scope=scope), server_key)
    headers = {"Authorization": f"Bearer {token}"}
    # when
    viewer = await call_viewer(client, token)
    answers = {
        needed: await client.post("/graphql", json={"query": query}, headers=headers)
        for needed, (query, _field) in CUSTOMERS_AND_PLANS.items()
    }
    # then
    assert viewer.status_code == 200, viewer.text
    assert viewer.json()["data"]["viewer"]["scopes"] == granted
    for needed, answer in answers.items():
        assert answer.status_code == 200, answer.text
        body = answer.json()
        field = CUSTOMERS_AND_PLANS[needed][1]
        if needed in granted:
            assert "errors" not in body, body
            assert body["data"][field]["totalCount"] == 0
        else:
            (error,) = body["errors"]
            assert error["extensions"] == {"code": "FORBIDDEN", "requiredScope": needed}


async def test_token_signed_by_an_unknown_key_is_refused(
    tenant: Tenant, client: httpx.AsyncClient, settings: Settings
) -> None:
    # given
    stranger = ECKey.generate_key("P-256", auto_kid=True)
    token = signed(claims_for(settings, tenant.id), stranger)
    # when
    response = await call_viewer(client, token)
    # then
    assert_refused(response)


async def test_token_signed_by_an_unknown_key_claiming_the_servers_kid_is_refused(
    tenant: Tenant, client: httpx.AsyncClient, settings: Settings, server_key: ECKey
) -> None:
    # given
    stranger = ECKey.generate_key("P-256", auto_kid=True)
    token = signed(claims_for(settings, tenant.id), stranger, kid=server_key.kid)
    # when
    response = await call_viewer(client, token)
    # then
    assert_refused(response)


async def test_unsigned_alg_none_token_is_refused(
    tenant: Tenant, client: httpx.AsyncClient, settings: Settings, server_key: ECKey
) -> None:
    # given
    token = unsigned(claims_for(settings, tenant.id), kid=server_key.kid)
    # when
    response = await call_viewer(client, token)
    # then
    assert_refused(response)


@pytest.mark.parametrize("public_form", ["pem", "jwk-json"])
async def test_hs256_token_keyed_with_the_servers_public_key_is_refused(
    tenant: Tenant,
    client: httpx.AsyncClient,
    settings: Settings,
    server_key: ECKey,
    public_form: str,
) -> None:
    # given (algorithm confusion: the public key, which anyone can fetch, as an HMAC secret)
    if public_form == "pem":
        secret = server_key.as_pem(private=False)
    else:
        secret = json.dumps(server_key.as_dict(private=False)).encode()
    token = hs256_with_secret(claims_for(settings, tenant.id), secret, kid=server_key.kid)
    # when
    response = await call_viewer(client, token)
    # then
    assert_refused(response)


# --- the published keys ------------------------------------------------------------------


async def test_jwks_lists_the_signing_key_without_its_private_part(
    client: httpx.AsyncClient, server_key: ECKey
) -> None:
    # when
    response = await client.get("/.well-known/jwks.json")
    # then
    assert response.status_code == 200, response.text
    keys = response.json()["keys"]
    published = {key["kid"]: key for key in keys}
    assert server_key.kid in published
    key = published[server_key.kid]
    assert key["alg"] == "ES256"
    assert key["kty"] == "EC"
    assert key["crv"] == "P-256"
    assert all("d" not in key for key in keys)


async def test_issued_token_verifies_against_the_published_jwks(
    tenant: Tenant, client: httpx.AsyncClient, settings: Settings
) -> None:
    # given
    token = tenant.token(["customers:read"])
    # when
    jwks = (await client.get("/.well-known/jwks.json")).json()
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["ES256"])
    # then
    assert decoded.header["alg"] == "ES256"
    assert decoded.claims["tenant"] == tenant.id
    assert decoded.claims["iss"] == settings.oauth_issuer
    assert decoded.claims["aud"] == settings.oauth_audience


# --- an external identity provider (OAUTH_JWKS_URL) --------------------------------------


class JwksServer:
    """A JWKS document served over real HTTP on 127.0.0.1, as an identity provider would."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        body = json.dumps(jwks).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/.well-known/jwks.json"

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def idp_key() -> RSAKey:
    return RSAKey.generate_key(2048, auto_kid=True)


@pytest.fixture(scope="module")
def idp_jwks(idp_key: RSAKey) -> Iterator[JwksServer]:
    jwks = {"keys": [{**idp_key.as_dict(private=False), "alg": "RS256", "use": "sig"}]}
    with JwksServer(jwks) as server:
        yield server


@pytest.fixture(scope="module")
async def external_idp_client(
    settings: Settings, test_database: SessionDatabase, idp_jwks: JwksServer
) -> AsyncIterator[httpx.AsyncClient]:
    """The app configured to also accept the identity provider's tokens."""
    external_settings = Settings(
        database_url=test_database.url,
        data_dir=settings.data_dir,
        secret_key=settings.secret_key,
        environment="development",
        oauth_issuer=settings.oauth_issuer,
        oauth_audience=settings.oauth_audience,
        oauth_jwks_url=idp_jwks.url,
    )
    application = create_app(external_settings, test_database.url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://ledgerline.test") as c:
            yield c


async def test_token_from_the_external_identity_provider_is_accepted(
    tenant: Tenant, external_idp_client: httpx.AsyncClient, settings: Settings, idp_key: RSAKey
) -> None:
    # given
    claims = claims_for(settings, tenant.id, sub="idp-client-7", client_id=None)
    token = signed(claims, idp_key, alg="RS256")
    # when
    response = await call_viewer(external_idp_client, token)
    # then
    assert response.status_code == 200, response.text
    viewer = response.json()["data"]["viewer"]
    assert viewer["account"]["id"] == tenant.id
    assert viewer["clientId"] == "idp-client-7"
    assert viewer["scopes"] == ["customers:read"]


async def test_own_tokens_still_work_when_an_external_provider_is_configured(
    tenant: Tenant, external_idp_client: httpx.AsyncClient
) -> None:
    # when
    response = await call_viewer(external_idp_client, tenant.token(["customers:read"]))
    # then
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"]["account"]["id"] == tenant.id


@pytest.mark.parametrize("claim_idp_kid", [False, True], ids=["own-kid", "idp-kid"])
async def test_token_signed_by_a_key_outside_the_providers_jwks_is_refused(
    tenant: Tenant,
    external_idp_client: httpx.AsyncClient,
    settings: Settings,
    idp_key: RSAKey,
    claim_idp_kid: bool,
) -> None:
    # given
    stranger = RSAKey.generate_key(2048, auto_kid=True)
    kid = idp_key.kid if claim_idp_kid else stranger.kid
    token = signed(claims_for(settings, tenant.id), stranger, alg="RS256", kid=kid)
    # when
    response = await call_viewer(external_idp_client, token)
    # then
    assert_refused(response)


async def test_provider_token_for_another_audience_is_refused(
    tenant: Tenant, external_idp_client: httpx.AsyncClient, settings: Settings, idp_key: RSAKey
) -> None:
    # given
    token = signed(claims_for(settings, tenant.id, aud="another-api"), idp_key, alg="RS256")
    # when
    response = await call_viewer(external_idp_client, token)
    # then
    assert_refused(response)


async def test_hs256_token_keyed_with_the_providers_public_key_is_refused(
    tenant: Tenant, external_idp_client: httpx.AsyncClient, settings: Settings, idp_key: RSAKey
) -> None:
    # given
    token = hs256_with_secret(
        claims_for(settings, tenant.id), idp_key.as_pem(private=False), kid=idp_key.kid
    )
    # when
    response = await call_viewer(external_idp_client, token)
    # then
    assert_refused(response)


async def test_unsigned_token_naming_the_providers_kid_is_refused(
    tenant: Tenant, external_idp_client: httpx.AsyncClient, settings: Settings, idp_key: RSAKey
) -> None:
    # given
    token = unsigned(claims_for(settings, tenant.id), kid=idp_key.kid)
    # when
    response = await call_viewer(external_idp_client, token)
    # then
    assert_refused(response)


@pytest.mark.parametrize("typ", ["JWT", None])
async def test_a_token_of_ours_that_is_not_typed_as_an_access_token_is_refused(
    tenant: Tenant, client: httpx.AsyncClient, settings: Settings, server_key: ECKey, typ: Any
) -> None:
    # given a token signed with our key whose header does not say at+jwt (RFC 9068 §4)
    header = {"alg": "ES256", "kid": server_key.kid, **({"typ": typ} if typ else {})}
    token = jwt.encode(header, claims_for(settings, tenant.id), server_key)
    # when
    response = await call_viewer(client, token)
    # then
    assert_refused(response)
