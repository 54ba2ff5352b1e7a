"""The application role reads the schema version.

`ledgerline serve` in production refuses a database that is not at the newest migration,
and it checks as the application role (`ledgerline_app`), which could not read
`alembic_version`: production never started.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("GRANT SELECT ON alembic_version TO ledgerline_app")


def downgrade() -> None:
    op.execute("REVOKE SELECT ON alembic_version FROM ledgerline_app")
