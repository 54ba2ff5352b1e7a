"""How a field turns what its resolver answers into the field's type.

Resolvers answer domain objects and know nothing of the types here (`schema/` imports
`resolvers/`, never the reverse); a field names its resolver together with the
`from_domain` that builds its type: `resolver=returning(Customer.from_domain, customer)`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import ParamSpec, TypeVar, overload

P = ParamSpec("P")
D = TypeVar("D")
T = TypeVar("T")


# For type checkers: a resolver that never answers None makes a field that never does, as a
# non-null field needs; one that may, a field that may. (A `build` that takes None itself,
# node_from_domain, matches the first; its answer is Any.)
@overload
def returning(
    build: Callable[[D], T], resolver: Callable[P, Awaitable[D]]
) -> Callable[P, Awaitable[T]]: ...


@overload
def returning(
    build: Callable[[D], T], resolver: Callable[P, Awaitable[D | None]]
) -> Callable[P, Awaitable[T | None]]: ...


def returning(
    build: Callable[[D], T], resolver: Callable[P, Awaitable[D | None]]
) -> Callable[P, Awaitable[T | None]]:
    """The resolver, its answer built by `build` (None stays None).

    `functools.wraps` keeps the resolver's signature, from which strawberry reads the
    field's arguments."""

    @functools.wraps(resolver)
    async def resolve(*args: P.args, **kwargs: P.kwargs) -> T | None:
        found = await resolver(*args, **kwargs)
        return None if found is None else build(found)

    return resolve


def each(build: Callable[[D], T]) -> Callable[[Iterable[D]], list[T]]:
    """`build` for every item of a list."""
    return lambda items: [build(item) for item in items]
