"""Managing webhook endpoints: creating one (its secret answered once), rotating its
signing secret with a day of overlap, deleting it."""

from __future__ import annotations

from datetime import datetime

from domain.errors import DomainError, ErrorCode, FieldError, NotFound
from domain.ids import new_id, prefix_of
from domain.ports import UnitOfWork
from domain.webhooks import (
    ROTATION_OVERLAP,
    DestinationPolicy,
    WebhookEndpoint,
    WebhookEndpointDraft,
    WebhookEndpointSecret,
    new_signing_secret,
    validate_endpoint,
)

_ID_FIELD = ("input", "id")


async def create_webhook_endpoint(
    uow: UnitOfWork,
    draft: WebhookEndpointDraft,
    *,
    destinations: DestinationPolicy,
    now: datetime,
) -> WebhookEndpointSecret:
    """Stores an endpoint with a fresh signing secret, which only this answer carries. The
    destination is checked (https, where its host resolves) before anything is written."""
    clean = validate_endpoint(draft)
    refusal = await destinations.refusal(clean.url)
    if refusal is not None:
        raise DomainError([FieldError(ErrorCode.URL_NOT_ALLOWED, ("input", "url"), refusal)])
    secret = new_signing_secret()
    async with uow:
        endpoint = await uow.webhook_endpoints.add(
            WebhookEndpoint(
                id=new_id("we"),
                url=clean.url,
                events=tuple(clean.events),
                description=clean.description,
                created_at=now,
            ),
            secret,
        )
        await uow.commit()
    return WebhookEndpointSecret(endpoint, secret)


async def rotate_webhook_secret(
    uow: UnitOfWork, endpoint_id: str, *, now: datetime
) -> WebhookEndpointSecret:
    """Gives the endpoint a new secret; deliveries are signed with both for ROTATION_OVERLAP,
    so a receiver that still checks the old one keeps accepting them meanwhile."""
    secret = new_signing_secret()
    async with uow:
        await endpoint_of(uow, endpoint_id, for_update=True)
        endpoint = await uow.webhook_endpoints.rotate_secret(
            endpoint_id, secret, now + ROTATION_OVERLAP
        )
        await uow.commit()
    return WebhookEndpointSecret(endpoint, secret)


async def delete_webhook_endpoint(uow: UnitOfWork, endpoint_id: str) -> WebhookEndpoint:
    """Deletes the endpoint and its secrets; nothing more is sent to it."""
    async with uow:
        endpoint = await endpoint_of(uow, endpoint_id, for_update=True)
        await uow.webhook_endpoints.delete(endpoint.id)
        await uow.commit()
    return endpoint


async def endpoint_of(uow: UnitOfWork, endpoint_id: str, *, for_update: bool) -> WebhookEndpoint:
    """The endpoint, or NotFound on the input's `id`."""
    endpoint = None
    if prefix_of(endpoint_id) == "we":
        endpoint = await uow.webhook_endpoints.get(endpoint_id, for_update=for_update)
    if endpoint is None:
        raise NotFound(_ID_FIELD, "Webhook endpoint")
    return endpoint
