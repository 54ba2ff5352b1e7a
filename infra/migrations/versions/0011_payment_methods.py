"""Payment methods, and the sandbox payment processor's record of what it was asked.

- `payment_methods`: a customer's card as the provider knows it (its reference, brand, last
  4 digits, expiry, fingerprint; never the number). One default per customer at most (a
  partial unique index); a detached method is never the default (CHECK).
- `sandbox_requests`: every charge and refund the built-in sandbox processor answered, by
  (tenant, idempotency key), so a retry with the same key, from any process, gets the first
  answer instead of a second charge. It stands for the processor's own database: nothing
  of Ledgerline's reads it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLES = ("payment_methods", "sandbox_requests")

STATEMENTS = (
    r"""
    CREATE TABLE payment_methods (
        tenant_id text NOT NULL,
        id text NOT NULL CHECK (id LIKE 'pm\_%'),
        customer_id text NOT NULL,
        provider text NOT NULL CHECK (provider ~ '^[a-z]{1,32}$'),
        provider_reference text NOT NULL
            CHECK (provider_reference ~ '^[A-Za-z0-9_.:-]{1,255}$'),
        brand text NOT NULL CHECK (brand ~ '^[a-z_]{1,32}$'),
        last4 text NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
        exp_month smallint NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
        exp_year smallint NOT NULL CHECK (exp_year BETWEEN 2000 AND 2100),
        fingerprint text NOT NULL CHECK (length(fingerprint) BETWEEN 1 AND 64),
        is_default boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        detached_at timestamptz,
        PRIMARY KEY (tenant_id, id),
        FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
        CHECK (NOT (is_default AND detached_at IS NOT NULL))
    )
    """,
    # One default per customer, whatever a service does.
    "CREATE UNIQUE INDEX payment_methods_one_default ON payment_methods (tenant_id, customer_id)"
    " WHERE is_default",
    # `customer.paymentMethods`: a customer's attached methods, newest first.
    "CREATE INDEX payment_methods_customer ON payment_methods"
    " (tenant_id, customer_id, created_at DESC, id DESC) WHERE detached_at IS NULL",
    r"""
    CREATE TABLE sandbox_requests (
        tenant_id text NOT NULL,
        idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
        kind text NOT NULL CHECK (kind IN ('charge', 'refund')),
        provider_reference text NOT NULL,
        payment_method_ref text,
        charge_reference text,
        amount bigint NOT NULL CHECK (amount > 0),
        currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        status text NOT NULL CHECK (status IN ('SUCCEEDED', 'FAILED', 'PENDING')),
        decline_code text,
        settles_at timestamptz,
        metadata jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (tenant_id, idempotency_key),
        UNIQUE (tenant_id, provider_reference),
        CHECK ((kind = 'charge') = (payment_method_ref IS NOT NULL)),
        CHECK ((kind = 'refund') = (charge_reference IS NOT NULL))
    )
    """,
    "CREATE INDEX sandbox_requests_refunds ON sandbox_requests (tenant_id, charge_reference)"
    " WHERE kind = 'refund'",
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
    op.execute(
        "GRANT SELECT, INSERT, UPDATE ON payment_methods, sandbox_requests TO ledgerline_app"
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE {table}")
