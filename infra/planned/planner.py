"""The planned read path: what dashboards send all day, answered without the executor.

A validated query is compiled once per (document, operation name, scopes) into a plan: for
each root field, the SQL it needs (only the columns asked for) and how rows fill the
answer, in the answer's order. Running a plan is coercing the variables, a few statements
in one read-only tenant transaction, and filling dicts; no resolver, no per-field
machinery. The strawberry schema stays the source of truth: plans are made only for
documents it validates, for fields whose scopes the token holds, and anything a plan does
not cover exactly (a field, an argument, a directive, a bad cursor, an error to word) is
answered by the executor. A differential test holds both to the same bytes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    OperationType,
    VariableDefinitionNode,
    get_operation_ast,
    validate,
)
from graphql.execution.values import get_variable_values
from sqlalchemy.engine import Dialect

from auth.principal import Principal
from auth.scopes import field_permissions
from domain.queries import MAX_PAGE_SIZE
from infra.planned.billing import (
    coupon_list,
    credit_note_list,
    invoice_list,
    subscription_list,
    tax_rate_list,
)
from infra.planned.customers import CustomerById, CustomerShape, ShapeTools, customer_list
from infra.planned.lists import KeysetList, ListOf
from infra.planned.plans import plan_list
from infra.planned.selection import Arguments, NotPlannable, Selected, collect
from infra.planned.viewer import ViewerPlan
from infra.planned.walker import Env, Walker

CACHE_SIZE = 512

# Root lists planned in their default order: field → how its nodes are made, its node type.
_LISTS: dict[str, tuple[Callable[[ShapeTools], ListOf], str]] = {
    "customers": (customer_list, "Customer"),
    "plans": (plan_list, "Plan"),
    "invoices": (invoice_list, "Invoice"),
    "subscriptions": (subscription_list, "Subscription"),
    "coupons": (coupon_list, "Coupon"),
    "taxRates": (tax_rate_list, "TaxRate"),
    "creditNotes": (credit_note_list, "CreditNote"),
}


@dataclass
class Scope:
    """What a plan runs with: the request's connection, and (for roots answered by their
    own resolver) the request context that resolver reads."""

    db: Any
    context: Any = None


Runner = Callable[[Scope], Any]


@dataclass
class RootField:
    key: str
    bind: Callable[[dict[str, Any], Principal], Runner]
    needs_database: bool
    needs_context: bool = False


def _on_db(run: Callable[[Any], Any]) -> Runner:
    return lambda scope: run(scope.db)


@dataclass
class Plan:
    variable_definitions: Sequence[VariableDefinitionNode]
    roots: list[RootField]

    @property
    def needs_database(self) -> bool:
        return any(root.needs_database for root in self.roots)

    @property
    def needs_context(self) -> bool:
        return any(root.needs_context for root in self.roots)

    def bind(
        self, schema: GraphQLSchema, variables: dict[str, Any] | None, principal: Principal
    ) -> list[tuple[str, Runner]]:
        """Checks the variables and arguments before any SQL; NotPlannable when the
        executor must answer (it words every error)."""
        coerced = get_variable_values(schema, self.variable_definitions, variables or {})
        if isinstance(coerced, list):
            raise NotPlannable("variables")
        values = dict(coerced.coerced)
        return [(root.key, root.bind(values, principal)) for root in self.roots]


class Planner:
    def __init__(
        self, schema: GraphQLSchema, dialect: Dialect, rules: Sequence[type[ASTValidationRule]]
    ) -> None:
        self.schema = schema
        self._dialect = dialect
        self._rules = rules
        self._plans: OrderedDict[tuple[str, str | None, frozenset[str]], Plan | None] = (
            OrderedDict()
        )

    def plan(
        self,
        document: DocumentNode,
        normalised: str,
        operation_name: str | None,
        scopes: frozenset[str],
    ) -> Plan | None:
        key = (normalised, operation_name, scopes)
        if key in self._plans:
            self._plans.move_to_end(key)
            return self._plans[key]
        plan = None
        if not validate(self.schema, document, self._rules):
            try:
                plan = self._compile(document, operation_name, scopes)
            except NotPlannable:
                plan = None
        self._plans[key] = plan
        if len(self._plans) > CACHE_SIZE:
            self._plans.popitem(last=False)
        return plan

    def _compile(
        self, document: DocumentNode, operation_name: str | None, scopes: frozenset[str]
    ) -> Plan:
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation != OperationType.QUERY:
            raise NotPlannable("not one query")
        if operation.directives:
            raise NotPlannable("operation directives")
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        query_type = self.schema.query_type
        assert query_type is not None
        compiler = _Compiler(self.schema, self._dialect, fragments, scopes)
        fields = collect([operation.selection_set], frozenset({"Query"}), fragments)
        roots = [compiler.root(query_type, selected) for selected in fields.values()]
        return Plan(operation.variable_definitions or (), roots)


class _Compiler:
    def __init__(
        self,
        schema: GraphQLSchema,
        dialect: Dialect,
        fragments: dict[str, FragmentDefinitionNode],
        scopes: frozenset[str],
    ) -> None:
        self._schema = schema
        self._dialect = dialect
        self._fragments = fragments
        self._scopes = scopes

    def nested(self, selected: Selected, type_names: set[str]) -> dict[str, Selected]:
        """A field's own selection, for objects of `type_names`, with every field's scopes
        checked: a field the token may not read makes the document the executor's."""
        fields = collect(selected.selection_sets, frozenset(type_names), self._fragments)
        for name in type_names:
            owner = self._schema.get_type(name)
            if isinstance(owner, GraphQLObjectType):
                for inner in fields.values():
                    self._check_scopes(owner, inner)
        return fields

    def _check_scopes(self, owner: GraphQLObjectType, selected: Selected) -> None:
        field = owner.fields.get(selected.name)
        if field is None:
            return  # __typename
        for _permission, scope in field_permissions(field):
            if scope is None or scope not in self._scopes:
                raise NotPlannable(f"scope for {owner.name}.{selected.name}")

    def root(self, query_type: GraphQLObjectType, selected: Selected) -> RootField:
        self._check_scopes(query_type, selected)
        key, name = selected.key, selected.name
        if name == "__typename":
            return RootField(key, lambda _values, _principal: _on_db(_constant("Query")), False)
        if name == "viewer":
            viewer = ViewerPlan.plan(self.nested(selected, {"Viewer"}), self.nested)
            return RootField(
                key, lambda _v, principal: _on_db(viewer.bind(principal)), viewer.needs_database
            )
        field = query_type.fields.get(name)
        if field is None:  # introspection
            raise NotPlannable(f"Query.{name}")
        arguments = Arguments(selected, field.args)
        listed = _LISTS.get(name)
        if listed is not None:
            arguments.only("first", "after")
            make_list, type_name = listed
            try:
                plan = KeysetList.plan(
                    make_list(self._tools(type_name)),
                    self.nested(selected, {f"{type_name}Connection"}),
                    self.nested,
                    self._dialect,
                )
            except NotPlannable:  # a field beyond columns (a link through a loader, say)
                return self._by_resolver(field, selected, arguments)
            return self._keyset_list(key, plan, arguments)
        if name == "node":
            fields = self.nested(selected, {"Customer", "Node"})
            if "customers:read" not in self._scopes:
                raise NotPlannable("node without customers:read")
            by_id = CustomerById.plan(CustomerShape(fields), self._dialect)
            return RootField(
                key, lambda values, _p: _on_db(by_id.bind(arguments.value("id", values))), True
            )
        raise NotPlannable(f"Query.{name}")

    def _tools(self, type_name: str) -> ShapeTools:
        node_type = self._schema.get_type(type_name)
        assert isinstance(node_type, GraphQLObjectType)
        # Nodes made from rows: no request context for resolvers that read one.
        walker = Walker(self._fragments, self._check_scopes, with_context=False)
        return ShapeTools(node_type, walker, self._dialect, self.nested)

    def _keyset_list(self, key: str, plan: KeysetList, arguments: Arguments) -> RootField:
        def bind(values: dict[str, Any], _principal: Principal) -> Runner:
            first, after = arguments.value("first", values), arguments.value("after", values)
            return _on_db(plan.bind(first, after, values))

        return RootField(key, bind, True)

    def _by_resolver(self, field: Any, selected: Selected, arguments: Arguments) -> RootField:
        arguments.only("first", "after")
        definition = field.extensions.get("strawberry-definition")
        if definition is None or definition.base_resolver is None:
            raise NotPlannable("no resolver")
        resolve = definition.base_resolver.wrapped_func
        convert = Walker(self._fragments, self._check_scopes).output(field.type, selected)

        def bind(values: dict[str, Any], _principal: Principal) -> Runner:
            first, after = arguments.value("first", values), arguments.value("after", values)
            if first is not None and not (isinstance(first, int) and 1 <= first <= MAX_PAGE_SIZE):
                raise NotPlannable("page size")

            async def run(scope: Scope) -> Any:
                try:
                    info = _Info(scope.context)
                    found = await resolve(info=info, first=first, after=after)
                except GraphQLError:  # an argument the executor words an error about
                    raise NotPlannable("resolver refused") from None
                return await convert(found, Env(values, info))

            return run

        return RootField(selected.key, bind, True, needs_context=True)


def _constant(value: Any) -> Callable[[Any], Any]:
    async def run(_db: Any) -> Any:
        return value

    return run


@dataclass
class _Info:
    """What a resolver reads of strawberry's `info`: the request context."""

    context: Any
