"""What a merchant does about deliveries: resend one now, and enable an endpoint that
was disabled after repeated failures."""

from __future__ import annotations

from domain.errors import DomainError, ErrorCode, FieldError, NotFound
from domain.ids import prefix_of
from domain.ports import UnitOfWork
from domain.services.webhooks import endpoint_of
from domain.webhook_deliveries import WebhookDelivery
from domain.webhooks import WebhookEndpoint

_DELIVERY_FIELD = ("input", "deliveryId")


async def retry_webhook_delivery(uow: UnitOfWork, delivery_id: str) -> WebhookDelivery:
    """Makes the delivery due now, whatever its status: a worker sends it on its next
    round (after any earlier pending delivery of the same object, as always). A delivery
    that had used up its attempts gets one more."""
    async with uow:
        delivery = None
        if prefix_of(delivery_id) == "whd":
            delivery = await uow.webhook_deliveries.get(delivery_id, for_update=True)
        if delivery is None:
            raise NotFound(_DELIVERY_FIELD, "Webhook delivery")
        endpoint = await uow.webhook_endpoints.get(delivery.endpoint_id)
        if endpoint is not None and endpoint.disabled_at is not None:
            raise DomainError(
                [
                    FieldError(
                        ErrorCode.WEBHOOK_ENDPOINT_DISABLED,
                        _DELIVERY_FIELD,
                        "The delivery's endpoint is disabled: enable it first "
                        "(enableWebhookEndpoint).",
                    )
                ]
            )
        delivery = await uow.webhook_deliveries.schedule_now(delivery.id)
        await uow.commit()
    return delivery


async def enable_webhook_endpoint(uow: UnitOfWork, endpoint_id: str) -> WebhookEndpoint:
    """Sends to the endpoint again: its pending deliveries resume, and the events that
    happened while it was disabled follow in order. Enabling an enabled endpoint changes
    nothing."""
    async with uow:
        endpoint = await endpoint_of(uow, endpoint_id, for_update=True)
        if endpoint.disabled_at is not None:
            endpoint = await uow.webhook_endpoints.enable(endpoint.id)
        await uow.commit()
    return endpoint
