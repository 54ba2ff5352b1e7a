"""Operations generated from the committed schema.graphql (hypothesis-graphql), valid and
invalid, sent to the live app with an all-scopes token and with one-scope tokens: none is
answered with a server error or anything but JSON, and a refused request says why with an
error code (API.md, Errors).

Examples are derandomized (the same ones each run, so CI is deterministic) and bounded so
that the whole file runs in well under a minute; `FUZZ_EXAMPLES` sets their number.
"""

from __future__ import annotations

import os
import string
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes, queries

from auth.scopes import ALL_SCOPES
from tests.api.app_errors import recording_client, server_errors
from tests.api.test_mixed_scopes import Seeded, seed
from tests.conftest import make_tenant

SCHEMA_SDL = (Path(__file__).resolve().parents[2] / "schema.graphql").read_text()
SCHEMA = graphql.build_schema(SCHEMA_SDL)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))

TOKENS = {
    "all-scopes": sorted(ALL_SCOPES),
    "customers-read": ["customers:read"],
    "catalog-read": ["catalog:read"],
    "usage-write": ["usage:write"],
}

# The same examples every run. A function-scoped fixture (the client) serves all examples of
# a test on purpose: it is a client of the one app, as in production. Slow examples are
# expected (each is a request through the app and PostgreSQL), hence no deadline.
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# Ids of the seeded account's objects, filled in by the `seeded` fixture before any example
# runs, so that generated ids often name real rows and the reads behind them run.
_SEEDED_IDS: list[str] = []


def _string(value: str) -> graphql.StringValueNode:
    return nodes.String(value)


def _decimals() -> st.SearchStrategy[str]:
    exact = st.one_of(
        *(
            st.decimals(min_value=-(10**12), max_value=10**12, places=places).map(
                lambda d: f"{d:f}"
            )
            for places in (0, 2, 3, 8)
        )
    )
    odd = st.sampled_from(["0", "-0", "1e3", "1E-2", ".5", "5.", "+1", " 1", "NaN", "Infinity"])
    return st.one_of(exact, odd, st.text(max_size=12))


def _date_times() -> st.SearchStrategy[str]:
    offsets = st.sampled_from(
        [
            UTC,
            timezone(timedelta(hours=14)),
            timezone(timedelta(hours=-14)),
            timezone(timedelta(hours=5, minutes=30)),
        ]
    )
    near = st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=offsets
    )
    anywhere = st.datetimes(timezones=offsets)
    naive = st.datetimes()
    return st.one_of(
        near.map(datetime.isoformat),
        anywhere.map(datetime.isoformat),
        naive.map(datetime.isoformat),
        st.text(max_size=25),
    )


def _ids() -> st.SearchStrategy[str]:
    seeded = st.integers(0, 1000).map(
        lambda i: _SEEDED_IDS[i % len(_SEEDED_IDS)] if _SEEDED_IDS else "cus_x"
    )
    prefixed = st.tuples(
        st.sampled_from(["cus", "plan", "price", "bm", "evt", "acct", "inv", ""]),
        st.text(alphabet=string.ascii_letters + string.digits + "_-", max_size=70),
    ).map("_".join)
    return st.one_of(seeded, prefixed, st.text(max_size=20))


_NAMES = st.from_regex(r"\A[_A-Za-z][_0-9A-Za-z]{0,12}\Z")


def _json_literals() -> st.SearchStrategy[graphql.ValueNode]:
    leaves: st.SearchStrategy[graphql.ValueNode] = st.one_of(
        st.text(max_size=30).map(_string),
        st.integers(-(2**31), 2**31 - 1).map(nodes.Int),
        st.booleans().map(lambda b: graphql.BooleanValueNode(value=b)),
        st.just(graphql.NullValueNode()),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=3).map(lambda items: graphql.ListValueNode(values=items)),
            st.dictionaries(_NAMES, children, max_size=4).map(
                lambda fields: nodes.Object(
                    [
                        graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v)
                        for k, v in fields.items()
                    ]
                )
            ),
        ),
        max_leaves=8,
    )


CUSTOM_SCALARS: dict[str, st.SearchStrategy[graphql.ValueNode]] = {
    "Decimal": _decimals().map(_string),
    "DateTime": _date_times().map(_string),
    "Date": st.one_of(st.dates().map(lambda d: d.isoformat()), st.text(max_size=12)).map(_string),
    "CurrencyCode": st.one_of(
        st.sampled_from(["USD", "EUR", "JPY", "KWD", "usd", "XXX", "ZZZ", ""]),
        st.text(max_size=4),
    ).map(_string),
    "JSON": _json_literals(),
    "ID": _ids().map(_string),
}


def test_every_custom_scalar_of_the_schema_has_a_strategy() -> None:
    custom = {
        name
        for name, type_ in SCHEMA.type_map.items()
        if isinstance(type_, graphql.GraphQLScalarType)
        and not name.startswith("__")
        and name not in graphql.specified_scalar_types
    }
    assert custom <= set(CUSTOM_SCALARS), "give the new scalar a strategy in CUSTOM_SCALARS"


VALID_OPERATIONS = from_schema(SCHEMA, custom_scalars=CUSTOM_SCALARS)
INVALID_OPERATIONS = from_schema(SCHEMA, custom_scalars=CUSTOM_SCALARS, mode=Mode.NEGATIVE)


@st.composite
def queries_of_several_root_fields(draw: st.DrawFn) -> str:
    """Two to four root fields, each with a generated selection, in one query: fields a
    one-scope token may read run beside fields it may not (issue 12)."""
    assert SCHEMA.query_type is not None
    names = draw(
        st.lists(st.sampled_from(sorted(SCHEMA.query_type.fields)), min_size=2, max_size=4)
    )
    selections: list[graphql.SelectionNode] = []
    for index, name in enumerate(names):
        document = graphql.parse(
            draw(queries(SCHEMA, fields=[name], custom_scalars=CUSTOM_SCALARS))
        )
        operation = document.definitions[0]
        assert isinstance(operation, graphql.OperationDefinitionNode)
        for selection in operation.selection_set.selections:
            assert isinstance(selection, graphql.FieldNode)
            # an alias per occurrence: the same field twice with other arguments is valid
            alias = graphql.NameNode(value=f"{name}{index}")
            selections.append(
                graphql.FieldNode(
                    alias=alias,
                    name=selection.name,
                    arguments=selection.arguments,
                    directives=selection.directives,
                    selection_set=selection.selection_set,
                )
            )
    merged = graphql.DocumentNode(
        definitions=[
            graphql.OperationDefinitionNode(
                operation=graphql.OperationType.QUERY,
                selection_set=graphql.SelectionSetNode(selections=selections),
            )
        ]
    )
    return graphql.print_ast(merged)


@st.composite
def garbled_operations(draw: st.DrawFn) -> str:
    """A valid operation cut, spliced or sprinkled with stray characters."""
    document = draw(VALID_OPERATIONS)
    start = draw(st.integers(0, len(document)))
    end = draw(st.integers(start, len(document)))
    junk = draw(st.text(alphabet="{}()[]:$!@.,\"'#\\ \n0aZ_", max_size=6))
    how = draw(st.sampled_from(["truncate", "delete", "insert", "replace", "repeat"]))
    if how == "truncate":
        return document[:start]
    if how == "delete":
        return document[:start] + document[end:]
    if how == "insert":
        return document[:start] + junk + document[start:]
    if how == "replace":
        return document[:start] + junk + document[end:]
    return document[:end] + document[start:end] + document[end:]


_JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=10,
)


@st.composite
def operations_with_wrong_variables(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A root field with each argument passed as a variable of its declared type, and the
    variables given JSON values of any shape, mostly not the declared one."""
    root = draw(st.sampled_from([SCHEMA.query_type, SCHEMA.mutation_type]))
    assert root is not None
    with_arguments = sorted(name for name, f in root.fields.items() if f.args)
    name = draw(st.sampled_from(with_arguments))
    arguments = root.fields[name].args
    declarations = ", ".join(f"${arg}: {arguments[arg].type}" for arg in arguments)
    passed = ", ".join(f"{arg}: ${arg}" for arg in arguments)
    keyword = "query" if root is SCHEMA.query_type else "mutation"
    document = f"{keyword}({declarations}) {{ {name}({passed}) {{ __typename }} }}"
    variables = draw(st.fixed_dictionaries({}, optional=dict.fromkeys(arguments, _JSON_VALUES)))
    return document, variables


# ------------------------------------------------------------------------ the app


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """As a real client sees the app: a server error is an answer, not a raised exception."""
    async with recording_client(app) as c:
        yield c


@pytest.fixture(scope="module")
async def seeded(app: Any) -> AsyncIterator[Seeded]:
    async with recording_client(app) as c:
        account = await seed(await make_tenant(app, c))
        _SEEDED_IDS[:] = [*account.customer_ids, account.plan_id, account.metered_price_id]
        yield account


async def _post(
    seeded: Seeded,
    client: httpx.AsyncClient,
    scopes: list[str],
    document: str,
    variables: dict[str, Any] | None = None,
) -> tuple[httpx.Response, str]:
    response = await client.post(
        "/graphql",
        json={"query": document, "variables": variables},
        headers={"Authorization": f"Bearer {seeded.tenant.token(scopes)}"},
    )
    described = (
        f"\nscopes: {scopes}\ndocument: {document!r}\nvariables: {variables!r}\n"
        f"-> HTTP {response.status_code} {response.headers.get('content-type')!r}\n"
        f"{response.text[:2000]}{server_errors(client)}"
    )
    return response, described


def assert_no_server_error(response: httpx.Response, described: str) -> dict[str, Any]:
    """Below 500, JSON, and no unexpected error hidden in a 200 either."""
    assert response.status_code < 500, "server error" + described
    assert response.headers.get("content-type", "").startswith("application/json"), (
        "not JSON" + described
    )
    body = response.json()
    assert isinstance(body, dict), described
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code != "INTERNAL_SERVER_ERROR", "unexpected error" + described
    return body


def assert_refusal_says_why(response: httpx.Response, body: dict[str, Any], described: str) -> None:
    """A refused request (400 and above) lists its errors, each with a code (API.md)."""
    if response.status_code < 400:
        return
    errors = body.get("errors")
    assert isinstance(errors, list) and errors, "a refusal without errors" + described
    for error in errors:
        code = (error.get("extensions") or {}).get("code")
        assert isinstance(code, str) and code, f"an error without a code: {error}{described}"


# ------------------------------------------------------------------------ fuzzing


@pytest.mark.parametrize("token", list(TOKENS))
@FUZZ_SETTINGS
@given(document=VALID_OPERATIONS)
async def test_generated_operations_never_get_a_server_error(
    seeded: Seeded, client: httpx.AsyncClient, token: str, document: str
) -> None:
    response, described = await _post(seeded, client, TOKENS[token], document)
    assert_no_server_error(response, described)


@pytest.mark.parametrize("token", list(TOKENS))
@FUZZ_SETTINGS
@given(document=queries_of_several_root_fields())
async def test_queries_of_several_root_fields_never_get_a_server_error(
    seeded: Seeded, client: httpx.AsyncClient, token: str, document: str
) -> None:
    response, described = await _post(seeded, client, TOKENS[token], document)
    assert_no_server_error(response, described)


@pytest.mark.parametrize("token", ["all-scopes", "customers-read"])
@FUZZ_SETTINGS
@given(document=INVALID_OPERATIONS)
async def test_operations_that_break_the_schema_are_refused_not_a_server_error(
    seeded: Seeded, client: httpx.AsyncClient, token: str, document: str
) -> None:
    response, described = await _post(seeded, client, TOKENS[token], document)
    assert_no_server_error(response, described)


@FUZZ_SETTINGS
@given(document=garbled_operations())
async def test_garbled_operations_are_refused_not_a_server_error(
    seeded: Seeded, client: httpx.AsyncClient, document: str
) -> None:
    response, described = await _post(seeded, client, TOKENS["all-scopes"], document)
    assert_no_server_error(response, described)


@pytest.mark.parametrize("token", ["all-scopes", "usage-write"])
@FUZZ_SETTINGS
@given(operation=operations_with_wrong_variables())
async def test_variables_of_any_shape_are_refused_not_a_server_error(
    seeded: Seeded, client: httpx.AsyncClient, token: str, operation: tuple[str, dict[str, Any]]
) -> None:
    document, variables = operation
    response, described = await _post(seeded, client, TOKENS[token], document, variables)
    assert_no_server_error(response, described)


@FUZZ_SETTINGS
@given(
    operation=st.one_of(
        INVALID_OPERATIONS.map(lambda document: (document, None)),
        garbled_operations().map(lambda document: (document, None)),
        operations_with_wrong_variables(),
    )
)
async def test_a_refused_operation_says_why_with_an_error_code(
    seeded: Seeded, client: httpx.AsyncClient, operation: tuple[str, dict[str, Any] | None]
) -> None:
    document, variables = operation
    response, described = await _post(seeded, client, TOKENS["all-scopes"], document, variables)
    body = assert_no_server_error(response, described)
    assert_refusal_says_why(response, body, described)
