"""Webhook endpoints: where your events are sent, signed to the Standard Webhooks
specification. Types and inputs of the concept."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

import domain.webhooks as webhooks_domain
from resolvers import webhook_deliveries as delivery_resolvers
from resolvers.errors import Outcome
from schema.connections import SortDirection
from schema.errors import UserError, user_errors_from
from schema.fields import each, returning
from schema.nodes import Node
from schema.webhook_deliveries import WebhookDelivery

_SECRET_DESCRIPTION = (
    "The endpoint's signing secret (`whsec_` and base64), shown in this answer only: store "
    "it now, it cannot be read again. Verify deliveries with it using any Standard Webhooks "
    "library (`webhook-id`, `webhook-timestamp`, `webhook-signature` headers). Null on errors."
)


@strawberry.enum(description="Whether an endpoint is sent events.")
class WebhookEndpointStatus(enum.Enum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


@strawberry.type(
    description="A URL of yours that receives events as signed HTTP POSTs (Standard "
    "Webhooks). Its signing secret is shown only when the endpoint is created or its secret "
    "rotated."
)
class WebhookEndpoint(Node):
    url: str = strawberry.field(description="Where events are POSTed.")
    events: list[str] = strawberry.field(
        description='The event types sent (e.g. "invoice.finalized"); `*` sends every type.'
    )
    description: str | None = strawberry.field(description="For you; not sent.")
    created_at: datetime = strawberry.field(description="When the endpoint was created.")
    previous_secret_expires_at: datetime | None = strawberry.field(
        description="After `rotateWebhookSecret`, deliveries carry a signature by the old "
        "secret too, until this time; null (or past) once only the current secret signs."
    )

    status: WebhookEndpointStatus = strawberry.field(
        description="ENABLED, or DISABLED after deliveries kept failing; "
        "`enableWebhookEndpoint` turns it back on."
    )
    disabled_at: datetime | None = strawberry.field(
        description="When it was disabled (a `webhook_endpoint.disabled` event says so too); "
        "null while enabled. Nothing is sent meanwhile, and nothing is lost: enabled again, "
        "it gets what happened in between, in order."
    )
    disabled_reason: str | None = strawberry.field(description="Why it was disabled.")
    deliveries: list[WebhookDelivery] = strawberry.field(
        resolver=returning(
            each(WebhookDelivery.from_domain), delivery_resolvers.endpoint_deliveries
        ),
        description="Its newest deliveries with their attempts, newest first (`first`: 1 to "
        "100, default 20).",
    )

    @classmethod
    def from_domain(cls, endpoint: webhooks_domain.WebhookEndpoint) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(endpoint.id),
            url=endpoint.url,
            events=list(endpoint.events),
            description=endpoint.description,
            created_at=endpoint.created_at,
            previous_secret_expires_at=endpoint.previous_secret_expires_at,
            status=WebhookEndpointStatus.ENABLED
            if endpoint.disabled_at is None
            else WebhookEndpointStatus.DISABLED,
            disabled_at=endpoint.disabled_at,
            disabled_reason=endpoint.disabled_reason,
        )


@strawberry.type(description="Result of `createWebhookEndpoint`.")
class CreateWebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None = strawberry.field(
        description="The new endpoint; null on errors."
    )
    secret: str | None = strawberry.field(description=_SECRET_DESCRIPTION)
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(
        cls, outcome: Outcome[webhooks_domain.WebhookEndpointSecret]
    ) -> CreateWebhookEndpointPayload:
        issued = outcome.value
        return cls(
            webhook_endpoint=None
            if issued is None
            else WebhookEndpoint.from_domain(issued.endpoint),
            secret=None if issued is None else issued.secret,
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.type(description="Result of `rotateWebhookSecret`.")
class RotateWebhookSecretPayload:
    webhook_endpoint: WebhookEndpoint | None = strawberry.field(
        description="The endpoint; null on errors."
    )
    secret: str | None = strawberry.field(description=_SECRET_DESCRIPTION)
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(
        cls, outcome: Outcome[webhooks_domain.WebhookEndpointSecret]
    ) -> RotateWebhookSecretPayload:
        issued = outcome.value
        return cls(
            webhook_endpoint=None
            if issued is None
            else WebhookEndpoint.from_domain(issued.endpoint),
            secret=None if issued is None else issued.secret,
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.type(description="Result of `deleteWebhookEndpoint`.")
class DeleteWebhookEndpointPayload:
    deleted_webhook_endpoint_id: strawberry.ID | None = strawberry.field(
        description="The id of the endpoint deleted; null on errors."
    )
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(
        cls, outcome: Outcome[webhooks_domain.WebhookEndpoint]
    ) -> DeleteWebhookEndpointPayload:
        deleted = outcome.value
        return cls(
            deleted_webhook_endpoint_id=None if deleted is None else strawberry.ID(deleted.id),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.input(description="A new webhook endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(
        description="Where to POST events, up to 2,048 characters. In production: https, "
        "and a host that resolves to public addresses only (`URL_NOT_ALLOWED` otherwise); "
        "redirects are not followed."
    )
    events: list[str] = strawberry.field(
        description='Event types to send, e.g. ["invoice.finalized"], or ["*"] for all '
        "(`UNKNOWN_EVENT_TYPE` for a type that does not exist). 1 to 100."
    )
    description: str | None = strawberry.field(
        default=None, description="For you, up to 500 characters."
    )


@strawberry.input(description="The endpoint whose signing secret to replace.")
class RotateWebhookSecretInput:
    id: strawberry.ID = strawberry.field(description="A webhook endpoint id (`we_…`).")


@strawberry.input(description="The endpoint to delete.")
class DeleteWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description="A webhook endpoint id (`we_…`).")


@strawberry.input(description="Sort order of the webhook endpoints list (by creation time).")
class WebhookEndpointOrder:
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC, description="DESC lists the newest first."
    )


@strawberry.type(description="Result of `enableWebhookEndpoint`.")
class EnableWebhookEndpointPayload:
    webhook_endpoint: WebhookEndpoint | None = strawberry.field(
        description="The endpoint, ENABLED; null on errors."
    )
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(
        cls, outcome: Outcome[webhooks_domain.WebhookEndpoint]
    ) -> EnableWebhookEndpointPayload:
        endpoint = outcome.value
        return cls(
            webhook_endpoint=None if endpoint is None else WebhookEndpoint.from_domain(endpoint),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.input(description="The endpoint to send events to again.")
class EnableWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description="A webhook endpoint id (`we_…`).")
