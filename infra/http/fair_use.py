"""Fair use at the HTTP edge: what a GraphQL request costs, whether its account and client
may spend that now, and how many failed logins /oauth/token takes from one address or for
one client id before refusing without checking (no database query, no hash)."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import orjson
from graphql import DocumentNode, GraphQLSchema
from prometheus_client import Counter
from starlette.responses import Response

from auth.principal import Principal
from infra.http.errors import json_errors
from infra.rate_limits import Limit, Quota, RateLimiter, parse_rate
from infra.settings import Settings
from schema.cost import query_cost, too_complex

RATE_LIMITED = "RATE_LIMITED"
REFUSED = Counter(
    "ledgerline_fair_use_refusals_total",
    "Requests refused for their cost or their rate",
    ["reason"],
)
_COST_CACHE_SIZE = 1024
# A caller's client id longer than any real one is cut: it names no client, and a key
# stays small.
_CLIENT_ID_KEY_CHARS = 64


def quota_headers(quota: Quota) -> dict[str, str]:
    """RateLimit-* (the IETF httpapi draft's three fields) and, when refused, Retry-After:
    whole seconds, rounded up."""
    headers = {
        "RateLimit-Limit": str(quota.limit),
        "RateLimit-Remaining": str(quota.remaining),
        "RateLimit-Reset": str(math.ceil(quota.reset_after)),
    }
    if not quota.allowed:
        headers["Retry-After"] = str(max(1, math.ceil(quota.retry_after)))
    return headers


class QueryCosts:
    """Operations' costs, remembered per document, operation and the variables a cost can
    depend on (whole numbers and list lengths): dashboards send the same few all day."""

    def __init__(self, schema: GraphQLSchema, limit: int) -> None:
        self._schema = schema
        self.limit = limit
        self._known: OrderedDict[tuple[str, str | None, tuple[Any, ...]], int] = OrderedDict()

    def cost(
        self,
        document: DocumentNode,
        normalised: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
    ) -> int:
        key = (normalised, operation_name, _sizes(variables))
        known = self._known.get(key)
        if known is not None:
            self._known.move_to_end(key)
            return known
        cost = query_cost(self._schema, document, operation_name, variables)
        self._known[key] = cost
        if len(self._known) > _COST_CACHE_SIZE:
            self._known.popitem(last=False)
        return cost

    def refusal(self, cost: int) -> Response | None:
        """400 QUERY_TOO_COMPLEX naming the cost and the limit, or None."""
        if cost <= self.limit:
            return None
        REFUSED.labels("cost").inc()
        return json_errors(400, [too_complex(cost, self.limit).formatted])  # type: ignore[list-item]


def _sizes(variables: Mapping[str, Any] | None) -> tuple[Any, ...]:
    if not variables:
        return ()
    return tuple(
        (name, value if type(value) is int else len(value) if type(value) is list else None)
        for name, value in variables.items()
    )


class GraphQLRates:
    """Query cost per account and per OAuth client (a request spends at least 1)."""

    def __init__(self, limiter: RateLimiter, settings: Settings) -> None:
        self._limiter = limiter
        self._account = parse_rate(settings.rate_limit_account)
        self._client = parse_rate(settings.rate_limit_client)

    async def spend(self, principal: Principal, cost: int) -> tuple[Response | None, Quota | None]:
        """(429 with its headers when refused, else None; the tightest quota, if known)."""
        quota = await self._limiter.spend(
            [
                Limit(self._account, f"account:{principal.tenant_id}"),
                Limit(self._client, f"client:{principal.tenant_id}:{principal.client_id}"),
            ],
            max(1, cost),
        )
        if quota is None or quota.allowed:
            return None, quota
        REFUSED.labels("rate").inc()
        headers = quota_headers(quota)
        message = f"Rate limit reached: retry in {headers['Retry-After']} s."
        error = {"message": message, "extensions": {"code": RATE_LIMITED, "cost": cost}}
        return json_errors(429, [error], headers), quota


class TokenThrottle:
    """Failed client authentications counted per address and per client id; once either
    has none left, /oauth/token refuses before looking the client up."""

    def __init__(self, limiter: RateLimiter, settings: Settings) -> None:
        self._limiter = limiter
        self._per_address = parse_rate(settings.token_failures_per_address)
        self._per_client = parse_rate(settings.token_failures_per_client)

    def _limits(self, address: str, client_id: str) -> list[Limit]:
        return [
            Limit(self._per_address, f"token-address:{address}"),
            Limit(self._per_client, f"token-client:{client_id[:_CLIENT_ID_KEY_CHARS]}"),
        ]

    async def refusal(self, address: str, client_id: str) -> Response | None:
        quota = await self._limiter.exhausted(self._limits(address, client_id))
        if quota is None:
            return None
        REFUSED.labels("token").inc()
        body = {
            # RFC 8628's registered code for "ask less often"; RFC 6749 has none for it.
            "error": "slow_down",
            "error_description": "Too many failed authentications: retry later.",
        }
        headers = {"Cache-Control": "no-store", **quota_headers(quota)}
        return Response(orjson.dumps(body), 429, headers=headers, media_type="application/json")

    async def failed(self, address: str, client_id: str) -> None:
        for limit in self._limits(address, client_id):  # each counts, whatever the other
            await self._limiter.spend([limit], 1)
