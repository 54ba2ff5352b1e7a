"""Billable metrics and usage ingestion through the API: batches keep their valid events,
replays count once, and usage is aggregated in the database."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from tests.conftest import Tenant

CREATE_METRIC = """
mutation CreateMetric($input: CreateBillableMetricInput!) {
  createBillableMetric(input: $input) {
    billableMetric { id code name aggregation property filters }
    userErrors { code field message }
  }
}
"""
CREATE_CUSTOMER = """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code } }
}
"""
RECORD_USAGE = """
mutation RecordUsage($input: RecordUsageInput!) {
  recordUsage(input: $input) {
    accepted duplicates
    rejected { index code field message }
    userErrors { code field message }
  }
}
"""
USAGE = """
query Usage($id: ID!, $code: String!, $from: DateTime!, $to: DateTime!) {
  customer(id: $id) {
    usage(metricCode: $code, from: $from, to: $to) {
      quantity eventCount metric { code aggregation }
    }
  }
}
"""
CUSTOMERS_USAGE = """
query CustomersUsage($code: String!, $from: DateTime!, $to: DateTime!) {
  customers(first: 100) {
    edges { node { id usage(metricCode: $code, from: $from, to: $to) { quantity } } }
  }
}
"""
METRICS = """
query Metrics($first: Int, $after: String) {
  billableMetrics(first: $first, after: $after) {
    totalCount
    edges { cursor node { code } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

NOW = datetime.now(UTC).replace(microsecond=0)
WINDOW = {
    "from": (NOW - timedelta(days=2)).isoformat(),
    "to": (NOW + timedelta(hours=1)).isoformat(),
}


async def _metric(
    tenant: Tenant, code: str, aggregation: str, prop: str | None = None, **extra: Any
) -> dict[str, Any]:
    body = await tenant.gql(
        CREATE_METRIC,
        {
            "input": {
                "code": code,
                "name": code.title(),
                "aggregation": aggregation,
                "property": prop,
                **extra,
            }
        },
    )
    payload = body["data"]["createBillableMetric"]
    assert payload["userErrors"] == [], payload
    return payload["billableMetric"]


async def _customer(tenant: Tenant, external_id: str | None = None) -> str:
    body = await tenant.gql(
        CREATE_CUSTOMER,
        {"input": {"name": "Usage Co", "currency": "USD", "externalId": external_id}},
    )
    return body["data"]["createCustomer"]["customer"]["id"]


def _event(
    key: str, customer_id: str, code: str, minutes_ago: int = 10, **properties: Any
) -> dict[str, Any]:
    return {
        "idempotencyKey": key,
        "customerId": customer_id,
        "metricCode": code,
        "timestamp": (NOW - timedelta(minutes=minutes_ago)).isoformat(),
        "properties": properties,
    }


async def _record(tenant: Tenant, events: list[dict[str, Any]]) -> dict[str, Any]:
    body = await tenant.gql(RECORD_USAGE, {"input": {"events": events}})
    return body["data"]["recordUsage"]


async def _usage(tenant: Tenant, customer_id: str, code: str) -> dict[str, Any] | None:
    body = await tenant.gql(USAGE, {"id": customer_id, "code": code, **WINDOW})
    return body["data"]["customer"]["usage"]


async def test_a_metric_is_created_and_listed(tenant: Tenant) -> None:
    # given
    metric = await _metric(tenant, "api.calls", "COUNT", filters={"region": ["eu", "us"]})
    # then
    assert metric["id"].startswith("bm_")
    assert (metric["aggregation"], metric["property"]) == ("COUNT", None)
    assert metric["filters"] == {"region": ["eu", "us"]}
    listed = (await tenant.gql(METRICS, {"first": 10}))["data"]["billableMetrics"]
    assert listed["totalCount"] == 1
    assert [e["node"]["code"] for e in listed["edges"]] == ["api.calls"]


@pytest.mark.parametrize(
    ("metric_input", "code", "field"),
    [
        ({"code": "Bad Code", "aggregation": "COUNT"}, "INVALID", ["input", "code"]),
        ({"code": "gb", "aggregation": "SUM"}, "REQUIRED", ["input", "property"]),
        ({"code": "gb", "aggregation": "SUM", "property": "a b"}, "INVALID", ["input", "property"]),
        (
            {"code": "gb", "aggregation": "COUNT", "filters": {"r": "eu"}},
            "INVALID",
            ["input", "filters", "r"],
        ),
    ],
)
async def test_an_invalid_metric_is_refused_with_its_field(
    tenant: Tenant, metric_input: dict[str, Any], code: str, field: list[str]
) -> None:
    body = await tenant.gql(CREATE_METRIC, {"input": {"name": "Metric", **metric_input}})
    payload = body["data"]["createBillableMetric"]
    assert payload["billableMetric"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]


async def test_a_metric_code_is_unique_in_an_account(tenant: Tenant, other_tenant: Tenant) -> None:
    await _metric(tenant, "storage", "MAX", "gb")
    body = await tenant.gql(
        CREATE_METRIC, {"input": {"code": "storage", "name": "x", "aggregation": "COUNT"}}
    )
    assert body["data"]["createBillableMetric"]["userErrors"][0]["code"] == "DUPLICATE"
    # another account may use the same code
    await _metric(other_tenant, "storage", "MAX", "gb")


async def test_a_metric_code_filter_with_a_nul_escape_is_refused_as_bad_input(
    tenant: Tenant,
) -> None:
    # given a NUL written as a GraphQL string escape, which the request screening reads as
    # plain text
    query = '{ billableMetrics(filter: {codes: ["gb\\u0000"]}) { totalCount } }'
    # when
    body = await tenant.gql(query)
    # then it is the caller's mistake, not an internal error
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


async def test_a_batch_keeps_its_valid_events_and_reports_the_others_by_index(
    tenant: Tenant, other_tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given
    customer = await _customer(tenant, external_id="ext-1")
    foreign = await _customer(other_tenant)
    await _metric(tenant, "gb", "SUM", "gb")
    events = [
        _event("ok-1", customer, "gb", gb=1.5),
        {
            **_event("ok-2", customer, "gb", gb="2.25"),
            "customerId": None,
            "externalCustomerId": "ext-1",
        },
        _event("bad-customer", foreign, "gb", gb=1),
        _event("bad-metric", customer, "nope", gb=1),
        _event("future", customer, "gb", minutes_ago=-60, gb=1),
        _event("too-old", customer, "gb", minutes_ago=60 * 24 * 40, gb=1),
        _event("no-property", customer, "gb"),
        _event("not-a-number", customer, "gb", gb="lots"),
    ]
    # when
    result = await _record(tenant, events)
    # then
    assert (result["accepted"], result["duplicates"]) == (2, 0)
    assert [(r["index"], r["code"], r["field"][-1]) for r in result["rejected"]] == [
        (2, "NOT_FOUND", "customerId"),
        (3, "NOT_FOUND", "metricCode"),
        (4, "INVALID", "timestamp"),
        (5, "INVALID", "timestamp"),
        (6, "REQUIRED", "gb"),
        (7, "INVALID", "gb"),
    ]
    stored = await admin.fetch(
        "select idempotency_key, value from usage_events where tenant_id = $1 order by 1", tenant.id
    )
    assert [(r["idempotency_key"], str(r["value"].normalize())) for r in stored] == [
        ("ok-1", "1.5"),
        ("ok-2", "2.25"),
    ]
    usage = await _usage(tenant, customer, "gb")
    assert usage == {
        "quantity": "3.75",
        "eventCount": 2,
        "metric": {"code": "gb", "aggregation": "SUM"},
    }


async def test_a_replayed_event_is_a_duplicate_and_counted_once(tenant: Tenant) -> None:
    customer = await _customer(tenant)
    await _metric(tenant, "calls", "COUNT")
    first = await _record(
        tenant, [_event("k1", customer, "calls"), _event("k2", customer, "calls")]
    )
    again = await _record(
        tenant,
        [
            _event("k1", customer, "calls"),
            _event("k2", customer, "calls"),
            _event("k2", customer, "calls"),
        ],
    )
    assert (first["accepted"], first["duplicates"]) == (2, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    assert (await _usage(tenant, customer, "calls"))["eventCount"] == 2


async def test_concurrent_senders_of_the_same_events_count_each_once(tenant: Tenant) -> None:
    # given 50 events sent by 10 clients at once
    customer = await _customer(tenant)
    await _metric(tenant, "calls", "COUNT")
    events = [_event(f"evt-{i}", customer, "calls") for i in range(50)]
    # when
    results = await asyncio.gather(*(_record(tenant, events) for _ in range(10)))
    # then
    assert sum(r["accepted"] for r in results) == 50
    assert sum(r["duplicates"] for r in results) == 450
    assert (await _usage(tenant, customer, "calls"))["quantity"] == "50"


async def test_more_than_a_thousand_events_are_refused_whole(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    customer = await _customer(tenant)
    await _metric(tenant, "calls", "COUNT")
    result = await _record(tenant, [_event(f"e{i}", customer, "calls") for i in range(1001)])
    assert result["accepted"] == 0
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [
        ("TOO_MANY", ["input", "events"])
    ]
    assert (
        await admin.fetchval("select count(*) from usage_events where tenant_id = $1", tenant.id)
        == 0
    )


@pytest.mark.parametrize(
    ("aggregation", "prop", "values", "expected"),
    [
        ("COUNT", None, [1, 2, 3], "3"),
        ("SUM", "n", [1, 2.5, "3"], "6.5"),
        ("MAX", "n", [4, 9, 2], "9"),
        ("UNIQUE_COUNT", "n", ["a", "b", "a"], "2"),
        ("LATEST", "n", [7, 8, 5], "5"),
    ],
)
async def test_each_aggregation_is_computed_in_the_database(
    tenant: Tenant, aggregation: str, prop: str | None, values: list[Any], expected: str
) -> None:
    customer = await _customer(tenant)
    await _metric(tenant, "m", aggregation, prop)
    # the last value is the newest event
    events = [
        _event(f"k{i}", customer, "m", minutes_ago=30 - i, n=value)
        for i, value in enumerate(values)
    ]
    assert (await _record(tenant, events))["accepted"] == len(values)
    assert (await _usage(tenant, customer, "m"))["quantity"] == expected


async def test_values_and_instants_are_stored_exactly(tenant: Tenant) -> None:
    customer = await _customer(tenant)
    await _metric(tenant, "bytes", "SUM", "n")
    # an instant with microseconds, sent in India's offset
    instant = (NOW - timedelta(minutes=7)).replace(microsecond=123457)
    local = instant.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()
    events = [
        {**_event("tiny", customer, "bytes", n="0.000000000001"), "timestamp": local},
        {**_event("huge", customer, "bytes", n="12345678901234567890123456")},
    ]
    assert (await _record(tenant, events))["accepted"] == 2
    assert (await _usage(tenant, customer, "bytes"))["quantity"] == (
        "12345678901234567890123456.000000000001"
    )

    async def tiny_between(start: datetime, end: datetime) -> str:
        body = await tenant.gql(
            USAGE,
            {"id": customer, "code": "bytes", "from": start.isoformat(), "to": end.isoformat()},
        )
        return body["data"]["customer"]["usage"]["quantity"]

    one = timedelta(microseconds=1)
    assert await tiny_between(instant, instant + one) == "0.000000000001"
    assert await tiny_between(instant + one, instant + 2 * one) == "0"
    assert await tiny_between(instant - one, instant) == "0"


async def _post_raw(tenant: Tenant, body: str) -> Any:
    return await tenant.client.post(
        "/graphql",
        content=body.encode(),
        headers={"Authorization": f"Bearer {tenant.token()}", "Content-Type": "application/json"},
    )


async def test_json_numbers_are_read_exactly_never_through_a_float(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given numbers no float holds: 19 and 27 significant digits
    customer = await _customer(tenant)
    await _metric(tenant, "bytes", "SUM", "n")
    events = [_event("a", customer, "bytes"), _event("b", customer, "bytes")]
    body = json.dumps({"query": RECORD_USAGE, "variables": {"input": {"events": events}}})
    body = body.replace('"properties": {}', '"properties": {"n": 1234567890.123456789}', 1)
    body = body.replace('"properties": {}', '"properties": {"n": 10000000000000000000000000.5}', 1)
    # when
    response = await _post_raw(tenant, body)
    # then: counted and stored as written
    assert response.json()["data"]["recordUsage"]["accepted"] == 2, response.text
    assert (await _usage(tenant, customer, "bytes"))["quantity"] == (
        "10000000000000001234567890.623456789"
    )
    stored = await admin.fetchval(
        "select properties::text from usage_events where tenant_id = $1 and idempotency_key = 'a'",
        tenant.id,
    )
    assert stored == '{"n": 1234567890.123456789}'


@pytest.mark.parametrize(
    "value", ['"n": NaN', '"n": Infinity', '"n": "\\ud800"', '"n": "\\udfff x"']
)
async def test_what_json_or_postgresql_cannot_hold_is_refused_whole(
    tenant: Tenant, value: str
) -> None:
    customer = await _customer(tenant)
    await _metric(tenant, "bytes", "SUM", "n")
    body = json.dumps(
        {
            "query": RECORD_USAGE,
            "variables": {"input": {"events": [_event("a", customer, "bytes")]}},
        }
    ).replace('"properties": {}', '"properties": {' + value + "}")
    response = await _post_raw(tenant, body)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert (await _usage(tenant, customer, "bytes"))["eventCount"] == 0


async def test_dated_keys_and_timestamps_that_pass_the_luhn_check_are_not_card_numbers(
    tenant: Tenant,
) -> None:
    # given keys and values of digits that pass the Luhn check, as partners write them
    customer = await _customer(tenant)
    await _metric(tenant, "calls", "COUNT")
    events = [
        _event("20261126-123458", customer, "calls", at="1764158400002"),
        _event("order-4915112345678", customer, "calls"),
    ]
    # when / then
    assert (await _record(tenant, events))["accepted"] == 2


async def test_a_card_number_sent_as_a_json_number_is_refused_whole(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    customer = await _customer(tenant)
    await _metric(tenant, "calls", "COUNT")
    events = [_event("a", customer, "calls")]
    body = json.dumps({"query": RECORD_USAGE, "variables": {"input": {"events": events}}})
    for number in ("4242424242424242", "6200000000000000000", "4242424242424242.0"):
        response = await _post_raw(
            tenant, body.replace('"properties": {}', '"properties": {"pan": ' + number + "}")
        )
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "CARD_DATA_REFUSED"
    stored = await admin.fetchval(
        "select count(*) from usage_events where tenant_id = $1", tenant.id
    )
    assert stored == 0


async def test_numbers_beyond_64_bits_are_counted_and_beyond_any_range_refused(
    tenant: Tenant,
) -> None:
    customer = await _customer(tenant)
    await _metric(tenant, "bytes", "SUM", "n")
    events = [_event("a", customer, "bytes")]
    body = json.dumps({"query": RECORD_USAGE, "variables": {"input": {"events": events}}})
    # 2^64 and more, with an Idempotency-Key (its fingerprint writes the variables too)
    big = body.replace('"properties": {}', '"properties": {"n": 100000000000000000000}')
    response = await tenant.client.post(
        "/graphql",
        content=big.encode(),
        headers={
            "Authorization": f"Bearer {tenant.token()}",
            "Content-Type": "application/json",
            "Idempotency-Key": "big-1",
        },
    )
    assert response.json()["data"]["recordUsage"]["accepted"] == 1, response.text
    assert (await _usage(tenant, customer, "bytes"))["quantity"] == "100000000000000000000"
    # a number no database column holds
    huge = body.replace('"properties": {}', '"properties": {"n": 1e200000}')
    response = await _post_raw(tenant, huge)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_null_property_is_missing(tenant: Tenant) -> None:
    customer = await _customer(tenant)
    await _metric(tenant, "users", "UNIQUE_COUNT", "user")
    result = await _record(tenant, [_event("a", customer, "users", user=None)])
    assert [(r["code"], r["field"]) for r in result["rejected"]] == [
        ("REQUIRED", ["input", "events", "0", "properties", "user"])
    ]


async def test_filters_count_only_matching_events(tenant: Tenant) -> None:
    customer = await _customer(tenant)
    await _metric(tenant, "eu.calls", "COUNT", filters={"region": ["eu"]})
    events = [
        _event("a", customer, "eu.calls", region="eu"),
        _event("b", customer, "eu.calls", region="us"),
        _event("c", customer, "eu.calls"),
    ]
    await _record(tenant, events)
    assert (await _usage(tenant, customer, "eu.calls"))["quantity"] == "1"


async def test_usage_of_an_unknown_metric_is_null_and_of_no_events_is_zero(tenant: Tenant) -> None:
    customer = await _customer(tenant)
    await _metric(tenant, "calls", "COUNT")
    assert await _usage(tenant, customer, "nope") is None
    assert (await _usage(tenant, customer, "calls"))["quantity"] == "0"


async def test_usage_of_a_page_of_customers_costs_the_same_statements_for_5_and_50(
    tenant: Tenant, other_tenant: Tenant, count_statements: Any
) -> None:
    # given two accounts, one with 5 customers and one with 50, each with usage
    async def setup(owner: Tenant, n: int) -> None:
        await _metric(owner, "calls", "COUNT")
        ids = [await _customer(owner) for _ in range(n)]
        await _record(owner, [_event(f"k{i}", cid, "calls") for i, cid in enumerate(ids)])

    await setup(tenant, 5)
    await setup(other_tenant, 50)
    variables = {"code": "calls", **WINDOW}
    # when
    with count_statements as small:
        await tenant.gql(CUSTOMERS_USAGE, variables)
    with count_statements as large:
        body = await other_tenant.gql(CUSTOMERS_USAGE, variables)
    # then
    assert small.count == large.count
    assert {e["node"]["usage"]["quantity"] for e in body["data"]["customers"]["edges"]} == {"1"}


async def test_usage_needs_the_usage_write_scope_and_metrics_the_catalog_scopes(
    tenant: Tenant,
) -> None:
    customer = await _customer(tenant)
    refused = await tenant.gql(
        RECORD_USAGE,
        {"input": {"events": [_event("k", customer, "x")]}},
        scopes=["customers:write"],
    )
    assert refused["errors"][0]["extensions"] == {
        "code": "FORBIDDEN",
        "requiredScope": "usage:write",
    }
    listed = await tenant.gql(METRICS, {"first": 1}, scopes=["customers:read"])
    assert listed["errors"][0]["extensions"]["requiredScope"] == "catalog:read"


async def test_a_foreign_metric_reads_as_null(tenant: Tenant, other_tenant: Tenant) -> None:
    metric = await _metric(other_tenant, "calls", "COUNT")
    body = await tenant.gql("query($id: ID!) { node(id: $id) { id } }", {"id": metric["id"]})
    assert body["data"]["node"] is None
    own = await other_tenant.gql(
        "query($id: ID!) { node(id: $id) { ... on BillableMetric { code } } }", {"id": metric["id"]}
    )
    assert own["data"]["node"] == {"code": "calls"}


async def test_latest_takes_the_last_event_of_a_batch_when_timestamps_tie(
    tenant: Tenant,
) -> None:
    customer = await _customer(tenant)
    await _metric(tenant, "seats", "LATEST", "n")
    same_instant = [
        _event("z-first", customer, "seats", minutes_ago=5, n=3),
        _event("a-second", customer, "seats", minutes_ago=5, n=7),
    ]
    await _record(tenant, same_instant)
    assert (await _usage(tenant, customer, "seats"))["quantity"] == "7"


@pytest.mark.parametrize(
    "value", ["1_000", "1e3", " 5 ", 1e-30, "0.0000000000001", -5, "-1", True, "NaN"]
)
async def test_a_value_that_is_not_a_plain_non_negative_number_is_rejected(
    tenant: Tenant, value: Any
) -> None:
    customer = await _customer(tenant)
    await _metric(tenant, "gb", "SUM", "gb")
    result = await _record(tenant, [_event("k", customer, "gb", gb=value)])
    assert result["accepted"] == 0
    assert [(r["code"], r["field"][-1]) for r in result["rejected"]] == [("INVALID", "gb")]


async def test_property_names_are_bounded(tenant: Tenant) -> None:
    customer = await _customer(tenant)
    await _metric(tenant, "calls", "COUNT")
    result = await _record(tenant, [_event("k", customer, "calls", **{"x" * 200: "1"})])
    assert [(r["code"], r["field"][-1]) for r in result["rejected"]] == [("INVALID", "properties")]
