"""Answers built from the objects the schema's own resolvers return, without the executor.

For a root field whose rows are not planned column by column, a plan may call the field's
own resolver (the one the executor calls, with the arguments a plan takes) and then walk
the answer along the selection, compiled once: a field read as an attribute, serialized by
its type's own `serialize`, or a resolver that takes only its object (`total_count`,
`formatted`). Anything else (arguments, a resolver needing `info`, an interface, a null
where the schema says non-null) is the executor's.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from operator import attrgetter
from typing import Any

from graphql import (
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
)
from strawberry.permission import PermissionExtension

from infra.planned.selection import NotPlannable, Selected, collect

Convert = Callable[[Any], Awaitable[Any]]


class Walker:
    def __init__(
        self,
        fragments: dict[str, FragmentDefinitionNode],
        check_scopes: Callable[[GraphQLObjectType, Selected], None],
    ) -> None:
        self._fragments = fragments
        self._check_scopes = check_scopes

    def output(self, type_: GraphQLOutputType, selected: Selected) -> Convert:
        if isinstance(type_, GraphQLNonNull):
            inner = self.output(type_.of_type, selected)

            async def non_null(value: Any) -> Any:
                if value is None:
                    raise NotPlannable("null for a non-null field")
                return await inner(value)

            return non_null
        if isinstance(type_, GraphQLList):
            item = self.output(type_.of_type, selected)

            async def each(value: Any) -> Any:
                return None if value is None else [await item(v) for v in value]

            return each
        if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
            serialize = type_.serialize

            async def leaf(value: Any) -> Any:
                return None if value is None else serialize(value)

            return leaf
        if isinstance(type_, GraphQLObjectType):
            return self._object(type_, selected)
        raise NotPlannable(f"abstract type {type_}")

    def _object(self, type_: GraphQLObjectType, selected: Selected) -> Convert:
        names = frozenset({type_.name, *(i.name for i in type_.interfaces)})
        fields = collect(selected.selection_sets, names, self._fragments)
        steps: list[tuple[str, Callable[[Any], Any], Convert | None]] = []
        for key, inner in fields.items():
            if inner.name == "__typename":
                steps.append((key, _constant(type_.name), None))
                continue
            field = type_.fields.get(inner.name)
            if field is None or inner.arguments:
                raise NotPlannable(f"{type_.name}.{inner.name}")
            self._check_scopes(type_, inner)
            get = _getter(field.extensions.get("strawberry-definition"))
            steps.append((key, get, self.output(field.type, inner)))

        async def fill(value: Any) -> Any:
            if value is None:
                return None
            answer = {}
            for key, get, convert in steps:
                got = get(value)
                if inspect.isawaitable(got):
                    got = await got
                answer[key] = got if convert is None else await convert(got)
            return answer

        return fill


def _getter(definition: Any) -> Callable[[Any], Any]:
    if definition is None:
        raise NotPlannable("not a strawberry field")
    if any(not isinstance(e, PermissionExtension) for e in definition.extensions or ()):
        raise NotPlannable("field extension")
    resolver = definition.base_resolver
    if resolver is None:
        return attrgetter(definition.python_name)
    parameters = list(inspect.signature(resolver.wrapped_func).parameters)
    if parameters != ["root"]:
        raise NotPlannable("a resolver with more than its object")
    return resolver.wrapped_func  # type: ignore[no-any-return]


def _constant(value: Any) -> Callable[[Any], Any]:
    return lambda _obj: value
