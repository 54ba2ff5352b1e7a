"""Webhook endpoints: where a merchant wants events sent, which events, and the rules a
destination must meet (Standard Webhooks; SSRF rules of SECURITY.md).

The endpoint's signing secret never appears on the endpoint: it is answered once, when made
or rotated (`WebhookEndpointSecret`), and otherwise only the delivery side reads it
(`WebhookEndpointRepository.signing_secrets`). Its ports live here, beside the model, rather
than in domain/ports.py, which is past the size a module should be.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol
from urllib.parse import urlsplit

from domain.errors import ErrorCode, FieldErrors
from domain.events import EVENT_TYPES
from domain.queries import PageRequest

ALL_EVENTS: Final = "*"
# Standard Webhooks: a secret is "whsec_" and the base64 of 24 to 64 random bytes.
SECRET_PREFIX: Final = "whsec_"
_SECRET_BYTES = 32
# After rotateWebhookSecret the old secret signs beside the new one this long, so receivers
# can switch without dropping a delivery (Stripe and Svix give the same day).
ROTATION_OVERLAP: Final = timedelta(hours=24)
MAX_URL_LENGTH: Final = 2048
MAX_EVENT_TYPES: Final = 100
MAX_DESCRIPTION_LENGTH: Final = 500

_URL_FIELD = ("input", "url")
_EVENTS_FIELD = ("input", "events")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance metadata services (credentials live there): AWS, GCP and Azure on IPv4
# link-local, AWS on IPv6 (a unique-local address), AWS ECS tasks, Alibaba Cloud.
CLOUD_METADATA_ADDRESSES: Final = frozenset(
    ipaddress.ip_address(text)
    for text in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)
# NAT64 (RFC 6052): an IPv6 address that a gateway turns into the IPv4 address it embeds.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    id: str
    url: str
    events: tuple[str, ...]
    description: str | None
    created_at: datetime
    # Until when the secret that rotateWebhookSecret replaced still signs; None: none does.
    previous_secret_expires_at: datetime | None = None
    # Set when deliveries kept failing (domain.webhook_deliveries.should_disable): nothing
    # is sent until it is enabled again, and then it resumes where it stopped.
    disabled_at: datetime | None = None
    disabled_reason: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookEndpointSecret:
    """An endpoint with its new signing secret: what create and rotate answer, once."""

    endpoint: WebhookEndpoint
    secret: str


@dataclass(frozen=True, slots=True)
class SigningSecrets:
    """What a delivery is signed with: the current secret, and the previous one while its
    overlap lasts."""

    current: str
    previous: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookEndpointDraft:
    url: str
    events: Sequence[str]
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a URL sends a request: its scheme, host (a name or an address) and port."""

    scheme: str
    host: str
    port: int


def new_signing_secret() -> str:
    """A fresh secret in the Standard Webhooks form (`whsec_` + base64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def parse_destination(url: str) -> Destination:
    """The destination of an http(s) URL; ValueError (a message for the caller) otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if not url.isprintable() or any(ch.isspace() for ch in url):
        raise ValueError("The URL has spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("The URL is not valid.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError("The URL must be an http or https URL.")
    if not parts.hostname:
        raise ValueError("The URL has no host.")
    # Credentials in a URL travel to logs and proxies; the signature authenticates us.
    if parts.username is not None or parts.password is not None:
        raise ValueError("The URL must not carry a user name or password.")
    return Destination(scheme, parts.hostname, port or (443 if scheme == "https" else 80))


def scheme_refusal(destination: Destination, *, production: bool) -> str | None:
    """Why the scheme may not receive webhooks (None: it may). Production sends only over
    TLS: a signature proves who sent a payload but hides nothing in it."""
    if production and destination.scheme != "https":
        return "Webhook URLs must use https."
    return None


def is_forbidden_address(address: Address) -> bool:
    """Whether a webhook may not be sent to `address`: anything not on the public internet
    (loopback, private, link-local, shared, multicast, unspecified, reserved), cloud metadata
    services, and IPv6 forms that carry such an IPv4 address (mapped, 6to4, Teredo, NAT64)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded: list[ipaddress.IPv4Address] = []
        if address.ipv4_mapped is not None:
            embedded.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            embedded.append(address.sixtofour)
        if address.teredo is not None:
            embedded.append(address.teredo[1])
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(is_forbidden_address(inner) for inner in embedded):
            return True
    return (
        address in CLOUD_METADATA_ADDRESSES
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        # Shared (100.64/10), documentation and benchmarking ranges, among others.
        or not address.is_global
    )


def validate_endpoint(draft: WebhookEndpointDraft) -> WebhookEndpointDraft:
    """The draft with its event types deduplicated and a blank description dropped, or a
    DomainError naming every problem. Whether the destination is allowed is the
    `DestinationPolicy`'s to say (it depends on the environment and on DNS)."""
    errors = FieldErrors()
    try:
        parse_destination(draft.url)
    except ValueError as exc:
        errors.add(ErrorCode.INVALID, _URL_FIELD, str(exc))
    events = list(dict.fromkeys(draft.events))
    if not events:
        errors.add(ErrorCode.REQUIRED, _EVENTS_FIELD, "Name at least one event type, or `*`.")
    elif len(events) > MAX_EVENT_TYPES:
        errors.add(ErrorCode.TOO_MANY, _EVENTS_FIELD, f"At most {MAX_EVENT_TYPES} event types.")
    for index, event_type in enumerate(draft.events):
        if event_type != ALL_EVENTS and event_type not in EVENT_TYPES:
            errors.add(
                ErrorCode.UNKNOWN_EVENT_TYPE,
                (*_EVENTS_FIELD, str(index)),
                f"Unknown event type {event_type[:100]!r}.",
            )
    description = (draft.description or "").strip() or None
    if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
        errors.add(
            ErrorCode.TOO_LONG,
            ("input", "description"),
            f"At most {MAX_DESCRIPTION_LENGTH} characters.",
        )
    errors.raise_if_any()
    return WebhookEndpointDraft(draft.url, tuple(events), description)


class DestinationPolicy(Protocol):
    """Whether a URL may receive webhooks now: asked when an endpoint is created and again
    before each delivery, since what a host name resolves to can change."""

    async def refusal(self, url: str) -> str | None:
        """Why `url` may not receive webhooks (a message for the merchant); None: it may."""
        ...


class WebhookEndpointRepository(Protocol):
    async def add(self, endpoint: WebhookEndpoint, secret: str) -> WebhookEndpoint:
        """Stores the endpoint with its secret (encrypted at rest)."""
        ...

    async def get(
        self, endpoint_id: str, *, for_update: bool = False
    ) -> WebhookEndpoint | None: ...

    async def rotate_secret(
        self, endpoint_id: str, secret: str, previous_expires_at: datetime
    ) -> WebhookEndpoint:
        """Makes `secret` current and keeps the current one as the previous secret until
        `previous_expires_at` (one previous secret at most: an older one is dropped)."""
        ...

    async def delete(self, endpoint_id: str) -> bool: ...

    async def enable(self, endpoint_id: str) -> WebhookEndpoint:
        """Clears the endpoint's disabled state and its run of failures."""
        ...

    async def signing_secrets(self, endpoint_id: str, now: datetime) -> SigningSecrets | None:
        """The secrets a delivery at `now` is signed with (None: no such endpoint)."""
        ...


class WebhookEndpointReads(Protocol):
    async def by_ids(self, ids: Sequence[str]) -> list[WebhookEndpoint | None]: ...

    async def page(self, descending: bool, page: PageRequest) -> list[WebhookEndpoint]: ...

    async def count(self) -> int: ...
