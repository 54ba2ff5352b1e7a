"""OAuth scopes (API.md) and the strawberry permission classes that demand them on fields."""

from __future__ import annotations

from functools import cache
from typing import Any

from strawberry.permission import BasePermission

from domain.ids import KINDS

CUSTOMERS_READ = "customers:read"
CUSTOMERS_WRITE = "customers:write"
CATALOG_READ = "catalog:read"
CATALOG_WRITE = "catalog:write"
USAGE_WRITE = "usage:write"
SUBSCRIPTIONS_READ = "subscriptions:read"
SUBSCRIPTIONS_WRITE = "subscriptions:write"
INVOICES_READ = "invoices:read"
INVOICES_WRITE = "invoices:write"
PAYMENTS_READ = "payments:read"
PAYMENTS_WRITE = "payments:write"
WEBHOOKS_MANAGE = "webhooks:manage"
AUDIT_READ = "audit:read"

ALL_SCOPES: tuple[str, ...] = (
    "customers:read",
    "customers:write",
    "catalog:read",
    "catalog:write",
    "usage:write",
    "subscriptions:read",
    "subscriptions:write",
    "invoices:read",
    "invoices:write",
    "payments:read",
    "payments:write",
    "webhooks:manage",
    "audit:read",
)

# The scope that reads each kind of object, from the node registry: through its list and
# singular fields, through `node`/`nodes`, and through the events about it (`customer.*`
# events are customers).
_READ_SCOPES = {
    kind.type_name.lower(): kind.read_scope for kind in KINDS.values() if kind.read_scope
}


def may_read(kind: str, scopes: frozenset[str]) -> bool:
    """Whether a token with `scopes` may read objects of `kind` ("Customer", "customer",
    "CreditNote", "credit_note"...): event types name kinds in snake case."""
    scope = _READ_SCOPES.get(kind.lower().replace("_", ""))
    return scope is not None and scope in scopes


class UnknownScope(ValueError):
    pass


def split_scope(text: str | None) -> list[str]:
    """The scope-tokens of a scope string, as RFC 6749 §3.3 separates them: by the ASCII
    space (%x20) only. `str.split()` would also split on tabs, newlines and Unicode spaces
    (U+00A0...), turning "x\u00a0customers:read" into a grant of customers:read. Runs of
    spaces are tolerated (empty pieces dropped); any other character stays in its piece, which
    then names no scope of ours."""
    return [piece for piece in (text or "").split(" ") if piece]


def parse_scopes(text: str | None) -> list[str]:
    """Requested scopes (token endpoint, CLI), each one we know, in a stable order."""
    scopes = sorted(set(split_scope(text)))
    unknown = [scope for scope in scopes if scope not in ALL_SCOPES]
    if unknown:
        raise UnknownScope(f"unknown scope(s): {' '.join(map(repr, unknown))}")
    return scopes


def granted_scopes(text: str | None) -> frozenset[str]:
    """The scopes a token's `scope` claim grants: ours only. A scope we do not know (another
    API's, from an external issuer, or a garbled one) is ignored rather than refused, as an
    OAuth resource server ignores scopes meant for others."""
    return frozenset(scope for scope in split_scope(text) if scope in ALL_SCOPES)


def readable_event_types(event_types: tuple[str, ...], scopes: frozenset[str]) -> list[str]:
    """The event types a caller may read: `customer.*` needs customers:read, and so on."""
    return [t for t in event_types if may_read(t.split(".", 1)[0], scopes)]


@cache
def requires(scope: str) -> type[BasePermission]:
    """A permission class for a field that needs `scope`; the error names the missing scope."""
    if scope not in ALL_SCOPES:
        raise UnknownScope(scope)

    class RequiresScope(BasePermission):
        required_scope = scope
        message = f"This field needs the {scope} scope."
        error_extensions = {"code": "FORBIDDEN", "requiredScope": scope}

        def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
            principal = info.context.principal
            return principal is not None and principal.has_scope(scope)

    RequiresScope.__name__ = f"Requires_{scope.replace(':', '_')}"
    return RequiresScope


def field_permissions(field: Any) -> list[tuple[type[BasePermission], str | None]]:
    """The permission classes a schema field (graphql-core's, built by strawberry) declares,
    each with the scope it demands (None for a permission that is not a scope)."""
    definition = field.extensions.get("strawberry-definition") if field is not None else None
    return [
        (permission, getattr(permission, "required_scope", None))
        for permission in getattr(definition, "permission_classes", None) or ()
    ]
