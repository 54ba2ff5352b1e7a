"""Lines added to a finalized invoice are refused once per statement, not once per line.

0008's row trigger `invoice_lines_only_on_drafts` ran a PL/pgSQL call and a lookup of the
line's invoice for every line inserted: the billing run inserts a batch's lines (hundreds)
in one statement, and those calls were the largest part of that statement's time. Inserts
are now checked by a statement-level trigger over the statement's new rows (a transition
table): one lookup per distinct invoice, in one query. The rule is the same: a line may go
to a draft or to an invoice not written yet (the billing run writes lines first; the
deferred foreign key makes sure the invoice comes in the same transaction), never to a
finalized one, with the same error. Updates and deletes keep the row trigger (a line also
stays on its invoice), which no bulk path uses.

The lookup is planned on each call (EXECUTE): PL/pgSQL keeps a static query's plan for the
session, and one made while `invoices` was nearly empty (a fresh tenant, the billing
benchmark's first batch) probed `invoices_status`, whose leading column is only the
tenant, so each probe read the tenant's whole index once the table had grown (measured:
140 ms per batch of 500 invoices by the 10th batch). Planned with the table's size of the
moment, it is a primary key probe per invoice.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        r"""
        CREATE FUNCTION invoice_lines_added_only_to_drafts() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            finalized text;
        BEGIN
            EXECUTE $lookup$
                SELECT added.invoice_id
                FROM (SELECT DISTINCT tenant_id, invoice_id FROM added_lines) AS added
                WHERE (SELECT invoices.status FROM invoices
                       WHERE invoices.tenant_id = added.tenant_id
                         AND invoices.id = added.invoice_id) <> 'DRAFT'
                LIMIT 1
            $lookup$ INTO finalized;
            IF finalized IS NOT NULL THEN
                RAISE EXCEPTION 'invoice % is finalized: its lines cannot change', finalized
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER invoice_lines_added_only_to_drafts AFTER INSERT ON invoice_lines"
        " REFERENCING NEW TABLE AS added_lines"
        " FOR EACH STATEMENT EXECUTE FUNCTION invoice_lines_added_only_to_drafts()"
    )
    op.execute("DROP TRIGGER invoice_lines_only_on_drafts ON invoice_lines")
    op.execute(
        "CREATE TRIGGER invoice_lines_only_on_drafts BEFORE UPDATE OR DELETE ON invoice_lines"
        " FOR EACH ROW EXECUTE FUNCTION invoice_lines_only_on_drafts()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER invoice_lines_only_on_drafts ON invoice_lines")
    op.execute(
        "CREATE TRIGGER invoice_lines_only_on_drafts"
        " BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines"
        " FOR EACH ROW EXECUTE FUNCTION invoice_lines_only_on_drafts()"
    )
    op.execute("DROP TRIGGER invoice_lines_added_only_to_drafts ON invoice_lines")
    op.execute("DROP FUNCTION invoice_lines_added_only_to_drafts()")
