"""The fields an operation selects, collected as GraphQL's CollectFields does.

Only what a plan can answer exactly is collected: a directive (@skip, @include), whose
effect depends on the variables, makes the document unplannable. Documents reach here
validated, so fields sharing a response key are the same field with the same arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    value_from_ast,
)
from graphql.pyutils import Undefined


class NotPlannable(Exception):
    """The plan cannot answer this exactly; the executor answers instead."""


@dataclass
class Selected:
    """One response key: the field it names, its arguments and what it selects."""

    key: str
    name: str
    arguments: dict[str, ValueNode]
    node: FieldNode
    selection_sets: list[SelectionSetNode] = field(default_factory=list)


def collect(
    selection_sets: list[SelectionSetNode],
    type_names: frozenset[str],
    fragments: dict[str, FragmentDefinitionNode],
) -> dict[str, Selected]:
    """Response key → field for an object whose type (or interface) names are `type_names`."""
    collected: dict[str, Selected] = {}
    spread: set[str] = set()
    for selection_set in selection_sets:
        _collect(selection_set, type_names, fragments, collected, spread)
    return collected


def _collect(
    selection_set: SelectionSetNode,
    type_names: frozenset[str],
    fragments: dict[str, FragmentDefinitionNode],
    collected: dict[str, Selected],
    spread: set[str],
) -> None:
    for selection in selection_set.selections:
        if selection.directives:
            raise NotPlannable("a directive depends on the variables")
        if isinstance(selection, FieldNode):
            key = selection.alias.value if selection.alias else selection.name.value
            entry = collected.get(key)
            if entry is None:
                arguments = {a.name.value: a.value for a in selection.arguments or ()}
                entry = Selected(key, selection.name.value, arguments, selection)
                collected[key] = entry
            if selection.selection_set is not None:
                entry.selection_sets.append(selection.selection_set)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            if condition is None or condition.name.value in type_names:
                _collect(selection.selection_set, type_names, fragments, collected, spread)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in spread:
                continue
            if fragment.type_condition.name.value in type_names:
                spread.add(name)
                _collect(fragment.selection_set, type_names, fragments, collected, spread)


class Arguments:
    """A field's arguments as the executor coerces them, from the document and variables."""

    def __init__(self, selected: Selected, definitions: dict[str, Any]) -> None:
        self._nodes = selected.arguments
        self._definitions = definitions

    def only(self, *names: str) -> None:
        if set(self._nodes) - set(names):
            raise NotPlannable("arguments")

    def value(self, name: str, variables: dict[str, Any]) -> Any:
        node = self._nodes.get(name)
        if node is None:
            default = self._definitions[name].default_value if name in self._definitions else None
            return None if default is Undefined else default
        if isinstance(node, VariableNode):
            return variables.get(node.name.value)
        # Validated already: the literal fits its type.
        return value_from_ast(node, self._definitions[name].type, variables)
