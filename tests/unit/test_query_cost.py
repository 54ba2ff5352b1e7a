"""What a query costs (schema/cost.py): objects it may return, lists by their page size."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse

from schema.cost import MUTATION_COST, query_cost
from schema.schema import schema


def cost(document: str, variables: dict[str, Any] | None = None, name: str | None = None) -> int:
    return query_cost(schema._schema, parse(document), name, variables)


def test_scalars_cost_nothing_and_objects_one_each() -> None:
    assert cost("{ __typename }") == 0
    assert cost("{ viewer { clientId } }") == 1
    assert cost("{ viewer { clientId account { id name } } }") == 2


def test_a_page_multiplies_what_it_selects() -> None:
    # customers 1 + pageInfo 1 + 10 edges + 10 nodes + 10 balances
    page = """
    { customers(first: 10) { pageInfo { hasNextPage } edges { node { balance { amount } } } } }
    """
    assert cost(page) == 1 + 1 + 10 + 10 + 10


def test_a_connection_without_first_or_last_counts_the_default_page() -> None:
    assert cost("{ customers { edges { node { id } } } }") == 1 + 20 + 20
    assert cost("{ customers(last: 5) { edges { node { id } } } }") == 1 + 5 + 5


def test_nested_lists_multiply() -> None:
    # 100 customers, each with a list of up to 49 invoices
    document = """
    { customers(first: 98) { pageInfo { hasNextPage }
        edges { node { id invoices(first: 49) { id } } } } }
    """
    assert cost(document) == 1 + 1 + 98 + 98 + 98 * 49 == 5000


def test_a_list_field_counts_its_declared_default_page() -> None:
    # Customer.invoices(first: Int! = 10)
    document = "{ customers(first: 2) { edges { node { invoices { lines { id } } } } } }"
    assert cost(document) == 1 + 2 + 2 + 2 * 10 + 2 * 10


def test_page_sizes_come_from_variables() -> None:
    document = "query($n: Int) { customers(first: $n) { edges { node { id } } } }"
    assert cost(document, {"n": 50}) == 101
    assert cost(document, {}) == 41
    assert cost(document, {"n": "fifty"}) == 41  # refused by the executor, costed as default


def test_page_sizes_past_the_maximum_count_as_the_maximum() -> None:
    assert cost("{ customers(first: 100000) { edges { node { id } } } }") == 201


def test_nodes_cost_as_many_ids_as_they_name() -> None:
    document = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    assert cost(document, {"ids": ["a", "b", "c"]}) == 3
    assert cost('{ nodes(ids: ["a", "b"]) { id } }') == 2


def test_alternatives_count_as_the_dearest() -> None:
    document = """
    { node(id: "x") {
        ... on Customer { invoices(first: 10) { id } }
        ... on Plan { prices { id } }
    } }
    """
    assert cost(document) == 1 + 10


def test_a_fragment_spread_twice_counts_twice_and_is_costed_once() -> None:
    document = """
    { a: customers(first: 2) { ...Page } b: customers(first: 3) { ...Page } }
    fragment Page on CustomerConnection { edges { node { id } } }
    """
    assert cost(document) == (1 + 2 * 2) + (1 + 3 * 2)


def test_a_fragment_that_spreads_itself_ends() -> None:
    document = """
    { viewer { ...Loop } }
    fragment Loop on Viewer { account { id } ...Loop }
    """
    assert cost(document) == 2


def test_fragments_nested_deeply_are_costed_in_linear_time() -> None:
    # Each fragment spreads the next twice: expanded, 2**40 fields.
    fragments = [f"fragment F{i} on Viewer {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40)] + [
        "fragment F40 on Viewer { account { id } }"
    ]
    document = "{ viewer { ...F0 } }\n" + "\n".join(fragments)
    assert cost(document) == 1 + 2**40


def test_unknown_fields_cost_nothing() -> None:
    assert cost("{ nothingHere { id } viewer { nope { id } } }") == 1


@pytest.mark.parametrize(
    "document",
    [
        'mutation { createCustomer(input: {name: "A"}) { customer { id } userErrors { code } } }',
    ],
)
def test_each_mutation_costs_more_for_its_writes(document: str) -> None:
    # the payload 1, its customer 1, its list of user errors 1
    assert cost(document) == MUTATION_COST + 3
