"""Payments and refunds, recorded in atomic phases around the provider's call.

- `payments`: one row per attempt to collect an invoice. It is written (PENDING, with the
  provider idempotency key) and committed before the provider is called, so a crash after
  the call leaves a recovery point: a retry or the reconciler asks the provider again with
  the same key and never charges twice. `request_key` ties it to the caller's
  Idempotency-Key; `attempt` numbers the worker's automatic attempts (one per number).
- `refunds`: likewise recorded before the provider is called. A payment's PENDING and
  SUCCEEDED refunds never exceed what it captured: the service locks the payment, and
  `payments.amount_refunded <= amount` backs the settled sum.
- invoices: when the worker next tries to collect it, and how many times it tried.
- subscriptions: whether their invoices are charged automatically (Stripe's
  `collection_method`).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLES = ("payments", "refunds")

STATEMENTS = (
    r"""
    CREATE TABLE payments (
        tenant_id text NOT NULL,
        id text NOT NULL CHECK (id LIKE 'pay\_%'),
        invoice_id text NOT NULL,
        customer_id text NOT NULL,
        payment_method_id text,
        amount bigint NOT NULL CHECK (amount > 0),
        currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        status text NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
        decline_code text CHECK (length(decline_code) <= 100),
        provider text NOT NULL CHECK (provider ~ '^[a-z]{1,32}$'),
        provider_reference text CHECK (length(provider_reference) <= 255),
        provider_idempotency_key text NOT NULL
            CHECK (length(provider_idempotency_key) BETWEEN 1 AND 255),
        request_key text CHECK (length(request_key) <= 600),
        attempt integer CHECK (attempt >= 1),
        amount_refunded bigint NOT NULL DEFAULT 0
            CHECK (amount_refunded >= 0 AND amount_refunded <= amount),
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        settled_at timestamptz,
        PRIMARY KEY (tenant_id, id),
        FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id),
        FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
        FOREIGN KEY (tenant_id, payment_method_id) REFERENCES payment_methods (tenant_id, id),
        UNIQUE (tenant_id, provider_idempotency_key),
        -- No method: an automatic attempt that could charge nothing (it fails).
        CHECK (payment_method_id IS NOT NULL OR status <> 'SUCCEEDED'),
        CHECK ((status = 'PENDING') = (settled_at IS NULL)),
        CHECK (status = 'FAILED' OR decline_code IS NULL),
        CHECK (status = 'SUCCEEDED' OR amount_refunded = 0)
    )
    """,
    "CREATE UNIQUE INDEX payments_request_once ON payments (tenant_id, request_key)"
    " WHERE request_key IS NOT NULL",
    "CREATE UNIQUE INDEX payments_attempt_once ON payments (tenant_id, invoice_id, attempt)"
    " WHERE attempt IS NOT NULL",
    # Provider webhooks name a charge by the provider's id.
    "CREATE UNIQUE INDEX payments_provider_reference ON payments"
    " (tenant_id, provider, provider_reference) WHERE provider_reference IS NOT NULL",
    "CREATE INDEX payments_invoice ON payments (tenant_id, invoice_id, created_at, id)",
    "CREATE INDEX payments_customer ON payments (tenant_id, customer_id, created_at, id)",
    "CREATE INDEX payments_page_created ON payments (tenant_id, created_at, id)",
    "CREATE INDEX payments_pending ON payments (tenant_id, created_at) WHERE status = 'PENDING'",
    r"""
    CREATE TABLE refunds (
        tenant_id text NOT NULL,
        id text NOT NULL CHECK (id LIKE 're\_%'),
        payment_id text NOT NULL,
        invoice_id text NOT NULL,
        amount bigint NOT NULL CHECK (amount > 0),
        currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        status text NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
        failure_code text CHECK (length(failure_code) <= 100),
        reason text NOT NULL CHECK (reason IN
            ('DUPLICATE', 'FRAUDULENT', 'REQUESTED_BY_CUSTOMER', 'OTHER')),
        provider text NOT NULL CHECK (provider ~ '^[a-z]{1,32}$'),
        provider_reference text CHECK (length(provider_reference) <= 255),
        provider_idempotency_key text NOT NULL
            CHECK (length(provider_idempotency_key) BETWEEN 1 AND 255),
        request_key text CHECK (length(request_key) <= 600),
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        settled_at timestamptz,
        PRIMARY KEY (tenant_id, id),
        FOREIGN KEY (tenant_id, payment_id) REFERENCES payments (tenant_id, id),
        FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id),
        UNIQUE (tenant_id, provider_idempotency_key),
        CHECK ((status = 'PENDING') = (settled_at IS NULL)),
        CHECK (status = 'FAILED' OR failure_code IS NULL)
    )
    """,
    "CREATE UNIQUE INDEX refunds_request_once ON refunds (tenant_id, request_key)"
    " WHERE request_key IS NOT NULL",
    "CREATE UNIQUE INDEX refunds_provider_reference ON refunds"
    " (tenant_id, provider, provider_reference) WHERE provider_reference IS NOT NULL",
    "CREATE INDEX refunds_payment ON refunds (tenant_id, payment_id, created_at, id)",
    "CREATE INDEX refunds_page_created ON refunds (tenant_id, created_at, id)",
    "CREATE INDEX refunds_pending ON refunds (tenant_id, created_at) WHERE status = 'PENDING'",
    "ALTER TABLE invoices ADD COLUMN collection_attempts integer NOT NULL DEFAULT 0"
    " CHECK (collection_attempts >= 0)",
    "ALTER TABLE invoices ADD COLUMN next_collection_at timestamptz",
    # The worker's queue: open invoices it is to charge, by when.
    "CREATE INDEX invoices_collection_due ON invoices (tenant_id, next_collection_at)"
    " WHERE next_collection_at IS NOT NULL",
    "ALTER TABLE subscriptions ADD COLUMN collection_method text NOT NULL"
    " DEFAULT 'CHARGE_AUTOMATICALLY'"
    " CHECK (collection_method IN ('CHARGE_AUTOMATICALLY', 'SEND_INVOICE'))",
)


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
    op.execute("GRANT SELECT, INSERT, UPDATE ON payments, refunds TO ledgerline_app")


def downgrade() -> None:
    op.execute("ALTER TABLE subscriptions DROP COLUMN collection_method")
    op.execute("DROP INDEX invoices_collection_due")
    op.execute("ALTER TABLE invoices DROP COLUMN next_collection_at")
    op.execute("ALTER TABLE invoices DROP COLUMN collection_attempts")
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE {table}")
