"""Webhook deliveries: the events each endpoint is sent, every attempt, and the state an
endpoint keeps to be fed in order and disabled when it keeps failing.

- `webhook_endpoints` gains its feed cursor (`cursor_xid`, `cursor_seq`: the position of
  the last event the dispatcher considered for it; events are read past it, below the
  committed horizon of 0013), its run of failed deliveries and when (and why) it was
  disabled. A new endpoint's cursor starts at the horizon when it is made: it is sent what
  happens from then on. Existing endpoints start at this migration.
- `webhook_deliveries`: one row per (endpoint, event), unique, so a dispatcher that fans
  the same events out twice adds nothing. A worker claims rows with FOR UPDATE SKIP LOCKED
  and leases them (`leased_until`, `lease_token`): one killed mid-delivery leaves a lease
  that runs out, and another worker sends the delivery again. `event_type`, `event_xid`,
  `event_seq` and `object_id` copy the (immutable) event's, so "is an earlier delivery of
  this object still pending?" is one index probe and a list needs no join.
- `webhook_delivery_attempts`: status code, latency, error, time of each attempt.
Deleting an endpoint deletes its deliveries (the events stay). Deliveries leave pages
room (fillfactor 80) so that taking and dropping a lease, which touches no indexed column,
is a HOT update that adds no index entries.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_RLS = (
    "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
    """
    CREATE POLICY tenant_isolation ON {table}
        USING (tenant_id = current_setting('app.tenant_id', true))
        WITH CHECK (tenant_id = current_setting('app.tenant_id', true))
    """,
)

UPGRADE = (
    """
    ALTER TABLE webhook_endpoints
        ADD COLUMN cursor_xid xid8 NOT NULL DEFAULT pg_snapshot_xmin(pg_current_snapshot()),
        ADD COLUMN cursor_seq bigint NOT NULL DEFAULT 0,
        ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0
            CHECK (consecutive_failures >= 0),
        ADD COLUMN disabled_at timestamptz,
        ADD COLUMN disabled_reason text CHECK (length(disabled_reason) BETWEEN 1 AND 500),
        ADD CONSTRAINT webhook_endpoints_disabled_reason
            CHECK ((disabled_at IS NULL) = (disabled_reason IS NULL))
    """,
    r"""
    CREATE TABLE webhook_deliveries (
        tenant_id text NOT NULL REFERENCES accounts (id),
        id text NOT NULL CHECK (id LIKE 'whd\_%'),
        endpoint_id text NOT NULL,
        event_id text NOT NULL,
        event_type text NOT NULL,
        event_xid xid8 NOT NULL,
        event_seq bigint NOT NULL,
        object_id text NOT NULL,
        status text NOT NULL DEFAULT 'PENDING'
            CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
        attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        leased_until timestamptz,
        lease_token text,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        completed_at timestamptz,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, endpoint_id, event_id),
        FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id)
            ON DELETE CASCADE,
        FOREIGN KEY (tenant_id, event_id) REFERENCES events (tenant_id, id),
        CHECK ((status = 'PENDING') = (completed_at IS NULL)),
        CHECK ((leased_until IS NULL) = (lease_token IS NULL))
    ) WITH (fillfactor = 80)
    """,
    # What a worker claims: the due pending deliveries.
    """
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (tenant_id, next_attempt_at)
        WHERE status = 'PENDING'
    """,
    # Whether an earlier delivery of the same object to the same endpoint is still pending
    # ("pending" said as completed_at IS NULL: see the claim in webhook_outbox.py).
    """
    CREATE INDEX webhook_deliveries_object_order ON webhook_deliveries
        (tenant_id, endpoint_id, object_id, event_xid, event_seq) WHERE completed_at IS NULL
    """,
    # An endpoint's deliveries, newest first.
    """
    CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries
        (tenant_id, endpoint_id, created_at, id)
    """,
    *(statement.format(table="webhook_deliveries") for statement in _RLS),
    "GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_deliveries TO ledgerline_app",
    """
    CREATE TABLE webhook_delivery_attempts (
        tenant_id text NOT NULL REFERENCES accounts (id),
        delivery_id text NOT NULL,
        id bigint GENERATED ALWAYS AS IDENTITY,
        attempted_at timestamptz NOT NULL,
        status_code integer CHECK (status_code BETWEEN 100 AND 599),
        latency_ms integer NOT NULL CHECK (latency_ms >= 0),
        error text CHECK (length(error) BETWEEN 1 AND 500),
        succeeded boolean NOT NULL,
        PRIMARY KEY (tenant_id, delivery_id, id),
        FOREIGN KEY (tenant_id, delivery_id) REFERENCES webhook_deliveries (tenant_id, id)
            ON DELETE CASCADE,
        CHECK (NOT succeeded OR status_code BETWEEN 200 AND 299)
    )
    """,
    *(statement.format(table="webhook_delivery_attempts") for statement in _RLS),
    "GRANT SELECT, INSERT, DELETE ON webhook_delivery_attempts TO ledgerline_app",
)

DOWNGRADE = (
    "DROP TABLE webhook_delivery_attempts",
    "DROP TABLE webhook_deliveries",
    """
    ALTER TABLE webhook_endpoints
        DROP COLUMN cursor_xid, DROP COLUMN cursor_seq, DROP COLUMN consecutive_failures,
        DROP COLUMN disabled_at, DROP COLUMN disabled_reason
    """,
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
