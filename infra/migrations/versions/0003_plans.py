"""Plans and their prices.

Prices are immutable once written (a new price is a new plan), so they live with their plan
as a JSONB array; a GIN index finds a price by id.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE plans (
    tenant_id text NOT NULL REFERENCES accounts (id),
    id text NOT NULL CHECK (id LIKE 'plan\\_%'),
    code text NOT NULL CHECK (code ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description text CHECK (length(description) <= 2000),
    interval text NOT NULL CHECK (interval IN ('DAY', 'WEEK', 'MONTH', 'YEAR')),
    interval_count integer NOT NULL CHECK (interval_count BETWEEN 1 AND 36),
    trial_days integer NOT NULL CHECK (trial_days BETWEEN 0 AND 730),
    minimum_commitments jsonb NOT NULL DEFAULT '[]'
        CHECK (jsonb_typeof(minimum_commitments) = 'array'),
    prices jsonb NOT NULL
        CHECK (jsonb_typeof(prices) = 'array' AND jsonb_array_length(prices) BETWEEN 1 AND 20),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    archived_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code)
);
CREATE INDEX plans_page_created ON plans (tenant_id, created_at, id);
CREATE INDEX plans_price_ids ON plans USING gin (prices jsonb_path_ops)
"""


def upgrade() -> None:
    for statement in TABLES.split(";"):
        if statement.strip():
            op.execute(statement)
    op.execute("ALTER TABLE plans ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE plans FORCE ROW LEVEL SECURITY")
    op.execute(
        """
        CREATE POLICY tenant_isolation ON plans
            USING (tenant_id = current_setting('app.tenant_id', true))
            WITH CHECK (tenant_id = current_setting('app.tenant_id', true))
        """
    )
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON plans TO ledgerline_app")


def downgrade() -> None:
    op.execute("DROP TABLE plans")
