"""POST /oauth/token (client credentials, RFC 6749 §4.4) and GET /.well-known/jwks.json."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qsl, unquote

import orjson
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from auth.client_secrets import verify_client_secret
from auth.scopes import UnknownScope, parse_scopes
from auth.tokens import TokenIssuer
from domain.ids import prefix_of
from infra.http.fair_use import TokenThrottle
from infra.http.graphql import read_body
from infra.repositories.accounts import find_client

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_FORM_BYTES = 8192


def parse_qs(body: str) -> dict[str, str]:
    """Form parameters; RFC 6749 §3.2 forbids repeating one, so a repeat is refused."""
    pairs = parse_qsl(body, keep_blank_values=True, max_num_fields=20, strict_parsing=False)
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise ValueError(f"{name} given twice")
        form[name] = value
    return form


def _oauth_error(error: OAuth2Error, *, status: int | None = None, basic: bool = False) -> Response:
    headers = dict(_NO_STORE)
    if basic:
        headers["WWW-Authenticate"] = 'Basic realm="ledgerline"'
    return Response(
        orjson.dumps(dict(error.get_body())),
        status or error.status_code,
        headers=headers,
        media_type="application/json",
    )


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    client_id, _, secret = decoded.partition(":")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote(client_id), unquote(secret)


class TokenEndpoint:
    def __init__(
        self, engine: AsyncEngine, issuer: TokenIssuer, throttle: TokenThrottle | None = None
    ) -> None:
        self._engine = engine
        self._issuer = issuer
        self._throttle = throttle

    async def __call__(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return _oauth_error(
                InvalidRequestError(
                    description="Send application/x-www-form-urlencoded parameters."
                )
            )
        try:
            form = parse_qs((await read_body(request, MAX_FORM_BYTES)).decode())
        except (ValueError, UnicodeDecodeError):
            return _oauth_error(InvalidRequestError(description="Malformed or oversized form."))
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(
                OAuth2Error(
                    description="Only client_credentials is supported.",
                    error="unsupported_grant_type",
                )
            )
        basic = _basic_credentials(request.headers.get("authorization", ""))
        form_id, form_secret = form.get("client_id"), form.get("client_secret")
        if basic is not None and (form_id or form_secret):
            return _oauth_error(
                InvalidRequestError(description="Authenticate with one method, not two.")
            )
        client_id, secret = (
            basic if basic is not None else (str(form_id or ""), str(form_secret or ""))
        )
        address = request.client.host if request.client else ""
        if self._throttle is not None:
            refusal = await self._throttle.refusal(address, client_id)
            if refusal is not None:  # before the query and the hash a guess would cost
                return refusal
        client = None
        if prefix_of(client_id) == "cli":  # anything else cannot be a client: no query
            async with self._engine.connect() as conn:
                client = await find_client(conn, client_id)
        if client is None or client.revoked or not verify_client_secret(secret, client.secret_hash):
            if self._throttle is not None:
                await self._throttle.failed(address, client_id)
            return _oauth_error(
                InvalidClientError(description="Client authentication failed."),
                status=401,
                basic=basic is not None,
            )
        try:
            requested = parse_scopes(form["scope"]) if form.get("scope") else None
        except UnknownScope:
            # The caller's text is not echoed: RFC 6749 limits the description's characters.
            return _oauth_error(
                InvalidScopeError(description="The request names an unknown scope.")
            )
        if requested is not None and not set(requested) <= set(client.scopes):
            return _oauth_error(
                InvalidScopeError(description="The client is not allowed some requested scopes.")
            )
        scopes = requested if requested is not None else sorted(client.scopes)
        token = self._issuer.issue(client_id=client.id, tenant_id=client.tenant_id, scopes=scopes)
        return JSONResponse(
            {
                "access_token": token.access_token,
                "token_type": "Bearer",
                "expires_in": token.expires_in,
                "scope": token.scope,
            },
            headers=_NO_STORE,
        )
