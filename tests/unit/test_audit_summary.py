"""The audit log's input summary: keys and non-personal values kept (ids, codes, enums,
amounts, numbers, flags, times), personal fields and free text replaced, read against the
schema's argument types as graphql-core coerced them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLInputType, GraphQLNonNull

from resolvers.audit import summarize
from schema.schema import schema

R = "[redacted]"


def _input_type(mutation: str) -> GraphQLInputType:
    assert schema._schema.mutation_type is not None
    return schema._schema.mutation_type.fields[mutation].args["input"].type


def _summary(mutation: str, value: dict[str, Any]) -> Any:
    return summarize(value, _input_type(mutation), "input")


def test_a_plan_keeps_its_codes_enums_and_amounts_and_loses_its_free_text() -> None:
    plan = {
        "code": "pro",
        "name": "Pro for Jane Doe",
        "description": "Call jane@doe.example",
        "interval": "MONTH",
        "trialDays": 14,
        "prices": [{"model": "PER_UNIT", "currency": "EUR", "unitAmount": Decimal("0.50")}],
    }
    assert _summary("createPlan", plan) == {
        "code": "pro",
        "name": R,
        "description": R,
        "interval": "MONTH",
        "trialDays": 14,
        "prices": [{"model": "PER_UNIT", "currency": "EUR", "unitAmount": "0.50"}],
    }


def test_usage_keeps_ids_and_times_and_loses_properties_and_caller_keys() -> None:
    at = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    event = {
        "idempotencyKey": "jane@doe.example-1",
        "customerId": "cus_abc",
        "metricCode": "calls",
        "timestamp": at,
        "properties": {"email": "jane@doe.example"},
    }
    assert _summary("recordUsage", {"events": [event]}) == {
        "events": [
            {
                "idempotencyKey": R,
                "customerId": "cus_abc",
                "metricCode": "calls",
                "timestamp": at.isoformat(),
                "properties": R,
            }
        ]
    }


def test_a_webhook_url_and_a_provider_token_are_never_kept() -> None:
    endpoint = {"url": "https://hooks.example.com/t0ken", "events": ["invoice.paid"]}
    assert _summary("createWebhookEndpoint", endpoint) == {"url": R, "events": ["invoice.paid"]}
    attach = {"customerId": "cus_abc", "providerToken": "pm_secret", "setAsDefault": True}
    assert _summary("attachPaymentMethod", attach) == {
        "customerId": "cus_abc",
        "providerToken": R,
        "setAsDefault": True,
    }


def test_an_id_field_keeps_only_what_looks_like_one_of_our_ids() -> None:
    id_type = GraphQLNonNull(schema._schema.type_map["ID"])  # type: ignore[arg-type]
    assert summarize("cus_abc", id_type, "id") == "cus_abc"
    assert summarize("Jane Doe", id_type, "paymentId") == R
