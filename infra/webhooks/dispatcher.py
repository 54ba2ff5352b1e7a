"""The webhook dispatcher: part of `ledgerline worker`, beside the billing run.

Each round, for every tenant: feed each enabled endpoint the committed events past its
cursor (one delivery per subscribed event), then claim due deliveries in batches, POST
them at once, and record every attempt. Any number of workers run this together: they
share the work through PostgreSQL (infra/repositories/webhook_outbox.py).

A delivery is the event as JSON, signed to the Standard Webhooks specification with every
secret that signs at that moment (the current one, and the previous one for a day after a
rotation). Redirects are not followed. In production the host is resolved and checked
again before each attempt, and the request goes to the address that was checked.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.events import EventPosition
from domain.webhook_deliveries import (
    RetrySchedule,
    after_attempt,
    clipped_error,
    is_success,
)
from domain.webhooks import SigningSecrets
from infra.db import tenant_transaction
from infra.repositories.accounts import all_account_ids
from infra.repositories.webhook_outbox import (
    AttemptRecord,
    ClaimedDelivery,
    claim_due,
    feed_endpoints,
    record_attempts,
)
from infra.repositories.webhooks import SqlWebhookEndpointRepository
from infra.secret_box import SecretBox
from infra.settings import Settings
from infra.webhooks.destinations import WebhookDestinations
from infra.webhooks.signing import sign
from infra.webhooks.wire import DeliveryError, WebhookPoster

_log = logging.getLogger("ledgerline.webhooks")

USER_AGENT = "Ledgerline-Webhooks/1"
# Events fed to one endpoint per round.
_FEED_LIMIT = 1000
# Batches between two feeds while deliveries are plentiful.
_FEED_EVERY = 10
# Batches one tenant gets per round before the next tenant's turn.
_BATCHES_PER_TENANT = 20
DISABLED_REASON = "Deliveries kept failing after every retry."


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    schedule: RetrySchedule
    timeout: float
    lease_seconds: float
    batch_size: int
    disable_after: int
    production: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryConfig:
        return cls(
            schedule=RetrySchedule(
                max_attempts=settings.webhook_max_attempts,
                base_delay=timedelta(seconds=settings.webhook_retry_base_seconds),
                max_delay=timedelta(seconds=settings.webhook_retry_max_delay_seconds),
            ),
            timeout=settings.webhook_timeout_seconds,
            lease_seconds=settings.webhook_lease_seconds,
            batch_size=settings.webhook_batch_size,
            disable_after=settings.webhook_disable_after_failures,
            production=settings.is_production,
        )


def event_body(delivery: ClaimedDelivery) -> bytes:
    """What a receiver gets: the event, as the `events` query shows it."""
    data = delivery.event_data
    if isinstance(data, str | bytes):
        data = orjson.loads(data)
    return orjson.dumps(
        {
            "id": delivery.event_id,
            "type": delivery.event_type,
            "objectId": delivery.object_id,
            "timestamp": delivery.event_created_at.astimezone(UTC).isoformat(),
            "position": str(EventPosition(*delivery.event_position)),
            "data": data,
        }
    )


class Poster(Protocol):
    """Sends one delivery (infra.webhooks.wire.WebhookPoster; tests give their own)."""

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, address: str | None = None
    ) -> int: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Answer:
    status_code: int | None
    error: str | None


class WebhookDispatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        box: SecretBox,
        config: DeliveryConfig,
        *,
        poster: Poster | None = None,
        destinations: WebhookDestinations | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self._engine = engine
        self._box = box
        self._config = config
        self._poster = poster or WebhookPoster()
        self._destinations = destinations or WebhookDestinations(production=config.production)
        self._now = now
        self._rng = rng

    async def close(self) -> None:
        await self._poster.close()

    async def run(self, stop: asyncio.Event, poll_seconds: float) -> None:
        """Rounds until `stop` is set; an idle round waits `poll_seconds` for the next."""
        while not stop.is_set():
            try:
                attempted = await self.run_round(stop)
            except Exception:
                _log.exception("webhook round failed; trying again")
                attempted = 0
            if attempted == 0:
                try:
                    await asyncio.wait_for(stop.wait(), poll_seconds)
                except TimeoutError:
                    pass

    async def run_round(self, stop: asyncio.Event | None = None) -> int:
        """One round over every tenant (until `stop` is set); answers the attempts made."""
        async with self._engine.connect() as conn:
            tenants = await all_account_ids(conn)
        attempted = 0
        for tenant_id in tenants:
            attempted += await self.run_tenant(tenant_id, stop=stop)
        return attempted

    async def run_tenant(
        self,
        tenant_id: str,
        *,
        batches: int = _BATCHES_PER_TENANT,
        stop: asyncio.Event | None = None,
    ) -> int:
        """Feeds the tenant's endpoints and sends what is due, up to `batches` batches;
        stops between batches once `stop` is set (a batch in flight is finished)."""
        attempted = 0
        await self._feed(tenant_id)
        for batch in range(1, batches + 1):
            if stop is not None and stop.is_set():
                break
            sent = await self.deliver_batch(tenant_id)
            attempted += sent
            # Fed again when the due deliveries run short, and every few batches so that
            # new events do not wait behind a long backlog of retries.
            if sent < self._config.batch_size or batch % _FEED_EVERY == 0:
                fed = await self._feed(tenant_id)
                if fed == 0 and sent == 0:
                    break
        return attempted

    async def _feed(self, tenant_id: str) -> int:
        async with tenant_transaction(self._engine, tenant_id) as db:
            return await feed_endpoints(db, _FEED_LIMIT)

    async def deliver_batch(self, tenant_id: str) -> int:
        """Claims due deliveries, sends them and records the attempts; answers how many."""
        now = self._now()
        async with tenant_transaction(self._engine, tenant_id) as db:
            claim = await claim_due(db, self._config.batch_size, self._config.lease_seconds)
            secrets: dict[str, SigningSecrets] = {}
            if claim.deliveries:
                secrets = await SqlWebhookEndpointRepository(db, self._box).signing_secrets_of(
                    list({d.endpoint_id for d in claim.deliveries}), now
                )
        if not claim.deliveries:
            return 0
        records = await asyncio.gather(
            *(self._attempt(d, secrets.get(d.endpoint_id)) for d in claim.deliveries)
        )
        async with tenant_transaction(self._engine, tenant_id) as db:
            disabled = await record_attempts(
                db,
                claim.token,
                records,
                failing={d.endpoint_id for d in claim.deliveries if d.endpoint_failures},
                disable_after=self._config.disable_after,
                disabled_reason=DISABLED_REASON,
            )
        for endpoint in disabled:
            _log.warning(
                "webhook endpoint disabled",
                extra={"tenant_id": tenant_id, "endpoint_id": endpoint.id},
            )
        return len(records)

    async def _attempt(
        self, delivery: ClaimedDelivery, secrets: SigningSecrets | None
    ) -> AttemptRecord:
        attempted_at = self._now()
        started = time.monotonic()
        if secrets is None:  # deleted while claimed: the cascade removes the delivery too
            answer = _Answer(None, "The endpoint no longer exists.")
        else:
            answer = await self._send(delivery, secrets, attempted_at)
        latency_ms = max(0, round((time.monotonic() - started) * 1000))
        succeeded = is_success(answer.status_code)
        attempts = delivery.attempts + 1
        outcome = after_attempt(
            self._config.schedule, attempts, succeeded, attempted_at + _ms(latency_ms), self._rng
        )
        return AttemptRecord(
            delivery_id=delivery.id,
            attempted_at=attempted_at,
            status_code=answer.status_code,
            latency_ms=latency_ms,
            error=None if answer.error is None else clipped_error(answer.error),
            succeeded=succeeded,
            status=outcome.status,
            attempts=attempts,
            next_attempt_at=outcome.next_attempt_at,
        )

    async def _send(
        self, delivery: ClaimedDelivery, secrets: SigningSecrets, at: datetime
    ) -> _Answer:
        body = event_body(delivery)
        headers = sign(
            secrets.current, delivery.event_id, at, body, previous_secret=secrets.previous
        )
        headers["content-type"] = "application/json"
        headers["user-agent"] = USER_AGENT
        try:
            async with asyncio.timeout(self._config.timeout):
                checked = await self._destinations.checked(delivery.url)
                if checked.refusal is not None:
                    return _Answer(None, f"Not sent: {checked.refusal}")
                status = await self._poster.post(
                    delivery.url, body, headers, address=checked.address
                )
        except TimeoutError:
            return _Answer(None, f"No answer within {self._config.timeout:g} s.")
        except DeliveryError as exc:
            return _Answer(None, str(exc))
        except (OSError, EOFError) as exc:  # the connection broke mid-answer
            return _Answer(None, f"The connection failed: {type(exc).__name__}.")
        return _Answer(status, _http_error(status))


def _ms(milliseconds: int) -> timedelta:
    return timedelta(milliseconds=milliseconds)


def _http_error(status_code: int) -> str | None:
    if is_success(status_code):
        return None
    if 300 <= status_code < 400:
        return f"HTTP {status_code}: redirects are not followed."
    return f"HTTP {status_code}"
