"""The floor of our stack: the same customer list, hand-written on Starlette + asyncpg + orjson.

No GraphQL, no auth, no ORM: what the read path could cost at best. Started by
`bench/customers_list.py`; not part of Ledgerline.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DSN = os.environ["FLOOR_DSN"]
TENANT = os.environ.get("FLOOR_TENANT", "bench")
SQL = """
select id, name, email from customers
where tenant_id = $1 order by created_at desc, id desc limit 21
"""
pool: asyncpg.Pool | None = None


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(DSN, min_size=4, max_size=10)
    yield
    await pool.close()


async def customers(_request: Request) -> Response:
    assert pool is not None
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("select set_config('app.tenant_id', $1, true)", TENANT)
        rows = await conn.fetch(SQL, TENANT)
    edges = [{"node": {"id": r["id"], "name": r["name"], "email": r["email"]}} for r in rows[:20]]
    return Response(
        orjson.dumps({"data": {"customers": {"edges": edges}}}), media_type="application/json"
    )


app = Starlette(routes=[Route("/graphql", customers, methods=["POST"])], lifespan=lifespan)
