"""Answers built from the objects the schema's own resolvers return, without the executor.

For a root field whose rows are not planned column by column, a plan may call the field's
own resolver (the one the executor calls, with the arguments a plan takes) and then walk
the answer along the selection, compiled once: a field read as an attribute, serialized by
its type's own `serialize`, a resolver that takes only its object (`total_count`,
`formatted`), or one that takes its object, `info` and scalar arguments (`Customer.usage`),
called with the arguments coerced as the executor coerces them. Items of a list whose
fields call such resolvers are filled concurrently, so their loaders batch as under the
executor. Anything else (input-object or enum arguments, an interface, a null where the
schema says non-null, an error the executor words) is the executor's.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from graphql import (
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    VariableNode,
    is_non_null_type,
)
from strawberry.permission import PermissionExtension

from infra.planned.selection import Arguments, NotPlannable, Selected, collect


@dataclass
class Env:
    """What one request's walk reads: the coerced variables, and what resolvers read of
    strawberry's `info` (the request context)."""

    values: dict[str, Any]
    info: Any


# A walk that reads no variables and no request context: objects made from rows.
NO_ENV = Env({}, None)

Convert = Callable[[Any, Env], Awaitable[Any]]

# Fields a walk never answers, whatever its context: the upcoming invoice is priced by a
# unit of work at the request's clock (a preview nothing stores), not read from rows.
NEVER_WALKED = frozenset({("Subscription", "upcomingInvoice")})
Getter = Callable[[Any, Env], Any]


class Walker:
    def __init__(
        self,
        fragments: dict[str, FragmentDefinitionNode],
        check_scopes: Callable[[GraphQLObjectType, Selected], None],
        *,
        with_context: bool = True,
    ) -> None:
        """`with_context`: whether the walk runs with the request's context, which resolvers
        taking `info` read; without it (objects made from rows) such fields are the
        executor's, or their resolver route's."""
        self._fragments = fragments
        self._check_scopes = check_scopes
        self._with_context = with_context

    def output(self, type_: GraphQLOutputType, selected: Selected) -> Convert:
        convert, is_async = self._output(type_, selected)
        if is_async:
            return convert  # type: ignore[no-any-return]

        async def done(value: Any, env: Env) -> Any:
            return convert(value, env)

        return done

    def _output(self, type_: GraphQLOutputType, selected: Selected) -> tuple[Any, bool]:
        """The conversion, and whether it is a coroutine function (it calls a resolver that
        may wait, on a loader for instance); the others convert in one plain call."""
        if isinstance(type_, GraphQLNonNull):
            inner, is_async = self._output(type_.of_type, selected)
            if is_async:

                async def non_null_async(value: Any, env: Env) -> Any:
                    if value is None:
                        raise NotPlannable("null for a non-null field")
                    return await inner(value, env)

                return non_null_async, True

            def non_null(value: Any, env: Env) -> Any:
                if value is None:
                    raise NotPlannable("null for a non-null field")
                return inner(value, env)

            return non_null, False
        if isinstance(type_, GraphQLList):
            item, is_async = self._output(type_.of_type, selected)
            if is_async:

                async def together(value: Any, env: Env) -> Any:
                    if value is None:
                        return None
                    # Every item's loads are queued before any batch runs; every item ends
                    # before the answer (or the first failure) goes on.
                    filled = await asyncio.gather(
                        *(item(v, env) for v in value), return_exceptions=True
                    )
                    for answer in filled:
                        if isinstance(answer, BaseException):
                            raise answer
                    return filled

                return together, True

            def each(value: Any, env: Env) -> Any:
                return None if value is None else [item(v, env) for v in value]

            return each, False
        if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
            serialize = type_.serialize

            def leaf(value: Any, _env: Env) -> Any:
                return None if value is None else serialize(value)

            return leaf, False
        if isinstance(type_, GraphQLObjectType):
            return self._object(type_, selected)
        raise NotPlannable(f"abstract type {type_}")

    def _object(self, type_: GraphQLObjectType, selected: Selected) -> tuple[Any, bool]:
        names = frozenset({type_.name, *(i.name for i in type_.interfaces)})
        fields = collect(selected.selection_sets, names, self._fragments)
        # (response key, getter, conversion or None, whether getter or conversion awaits)
        steps: list[tuple[str, Getter, Any, bool, bool]] = []
        for key, inner in fields.items():
            if inner.name == "__typename":
                steps.append((key, _constant(type_.name), None, False, False))
                continue
            field = type_.fields.get(inner.name)
            if field is None or (type_.name, inner.name) in NEVER_WALKED:
                raise NotPlannable(f"{type_.name}.{inner.name}")
            self._check_scopes(type_, inner)
            get, get_async = _getter(field, inner, with_context=self._with_context)
            convert, convert_async = self._output(field.type, inner)
            steps.append((key, get, convert, get_async, convert_async))
        if not any(get_async or convert_async for _, _, _, get_async, convert_async in steps):
            plain = [(key, get, convert) for key, get, convert, _, _ in steps]

            def fill(value: Any, env: Env) -> Any:
                if value is None:
                    return None
                return {
                    key: get(value, env) if convert is None else convert(get(value, env), env)
                    for key, get, convert in plain
                }

            return fill, False

        async def fill_async(value: Any, env: Env) -> Any:
            if value is None:
                return None
            answer = {}
            for key, get, convert, get_async, convert_async in steps:
                got = get(value, env)
                if get_async:
                    got = await got
                if convert is not None:
                    got = await convert(got, env) if convert_async else convert(got, env)
                answer[key] = got
            return answer

        return fill_async, True


def _getter(field: GraphQLField, selected: Selected, *, with_context: bool) -> tuple[Getter, bool]:
    """How a field's value is got from its object, and whether that is a coroutine (a
    resolver that may wait, on a loader for instance)."""
    definition = field.extensions.get("strawberry-definition")
    if definition is None:
        raise NotPlannable("not a strawberry field")
    if any(not isinstance(e, PermissionExtension) for e in definition.extensions or ()):
        raise NotPlannable("field extension")
    resolver = definition.base_resolver
    if resolver is None:
        if selected.arguments:
            raise NotPlannable("arguments of an attribute")
        attribute = attrgetter(definition.python_name)
        return (lambda value, _env: attribute(value)), False
    function = resolver.wrapped_func
    parameters = list(inspect.signature(function).parameters)
    if parameters == ["root"] and not selected.arguments:
        if inspect.iscoroutinefunction(function):
            return (lambda value, _env: function(value)), True

        def plain(value: Any, _env: Env) -> Any:
            got = function(value)
            if inspect.isawaitable(got):  # a plain function handing back an awaitable
                if inspect.iscoroutine(got):
                    got.close()
                raise NotPlannable("an awaitable from a plain resolver")
            return got

        return plain, False
    python_names = [argument.python_name for argument in definition.arguments]
    if not with_context:
        raise NotPlannable("a resolver reading the request's context")
    if parameters != ["root", "info", *python_names] or len(python_names) != len(field.args):
        raise NotPlannable("a resolver taking more than its object, info and arguments")
    for argument in field.args.values():
        if not isinstance(_named(argument.type), GraphQLScalarType):
            raise NotPlannable("a non-scalar argument")
    # An argument left out reaches the resolver as its Python default under the executor:
    # only documents that give every argument are planned.
    if set(field.args) - set(selected.arguments):
        raise NotPlannable("an argument left to its default")
    arguments = Arguments(selected, field.args)
    names = list(zip(python_names, field.args, strict=True))
    variables = {
        node.name.value for node in selected.arguments.values() if isinstance(node, VariableNode)
    }

    required = [name for name, argument in field.args.items() if is_non_null_type(argument.type)]

    async def call(value: Any, env: Env) -> Any:
        if not variables <= env.values.keys():
            raise NotPlannable("a variable left out")
        given = {python: arguments.value(name, env.values) for python, name in names}
        # A null where the argument is non-null (a nullable variable with a default, sent
        # as null): the executor words the error.
        if any(given[python] is None for python, name in names if name in required):
            raise NotPlannable("null for a non-null argument")
        try:
            return await function(value, env.info, **given)
        except GraphQLError:  # an argument the executor words an error about
            raise NotPlannable("resolver refused") from None

    if not inspect.iscoroutinefunction(function):
        raise NotPlannable("a synchronous resolver with arguments")
    return call, True


def _named(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def _constant(value: Any) -> Getter:
    return lambda _obj, _env: value
