"""Webhook signatures to the Standard Webhooks specification, made by its own library
(`standardwebhooks`), so that what a receiver verifies with that library, in any language,
is exactly what we sign: `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from math import floor

from standardwebhooks import Webhook


def sign(
    secret: str,
    msg_id: str,
    timestamp: datetime,
    body: bytes,
    *,
    previous_secret: str | None = None,
) -> dict[str, str]:
    """The headers of a delivery of `body` (UTF-8 JSON) with the id `msg_id` (an event's id:
    receivers deduplicate on it) at `timestamp` (timezone-aware). During a rotation's overlap
    `previous_secret` signs too, its signature after the current one's, space-separated as
    the specification allows, so receivers holding either secret accept the delivery."""
    if timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    # The library reads the timestamp's wall clock as UTC (replace, not astimezone): give it
    # the UTC wall clock, whole seconds, the same instant the header states.
    at = datetime.fromtimestamp(floor(timestamp.timestamp()), UTC)
    data = body.decode("utf-8")
    signatures = [Webhook(secret).sign(msg_id, at, data)]
    if previous_secret is not None:
        signatures.append(Webhook(previous_secret).sign(msg_id, at, data))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(floor(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
