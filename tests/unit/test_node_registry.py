"""The node registry (domain.ids.KINDS) agrees with the schema and the scopes it names."""

from __future__ import annotations

from auth.scopes import ALL_SCOPES
from domain.ids import KINDS, PREFIXES
from schema.nodes import Node
from schema.schema import schema


def test_every_read_scope_of_the_registry_is_a_scope_of_the_api() -> None:
    # then
    for kind in KINDS.values():
        assert kind.read_scope is None or kind.read_scope in ALL_SCOPES, kind


def test_the_kinds_with_a_reader_are_exactly_the_types_that_implement_node() -> None:
    # given
    implementing = {
        name
        for name, graphql_type in schema._schema.type_map.items()
        if Node.__name__ in {i.name for i in getattr(graphql_type, "interfaces", ())}
    }
    # then
    assert {kind.type_name for kind in KINDS.values() if kind.by_ids} == implementing


def test_only_events_are_nodes_without_a_read_scope_of_their_own() -> None:
    # then: an event is read with the scope of the object it is about
    assert [k.prefix for k in KINDS.values() if k.by_ids and not k.read_scope] == ["evt"]


def test_prefixes_name_the_registry_types() -> None:
    # then
    assert PREFIXES == {prefix: kind.type_name for prefix, kind in KINDS.items()}
