"""The caller of a request, as its access token tells: the only source of the tenant."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: str
    client_id: str
    scopes: frozenset[str]
    # The token's `sub`: the client itself for our tokens, a user or service of an
    # external identity provider for its tokens. Recorded in the audit log.
    subject: str | None = None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
