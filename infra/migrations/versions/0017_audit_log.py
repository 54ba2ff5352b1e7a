"""The audit log: one row per mutation (and per personal-data export) that ran.

Append-only twice over: the application role is granted SELECT and INSERT only, and the
`append_only()` trigger of 0015 refuses UPDATE and DELETE (and a statement trigger,
TRUNCATE) from any role but a superuser's. Rows carry no personal data by construction:
`input` is a summary of the mutation's input with free text and personal fields replaced
(domain/audit.py). Row-level security by tenant, as every tenant table.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

UPGRADE = (
    r"""
    CREATE TABLE audit_log (
        tenant_id text NOT NULL REFERENCES accounts (id),
        id text NOT NULL CHECK (id LIKE 'aud\_%'),
        occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        client_id text NOT NULL CHECK (length(client_id) BETWEEN 1 AND 255),
        subject text CHECK (length(subject) <= 255),
        operation text NOT NULL CHECK (length(operation) BETWEEN 1 AND 100),
        operation_name text CHECK (length(operation_name) <= 200),
        object_ids text[] NOT NULL DEFAULT '{}' CHECK (cardinality(object_ids) <= 100),
        input jsonb NOT NULL DEFAULT '{}',
        outcome text NOT NULL CHECK (outcome IN ('OK', 'USER_ERRORS', 'ERROR')),
        error_codes text[] NOT NULL DEFAULT '{}',
        request_id text CHECK (length(request_id) <= 200),
        PRIMARY KEY (tenant_id, id),
        CHECK ((outcome = 'OK') = (cardinality(error_codes) = 0))
    )
    """,
    "CREATE INDEX audit_log_page ON audit_log (tenant_id, occurred_at, id)",
    "CREATE INDEX audit_log_operation ON audit_log (tenant_id, operation, occurred_at, id)",
    "CREATE INDEX audit_log_client ON audit_log (tenant_id, client_id, occurred_at, id)",
    "CREATE INDEX audit_log_objects ON audit_log USING gin (object_ids)",
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log"
    " FOR EACH ROW EXECUTE FUNCTION append_only()",
    "CREATE TRIGGER audit_log_never_truncated BEFORE TRUNCATE ON audit_log"
    " FOR EACH STATEMENT EXECUTE FUNCTION append_only()",
    "ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE audit_log FORCE ROW LEVEL SECURITY",
    """
    CREATE POLICY tenant_isolation ON audit_log
        USING (tenant_id = current_setting('app.tenant_id', true))
        WITH CHECK (tenant_id = current_setting('app.tenant_id', true))
    """,
    "GRANT SELECT, INSERT ON audit_log TO ledgerline_app",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE audit_log")
