"""Signed JWT access tokens (RFC 9068 profile) and their validation (RFC 8725).

One pinned asymmetric algorithm for our own tokens (ES256). Tokens of an external
identity provider are checked against its JWKS with asymmetric algorithms only, so
`alg: none` and HS/RS confusion are refused whatever the header says.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from auth.principal import Principal
from auth.scopes import granted_scopes
from domain.accounts import is_account_id

ALGORITHM = "ES256"
ACCESS_TOKEN_TYPE = "at+jwt"
EXTERNAL_ALGORITHMS = ["ES256", "RS256", "PS256", "EdDSA"]
LEEWAY_SECONDS = 30
# JWTs bigger than this are refused before any parsing: nothing legitimate is that large.
MAX_TOKEN_LENGTH = 8192
VERIFIED_CACHE_SIZE = 4096


class InvalidToken(Exception):
    """The token is missing, malformed, expired, or not ours; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


class TokenIssuer:
    def __init__(self, key: ECKey, issuer: str, audience: str, ttl_seconds: int) -> None:
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl_seconds

    def issue(self, *, client_id: str, tenant_id: str, scopes: list[str]) -> IssuedToken:
        now = int(time.time())
        scope = " ".join(scopes)
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": client_id,
            "client_id": client_id,
            "tenant": tenant_id,
            "scope": scope,
            "iat": now,
            "nbf": now,
            "exp": now + self._ttl,
            "jti": _random_jti(),
        }
        header = {"alg": ALGORITHM, "kid": self._key.kid, "typ": ACCESS_TOKEN_TYPE}
        return IssuedToken(jwt.encode(header, claims, self._key), self._ttl, scope)


def _random_jti() -> str:
    return secrets.token_urlsafe(16)


class ExternalKeys:
    """An external issuer's JWKS, fetched on demand and cached; refreshed for an unknown kid."""

    def __init__(self, url: str, ttl_seconds: int = 600, min_refresh_seconds: int = 30) -> None:
        self._url = url
        self._ttl = ttl_seconds
        self._min_refresh = min_refresh_seconds
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        # One fetch at a time: requests arriving while the cache is stale wait for it.
        self._refreshing = asyncio.Lock()

    async def key_set(self, kid: str | None) -> KeySet:
        async with self._refreshing:
            return await self._current(kid)

    async def _current(self, kid: str | None) -> KeySet:
        now = time.monotonic()
        stale = self._keys is None or now - self._fetched_at > self._ttl
        unknown_kid = (
            self._keys is not None
            and kid is not None
            and not any(key.kid == kid for key in self._keys.keys)
            and now - self._fetched_at > self._min_refresh
        )
        if stale or unknown_kid:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(self._url)
                response.raise_for_status()
            self._keys = KeySet.import_key_set(response.json())
            self._fetched_at = now
        assert self._keys is not None
        return self._keys


class TokenVerifier:
    def __init__(
        self,
        own_keys: KeySet,
        issuer: str,
        audience: str,
        external_keys: ExternalKeys | None = None,
    ) -> None:
        self._own_keys = own_keys
        self._own_kids = {key.kid for key in own_keys.keys}
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._external = external_keys
        self._claims = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            tenant={"essential": True},
        )

    async def verify(self, token: str) -> Principal:
        # A dashboard sends the same token with every request: once its signature and
        # claims are checked, it stays valid until it expires.
        cached = self._verified.get(token)
        if cached is not None and time.time() < cached[1]:
            return cached[0]
        principal, expires_at = await self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = (principal, expires_at)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise InvalidToken("malformed token")
        kid = _unverified_kid(token)
        if kid in self._own_kids:
            keys, algorithms = self._own_keys, [ALGORITHM]
        elif self._external is not None:
            try:
                keys = await self._external.key_set(kid)
            except (httpx.HTTPError, ValueError, JoseError) as exc:
                raise InvalidToken("the external issuer's keys are unavailable") from exc
            algorithms = EXTERNAL_ALGORITHMS
        else:
            raise InvalidToken("token not signed by a known key")
        try:
            decoded = jwt.decode(token, keys, algorithms=algorithms)
            self._claims.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise InvalidToken(_reason(exc)) from None
        if keys is self._own_keys and decoded.header.get("typ") != ACCESS_TOKEN_TYPE:
            # RFC 9068 §4: our keys sign access tokens only; anything else is not one.
            raise InvalidToken("not an access token")
        return _principal(decoded.claims), float(decoded.claims["exp"])


def _unverified_kid(token: str) -> str | None:
    try:
        segment = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidToken("malformed token") from exc
    if not isinstance(header, dict):
        raise InvalidToken("malformed token")
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None


def _reason(exc: Exception) -> str:
    name = type(exc).__name__
    return {
        "ExpiredTokenError": "token expired",
        "InvalidTokenError": "token not yet valid",
        "BadSignatureError": "bad signature",
        "InvalidClaimError": "token claims do not match this server",
        "MissingClaimError": "token lacks a required claim",
        "UnsupportedAlgorithmError": "algorithm not allowed",
    }.get(name, "invalid token")


def _principal(claims: dict[str, Any]) -> Principal:
    # A signature says who issued the token, not that its claims are sane (SECURITY.md,
    # Tokens): the tenant names rows in SQL, so it must be an account id before it gets there.
    tenant = claims.get("tenant")
    client_id = claims.get("client_id") or claims.get("sub")
    scope = claims.get("scope", "")
    if not isinstance(tenant, str) or not tenant or not isinstance(client_id, str):
        raise InvalidToken("token lacks a tenant or subject")
    if not is_account_id(tenant):
        raise InvalidToken("token's tenant is not an account id")
    if not isinstance(scope, str):
        raise InvalidToken("scope claim is not a string")
    return Principal(tenant_id=tenant, client_id=client_id, scopes=granted_scopes(scope))
