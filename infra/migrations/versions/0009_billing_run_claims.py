"""The billing run claims its batches from an index in the order it bills them.

`claim_due` takes the live subscriptions whose period ended by the run's instant, oldest
period end first and then by id, LIMIT a batch, FOR UPDATE SKIP LOCKED. `subscriptions_due`
held (tenant_id, current_period_end) only: when many periods end at the same instant (every
monthly subscription started on the 1st), PostgreSQL read and sorted every due
subscription for each batch of 500 (measured: 14 ms over 10,000, growing with the tenant,
so a run over 100,000 spent most of its time sorting). With `id` in the index the rows come
in claim order and the scan stops at the batch's size.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX subscriptions_due")
    op.execute(
        "CREATE INDEX subscriptions_due ON subscriptions (tenant_id, current_period_end, id)"
        " WHERE status <> 'CANCELED'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX subscriptions_due")
    op.execute(
        "CREATE INDEX subscriptions_due ON subscriptions (tenant_id, current_period_end)"
        " WHERE status <> 'CANCELED'"
    )
