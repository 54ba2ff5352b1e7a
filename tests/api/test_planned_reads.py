"""The planned read path answers byte for byte what the executor answers.

Two apps on the same database: the session's (planned reads on, the default) and one with
PLANNED_READS off. Every operation is sent to both with the same token; the bytes must be
equal, and the planned app must have answered the plannable ones from a plan (counted).
Operations come from a catalogue of what dashboards send (aliases, fragments, cursors,
`__typename`, errors that the executor words) and from hypothesis-graphql over the root
fields plans cover.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import queries
from sqlalchemy import event

from infra.http import graphql as endpoint_module
from infra.planned import NotPlannable, verify
from infra.planned import customers as planned_customers
from infra.settings import Settings
from tests.api.test_fuzz import CUSTOM_SCALARS
from tests.api.test_request_lifecycle import app_with
from tests.conftest import Tenant, make_tenant

SCHEMA = graphql.build_schema((Path(__file__).resolve().parents[2] / "schema.graphql").read_text())
CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code } }
}
"""
ARCHIVE_CUSTOMER = """
mutation($input: ArchiveCustomerInput!) {
  archiveCustomer(input: $input) { customer { id } userErrors { code } }
}
"""
CUSTOMER_FIELDS = "id name email currency externalId createdAt updatedAt archived archivedAt"


CREATE_METRIC = """
mutation($input: CreateBillableMetricInput!) {
  createBillableMetric(input: $input) { billableMetric { id } userErrors { code } }
}
"""
CREATE_PLAN = """
mutation($input: CreatePlanInput!) { createPlan(input: $input) { plan { id } userErrors { code } } }
"""
TIERS = [
    {"upTo": "5", "unitAmount": "5.00", "flatAmount": "1.50"},
    {"upTo": "10", "unitAmount": "4.00"},
    {"upTo": None, "unitAmount": "3.125"},
]
PRICES = [
    {"model": "FLAT_FEE", "currency": "USD", "amount": "49.00"},
    {"model": "FLAT_FEE", "currency": "JPY", "amount": "5000"},
    {"model": "PER_UNIT", "currency": "KWD", "unitAmount": "1.250"},
    {
        "model": "GRADUATED",
        "currency": "USD",
        "billingMode": "METERED",
        "metricCode": "gb",
        "tiers": TIERS,
    },
    {
        "model": "VOLUME",
        "currency": "EUR",
        "billingMode": "METERED",
        "metricCode": "gb",
        "tiers": TIERS,
    },
    {
        "model": "PACKAGE",
        "currency": "USD",
        "billingMode": "METERED",
        "metricCode": "gb",
        "packageAmount": "5.00",
        "packageSize": 5,
    },
    {
        "model": "PERCENTAGE",
        "currency": "USD",
        "billingMode": "METERED",
        "metricCode": "gb",
        "rate": "2.9",
        "fixedAmount": "0.30",
        "minAmount": "0.50",
        "maxAmount": "20.00",
    },
]


def plan_input(i: int) -> dict[str, Any]:
    return {
        "code": f"plan-{i}",
        "name": f"Plan « {i} »",
        "description": None if i % 2 else "For teams",
        "interval": ["MONTH", "YEAR"][i % 2],
        "trialDays": i,
        "prices": PRICES[: i + 1],
    }


PLAN_FIELDS = (
    "id code name description interval intervalCount trialDays currencies createdAt updatedAt"
    " archived archivedAt minimumCommitments { amount currency } prices { id model currency"
    " billingMode metricCode amount { amount currency } unitAmount packageAmount packageSize"
    " rate fixedAmount { amount currency } minAmount { amount } maxAmount { amount } tiers {"
    " upTo unitAmount flatAmount { amount currency } } }"
)


class Pair:
    """The same tenant seen through the planned and the unplanned app."""

    def __init__(self, planned: Tenant, unplanned: httpx.AsyncClient) -> None:
        self.planned = planned
        self.unplanned = unplanned
        self.customer_ids: list[str] = []

    async def both(
        self, query: str, variables: dict[str, Any] | None = None, scopes: list[str] | None = None
    ) -> tuple[httpx.Response, httpx.Response]:
        headers = {"Authorization": f"Bearer {self.planned.token(scopes)}"}
        body = {"query": query, "variables": variables or {}}
        planned = await self.planned.client.post("/graphql", json=body, headers=headers)
        unplanned = await self.unplanned.post("/graphql", json=body, headers=headers)
        return planned, unplanned

    async def same(
        self, query: str, variables: dict[str, Any] | None = None, scopes: list[str] | None = None
    ) -> tuple[bytes, int]:
        """Asserts equal answers; (the bytes, how many plans answered)."""
        before = planned_answers()
        planned, unplanned = await self.both(query, variables, scopes)
        assert planned.status_code == unplanned.status_code, (query, planned.text)
        assert planned.content == unplanned.content, (query, planned.text, unplanned.text)
        return planned.content, planned_answers() - before


def planned_answers() -> int:
    return int(endpoint_module.PLANNED_ANSWERS._value.get())


@pytest.fixture(scope="module")
async def unplanned_app(settings: Settings) -> AsyncIterator[Any]:
    async with app_with(settings, planned_reads=False) as application:
        yield application


@pytest.fixture(scope="module")
async def pair(app: Any, unplanned_app: Any) -> AsyncIterator[Pair]:
    planned_transport = httpx.ASGITransport(app=app)
    unplanned_transport = httpx.ASGITransport(app=unplanned_app)
    async with (
        httpx.AsyncClient(transport=planned_transport, base_url="http://p.test") as planned,
        httpx.AsyncClient(transport=unplanned_transport, base_url="http://u.test") as unplanned,
    ):
        tenant = await make_tenant(app, planned)
        seeded = Pair(tenant, unplanned)
        for i in range(25):
            email = f"buyer{i}@example.com" if i % 3 else None
            answer = await tenant.gql(
                CREATE_CUSTOMER,
                {
                    "input": {
                        "name": f'Customer {i:02d} « Ünïcode » "quoted"',
                        "currency": ["EUR", "USD", "JPY"][i % 3],
                        "email": email,
                        "externalId": f"ext-{i}" if i % 2 else None,
                        "address": {
                            "country": "DE",
                            "line1": f"Hauptstr. {i}",
                            "city": "Köln",
                            "postalCode": "50667",
                        }
                        if i % 4 == 0
                        else None,
                        "metadata": {"segment": "smb", "n": str(i)} if i % 5 == 0 else None,
                    }
                },
            )
            seeded.customer_ids.append(answer["data"]["createCustomer"]["customer"]["id"])
        await tenant.gql(ARCHIVE_CUSTOMER, {"input": {"id": seeded.customer_ids[3]}})
        await tenant.gql(
            CREATE_METRIC,
            {"input": {"code": "gb", "name": "GB", "aggregation": "SUM", "property": "gb"}},
        )
        for metric in (
            {
                "code": "eu-calls",
                "name": "EU calls",
                "aggregation": "COUNT",
                "filters": {"region": ["eu"]},
            },
            {
                "code": "peak",
                "name": "Peak",
                "aggregation": "LATEST",
                "property": "gb",
                "filters": {"region": ["eu", "us"], "tier": ["pro"]},
            },
            {"code": "users", "name": "Users", "aggregation": "UNIQUE_COUNT", "property": "user"},
        ):
            created_metric = await tenant.gql(CREATE_METRIC, {"input": metric})
            assert created_metric["data"]["createBillableMetric"]["userErrors"] == []
        events = [
            {
                "idempotencyKey": f"{code}-{i}-{n}",
                "customerId": seeded.customer_ids[i],
                "metricCode": code,
                "timestamp": (NOW - timedelta(minutes=5 + n)).isoformat(),
                "properties": {
                    "gb": f"{n}.{i}",
                    "region": ["eu", "us"][(i + n) % 2],
                    "tier": "pro" if n else "free",
                    "user": f"u{(i * n) % 4}",
                },
            }
            for code in ("eu-calls", "peak", "users")
            for i in range(1, 25, 4)
            for n in range(4)
        ]
        recorded = await tenant.gql(RECORD_USAGE, {"input": {"events": events}})
        assert recorded["data"]["recordUsage"]["accepted"] == len(events), recorded
        events = [
            {
                "idempotencyKey": f"u-{i}-{n}",
                "customerId": seeded.customer_ids[i],
                "metricCode": "gb",
                "timestamp": (NOW - timedelta(minutes=5 + n)).isoformat(),
                "properties": {"gb": f"{i}.{n}5"},
            }
            for i in range(0, 25, 2)
            for n in range(3)
        ]
        recorded = await tenant.gql(RECORD_USAGE, {"input": {"events": events}})
        assert recorded["data"]["recordUsage"]["accepted"] == len(events), recorded
        for i in range(7):
            created = await tenant.gql(CREATE_PLAN, {"input": plan_input(i)})
            assert created["data"]["createPlan"]["userErrors"] == [], created
        # The executor's first request makes the account known to the planned path.
        await tenant.gql("{ viewer { clientId } }")
        yield seeded


CATALOGUE = [
    "{ customers(first: 20) { edges { node { id name email } } } }",
    "{ customers { totalCount } }",
    f"{{ customers(first: 7) {{ totalCount edges {{ cursor node {{ {CUSTOMER_FIELDS} }} }}"
    " pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }",
    "{ __typename customers(first: 2) { __typename edges { __typename cursor node { __typename"
    " id } } pageInfo { __typename endCursor } } }",
    "{ a: customers(first: 1) { e: edges { n: node { i: id } } } b: customers(first: 3) {"
    " totalCount pageInfo { hasNextPage } } }",
    "query Q { ...Page } fragment Page on Query { customers(first: 4) { edges { node {"
    " ...Who } } } } fragment Who on Customer { id name ... on Node { id } }",
    "{ customers(first: 100) { edges { node { id archived archivedAt } } } }",
    "{ viewer { account { id } } }",
    "{ viewer { __typename account { __typename id name createdAt } clientId scopes } }",
    "{ viewer { clientId } customers(first: 1) { totalCount } }",
    "{ __typename }",
    "{ customers(first: 30) { totalCount edges { cursor node { id name balance { amount currency"
    " formatted } address { line1 line2 city state postalCode country } taxIds { type value }"
    " metadata } } pageInfo { endCursor } } }",
    f"{{ plans {{ totalCount edges {{ cursor node {{ {PLAN_FIELDS} }} }}"
    " pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }",
    "{ plans(first: 20) { edges { node { id code name interval intervalCount prices { id model"
    " currency billingMode metricCode amount { amount currency } unitAmount packageAmount"
    " packageSize rate tiers { upTo unitAmount flatAmount { amount currency } } } } } } }",
    "{ a: plans(first: 2) { __typename edges { __typename node { __typename id prices {"
    " __typename id } } } } customers(first: 2) { totalCount } viewer { clientId } }",
    "{ customers(first: 2) { edges { node { id recentEvents { id type } } } } }",
    "{ customers(first: 30) { edges { node { id name balance { amount currency } address {"
    ' line1 city postalCode country } usage(metricCode: "gb", from: "2026-11-01T00:00:00Z",'
    ' to: "2026-12-01T00:00:00Z") { quantity eventCount metric { code } } } } } }',
]

NOW = datetime.now(UTC)
RECORD_USAGE = """
mutation($input: RecordUsageInput!) { recordUsage(input: $input) { accepted } }
"""
WINDOW = {
    "from": (NOW - timedelta(days=1)).isoformat(),
    "to": (NOW + timedelta(days=1)).isoformat(),
}
EVERY_USAGE = """
query Usages($from: DateTime!, $to: DateTime!) {
  customers(first: 30) {
    totalCount
    edges { cursor node { id
      gb: usage(metricCode: "gb", from: $from, to: $to) { quantity eventCount from to }
      eu: usage(metricCode: "eu-calls", from: $from, to: $to) { quantity eventCount metric {
        code aggregation property filters } }
      peak: usage(metricCode: "peak", from: $from, to: $to) { __typename quantity eventCount }
      users: usage(metricCode: "users", from: $from, to: $to) { quantity }
      none: usage(metricCode: "missing", from: $from, to: $to) { quantity }
      old: usage(metricCode: "gb", from: "2020-01-01T00:00:00Z", to: "2020-02-01T00:00:00Z") {
        quantity eventCount }
    } }
  }
}
"""


async def test_every_kind_of_usage_answers_the_same_bytes_from_its_plan(pair: Pair) -> None:
    body, planned = await pair.same(EVERY_USAGE, WINDOW)
    assert planned == 1, body
    assert b'"errors"' not in body
    # what was recorded shows: counts with a filter, the latest value, distinct users
    assert b'"eu":{"quantity":"2","eventCount":2' in body, body
    assert b'"none":null' in body


CUSTOMER_PAGE = """
query CustomerPage($metricCode: String!, $from: DateTime!, $to: DateTime!) {
  customers(first: 50) {
    edges { node { id name email balance { amount currency } address { line1 city postalCode
      country } usage(metricCode: $metricCode, from: $from, to: $to) { quantity eventCount } } }
  }
}
"""


@pytest.mark.parametrize(
    ("variables", "plans_answer"),
    [
        ({"metricCode": "gb", **WINDOW}, 1),
        ({"metricCode": "gb", "from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, 1),
        ({"metricCode": "nope", "from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, 1),
        # `to` before `from`: the executor words the error
        ({"metricCode": "gb", "from": "2026-12-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, 0),
        ({"metricCode": "gb", "from": "yesterday", "to": "2026-11-01T00:00:00Z"}, 0),
        ({"metricCode": "gb", "from": "2026-11-01T00:00:00Z"}, 0),
    ],
)
async def test_a_page_with_usage_answers_the_same_bytes_from_its_plan(
    pair: Pair, variables: dict[str, Any], plans_answer: int
) -> None:
    body, planned = await pair.same(CUSTOMER_PAGE, variables)
    assert planned == plans_answer, body
    if variables.get("from") == WINDOW["from"]:  # the recorded usage shows
        assert b'"quantity":"6.45","eventCount":3' in body, body
    assert (b'"errors"' in body) == (plans_answer == 0)


@pytest.mark.parametrize("query", CATALOGUE)
async def test_a_dashboard_operation_answers_the_same_bytes_from_its_plan(
    pair: Pair, query: str
) -> None:
    body, planned = await pair.same(query)
    assert b'"errors"' not in body
    assert planned == 1


async def test_pages_followed_by_cursor_answer_the_same_bytes(pair: Pair) -> None:
    query = (
        "query($first: Int, $after: String) { customers(first: $first, after: $after) {"
        " edges { cursor node { id name } } pageInfo { hasNextPage endCursor } } }"
    )
    after, seen = None, []
    while True:
        body, planned = await pair.same(query, {"first": 4, "after": after})
        assert planned == 1
        page = graphql_data(body)["customers"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(pair.customer_ids)


async def test_node_of_a_customer_answers_the_same_bytes(pair: Pair) -> None:
    query = (
        "query($id: ID!) { node(id: $id) { __typename id ... on Customer {"
        f" {CUSTOMER_FIELDS} }} ... on Plan {{ code }} }} }}"
    )
    for customer_id in pair.customer_ids[:5]:
        body, planned = await pair.same(query, {"id": customer_id})
        assert planned == 1
        assert graphql_data(body)["node"]["id"] == customer_id
    # unknown, and foreign: null, from the plan too
    _, planned = await pair.same(query, {"id": "cus_doesnotexist"})
    assert planned == 1


@pytest.mark.parametrize(
    ("query", "variables", "scopes"),
    [
        ("{ customers(first: 0) { totalCount } }", None, None),
        ("{ customers(first: 101) { totalCount } }", None, None),
        ('{ customers(after: "garbage") { totalCount } }', None, None),
        ("query($n: Int!) { customers(first: $n) { totalCount } }", {}, None),
        ("query($n: Int!) { customers(first: $n) { totalCount } }", {"n": "x"}, None),
        ("query($x: Int!) { customers(first: 2) { totalCount } }", {}, None),
        ('{ node(id: "plan_x") { id } }', None, None),
        (
            "{ customers(first: 2) { totalCount } plans(first: 2) { totalCount } }",
            None,
            ["customers:read"],
        ),
        ("{ customers(first: 2) { totalCount } }", None, ["catalog:read"]),
        ("{ customers(first: 2) @include(if: true) { totalCount } }", None, None),
        ("{ __schema { queryType { name } } }", None, None),
        ("{ customers(first: 2) { nope } }", None, None),
    ],
)
async def test_what_a_plan_does_not_cover_is_answered_by_the_executor(
    pair: Pair, query: str, variables: dict[str, Any] | None, scopes: list[str] | None
) -> None:
    _, planned = await pair.same(query, variables, scopes)
    assert planned == 0


_PLANNED_BY_GENERATED: list[int] = []


@st.composite
def plannable_queries(draw: st.DrawFn, customer_ids: list[str]) -> str:
    """A generated selection of `customers`, `plans`, `node` or `viewer`, with the root arguments a
    plan takes (a page size, a customer's id): the selections are hypothesis-graphql's."""
    document = graphql.parse(
        draw(
            queries(
                SCHEMA,
                fields=["customers", "node", "viewer", "plans"],
                custom_scalars=CUSTOM_SCALARS,
            )
        )
    )
    operation = document.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    fields = []
    for selection in operation.selection_set.selections:
        assert isinstance(selection, graphql.FieldNode)
        arguments: list[graphql.ArgumentNode] = []
        if selection.name.value in ("customers", "plans"):
            size = draw(st.integers(1, 30))
            arguments = [_argument("first", graphql.IntValueNode(value=str(size)))]
        elif selection.name.value == "node":
            node_id = draw(st.sampled_from([*customer_ids[:3], "cus_unknown"]))
            arguments = [_argument("id", graphql.StringValueNode(value=node_id))]
        fields.append(
            graphql.FieldNode(
                alias=selection.alias,
                name=selection.name,
                arguments=tuple(arguments),
                directives=(),
                selection_set=selection.selection_set,
            )
        )
    return graphql.print_ast(
        graphql.DocumentNode(
            definitions=[
                graphql.OperationDefinitionNode(
                    operation=graphql.OperationType.QUERY,
                    selection_set=graphql.SelectionSetNode(selections=tuple(fields)),
                )
            ]
        )
    )


def _argument(name: str, value: graphql.ValueNode) -> graphql.ArgumentNode:
    return graphql.ArgumentNode(name=graphql.NameNode(value=name), value=value)


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), scopes=st.sampled_from([None, ["customers:read"]]))
async def test_generated_selections_answer_the_same_bytes_planned_or_not(
    pair: Pair, data: st.DataObject, scopes: list[str] | None
) -> None:
    query = data.draw(plannable_queries(pair.customer_ids))
    _, planned = await pair.same(query, None, scopes)
    _PLANNED_BY_GENERATED.append(planned)


def test_the_generated_selections_exercised_the_plans() -> None:
    # runs after the test above: a good share of its examples were answered from plans
    assert sum(_PLANNED_BY_GENERATED) >= 20, _PLANNED_BY_GENERATED


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    query=queries(SCHEMA, custom_scalars=CUSTOM_SCALARS),
    scopes=st.sampled_from([None, ["customers:read"], ["catalog:read"]]),
)
async def test_generated_queries_answer_the_same_bytes_planned_or_not(
    pair: Pair, query: str, scopes: list[str] | None
) -> None:
    await pair.same(query, None, scopes)


async def test_a_plan_that_answers_differently_is_caught_and_the_executor_answers(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a plan compiled while the name column's filler is wrong (a fresh document, so
    # no plan compiled before serves it)
    wrong = planned_customers._COLUMNS["name"][0], lambda row: row["name"] + "!"
    monkeypatch.setitem(planned_customers._COLUMNS, "name", wrong)
    query = "{ caughtProbe: customers(first: 2) { edges { node { name } } } }"

    # when
    answer = await pair.planned.gql(query)

    # then the difference is recorded (the suite fails on it) and the client gets the
    # executor's answer
    caught = list(verify.DIFFERENCES)
    verify.DIFFERENCES.clear()
    assert [d.query for d in caught] == [query]
    assert b"!" in caught[0].planned[1] and b"!" not in caught[0].executed[1]
    names = [edge["node"]["name"] for edge in answer["data"]["caughtProbe"]["edges"]]
    assert names and not any(name.endswith("!") for name in names)


def graphql_data(body: bytes) -> dict[str, Any]:
    import orjson

    return orjson.loads(body)["data"]  # type: ignore[no-any-return]


UPDATE_PLAN = """
mutation($input: UpdatePlanInput!) { updatePlan(input: $input) { userErrors { code } } }
"""
ARCHIVE_PLAN = """
mutation($input: ArchivePlanInput!) { archivePlan(input: $input) { userErrors { code } } }
"""
PLAN_NAMES = "{ plans(first: 50) { edges { node { id name archived prices { id model } } } } }"


async def test_a_plan_kept_answer_is_never_served_once_the_plan_changed(pair: Pair) -> None:
    # given every plan answered once from the plan (and kept)
    before, planned = await pair.same(PLAN_NAMES)
    assert planned == 1
    plan = graphql_data(before)["plans"]["edges"][-1]["node"]

    # when its name, then its prices change, then it is archived
    answers = []
    for change in (
        {"name": "Renamed « plan »"},
        {"prices": [{"model": "FLAT_FEE", "currency": "USD", "amount": "99.00"}]},
    ):
        changed = await pair.planned.gql(UPDATE_PLAN, {"input": {"id": plan["id"], **change}})
        assert changed["data"]["updatePlan"]["userErrors"] == [], changed
        answers.append((await pair.same(PLAN_NAMES))[0])
    archived = await pair.planned.gql(ARCHIVE_PLAN, {"input": {"id": plan["id"]}})
    assert archived["data"]["archivePlan"]["userErrors"] == [], archived
    answers.append((await pair.same(PLAN_NAMES))[0])

    # then each answer shows the change (and equals the executor's)
    after = [
        next(e["node"] for e in graphql_data(a)["plans"]["edges"] if e["node"]["id"] == plan["id"])
        for a in answers
    ]
    assert after[0]["name"] == "Renamed « plan »" and after[0]["prices"] == plan["prices"]
    assert [p["model"] for p in after[1]["prices"]] == ["FLAT_FEE"]
    assert after[1]["prices"] != plan["prices"]
    assert after[2]["archived"] is True


DEFAULTED = """
query Defaulted($m: String = "gb", $from: DateTime = "2026-01-01T00:00:00Z", $to: DateTime!) {
  customers(first: 3) { edges { node { id metadata
    usage(metricCode: $m, from: $from, to: $to) { quantity } } } }
}
"""


@pytest.mark.parametrize("nulled", ["m", "from"])
async def test_null_for_a_defaulted_non_null_argument_is_the_executors_error(
    pair: Pair, nulled: str
) -> None:
    # given a variable with a default, sent as null, for a non-null argument
    variables = {nulled: None, "to": WINDOW["to"]}

    # when
    body, planned = await pair.same(DEFAULTED, variables)

    # then the executor words the error, as it would without plans
    assert planned == 0
    assert b"not to be None" in body, body


async def test_a_plan_giving_way_after_its_statements_keeps_its_connection(
    pair: Pair, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a planned list whose rows, once read, make the plan give way to the executor
    async def gives_way(*_args: Any) -> Any:
        raise NotPlannable("for the test")

    query = "{ givingWay: customers(first: 4) { edges { node { id name } } } }"
    await pair.same(query)  # the pool holds a connection
    monkeypatch.setattr(planned_customers.CustomerShape, "build", gives_way)
    connects: list[object] = []
    listener = lambda *_args: connects.append(object())  # noqa: E731
    event.listen(app.state.engine.sync_engine, "connect", listener)
    try:
        # when it is sent again and again
        for _ in range(5):
            _, planned = await pair.same(query)
            assert planned == 0
    finally:
        event.remove(app.state.engine.sync_engine, "connect", listener)

    # then its read-only transaction ended as a read's does: no connection was closed as
    # one in doubt (each would have been replaced by a new one)
    assert connects == []
