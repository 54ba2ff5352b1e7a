"""Resolvers read the time from the request context's clock, never from the system's: usage
is screened against the time the application's clock tells."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from infra.app import create_app
from infra.settings import Settings
from tests.conftest import TestDatabase, make_tenant
from tests.support.clock import FixedClock

CREATE_METRIC = """
mutation CreateMetric($input: CreateBillableMetricInput!) {
  createBillableMetric(input: $input) { billableMetric { code } userErrors { code } }
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
    accepted
    rejected { index code field message }
    userErrors { code }
  }
}
"""

# Years ahead of the system clock: an event at this time is "in the future" for the system.
CLOCK_TIME = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def app_at_clock_time(settings: Settings, test_database: TestDatabase) -> AsyncIterator[Any]:
    application = create_app(settings, test_database.url, clock=FixedClock(CLOCK_TIME))
    async with application.router.lifespan_context(application):
        yield application


async def test_usage_is_screened_against_the_applications_clock(
    app_at_clock_time: Any,
) -> None:
    # given an application whose clock says CLOCK_TIME, a customer and a metric
    transport = httpx.ASGITransport(app=app_at_clock_time)
    async with httpx.AsyncClient(transport=transport, base_url="http://ledgerline.test") as c:
        tenant = await make_tenant(app_at_clock_time, c)
        customer = await tenant.gql(
            CREATE_CUSTOMER, {"input": {"name": "Clockwork Ltd", "currency": "EUR"}}
        )
        customer_id = customer["data"]["createCustomer"]["customer"]["id"]
        await tenant.gql(
            CREATE_METRIC, {"input": {"code": "calls", "name": "Calls", "aggregation": "COUNT"}}
        )

        # when one event is recorded at the clock's time and one at the system's
        def event(key: str, at: datetime) -> dict[str, Any]:
            return {
                "idempotencyKey": key,
                "metricCode": "calls",
                "customerId": customer_id,
                "timestamp": at.isoformat(),
            }

        body = await tenant.gql(
            RECORD_USAGE,
            {
                "input": {
                    "events": [
                        event("at-clock-time", CLOCK_TIME - timedelta(minutes=1)),
                        event("at-system-time", datetime.now(UTC)),
                    ]
                }
            },
        )
    # then the first is accepted and the second is older than the backfill window
    payload = body["data"]["recordUsage"]
    assert payload["userErrors"] == []
    assert payload["accepted"] == 1
    assert [(r["index"], r["code"], r["field"]) for r in payload["rejected"]] == [
        (1, "INVALID", ["input", "events", "1", "timestamp"])
    ]
    assert "backfill window" in payload["rejected"][0]["message"]
