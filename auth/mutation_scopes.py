"""A mutation document runs only when the token may run every mutation it names.

Mutations run one after another (GraphQL §6.2.2). Were a refused one simply FORBIDDEN in
turn, the ones before it would already have written, while its non-null payload nulls
`data`: the caller reads "nothing happened" about writes that did, and a retry without an
Idempotency-Key writes them twice. So the scopes of every root mutation field are checked
before any runs, from the same permission classes the fields declare.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
)
from graphql.execution import ExecutionResult
from strawberry.extensions import SchemaExtension

from auth.principal import Principal
from auth.scopes import field_permissions


class MutationScopes(SchemaExtension):
    def on_execute(self):  # type: ignore[no-untyped-def]
        context = self.execution_context
        principal = getattr(context.context, "principal", None)
        document = context.graphql_document
        if isinstance(principal, Principal) and document is not None:
            errors = refused_mutations(
                context.schema._schema, document, context.operation_name, principal
            )
            if errors:
                context.result = ExecutionResult(data=None, errors=errors)
        yield


def refused_mutations(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    principal: Principal,
) -> list[GraphQLError]:
    """A FORBIDDEN error for each root mutation field the principal may not run."""
    operation = get_operation_ast(document, operation_name)
    mutation_type = schema.mutation_type
    if operation is None or operation.operation != OperationType.MUTATION or not mutation_type:
        return []
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    errors = []
    for node in _root_fields(operation.selection_set, fragments, set()):
        for permission, scope in field_permissions(mutation_type.fields.get(node.name.value)):
            if scope is not None and not principal.has_scope(scope):
                key = node.alias.value if node.alias else node.name.value
                errors.append(
                    GraphQLError(
                        permission.message or "",
                        nodes=[node],
                        path=[key],
                        extensions=permission.error_extensions,
                    )
                )
                break
    return errors


def _root_fields(
    selections: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    visited: set[str],
) -> Iterator[FieldNode]:
    # @skip and @include are not evaluated: a refused mutation named in the document is
    # refused whatever the variables say.
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragments, visited)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in visited:
                visited.add(name)
                yield from _root_fields(fragments[name].selection_set, fragments, visited)
