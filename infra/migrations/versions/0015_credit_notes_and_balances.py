"""Credit notes and the customer balance ledger.

- `invoices` gains `amount_credited` (credit notes that reduced what is due) and
  `balance_applied` (customer credit applied at finalization); `amount_due` is what is due
  after them, and a CHECK keeps paid + credited + applied within the invoice's total.
  After finalization `balance_applied` is frozen and `amount_credited` only grows.
- `credit_notes`: numbered per tenant (`credit_note_numbering`, gapless like invoices),
  append-only; a trigger refuses one on a draft or void invoice, or one that takes the
  credit notes of an invoice past its total, or an invoice line's credit notes past it.
- `customer_balance_transactions`: the append-only ledger of a customer's balance. Each
  insert moves `customers.balance` (the cached sum) and records the balance it ended at;
  `customers.balance` moves by no other path (a trigger refuses it), so it always equals
  the sum of the ledger. Stripe's sign: negative is credit in the customer's favour, and a
  balance never owes (CHECK balance <= 0).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# 0008's freeze, with balance_applied frozen too and amount_credited only growing.
FROZEN = r"""
    CREATE OR REPLACE FUNCTION invoices_frozen_once_finalized() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            IF OLD.status <> 'DRAFT' THEN
                RAISE EXCEPTION 'invoice % is finalized: it cannot be deleted', OLD.id
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN OLD;
        END IF;
        IF OLD.status = 'DRAFT' THEN
            RETURN NEW;
        END IF;
        IF NOT (
            (OLD.status = NEW.status
                OR (OLD.status = 'OPEN' AND NEW.status IN ('PAID', 'VOID', 'UNCOLLECTIBLE'))
                OR (OLD.status = 'UNCOLLECTIBLE' AND NEW.status IN ('PAID', 'VOID')))
            AND NEW.amount_credited >= OLD.amount_credited
            AND (OLD.tenant_id, OLD.id, OLD.customer_id, OLD.subscription_id, OLD.currency,
                 OLD.billing_reason, OLD.number, OLD.sequence, OLD.period_start,
                 OLD.period_end, OLD.subtotal, OLD.discount_total, OLD.tax_total, OLD.total,
                 OLD.due_date, OLD.reverse_charge, OLD.tax_breakdown, OLD.customer_snapshot,
                 OLD.memo, OLD.created_at, OLD.finalized_at, OLD.balance_applied)
                IS NOT DISTINCT FROM
                (NEW.tenant_id, NEW.id, NEW.customer_id, NEW.subscription_id, NEW.currency,
                 NEW.billing_reason, NEW.number, NEW.sequence, NEW.period_start,
                 NEW.period_end, NEW.subtotal, NEW.discount_total, NEW.tax_total, NEW.total,
                 NEW.due_date, NEW.reverse_charge, NEW.tax_breakdown, NEW.customer_snapshot,
                 NEW.memo, NEW.created_at, NEW.finalized_at, NEW.balance_applied)
        ) THEN
            RAISE EXCEPTION 'invoice % is finalized: only its status and payments change',
                OLD.id USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """

TABLES = ("credit_note_numbering", "credit_notes", "customer_balance_transactions")

STATEMENTS = (
    # The generated column is made again with the new terms (PostgreSQL 15 cannot alter
    # a generation expression).
    """
    ALTER TABLE invoices
        ADD COLUMN amount_credited bigint NOT NULL DEFAULT 0 CHECK (amount_credited >= 0),
        ADD COLUMN balance_applied bigint NOT NULL DEFAULT 0 CHECK (balance_applied >= 0),
        DROP COLUMN amount_due
    """,
    """
    ALTER TABLE invoices
        ADD COLUMN amount_due bigint GENERATED ALWAYS AS (
            CASE WHEN status = 'VOID' OR total < 0 THEN 0
                 ELSE total - balance_applied - amount_credited END) STORED,
        ADD CONSTRAINT invoices_settled_within_total
            CHECK (amount_paid + amount_credited + balance_applied <= greatest(total, 0))
    """,
    FROZEN,
    """
    CREATE TABLE credit_note_numbering (
        tenant_id text PRIMARY KEY REFERENCES accounts (id),
        last_number bigint NOT NULL DEFAULT 0 CHECK (last_number >= 0)
    )
    """,
    r"""
    CREATE TABLE credit_notes (
        tenant_id text NOT NULL REFERENCES accounts (id),
        id text NOT NULL CHECK (id LIKE 'cn\_%'),
        invoice_id text NOT NULL,
        customer_id text NOT NULL,
        number text NOT NULL CHECK (length(number) BETWEEN 1 AND 64),
        sequence bigint NOT NULL CHECK (sequence >= 1),
        currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        amount bigint NOT NULL CHECK (amount > 0),
        reason text NOT NULL CHECK (reason IN
            ('DUPLICATE', 'FRAUDULENT', 'ORDER_CHANGE', 'PRODUCT_UNSATISFACTORY', 'OTHER')),
        outcome text NOT NULL CHECK (outcome IN ('REDUCE_AMOUNT_DUE', 'CREDIT_BALANCE', 'REFUND')),
        memo text CHECK (length(memo) <= 2000),
        lines jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(lines) = 'array'),
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, number),
        UNIQUE (tenant_id, sequence),
        FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id),
        FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id)
    )
    """,
    "CREATE INDEX credit_notes_page_created ON credit_notes (tenant_id, created_at, id)",
    "CREATE INDEX credit_notes_invoice ON credit_notes (tenant_id, invoice_id, created_at, id)",
    "CREATE INDEX credit_notes_customer ON credit_notes (tenant_id, customer_id, created_at, id)",
    # What a credit note may credit, checked where it is written: the invoice is finalized
    # and not void, of the same customer and currency; its credit notes stay within its
    # total, and each line's within what the line charged. Services lock the invoice first,
    # so the sums are read with no credit note of the invoice in flight.
    r"""
    CREATE FUNCTION credit_notes_within_invoice() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        invoice record;
        over text;
    BEGIN
        SELECT status, customer_id, currency, total INTO invoice FROM invoices
            WHERE tenant_id = NEW.tenant_id AND id = NEW.invoice_id;
        IF invoice.status NOT IN ('OPEN', 'PAID', 'UNCOLLECTIBLE')
                OR invoice.customer_id <> NEW.customer_id
                OR invoice.currency <> NEW.currency THEN
            RAISE EXCEPTION 'credit note % does not fit invoice %', NEW.id, NEW.invoice_id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF (SELECT sum(amount) FROM credit_notes
                WHERE tenant_id = NEW.tenant_id AND invoice_id = NEW.invoice_id)
                > greatest(invoice.total, 0) THEN
            RAISE EXCEPTION 'credit notes of invoice % exceed its total', NEW.invoice_id
                USING ERRCODE = 'check_violation';
        END IF;
        IF jsonb_array_length(NEW.lines) > 0 THEN
            SELECT credited.line_id INTO over
            FROM (
                SELECT line ->> 'invoiceLineId' AS line_id, sum((line ->> 'amount')::bigint) AS sum
                FROM credit_notes, jsonb_array_elements(credit_notes.lines) AS line
                WHERE credit_notes.tenant_id = NEW.tenant_id
                  AND credit_notes.invoice_id = NEW.invoice_id
                GROUP BY 1
            ) AS credited
            LEFT JOIN invoice_lines AS il
                ON il.tenant_id = NEW.tenant_id AND il.invoice_id = NEW.invoice_id
               AND il.id = credited.line_id
            WHERE il.id IS NULL
               OR credited.sum > greatest(il.amount - il.discount_amount
                    + CASE WHEN il.tax_inclusive THEN 0 ELSE il.tax_amount END, 0)
            LIMIT 1;
            IF over IS NOT NULL THEN
                RAISE EXCEPTION 'credit notes of invoice line % exceed it', over
                    USING ERRCODE = 'check_violation';
            END IF;
        END IF;
        RETURN NULL;
    END $$
    """,
    "CREATE TRIGGER credit_notes_within_invoice AFTER INSERT ON credit_notes"
    " FOR EACH ROW EXECUTE FUNCTION credit_notes_within_invoice()",
    # Ledgers and legal documents are appended to, never rewritten.
    r"""
    CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% rows are never changed nor deleted', TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
    END $$
    """,
    "CREATE TRIGGER credit_notes_append_only BEFORE UPDATE OR DELETE ON credit_notes"
    " FOR EACH ROW EXECUTE FUNCTION append_only()",
    r"""
    CREATE TABLE customer_balance_transactions (
        tenant_id text NOT NULL REFERENCES accounts (id),
        id text NOT NULL CHECK (id LIKE 'cbtxn\_%'),
        customer_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN
            ('CREDIT_NOTE', 'ADJUSTMENT', 'APPLIED_TO_INVOICE', 'UNAPPLIED_FROM_INVOICE')),
        amount bigint NOT NULL CHECK (amount <> 0),
        currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        ending_balance bigint NOT NULL,
        description text CHECK (length(description) BETWEEN 1 AND 500),
        credit_note_id text,
        invoice_id text,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        -- The ledger's order (the order of writing), whatever clocks say.
        position bigint GENERATED ALWAYS AS IDENTITY,
        PRIMARY KEY (tenant_id, id),
        FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
        FOREIGN KEY (tenant_id, credit_note_id) REFERENCES credit_notes (tenant_id, id),
        -- Deferred: the billing run applies balances before it writes the invoices.
        FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
            DEFERRABLE INITIALLY DEFERRED,
        CHECK ((kind = 'CREDIT_NOTE') = (credit_note_id IS NOT NULL)),
        CHECK ((kind IN ('APPLIED_TO_INVOICE', 'UNAPPLIED_FROM_INVOICE'))
            = (invoice_id IS NOT NULL)),
        CHECK (kind <> 'CREDIT_NOTE' OR amount < 0),
        CHECK (kind <> 'APPLIED_TO_INVOICE' OR amount > 0),
        CHECK (kind <> 'UNAPPLIED_FROM_INVOICE' OR amount < 0)
    )
    """,
    "CREATE INDEX customer_balance_transactions_customer ON customer_balance_transactions"
    " (tenant_id, customer_id, position)",
    "CREATE TRIGGER customer_balance_transactions_append_only"
    " BEFORE UPDATE OR DELETE ON customer_balance_transactions"
    " FOR EACH ROW EXECUTE FUNCTION append_only()",
    # Each transaction moves the cached balance, in the customer's currency, and records
    # where it ended; the customer's row lock orders concurrent transactions.
    r"""
    CREATE FUNCTION customer_balance_moves() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        moved bigint;
        held text;
    BEGIN
        UPDATE customers SET balance = balance + NEW.amount
            WHERE tenant_id = NEW.tenant_id AND id = NEW.customer_id
            RETURNING balance, currency INTO moved, held;
        IF NOT FOUND OR held <> NEW.currency THEN
            RAISE EXCEPTION 'balance transaction % is not in its customer''s currency', NEW.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        NEW.ending_balance := moved;
        RETURN NEW;
    END $$
    """,
    "CREATE TRIGGER customer_balance_moves BEFORE INSERT ON customer_balance_transactions"
    " FOR EACH ROW EXECUTE FUNCTION customer_balance_moves()",
    # The cached balance moves only from the ledger's trigger (depth 2), never by itself.
    r"""
    CREATE FUNCTION customers_balance_from_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF (TG_OP = 'INSERT' AND NEW.balance <> 0)
                OR (TG_OP = 'UPDATE' AND NEW.balance IS DISTINCT FROM OLD.balance
                    AND pg_trigger_depth() < 2) THEN
            RAISE EXCEPTION 'a customer''s balance moves only by balance transactions'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
)

AFTER_CARRY_OVER = (
    "ALTER TABLE customers ADD CONSTRAINT customers_balance_never_owed CHECK (balance <= 0)",
    "CREATE TRIGGER customers_balance_from_ledger BEFORE INSERT OR UPDATE OF balance"
    " ON customers FOR EACH ROW EXECUTE FUNCTION customers_balance_from_ledger()",
)

# Balances set before the ledger existed become its opening entries, so the sum holds.
CARRY_OVER = r"""
INSERT INTO customer_balance_transactions
    (tenant_id, id, customer_id, kind, amount, currency, ending_balance, description)
SELECT tenant_id, 'cbtxn_' || substr(md5(id), 1, 22), id, 'ADJUSTMENT', opening_balance,
       currency, 0, 'Opening balance'
FROM customers WHERE opening_balance IS NOT NULL
"""


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"""
            CREATE POLICY tenant_isolation ON {table}
                USING (tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true))
            """
        )
    # The opening entries add to balances already set: start them from zero.
    op.execute("ALTER TABLE customers ADD COLUMN opening_balance bigint")
    op.execute("UPDATE customers SET opening_balance = balance, balance = 0 WHERE balance <> 0")
    op.execute(CARRY_OVER)
    op.execute("ALTER TABLE customers DROP COLUMN opening_balance")
    for statement in AFTER_CARRY_OVER:
        op.execute(statement)
    # A credit note's REFUND outcome gives money back through refunds that name it.
    op.execute("ALTER TABLE refunds ADD COLUMN credit_note_id text")
    op.execute(
        "ALTER TABLE refunds ADD FOREIGN KEY (tenant_id, credit_note_id)"
        " REFERENCES credit_notes (tenant_id, id)"
    )
    op.execute(
        "CREATE INDEX refunds_credit_note ON refunds (tenant_id, credit_note_id)"
        " WHERE credit_note_id IS NOT NULL"
    )
    op.execute("GRANT SELECT, INSERT, UPDATE ON credit_note_numbering TO ledgerline_app")
    op.execute(
        "GRANT SELECT, INSERT ON credit_notes, customer_balance_transactions TO ledgerline_app"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE refunds DROP COLUMN credit_note_id")
    op.execute("DROP TRIGGER customers_balance_from_ledger ON customers")
    op.execute("ALTER TABLE customers DROP CONSTRAINT customers_balance_never_owed")
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE {table}")
    for function in (
        "customers_balance_from_ledger",
        "customer_balance_moves",
        "append_only",
        "credit_notes_within_invoice",
    ):
        op.execute(f"DROP FUNCTION {function}()")
    op.execute(
        FROZEN.replace("            AND NEW.amount_credited >= OLD.amount_credited\n", "")
        .replace(", OLD.balance_applied)", ")")
        .replace(", NEW.balance_applied)", ")")
    )
    op.execute(
        "ALTER TABLE invoices DROP CONSTRAINT invoices_settled_within_total, DROP COLUMN amount_due"
    )
    op.execute(
        "ALTER TABLE invoices DROP COLUMN amount_credited, DROP COLUMN balance_applied,"
        " ADD COLUMN amount_due bigint GENERATED ALWAYS AS ("
        " CASE WHEN status = 'VOID' OR total < 0 THEN 0 ELSE total END) STORED"
    )
