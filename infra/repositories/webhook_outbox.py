"""The dispatcher's statements: fan committed events out to deliveries, claim due
deliveries, record what their attempts did. Each runs in a tenant transaction of the
worker's (row-level security applies); SQL goes to the driver directly, several rows per
statement.

Claims are FOR UPDATE SKIP LOCKED with a lease written in the claiming transaction: any
number of workers share the deliveries, and a delivery whose worker died is claimed again
once its lease has run out (the only way a delivery is sent twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.events import WEBHOOK_ENDPOINT_DISABLED
from domain.ids import new_id
from domain.webhook_deliveries import DeliveryStatus
from domain.webhooks import ALL_EVENTS
from infra.db import TenantConnection
from infra.repositories.events import SqlEventRepository

# NO KEY UPDATE: only the cursor changes, and deliveries referencing the endpoint may
# still be written meanwhile (their foreign key takes KEY SHARE).
_ENDPOINTS_TO_FEED = """
SELECT id, events, cursor_xid::text AS cursor_xid, cursor_seq
FROM webhook_endpoints
WHERE tenant_id = $1 AND disabled_at IS NULL
ORDER BY id
FOR NO KEY UPDATE SKIP LOCKED
"""
# Past the endpoint's cursor and below the committed horizon (migration 0013): every event
# still to commit stands after the cursor, so moving it never skips one.
_EVENTS_PAST_CURSOR = """
SELECT id, type, object_id, xid::text AS xid, seq
FROM events
WHERE tenant_id = $1
  AND (xid, seq) > ($2::text::xid8, $3::bigint)
  AND xid < pg_snapshot_xmin(pg_current_snapshot())
  AND ($4::boolean OR type = ANY($5::text[]))
ORDER BY xid, seq
LIMIT $6
"""
_ADD_DELIVERIES = """
INSERT INTO webhook_deliveries
    (tenant_id, id, endpoint_id, event_id, event_type, object_id, event_xid, event_seq)
SELECT $1, u.id, $2, u.event_id, u.event_type, u.object_id, u.xid::xid8, u.seq
FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[])
    AS u(id, event_id, event_type, object_id, xid, seq)
ON CONFLICT (tenant_id, endpoint_id, event_id) DO NOTHING
"""
_MOVE_CURSOR = """
UPDATE webhook_endpoints SET cursor_xid = $3::text::xid8, cursor_seq = $4
WHERE tenant_id = $1 AND id = $2
"""
# Due, not leased, to an enabled endpoint, and the first pending delivery of its object to
# that endpoint: a later event of an object waits until the earlier one has ended.
# Written so that its plan does not hang on statistics (a fresh table has none): the
# enabled endpoints are an init plan, run once; the earlier delivery is a lateral subquery
# with a LIMIT, which the planner cannot turn into a join, ordered as
# webhook_deliveries_object_order is and saying "pending" as that index's predicate does
# (`completed_at IS NULL`, the same rows by a CHECK), so no other partial index can serve
# it: a probe of that index with this row's values (as an anti-join, or through
# webhook_deliveries_due, plans read every pending row for each candidate: seconds per
# claim at 50,000 pending); the walk is
# in webhook_deliveries_due order (statement_timestamp() is stable, clock_timestamp()
# would not be an index condition), stopping at the batch size.
_CLAIM = """
WITH claimable AS (
    SELECT d.id
    FROM webhook_deliveries d
    LEFT JOIN LATERAL (
        SELECT e.id FROM webhook_deliveries e
        WHERE e.tenant_id = $1 AND e.endpoint_id = d.endpoint_id
          AND e.object_id = d.object_id AND e.completed_at IS NULL
          AND (e.event_xid, e.event_seq) < (d.event_xid, d.event_seq)
        ORDER BY e.event_xid, e.event_seq
        LIMIT 1
    ) AS earlier ON true
    WHERE d.tenant_id = $1
      AND d.status = 'PENDING'
      AND d.next_attempt_at <= statement_timestamp()
      AND (d.leased_until IS NULL OR d.leased_until <= statement_timestamp())
      AND d.endpoint_id = ANY (ARRAY(
          SELECT w.id FROM webhook_endpoints w WHERE w.tenant_id = $1 AND w.disabled_at IS NULL
      ))
      AND earlier.id IS NULL
    ORDER BY d.next_attempt_at
    LIMIT $2
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d
SET leased_until = clock_timestamp() + make_interval(secs => $3), lease_token = $4
FROM claimable c, events ev, webhook_endpoints w
WHERE d.tenant_id = $1 AND d.id = c.id
  AND ev.tenant_id = $1 AND ev.id = d.event_id
  AND w.tenant_id = $1 AND w.id = d.endpoint_id
RETURNING d.id, d.endpoint_id, d.attempts, w.url, w.consecutive_failures, ev.id AS event_id,
    ev.type, ev.object_id, ev.data, ev.created_at, ev.xid::text AS xid, ev.seq
"""
_ADD_ATTEMPTS = """
INSERT INTO webhook_delivery_attempts
    (tenant_id, delivery_id, attempted_at, status_code, latency_ms, error, succeeded)
SELECT $1, u.delivery_id, u.attempted_at, u.status_code, u.latency_ms, u.error, u.succeeded
FROM unnest($2::text[], $3::timestamptz[], $4::integer[], $5::integer[], $6::text[],
    $7::boolean[]) AS u(delivery_id, attempted_at, status_code, latency_ms, error, succeeded)
WHERE EXISTS (
    SELECT 1 FROM webhook_deliveries d WHERE d.tenant_id = $1 AND d.id = u.delivery_id
)
"""
# Only while the lease is still this worker's: had it run out and another worker claimed
# the delivery, that worker's outcome is the one that counts.
_RECORD = """
UPDATE webhook_deliveries d
SET status = u.status, attempts = u.attempts,
    next_attempt_at = coalesce(u.next_attempt_at, d.next_attempt_at),
    completed_at = CASE WHEN u.status = 'PENDING' THEN NULL ELSE u.attempted_at END,
    leased_until = NULL, lease_token = NULL
FROM unnest($2::text[], $3::text[], $4::integer[], $5::timestamptz[], $6::timestamptz[])
    AS u(id, status, attempts, next_attempt_at, attempted_at)
WHERE d.tenant_id = $1 AND d.id = u.id AND d.lease_token = $7
RETURNING d.id, d.endpoint_id, d.status
"""
# A success ends the endpoint's run of failures; each delivery that failed for good adds
# one (those after the batch's success, which it cannot order, are counted in full).
_COUNT_FAILURES = """
UPDATE webhook_endpoints w
SET consecutive_failures = CASE WHEN u.succeeded THEN u.failed
                                ELSE w.consecutive_failures + u.failed END
FROM unnest($2::text[], $3::boolean[], $4::integer[]) AS u(id, succeeded, failed)
WHERE w.tenant_id = $1 AND w.id = u.id
  AND w.consecutive_failures IS DISTINCT FROM
      CASE WHEN u.succeeded THEN u.failed ELSE w.consecutive_failures + u.failed END
"""
# domain.webhook_deliveries.should_disable, where the count is.
_DISABLE = """
UPDATE webhook_endpoints
SET disabled_at = clock_timestamp(), disabled_reason = $3
WHERE tenant_id = $1 AND id = ANY($2::text[]) AND disabled_at IS NULL
  AND consecutive_failures >= $4
RETURNING id, url, disabled_at, consecutive_failures
"""


async def feed_endpoints(db: TenantConnection, limit: int) -> int:
    """Makes a delivery of each committed event past each enabled endpoint's cursor that
    the endpoint subscribes to (at most `limit` events per endpoint), and moves the cursors.
    Endpoints another worker is feeding are skipped. Answers the deliveries made."""
    tenant_id = db.tenant_id
    made = 0
    for endpoint in await db.fetch(_ENDPOINTS_TO_FEED, tenant_id):
        types = list(endpoint["events"])
        rows = await db.fetch(
            _EVENTS_PAST_CURSOR,
            tenant_id,
            endpoint["cursor_xid"],
            endpoint["cursor_seq"],
            ALL_EVENTS in types,
            types,
            limit,
        )
        if not rows:
            continue
        await db.fetch(
            _ADD_DELIVERIES,
            tenant_id,
            endpoint["id"],
            [new_id("whd") for _ in rows],
            [row["id"] for row in rows],
            [row["type"] for row in rows],
            [row["object_id"] for row in rows],
            [row["xid"] for row in rows],
            [row["seq"] for row in rows],
        )
        last = rows[-1]
        await db.fetch(_MOVE_CURSOR, tenant_id, endpoint["id"], last["xid"], last["seq"])
        made += len(rows)
    return made


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: str
    endpoint_id: str
    url: str
    endpoint_failures: int  # the endpoint's run of deliveries failed for good
    attempts: int  # before this one
    event_id: str
    event_type: str
    object_id: str
    event_data: dict[str, Any]
    event_created_at: datetime
    event_position: tuple[int, int]


async def claim_due(
    db: TenantConnection, limit: int, lease_seconds: float, token: str
) -> list[ClaimedDelivery]:
    """Leases up to `limit` due deliveries for `lease_seconds` to the worker that `token`
    names, in event position order."""
    rows = await db.fetch(_CLAIM, db.tenant_id, limit, lease_seconds, token)
    deliveries = [
        ClaimedDelivery(
            id=row["id"],
            endpoint_id=row["endpoint_id"],
            url=row["url"],
            endpoint_failures=row["consecutive_failures"],
            attempts=row["attempts"],
            event_id=row["event_id"],
            event_type=row["type"],
            object_id=row["object_id"],
            event_data=row["data"],
            event_created_at=row["created_at"],
            event_position=(int(row["xid"]), row["seq"]),
        )
        for row in rows
    ]
    deliveries.sort(key=lambda d: d.event_position)
    return deliveries


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt of a claimed delivery and where it leaves the delivery."""

    delivery_id: str
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None
    succeeded: bool
    status: DeliveryStatus
    attempts: int  # counting this one
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class DisabledEndpoint:
    id: str
    url: str
    disabled_at: datetime
    consecutive_failures: int


async def record_attempts(
    db: TenantConnection,
    token: str,
    records: Sequence[AttemptRecord],
    *,
    failing: set[str],
    disable_after: int,
    disabled_reason: str,
) -> list[DisabledEndpoint]:
    """Stores the attempts and moves their deliveries on; counts each endpoint's run of
    failures (`failing`: the endpoints whose run was not 0 when claimed, which a success
    resets) and disables (with a `webhook_endpoint.disabled` event) those that reach
    `disable_after`. Answers the endpoints disabled."""
    if not records:
        return []
    tenant_id = db.tenant_id
    await db.fetch(
        _ADD_ATTEMPTS,
        tenant_id,
        [r.delivery_id for r in records],
        [r.attempted_at for r in records],
        [r.status_code for r in records],
        [r.latency_ms for r in records],
        [r.error for r in records],
        [r.succeeded for r in records],
    )
    moved = await db.fetch(
        _RECORD,
        tenant_id,
        [r.delivery_id for r in records],
        [r.status.value for r in records],
        [r.attempts for r in records],
        [r.next_attempt_at for r in records],
        [r.attempted_at for r in records],
        token,
    )
    succeeded: dict[str, bool] = {}
    failed: dict[str, int] = {}
    for row in moved:
        endpoint_id, status = row["endpoint_id"], DeliveryStatus(row["status"])
        if status is DeliveryStatus.SUCCEEDED and endpoint_id in failing:
            succeeded[endpoint_id] = True
            failed.setdefault(endpoint_id, 0)
        elif status is DeliveryStatus.FAILED:
            failed[endpoint_id] = failed.get(endpoint_id, 0) + 1
    if not failed:
        return []
    ids = sorted(failed)  # endpoints updated in one order by every worker: no deadlock
    await db.fetch(
        _COUNT_FAILURES,
        tenant_id,
        ids,
        [succeeded.get(i, False) for i in ids],
        [failed[i] for i in ids],
    )
    failed_now = [i for i in ids if failed[i] > 0]
    if not failed_now:
        return []
    disabled = [
        DisabledEndpoint(row["id"], row["url"], row["disabled_at"], row["consecutive_failures"])
        for row in await db.fetch(_DISABLE, tenant_id, failed_now, disabled_reason, disable_after)
    ]
    events = SqlEventRepository(db)
    for endpoint in disabled:
        await events.add(
            WEBHOOK_ENDPOINT_DISABLED,
            endpoint.id,
            {
                "id": endpoint.id,
                "url": endpoint.url,
                "disabledAt": endpoint.disabled_at.isoformat(),
                "reason": disabled_reason,
                "consecutiveFailures": endpoint.consecutive_failures,
            },
        )
    return disabled
