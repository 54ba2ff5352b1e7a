"""Billable metrics and usage events.

Usage events are deduplicated by their primary key (tenant, idempotency key): a batch is
one INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING, so a replayed event is
counted once however many clients send it at the same time.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE billable_metrics (
    tenant_id text NOT NULL REFERENCES accounts (id),
    id text NOT NULL CHECK (id LIKE 'bm\\_%'),
    code text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    aggregation text NOT NULL
        CHECK (aggregation IN ('COUNT', 'SUM', 'MAX', 'UNIQUE_COUNT', 'LATEST')),
    property text CHECK ((aggregation = 'COUNT') = (property IS NULL)),
    filters jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(filters) = 'object'),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    archived_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);
CREATE INDEX billable_metrics_page_created ON billable_metrics (tenant_id, created_at, id);

CREATE TABLE usage_events (
    tenant_id text NOT NULL,
    idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    customer_id text NOT NULL,
    metric_code text NOT NULL,
    occurred_at timestamptz NOT NULL,
    properties jsonb NOT NULL CHECK (jsonb_typeof(properties) = 'object'),
    value numeric(38, 12) CHECK (value >= 0),
    position integer NOT NULL DEFAULT 0,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, idempotency_key),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
    FOREIGN KEY (tenant_id, metric_code) REFERENCES billable_metrics (tenant_id, code)
);
CREATE INDEX usage_events_aggregation
    ON usage_events (tenant_id, customer_id, metric_code, occurred_at)
"""


def upgrade() -> None:
    for statement in TABLES.split(";"):
        if statement.strip():
            op.execute(statement)
    for table in ("billable_metrics", "usage_events"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"""
            CREATE POLICY tenant_isolation ON {table}
                USING (tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true))
            """
        )
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO ledgerline_app")


def downgrade() -> None:
    op.execute("DROP TABLE usage_events, billable_metrics")
