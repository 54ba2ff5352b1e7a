"""The one mapping from domain errors to `userErrors`, and the errors of queries."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from domain.errors import DomainError


def user_errors(error: DomainError) -> list[Any]:
    from schema.types import UserError

    return [UserError.from_domain(field_error) for field_error in error.errors]


def bad_user_input(message: str) -> GraphQLError:
    """A query argument that cannot be served (page size, cursor): a GraphQL error."""
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})
