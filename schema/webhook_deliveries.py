"""Webhook deliveries: each event sent to an endpoint, and every attempt to send it."""

from __future__ import annotations

from datetime import datetime

import strawberry

import domain.webhook_deliveries as deliveries_domain
from resolvers import webhook_deliveries as delivery_resolvers
from resolvers.errors import Outcome
from schema.errors import UserError, user_errors_from
from schema.fields import each, returning
from schema.nodes import Node

# The domain's enum class itself, registered as a GraphQL enum (see schema/errors.py).
strawberry.enum(
    deliveries_domain.DeliveryStatus,
    name="WebhookDeliveryStatus",
    description="PENDING: not sent yet, being sent, or waiting for its next attempt. "
    "SUCCEEDED: the endpoint answered 2xx. FAILED: every attempt failed "
    "(`retryWebhookDelivery` gives it one more).",
)
DeliveryStatus = deliveries_domain.DeliveryStatus


@strawberry.type(description="One attempt to send a delivery.")
class WebhookDeliveryAttempt:
    attempted_at: datetime = strawberry.field(description="When the request was sent.")
    status_code: int | None = strawberry.field(
        description="The endpoint's HTTP status; null when none came (timeout, connection "
        "refused, a destination not allowed)."
    )
    latency_ms: int = strawberry.field(description="Milliseconds until the answer (or the end).")
    error: str | None = strawberry.field(
        description="Why the attempt failed, shortened to 500 characters; null on success."
    )
    succeeded: bool = strawberry.field(description="Whether the endpoint answered 2xx.")

    @classmethod
    def from_domain(
        cls, attempt: deliveries_domain.WebhookDeliveryAttempt
    ) -> WebhookDeliveryAttempt:
        return cls(
            attempted_at=attempt.attempted_at,
            status_code=attempt.status_code,
            latency_ms=attempt.latency_ms,
            error=attempt.error,
            succeeded=attempt.succeeded,
        )


@strawberry.type(
    description="An event sent to a webhook endpoint: at least once, after every earlier "
    "event about the same object, retried with exponential backoff."
)
class WebhookDelivery(Node):
    endpoint_id: strawberry.ID = strawberry.field(description="The endpoint (`we_…`).")
    event_id: strawberry.ID = strawberry.field(
        description="The event sent (`evt_…`): the `webhook-id` header, the same on every "
        "attempt, so receivers can drop repeats."
    )
    event_type: str = strawberry.field(description='The event\'s type, e.g. "invoice.paid".')
    object_id: strawberry.ID = strawberry.field(description="What the event is about.")
    status: DeliveryStatus = strawberry.field(description="Where the delivery stands.")
    attempt_count: int = strawberry.field(description="Attempts made so far.")
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next attempt is due; null once SUCCEEDED or FAILED."
    )
    created_at: datetime = strawberry.field(description="When the event was queued for it.")
    completed_at: datetime | None = strawberry.field(
        description="When it succeeded or failed for good; null while PENDING."
    )
    attempts: list[WebhookDeliveryAttempt] = strawberry.field(
        resolver=returning(
            each(WebhookDeliveryAttempt.from_domain), delivery_resolvers.delivery_attempts
        ),
        description="Every attempt, oldest first.",
    )

    @classmethod
    def from_domain(cls, delivery: deliveries_domain.WebhookDelivery) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(delivery.id),
            endpoint_id=strawberry.ID(delivery.endpoint_id),
            event_id=strawberry.ID(delivery.event_id),
            event_type=delivery.event_type,
            object_id=strawberry.ID(delivery.object_id),
            status=delivery.status,
            attempt_count=delivery.attempt_count,
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
            completed_at=delivery.completed_at,
        )


@strawberry.type(description="Result of `retryWebhookDelivery`.")
class RetryWebhookDeliveryPayload:
    webhook_delivery: WebhookDelivery | None = strawberry.field(
        description="The delivery, PENDING and due now; null on errors."
    )
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(
        cls, outcome: Outcome[deliveries_domain.WebhookDelivery]
    ) -> RetryWebhookDeliveryPayload:
        delivery = outcome.value
        return cls(
            webhook_delivery=None if delivery is None else WebhookDelivery.from_domain(delivery),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.input(description="The delivery to send again.")
class RetryWebhookDeliveryInput:
    delivery_id: strawberry.ID = strawberry.field(description="A webhook delivery id (`whd_…`).")
