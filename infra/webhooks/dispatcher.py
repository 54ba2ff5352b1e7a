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
import uuid
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
# Claims one tenant gets per round before the next tenant's turn.
_BATCHES_PER_TENANT = 20
# Tenants served at once by a worker (each holds one database connection at a time).
TENANTS_AT_ONCE = 4
# Deliveries in flight at once per tenant, in batches: each claim fills the room left.
IN_FLIGHT_BATCHES = 4
# Seconds finished attempts wait to be recorded together (fewer, larger statements).
_RECORD_AFTER = 0.05
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
        # Marks this worker's leases: its results count only while its lease holds.
        self._token = uuid.uuid4().hex

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
        """One round over every tenant (until `stop` is set), TENANTS_AT_ONCE at a time so
        that one tenant's slow receivers do not hold up the others; answers the attempts
        made."""
        async with self._engine.connect() as conn:
            tenants = await all_account_ids(conn)
        turns = asyncio.Semaphore(TENANTS_AT_ONCE)

        async def turn(tenant_id: str) -> int:
            async with turns:
                if stop is not None and stop.is_set():
                    return 0  # stopping: tenants not yet begun wait for the next worker
                return await self.run_tenant(tenant_id, stop=stop)

        return sum(await asyncio.gather(*(turn(tenant_id) for tenant_id in tenants)))

    async def run_tenant(
        self,
        tenant_id: str,
        *,
        batches: int = _BATCHES_PER_TENANT,
        stop: asyncio.Event | None = None,
    ) -> int:
        """Feeds the tenant's endpoints and sends what is due: up to `batches` claims, up
        to IN_FLIGHT_BATCHES batches' worth of deliveries in flight at once, each claimed
        again as soon as there is room, so a slow receiver holds only its own deliveries.
        Answers the attempts made; stops claiming once `stop` is set (what is in flight is
        finished and recorded)."""
        size = self._config.batch_size
        capacity = size * IN_FLIGHT_BATCHES
        in_flight: dict[asyncio.Task[AttemptRecord], ClaimedDelivery] = {}
        finished: list[tuple[ClaimedDelivery, AttemptRecord]] = []
        first_finished = 0.0
        claims = attempted = 0
        await self._feed(tenant_id)
        may_claim = True
        try:
            while True:
                room = capacity - len(in_flight)
                stopping = stop is not None and stop.is_set()
                if may_claim and not stopping and claims < batches and room >= size:
                    claimed, secrets = await self._claim(tenant_id, room)
                    claims += 1
                    for delivery in claimed:
                        task = asyncio.create_task(
                            self._attempt(delivery, secrets.get(delivery.endpoint_id))
                        )
                        in_flight[task] = delivery
                    # The due deliveries ran short: new events may have committed since.
                    # Otherwise fed every few claims, so that new events do not wait
                    # behind a long backlog.
                    if len(claimed) < room:
                        may_claim = await self._feed(tenant_id) > 0
                    elif claims % _FEED_EVERY == 0:
                        await self._feed(tenant_id)
                    continue
                if not in_flight and not finished:
                    return attempted
                if in_flight:
                    done, _ = await asyncio.wait(
                        in_flight, timeout=_RECORD_AFTER, return_when=asyncio.FIRST_COMPLETED
                    )
                    for task in done:
                        if not finished:
                            first_finished = time.monotonic()
                        finished.append((in_flight.pop(task), task.result()))
                if finished and (
                    len(finished) >= size
                    or not in_flight
                    or time.monotonic() - first_finished >= _RECORD_AFTER
                ):
                    await self._record(tenant_id, finished)
                    attempted += len(finished)
                    finished = []
                    # An ended delivery may let the next event of its object go.
                    may_claim = True
        finally:
            # Only on an error (the database went away): what is in flight is not recorded
            # and is sent again once its lease runs out.
            for task in in_flight:
                task.cancel()

    async def _feed(self, tenant_id: str) -> int:
        async with tenant_transaction(self._engine, tenant_id) as db:
            return await feed_endpoints(db, _FEED_LIMIT)

    async def _claim(
        self, tenant_id: str, limit: int
    ) -> tuple[list[ClaimedDelivery], dict[str, SigningSecrets]]:
        """Leases up to `limit` due deliveries to this worker, with their signing secrets."""
        now = self._now()
        async with tenant_transaction(self._engine, tenant_id) as db:
            claimed = await claim_due(db, limit, self._config.lease_seconds, self._token)
            secrets: dict[str, SigningSecrets] = {}
            if claimed:
                secrets = await SqlWebhookEndpointRepository(db, self._box).signing_secrets_of(
                    list({d.endpoint_id for d in claimed}), now
                )
        return claimed, secrets

    async def _record(
        self, tenant_id: str, finished: list[tuple[ClaimedDelivery, AttemptRecord]]
    ) -> None:
        async with tenant_transaction(self._engine, tenant_id) as db:
            disabled = await record_attempts(
                db,
                self._token,
                [record for _, record in finished],
                failing={d.endpoint_id for d, _ in finished if d.endpoint_failures},
                disable_after=self._config.disable_after,
                disabled_reason=DISABLED_REASON,
            )
        for endpoint in disabled:
            _log.warning(
                "webhook endpoint disabled",
                extra={"tenant_id": tenant_id, "endpoint_id": endpoint.id},
            )

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
