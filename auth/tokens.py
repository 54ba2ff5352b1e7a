"""Signed JWT access tokens (RFC 9068 profile) and their validation (RFC 8725).

One pinned asymmetric algorithm for our own tokens (ES256). Tokens of an external
identity provider are checked against its JWKS with asymmetric algorithms only, so
`alg: none` and HS/RS confusion are refused whatever the header says.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
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
# An external issuer's JWKS: how long one fetch may take; how long a failed fetch is
# remembered, so that during an identity provider's outage each request fails at once instead
# of waiting for its own fetch to time out; how long past its freshness the last good key
# set still serves the kids it holds while fetches fail (RFC 5861's stale-if-error).
JWKS_FETCH_TIMEOUT_SECONDS = 5.0
JWKS_FAILURE_MEMORY_SECONDS = 30.0
JWKS_STALE_IF_ERROR_SECONDS = 3600.0
KEYS_UNAVAILABLE = "the external issuer's keys are unavailable"

_log = logging.getLogger("ledgerline.auth")


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
    """An external issuer's JWKS, fetched on demand and cached; refreshed for an unknown kid.

    A failed fetch (network error, timeout, HTTP error, not a JWK set) is remembered for
    `failure_memory_seconds`: meanwhile no fetch is tried, a token whose kid the last good
    key set holds is still checked against that set (for up to `stale_if_error_seconds` past
    its freshness: an outage of the provider should not lock every client out, but a key the
    provider withdrew must not stay trusted for ever), and any other token is refused at once
    with KEYS_UNAVAILABLE.
    """

    def __init__(
        self,
        url: str,
        ttl_seconds: float = 600,
        min_refresh_seconds: float = 30,
        *,
        fetch_timeout_seconds: float = JWKS_FETCH_TIMEOUT_SECONDS,
        failure_memory_seconds: float = JWKS_FAILURE_MEMORY_SECONDS,
        stale_if_error_seconds: float = JWKS_STALE_IF_ERROR_SECONDS,
    ) -> None:
        self._url = url
        self._ttl = ttl_seconds
        self._min_refresh = min_refresh_seconds
        self._fetch_timeout = fetch_timeout_seconds
        self._failure_memory = failure_memory_seconds
        self._stale_if_error = stale_if_error_seconds
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._failed_at: float | None = None
        # One fetch at a time. Only requests that need a fetch queue here; when the one ahead
        # of them fails, they find the failure remembered and return without fetching again.
        self._refreshing = asyncio.Lock()

    async def key_set(self, kid: str | None) -> KeySet:
        """The key set to check a token with header `kid` against; InvalidToken if none."""
        keys = self._without_fetch(kid)
        if keys is None and self._refreshing.locked():
            # A fetch is under way: a kid the last good set holds need not wait for it.
            keys = self._last_good(kid, time.monotonic())
        if keys is not None:
            return keys
        async with self._refreshing:
            # Another request may have fetched, or failed to, while this one waited.
            keys = self._without_fetch(kid)
            if keys is not None:
                return keys
            return await self._fetch(kid)

    def _without_fetch(self, kid: str | None) -> KeySet | None:
        """The cached key set when no fetch is due, None when one is; InvalidToken while a
        failed fetch is remembered and the last good set cannot serve `kid`."""
        now = time.monotonic()
        keys = self._keys
        if keys is not None:
            age = now - self._fetched_at
            unknown_kid = kid is not None and not _holds(keys, kid)
            if age <= self._ttl and not (unknown_kid and age > self._min_refresh):
                return keys
        if self._failed_at is not None and now - self._failed_at < self._failure_memory:
            return self._last_good_or_refuse(kid, now)
        return None

    async def _fetch(self, kid: str | None) -> KeySet:
        try:
            async with httpx.AsyncClient(timeout=self._fetch_timeout) as client:
                response = await client.get(self._url)
                response.raise_for_status()
            keys = _key_set(response.json())
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, JoseError) as exc:
            self._failed_at = time.monotonic()
            # Once per failure remembered. The exception's class says what failed; not the
            # URL, which may carry credentials, nor the body, which is the provider's.
            _log.warning("fetching the external issuer's JWKS failed: %s", type(exc).__name__)
            return self._last_good_or_refuse(kid, self._failed_at)
        self._keys, self._fetched_at, self._failed_at = keys, time.monotonic(), None
        return keys

    def _last_good(self, kid: str | None, now: float) -> KeySet | None:
        """The last key set fetched, if it holds `kid` and is not too old to stand in."""
        keys = self._keys
        if keys is None or (kid is not None and not _holds(keys, kid)):
            return None
        return keys if now - self._fetched_at <= self._ttl + self._stale_if_error else None

    def _last_good_or_refuse(self, kid: str | None, now: float) -> KeySet:
        keys = self._last_good(kid, now)
        if keys is None:
            raise InvalidToken(KEYS_UNAVAILABLE)
        return keys


def _holds(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)


def _key_set(document: Any) -> KeySet:
    """A JWK set (RFC 7517 §5) with at least one key; ValueError or JoseError otherwise."""
    # joserfc answers TypeError or KeyError to a document of the wrong shape.
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not all(isinstance(key, dict) for key in keys):
        raise ValueError("not a JWK set")
    return KeySet.import_key_set(document)


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
            keys = await self._external.key_set(kid)
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
    subject = claims.get("sub")
    return Principal(
        tenant_id=tenant,
        client_id=client_id,
        scopes=granted_scopes(scope),
        subject=subject[:255] if isinstance(subject, str) else None,
    )
