"""Webhook endpoints: where a merchant's events are sent, and the secrets that sign them.

The secrets are stored sealed (infra/secret_box.py: AES-GCM under SECRET_KEY): a CHECK
refuses a value without the sealed format's prefix, or holding a clear `whsec_` secret, so
a bug that would write a secret in clear fails instead. A rotated-out secret is kept beside
the current one, with the time it stops signing.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

STATEMENTS = (
    r"""
    CREATE TABLE webhook_endpoints (
        tenant_id text NOT NULL REFERENCES accounts (id),
        id text NOT NULL CHECK (id LIKE 'we\_%'),
        url text NOT NULL CHECK (length(url) <= 2048 AND url ~* '^https?://'),
        events text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 100),
        description text CHECK (length(description) BETWEEN 1 AND 500),
        secret bytea NOT NULL CHECK (
            substring(secret FROM 1 FOR 5) = '\x006c6c7331'::bytea
            AND position('whsec_'::bytea IN secret) = 0
        ),
        previous_secret bytea CHECK (
            substring(previous_secret FROM 1 FOR 5) = '\x006c6c7331'::bytea
            AND position('whsec_'::bytea IN previous_secret) = 0
        ),
        previous_secret_expires_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (tenant_id, id),
        CHECK ((previous_secret IS NULL) = (previous_secret_expires_at IS NULL))
    )
    """,
    "CREATE INDEX webhook_endpoints_page_created ON webhook_endpoints (tenant_id, created_at, id)",
    "ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY",
    """
    CREATE POLICY tenant_isolation ON webhook_endpoints
        USING (tenant_id = current_setting('app.tenant_id', true))
        WITH CHECK (tenant_id = current_setting('app.tenant_id', true))
    """,
    "GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints TO ledgerline_app",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE webhook_endpoints")
