"""Webhook endpoints: queries and mutations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from domain.errors import DomainError
from domain.queries import SortDirection
from domain.services import webhook_deliveries as delivery_services
from domain.services import webhooks as services
from domain.webhooks import WebhookEndpoint, WebhookEndpointDraft, WebhookEndpointSecret
from resolvers.errors import Outcome, done, refused
from resolvers.nodes import load_by_id
from resolvers.pagination import Page, build_page, encode_cursor, page_request

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.webhooks import (
        CreateWebhookEndpointInput,
        DeleteWebhookEndpointInput,
        EnableWebhookEndpointInput,
        RotateWebhookSecretInput,
        WebhookEndpointOrder,
    )
else:
    # The schema's types its arguments take, by name: the schema imports resolvers, not
    # the reverse.
    CreateWebhookEndpointInput = strawberry.LazyType(
        "CreateWebhookEndpointInput", "schema.webhooks"
    )
    DeleteWebhookEndpointInput = strawberry.LazyType(
        "DeleteWebhookEndpointInput", "schema.webhooks"
    )
    RotateWebhookSecretInput = strawberry.LazyType("RotateWebhookSecretInput", "schema.webhooks")
    EnableWebhookEndpointInput = strawberry.LazyType(
        "EnableWebhookEndpointInput", "schema.webhooks"
    )
    WebhookEndpointOrder = strawberry.LazyType("WebhookEndpointOrder", "schema.webhooks")


async def webhook_endpoints(
    info: strawberry.Info[Context],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    order_by: WebhookEndpointOrder | None = None,
) -> Page[WebhookEndpoint]:
    descending = (order_by.direction if order_by else SortDirection.DESC) == SortDirection.DESC
    page = page_request(
        first=first, after=after, last=last, before=before, sort="created_at", is_datetime=True
    )
    reads = info.context.reads
    rows = await reads.webhook_endpoints.page(descending, page)
    loader = info.context.loaders.by_id("we")
    for row in rows:
        loader.prime(row.id, row)
    return build_page(
        rows,
        page,
        cursor_of=lambda e: encode_cursor("created_at", e.created_at, e.id),
        count_total=reads.webhook_endpoints.count,
    )


async def webhook_endpoint(
    info: strawberry.Info[Context], id: strawberry.ID
) -> WebhookEndpoint | None:
    found: WebhookEndpoint | None = await load_by_id(info, "we", str(id))
    return found


async def create_webhook_endpoint(
    info: strawberry.Info[Context], input: CreateWebhookEndpointInput
) -> Outcome[WebhookEndpointSecret]:
    draft = WebhookEndpointDraft(
        url=input.url, events=tuple(input.events), description=input.description
    )
    try:
        created = await services.create_webhook_endpoint(
            info.context.uow(),
            draft,
            destinations=info.context.webhook_destinations,
            now=info.context.clock.now(),
        )
    except DomainError as error:
        return refused(error)
    info.context.answers_secret = True
    info.context.loaders.by_id("we").prime(created.endpoint.id, created.endpoint)
    return done(created)


async def rotate_webhook_secret(
    info: strawberry.Info[Context], input: RotateWebhookSecretInput
) -> Outcome[WebhookEndpointSecret]:
    try:
        rotated = await services.rotate_webhook_secret(
            info.context.uow(), str(input.id), now=info.context.clock.now()
        )
    except DomainError as error:
        return refused(error)
    info.context.answers_secret = True
    endpoint = rotated.endpoint
    info.context.loaders.by_id("we").clear(endpoint.id).prime(endpoint.id, endpoint)
    return done(rotated)


async def delete_webhook_endpoint(
    info: strawberry.Info[Context], input: DeleteWebhookEndpointInput
) -> Outcome[WebhookEndpoint]:
    try:
        deleted = await services.delete_webhook_endpoint(info.context.uow(), str(input.id))
    except DomainError as error:
        return refused(error)
    info.context.loaders.by_id("we").clear(deleted.id)
    return done(deleted)


async def enable_webhook_endpoint(
    info: strawberry.Info[Context], input: EnableWebhookEndpointInput
) -> Outcome[WebhookEndpoint]:
    try:
        enabled = await delivery_services.enable_webhook_endpoint(info.context.uow(), str(input.id))
    except DomainError as error:
        return refused(error)
    info.context.loaders.by_id("we").clear(enabled.id).prime(enabled.id, enabled)
    return done(enabled)
