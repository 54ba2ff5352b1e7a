"""What a mutation answers (its object, or the domain errors that refused it), and the
errors of queries.

The one mapping from domain errors to `userErrors`: a mutation catches `DomainError` and
answers `refused(error)`; its payload type lists the field errors as `userErrors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from graphql import GraphQLError

from domain.errors import DomainError, FieldError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """A mutation's answer: what it wrote, or (with nothing written) why not."""

    value: T | None
    errors: Sequence[FieldError] = ()


def done(value: T) -> Outcome[T]:
    return Outcome(value)


def refused(error: DomainError) -> Outcome[T]:
    return Outcome(None, error.errors)


def bad_user_input(message: str) -> GraphQLError:
    """A query argument that cannot be served (page size, cursor): a GraphQL error."""
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})
