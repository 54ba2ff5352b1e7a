"""The floor of our stack: the read path's operations hand-written on Starlette + asyncpg + orjson.

No GraphQL, no auth, no ORM: what the read path could cost at best. Each operation of
bench/operations/ (picked by `operationName`; the customer list when there is none) is one
transaction under the same row-level security as Ledgerline (role `ledgerline_app`,
`app.tenant_id` set in the transaction) and one SQL statement in which PostgreSQL builds the
JSON of `data`. `GET /healthz` answers without the database: the cost of HTTP alone.

Started by `bench/readpath.py` and `bench/customers_list.py`; not part of Ledgerline.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.currency import exponent_of, known_currencies

DSN = os.environ["FLOOR_DSN"]
TENANT = os.environ.get("FLOOR_TENANT", "bench")
# What Ledgerline's tenant transaction sets (infra/db.py), the statement timeout aside.
SET_TENANT = (
    "select set_config('app.tenant_id', $1, true), set_config('role', 'ledgerline_app', true)"
)
pool: asyncpg.Pool | None = None


def _exponent(currency: str) -> str:
    """SQL: the minor-unit digits of a currency column (2 unless listed)."""
    others = {c: exponent_of(c) for c in known_currencies() if exponent_of(c) != 2}
    cases = " ".join(f"when '{c}' then {e}" for c, e in sorted(others.items()))
    return f"(case {currency} {cases} else 2 end)"


def _money(minor: str, currency: str) -> str:
    """SQL: a Money object from integer minor units, with exactly the currency's digits."""
    e = _exponent(currency)
    amount = f"round(({minor})::numeric / power(10::numeric, {e}), {e})::text"
    return f"json_build_object('amount', {amount}, 'currency', {currency})"


def _money_or_null(minor: str, currency: str) -> str:
    return f"case when {minor} is null then null else {_money(minor, currency)} end"


CUSTOMER_LIST = """
select json_build_object('customers', json_build_object('edges', coalesce(json_agg(
    json_build_object('node', json_build_object('id', id, 'name', name, 'email', email))
    order by created_at desc, id desc), '[]')))
from (
    select id, name, email, created_at from customers
    where tenant_id = $1 order by created_at desc, id desc limit 20
) page
"""

CUSTOMER_PAGE = f"""
select json_build_object('customers', json_build_object('edges', coalesce(json_agg(
    json_build_object('node', json_build_object(
        'id', c.id, 'name', c.name, 'email', c.email,
        'balance', {_money("c.balance", "c.currency")},
        'address', case when c.address is null then null else json_build_object(
            'line1', c.address->>'line1', 'city', c.address->>'city',
            'postalCode', c.address->>'postalCode', 'country', c.address->>'country') end,
        'usage', case when m.code is null then null else json_build_object(
            'quantity', u.events::text, 'eventCount', u.events) end))
    order by c.created_at desc, c.id desc), '[]')))
from (
    select id, name, email, balance, currency, address, created_at from customers
    where tenant_id = $1 order by created_at desc, id desc limit 50
) c
left join billable_metrics m on m.tenant_id = $1 and m.code = $2
cross join lateral (
    select count(*) as events from usage_events e
    where e.tenant_id = $1 and e.customer_id = c.id and e.metric_code = $2
      and e.occurred_at >= $3 and e.occurred_at < $4
) u
"""

_PRICE = f"""
json_build_object(
    'id', r.id, 'model', r.model, 'currency', r.currency,
    'billingMode', r.billing_mode, 'metricCode', r.metric_code,
    'amount', {_money_or_null("(d->>'amount')::bigint", "(d->>'currency')")},
    'unitAmount', d->>'unitAmount', 'packageAmount', d->>'packageAmount',
    'packageSize', (d->>'packageSize')::int, 'rate', d->>'rate',
    'tiers', case when d ? 'tiers' then (
        select json_agg(json_build_object(
            'upTo', t->>'upTo', 'unitAmount', t->>'unitAmount',
            'flatAmount', {_money_or_null("(t->>'flatAmount')::bigint", "(d->>'currency')")})
            order by n)
        from jsonb_array_elements(d->'tiers') with ordinality as tier(t, n)) end)
"""

PLANS_WITH_PRICES = f"""
select json_build_object('plans', json_build_object('edges', coalesce(json_agg(
    json_build_object('node', json_build_object(
        'id', id, 'code', code, 'name', name, 'interval', upper(interval),
        'intervalCount', interval_count,
        'prices', (
            select json_agg({_PRICE} order by r.position)
            from prices r, lateral (select r.definition as d) definition
            where r.tenant_id = $1 and r.plan_id = page.id and r.archived_at is null)))
    order by created_at desc, id desc), '[]')))
from (
    select id, code, name, interval, interval_count, created_at from plans
    where tenant_id = $1 order by created_at desc, id desc limit 20
) page
"""

CUSTOMER_NODE = """
select json_build_object('node', (
    select json_build_object('id', id, 'name', name, 'email', email, 'currency', currency)
    from customers where tenant_id = $1 and id = $2))
"""

VIEWER = """
select json_build_object('viewer', json_build_object('account', (
    select json_build_object('id', id) from accounts where id = $1)))
"""


def _window(variables: dict[str, str]) -> list[object]:
    return [
        variables["metricCode"],
        datetime.fromisoformat(variables["from"]),
        datetime.fromisoformat(variables["to"]),
    ]


# operationName: (statement, its parameters after the tenant, from the variables)
OPERATIONS: dict[str, tuple[str, Callable[[dict[str, str]], list[object]]]] = {
    "CustomerList": (CUSTOMER_LIST, lambda v: []),
    "CustomerPage": (CUSTOMER_PAGE, _window),
    "PlansWithPrices": (PLANS_WITH_PRICES, lambda v: []),
    "CustomerNode": (CUSTOMER_NODE, lambda v: [v["id"]]),
    "Viewer": (VIEWER, lambda v: []),
}


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    global pool
    # Ledgerline's pool size (DATABASE_POOL_SIZE); statements stay prepared per connection.
    pool = await asyncpg.create_pool(DSN, min_size=4, max_size=10)
    yield
    await pool.close()


async def graphql(request: Request) -> Response:
    assert pool is not None
    body = orjson.loads(await request.body())
    statement, parameters = OPERATIONS[body.get("operationName") or "CustomerList"]
    arguments = parameters(body.get("variables") or {})
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(SET_TENANT, TENANT)
        data = await conn.fetchval(statement, TENANT, *arguments)
    return Response(b'{"data":' + data.encode() + b"}", media_type="application/json")


async def healthz(_request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(
    routes=[
        Route("/graphql", graphql, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ],
    lifespan=lifespan,
)
