"""The `Node` interface: every object with a prefixed id, resolvable by `node(id:)`."""

from __future__ import annotations

from typing import Any, Protocol

import strawberry

from domain.ids import kind_of


@strawberry.interface(description="An object with a globally unique, prefixed, opaque id.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque id with a type prefix (`cus_…`, `evt_…`). Resolve it with `node`."
    )


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


def node_from_domain(found: _Identified | None) -> Any:
    """The API type of a domain object that has a prefixed id, built by its `from_domain`:
    the node registry names the type of the id's prefix, and every type implementing Node
    is a subclass."""
    if found is None:
        return None
    kind = kind_of(found.id)
    type_name = kind.type_name if kind else None
    for node_type in Node.__subclasses__():
        if node_type.__strawberry_definition__.name == type_name:  # type: ignore[attr-defined]
            return node_type.from_domain(found)  # type: ignore[attr-defined]
    raise LookupError(f"no Node type builds {type(found).__name__}")
