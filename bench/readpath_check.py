"""Before any load: every server answers every operation it serves with the same rows.

Ledgerline and the floor speak the same schema, so their `data` must be equal as JSON.
PostGraphile names things its own way and answers a price's definition as stored (money in
minor units), so its answers and Ledgerline's are both brought to plain rows and compared.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bench.readpath_servers import Server
from domain.currency import exponent_of


class AnswersDiffer(Exception):
    """Two servers answered an operation with different rows: their figures would not
    compare the same work."""


def request_body(document: Path, variables: dict[str, str]) -> dict[str, Any]:
    """The POST body of an operation: the document, its name, and those of `variables` it
    declares."""
    query = document.read_text()
    name = re.search(r"query\s+(\w+)", query)
    declared = set(re.findall(r"\$(\w+)\s*:", query))
    return {
        "query": query,
        "operationName": name.group(1) if name else None,
        "variables": {k: v for k, v in variables.items() if k in declared},
    }


def fetch(server: Server, operation: str, variables: dict[str, str]) -> dict[str, Any]:
    body = request_body(server.operations[operation], variables)
    response = httpx.post(server.url, json=body, headers=server.headers, timeout=30)
    answer = response.json()
    if response.status_code != 200 or answer.get("errors") or not answer.get("data"):
        raise AnswersDiffer(f"{server.name} {operation}: HTTP {response.status_code} {answer}")
    return dict(answer["data"])


def check_answers(servers: list[Server], variables: dict[str, str]) -> dict[str, int]:
    """Rows per operation, once every server agrees; AnswersDiffer otherwise."""
    reference = servers[0]
    counts = {}
    for operation in reference.operations:
        expected = fetch(reference, operation, variables)
        expected_rows = rows(operation, expected)
        if not expected_rows:
            raise AnswersDiffer(f"{reference.name} {operation}: no rows to compare")
        for other in servers[1:]:
            if operation not in other.operations:
                continue
            answer = fetch(other, operation, variables)
            if other.name == "PostGraphile":
                same = postgraphile_rows(operation, answer) == expected_rows
            else:
                same = answer == expected
            if not same:
                raise AnswersDiffer(f"{operation}: {other.name} differs from {reference.name}")
        counts[operation] = len(expected_rows)
    return counts


def rows(operation: str, data: dict[str, Any]) -> list[Any]:
    """Ledgerline's (and the floor's) answer as plain rows."""
    if operation == "customer_node":
        node = data["node"]
        return [_customer(node)] if node else []
    if operation == "viewer":
        return [data["viewer"]["account"]["id"]]
    nodes = [edge["node"] for edge in next(iter(data.values()))["edges"]]
    if operation == "plans_prices":
        return [_plan(node, [_price(p) for p in node["prices"]]) for node in nodes]
    if operation == "customers_list":
        return [_customer(node) for node in nodes]
    return nodes  # the page of (b), which only the floor answers besides Ledgerline


def postgraphile_rows(operation: str, data: dict[str, Any]) -> list[Any]:
    """PostGraphile's answer as the same plain rows."""
    if operation == "customer_node":
        node = data["customerByTenantIdAndId"]
        return [_customer(node)] if node else []
    nodes = next(iter(data.values()))["nodes"]
    if operation == "plans_prices":
        return [_plan(node, [_stored_price(p) for p in node["prices"]["nodes"]]) for node in nodes]
    return [_customer(node) for node in nodes]


def _customer(node: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(node[k] for k in ("id", "name", "email", "currency") if k in node)


def _plan(node: dict[str, Any], prices: list[dict[str, Any]]) -> tuple[Any, ...]:
    plan = (node["id"], node["code"], node["name"], node["interval"].upper())
    return (*plan, node["intervalCount"], prices)


def _price(price: dict[str, Any]) -> dict[str, Any]:
    tiers = price["tiers"]
    return {
        "id": price["id"],
        "model": price["model"],
        "currency": price["currency"],
        "billingMode": price["billingMode"],
        "metricCode": price["metricCode"],
        "amount": _decimal(price["amount"] and price["amount"]["amount"]),
        "unitAmount": _decimal(price["unitAmount"]),
        "packageAmount": _decimal(price["packageAmount"]),
        "packageSize": price["packageSize"],
        "rate": _decimal(price["rate"]),
        "tiers": None
        if tiers is None
        else [
            (
                _decimal(t["upTo"]),
                _decimal(t["unitAmount"]),
                _decimal(t["flatAmount"] and t["flatAmount"]["amount"]),
            )
            for t in tiers
        ],
    }


def _stored_price(price: dict[str, Any]) -> dict[str, Any]:
    """A price as the `prices` table stores it: the model's fields in `definition`, money
    in minor units."""
    d = price["definition"]
    currency = d["currency"]
    tiers = d.get("tiers")
    return {
        "id": price["id"],
        "model": d["model"],
        "currency": currency,
        "billingMode": price["billingMode"],
        "metricCode": price["metricCode"],
        "amount": _major(d.get("amount"), currency),
        "unitAmount": _decimal(d.get("unitAmount")),
        "packageAmount": _decimal(d.get("packageAmount")),
        "packageSize": d.get("packageSize"),
        "rate": _decimal(d.get("rate")),
        "tiers": None
        if tiers is None
        else [
            (
                _decimal(t["upTo"]),
                _decimal(t["unitAmount"]),
                _major(t["flatAmount"], currency),
            )
            for t in tiers
        ],
    }


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _major(minor: int | None, currency: str) -> Decimal | None:
    return None if minor is None else Decimal(minor).scaleb(-exponent_of(currency))
