"""What a query costs: the objects it may return, counted before anything runs.

Each field that returns objects costs 1 per object it may return, so a list field's cost is
its page size (`first` or `last`, else its declared default; a connection asked for neither
returns the default page; `nodes(ids:)` as many ids as it names), and everything selected
below a list is multiplied by that list's size, nested lists multiplied again. A
connection's `edges` hold its page; its `pageInfo` is one object. Scalars cost nothing: a
row's columns come with it. Each mutation costs MUTATION_COST more, for the writes behind it.
Fields selected twice (through two fragments, say) count twice: an upper bound.

Fragments on alternatives (`... on Customer`, `... on Plan` under `node`) count as the
dearest one; a named fragment is costed once per document and page size, however often it is
spread, so costing is linear in the document even when fragments nest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_abstract_type,
    is_composite_type,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef
from strawberry.extensions import SchemaExtension

from domain.queries import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

MUTATION_COST = 10
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
_META_FIELDS = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int:
    """The cost of the operation that `operation_name` picks (0 when none is picked: the
    request is refused anyway). Works on documents not yet validated: unknown fields and
    fragments cost nothing, and a fragment that spreads itself is counted once."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    counter = _Counter(schema, fragments, variables or {})
    cost = counter.selection(operation.selection_set, root, 1)
    if operation.operation is OperationType.MUTATION:
        cost += MUTATION_COST * sum(
            1 for s in operation.selection_set.selections if isinstance(s, FieldNode)
        )
    return cost


def too_complex(cost: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"The query costs {cost}, over the limit of {limit}: ask for smaller pages "
        "(first/last) or fewer nested lists.",
        extensions={"code": QUERY_TOO_COMPLEX, "cost": cost, "limit": limit},
    )


class _Counter:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self._schema = schema
        self._fragments = fragments
        self._variables = variables
        # Per fragment and page: its cost once computed, None while being computed (a cycle).
        self._fragment_costs: dict[tuple[str, int], int | None] = {}

    def selection(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, page: int
    ) -> int:
        """Fields on the parent type add up; fragments that apply to different concrete
        types are alternatives, of which the dearest counts. `page` is the page size of a
        connection the parent is: its lists (`edges`) hold that many."""
        fields = 0
        by_type: dict[str, int] = {}
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields += self._field(selection, parent, page)
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self._schema.get_type(condition.name.value) if condition else parent
                cost = (
                    0 if target is None else self.selection(selection.selection_set, target, page)
                )
            elif isinstance(selection, FragmentSpreadNode):
                target, cost = self._spread(selection.name.value, page)
            else:  # pragma: no cover - graphql-core has no other selection
                continue
            if target is None or not cost:
                continue
            for name in self._concrete_names(parent, target):
                by_type[name] = by_type.get(name, 0) + cost
        return fields + max(by_type.values(), default=0)

    def _concrete_names(self, parent: GraphQLNamedType, target: GraphQLNamedType) -> list[str]:
        if not is_abstract_type(target):
            return [target.name]
        if is_abstract_type(parent):
            # The types both could be; any concrete type when they share none (invalid).
            inner = {t.name for t in self._schema.get_possible_types(target)}
            outer = {t.name for t in self._schema.get_possible_types(parent)}
            return sorted(inner & outer) or [parent.name]
        return [parent.name]

    def _spread(self, name: str, page: int) -> tuple[GraphQLNamedType | None, int]:
        fragment = self._fragments.get(name)
        if fragment is None:
            return None, 0
        target = self._schema.get_type(fragment.type_condition.name.value)
        if target is None:
            return None, 0
        key = (name, page)
        if key in self._fragment_costs:
            return target, self._fragment_costs[key] or 0
        self._fragment_costs[key] = None
        cost = self.selection(fragment.selection_set, target, page)
        self._fragment_costs[key] = cost
        return target, cost

    def _field(self, node: FieldNode, parent: GraphQLNamedType, page: int) -> int:
        name = node.name.value
        definition = _META_FIELDS.get(name)
        if definition is None:
            if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                return 0
            definition = parent.fields.get(name)
        if definition is None:
            return 0
        named = get_named_type(definition.type)
        if not is_composite_type(named):
            return 0
        size = self._size(node, definition, named)
        selection_set = node.selection_set
        if isinstance(get_nullable_type(definition.type), GraphQLList):
            # A list without a page of its own holds its connection's page (`edges`), or is
            # counted as one.
            count = page if size is None else size
            inner = 0 if selection_set is None else self.selection(selection_set, named, 1)
            return count + count * inner
        # An object: a connection's lists hold its page; pageInfo and the like are one.
        inner_page = 1 if size is None else size
        return 1 + (
            0 if selection_set is None else self.selection(selection_set, named, inner_page)
        )

    def _size(
        self, node: FieldNode, definition: GraphQLField, named: GraphQLNamedType
    ) -> int | None:
        """The page a field asks for (`first`/`last`, `ids`), or None when it takes none."""
        arguments = {a.name.value: a.value for a in node.arguments or ()}
        if "first" in definition.args or "last" in definition.args:
            asked = [
                self._int(arguments.get(name), definition.args[name].default_value)
                for name in ("first", "last")
                if name in definition.args
            ]
            given = [value for value in asked if value is not None]
            if given:
                return max(0, min(max(given), MAX_PAGE_SIZE))
            return DEFAULT_PAGE_SIZE if named.name.endswith("Connection") else None
        if "ids" in definition.args:
            return self._length(arguments.get("ids"))
        return None

    def _value(self, node: ValueNode | None) -> Any:
        if isinstance(node, VariableNode):
            return self._variables.get(node.name.value)
        return node

    def _int(self, node: ValueNode | None, default: Any) -> int | None:
        value = self._value(node)
        if isinstance(value, IntValueNode):
            return int(value.value)
        if value is None:
            value = default
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def _length(self, node: ValueNode | None) -> int:
        value = self._value(node)
        if isinstance(value, ListValueNode):
            return len(value.values)
        return len(value) if isinstance(value, list) else 1


class QueryCostLimit(SchemaExtension):
    """Refuses an operation that costs more than the schema's limit, before any resolver
    runs. Listed after ValidationCache, it sees the document's validation errors: an
    invalid document is refused for those, a valid one costed. The HTTP endpoint has costed
    the request already (its context carries `query_cost`); other callers are costed here."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def on_validate(self):  # type: ignore[no-untyped-def]
        # Before the yield: strawberry checks `pre_execution_errors` inside the validation
        # step, so an error added after it would let the operation run.
        execution_context = self.execution_context
        document = execution_context.graphql_document
        if not execution_context.pre_execution_errors and document is not None:
            cost = getattr(execution_context.context, "query_cost", None)
            if cost is None:
                cost = query_cost(
                    execution_context.schema._schema,
                    document,
                    execution_context.operation_name,
                    execution_context.variables,
                )
            if cost > self.limit:
                execution_context.pre_execution_errors = [too_complex(cost, self.limit)]
        yield
