"""Starlette authentication: a bearer token becomes the request's principal and scopes."""

from __future__ import annotations

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection

from auth.principal import Principal
from auth.tokens import InvalidToken, TokenVerifier


class PrincipalUser(BaseUser):
    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.principal.client_id


class BearerTokenBackend(AuthenticationBackend):
    def __init__(
        self, verifier: TokenVerifier, paths: frozenset[str], prefixes: tuple[str, ...] = ()
    ) -> None:
        self._verifier = verifier
        self._paths = paths
        self._prefixes = prefixes

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = conn.headers.get("authorization")
        path = conn.url.path
        if not header or (path not in self._paths and not path.startswith(self._prefixes)):
            return None  # /healthz, /oauth/token... never fail on a stray bearer token
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return None  # e.g. HTTP Basic on the token endpoint
        try:
            principal = await self._verifier.verify(token.strip())
        except InvalidToken as exc:
            raise AuthenticationError(str(exc)) from None
        return AuthCredentials(sorted(principal.scopes)), PrincipalUser(principal)
