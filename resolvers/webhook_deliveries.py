"""Webhook deliveries: an endpoint's newest deliveries with their attempts, and resending
one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from aiodataloader import DataLoader

from domain.errors import DomainError
from domain.services import webhook_deliveries as services
from domain.webhook_deliveries import (
    RECENT_DELIVERIES_MAX,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookDeliveryReads,
)
from resolvers.errors import Outcome, done, refused

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.webhook_deliveries import RetryWebhookDeliveryInput
    from schema.webhook_deliveries import WebhookDelivery as WebhookDeliveryType
    from schema.webhooks import WebhookEndpoint as WebhookEndpointType
else:
    # The schema's types its arguments take, by name: the schema imports resolvers, not
    # the reverse.
    RetryWebhookDeliveryInput = strawberry.LazyType(
        "RetryWebhookDeliveryInput", "schema.webhook_deliveries"
    )


class RecentDeliveriesByEndpointLoader(DataLoader):  # type: ignore[type-arg]
    """Endpoints' newest deliveries, keyed by (endpoint id, limit): one statement per
    batch of the same limit."""

    def __init__(self, reads: WebhookDeliveryReads) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, keys: list[tuple[str, int]]) -> list[list[WebhookDelivery]]:
        groups: dict[int, list[str]] = {}
        for endpoint_id, limit in keys:
            groups.setdefault(limit, []).append(endpoint_id)
        found: dict[tuple[str, int], list[WebhookDelivery]] = {}
        for limit, endpoint_ids in groups.items():
            unique = list(dict.fromkeys(endpoint_ids))
            answers = await self._reads.recent_by_endpoints(unique, limit)
            for endpoint_id, deliveries in zip(unique, answers, strict=True):
                found[(endpoint_id, limit)] = deliveries
        return [found[key] for key in keys]


class AttemptsByDeliveryLoader(DataLoader):  # type: ignore[type-arg]
    """Deliveries' attempts, oldest first: one statement per batch."""

    def __init__(self, reads: WebhookDeliveryReads) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, delivery_ids: list[str]) -> list[list[WebhookDeliveryAttempt]]:
        return await self._reads.attempts_by_deliveries(delivery_ids)


async def endpoint_deliveries(
    root: WebhookEndpointType, info: strawberry.Info[Context], first: int = 20
) -> list[WebhookDelivery]:
    limit = max(1, min(first, RECENT_DELIVERIES_MAX))
    found: list[WebhookDelivery] = await info.context.loaders.recent_deliveries.load(
        (str(root.id), limit)
    )
    return found


async def delivery_attempts(
    root: WebhookDeliveryType, info: strawberry.Info[Context]
) -> list[WebhookDeliveryAttempt]:
    found: list[WebhookDeliveryAttempt] = await info.context.loaders.delivery_attempts.load(
        str(root.id)
    )
    return found


async def retry_webhook_delivery(
    info: strawberry.Info[Context], input: RetryWebhookDeliveryInput
) -> Outcome[WebhookDelivery]:
    try:
        delivery = await services.retry_webhook_delivery(info.context.uow(), str(input.delivery_id))
    except DomainError as error:
        return refused(error)
    info.context.loaders.by_id("whd").clear(delivery.id).prime(delivery.id, delivery)
    return done(delivery)
