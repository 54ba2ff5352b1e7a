"""Billing: subscriptions, invoices and their lines, invoice numbering, coupons, discounts,
tax rates, and the customer settings invoices need (tax exemption, language, net terms).

The database holds the invariants the services enforce, so a bug in a service cannot
break them:
- a period is billed once: UNIQUE (tenant, subscription, period start) on period invoices;
- a finalized invoice never changes: triggers refuse any change to its lines and to
  anything but its status and payment fields, and only along the lifecycle;
- numbers are unique per tenant, present exactly when the invoice is finalized;
- a coupon is never redeemed past its maximum (CHECK);
- subscription items and invoice lines point at the price they were billed from, and a
  price is never deleted (0007), so they always can.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = (
    "tax_rates",
    "coupons",
    "subscriptions",
    "subscription_items",
    "discounts",
    "invoice_numbering",
    "invoices",
    "invoice_lines",
)

STATEMENTS = r"""
ALTER TABLE customers
    ADD COLUMN tax_exempt text NOT NULL DEFAULT 'NONE'
        CHECK (tax_exempt IN ('NONE', 'EXEMPT', 'REVERSE')),
    ADD COLUMN preferred_locale text NOT NULL DEFAULT 'en'
        CHECK (preferred_locale ~ '^[a-z]{2}(_[A-Z]{2})?$'),
    ADD COLUMN net_terms_days integer NOT NULL DEFAULT 30
        CHECK (net_terms_days BETWEEN 0 AND 365);

CREATE TABLE tax_rates (
    tenant_id text NOT NULL REFERENCES accounts (id),
    id text NOT NULL CHECK (id LIKE 'txr\_%'),
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    description text CHECK (length(description) <= 500),
    percentage numeric(7, 4) NOT NULL CHECK (percentage BETWEEN 0 AND 100),
    inclusive boolean NOT NULL,
    country text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    region text CHECK (length(region) BETWEEN 1 AND 64),
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX tax_rates_page_created ON tax_rates (tenant_id, created_at, id);
CREATE INDEX tax_rates_country ON tax_rates (tenant_id, country) WHERE active;

CREATE TABLE coupons (
    tenant_id text NOT NULL REFERENCES accounts (id),
    id text NOT NULL CHECK (id LIKE 'cpn\_%'),
    code text CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    percent_off numeric(7, 4) CHECK (percent_off > 0 AND percent_off <= 100),
    amount_off bigint CHECK (amount_off > 0),
    currency text CHECK (currency ~ '^[A-Z]{3}$'),
    duration text NOT NULL CHECK (duration IN ('ONCE', 'REPEATING', 'FOREVER')),
    duration_in_months integer CHECK (duration_in_months BETWEEN 1 AND 120),
    max_redemptions integer CHECK (max_redemptions >= 1),
    times_redeemed integer NOT NULL DEFAULT 0 CHECK (times_redeemed >= 0),
    redeem_by timestamptz,
    applies_to_plans text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    archived_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, code),
    CHECK ((percent_off IS NULL) <> (amount_off IS NULL)),
    CHECK ((amount_off IS NULL) = (currency IS NULL)),
    CHECK ((duration = 'REPEATING') = (duration_in_months IS NOT NULL)),
    CHECK (max_redemptions IS NULL OR times_redeemed <= max_redemptions)
);
CREATE INDEX coupons_page_created ON coupons (tenant_id, created_at, id);

CREATE TABLE subscriptions (
    tenant_id text NOT NULL REFERENCES accounts (id),
    id text NOT NULL CHECK (id LIKE 'sub\_%'),
    customer_id text NOT NULL,
    plan_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('TRIALING', 'ACTIVE', 'PAST_DUE', 'CANCELED')),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000000000),
    start_at timestamptz NOT NULL,
    billing_cycle_anchor timestamptz NOT NULL,
    trial_end timestamptz,
    current_period_start timestamptz NOT NULL,
    current_period_end timestamptz NOT NULL,
    cancel_at_period_end boolean NOT NULL DEFAULT false,
    canceled_at timestamptz,
    ended_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
    FOREIGN KEY (tenant_id, plan_id) REFERENCES plans (tenant_id, id),
    CHECK (current_period_start < current_period_end),
    CHECK ((status = 'CANCELED') = (ended_at IS NOT NULL))
);
CREATE INDEX subscriptions_page_created ON subscriptions (tenant_id, created_at, id);
CREATE INDEX subscriptions_customer ON subscriptions (tenant_id, customer_id, created_at, id);
CREATE INDEX subscriptions_plan ON subscriptions (tenant_id, plan_id);
-- What the billing run claims: live subscriptions by the end of their period.
CREATE INDEX subscriptions_due ON subscriptions (tenant_id, current_period_end)
    WHERE status <> 'CANCELED';

CREATE TABLE subscription_items (
    tenant_id text NOT NULL,
    subscription_id text NOT NULL,
    price_id text NOT NULL,
    PRIMARY KEY (tenant_id, subscription_id, price_id),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, price_id) REFERENCES prices (tenant_id, id) ON DELETE RESTRICT
);
CREATE INDEX subscription_items_price ON subscription_items (tenant_id, price_id);

CREATE TABLE discounts (
    tenant_id text NOT NULL,
    id text NOT NULL CHECK (id LIKE 'di\_%'),
    coupon_id text NOT NULL,
    customer_id text NOT NULL,
    subscription_id text,
    start_at timestamptz NOT NULL,
    end_at timestamptz,
    invoiced_once boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, coupon_id) REFERENCES coupons (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id)
);
CREATE INDEX discounts_customer ON discounts (tenant_id, customer_id);

CREATE TABLE invoice_numbering (
    tenant_id text PRIMARY KEY REFERENCES accounts (id),
    prefix text NOT NULL DEFAULT 'INV' CHECK (prefix ~ '^[A-Z0-9][A-Z0-9-]{0,11}$'),
    include_year boolean NOT NULL DEFAULT true,
    padding integer NOT NULL DEFAULT 6 CHECK (padding BETWEEN 1 AND 12),
    last_number bigint NOT NULL DEFAULT 0 CHECK (last_number >= 0)
);

CREATE TABLE invoices (
    tenant_id text NOT NULL REFERENCES accounts (id),
    id text NOT NULL CHECK (id LIKE 'inv\_%'),
    customer_id text NOT NULL,
    subscription_id text,
    status text NOT NULL
        CHECK (status IN ('DRAFT', 'OPEN', 'PAID', 'VOID', 'UNCOLLECTIBLE')),
    billing_reason text NOT NULL CHECK (billing_reason IN
        ('MANUAL', 'SUBSCRIPTION_CREATE', 'SUBSCRIPTION_CYCLE', 'SUBSCRIPTION_UPDATE')),
    currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    number text,
    sequence bigint,
    period_start timestamptz,
    period_end timestamptz,
    subtotal bigint NOT NULL DEFAULT 0,
    discount_total bigint NOT NULL DEFAULT 0 CHECK (discount_total >= 0),
    tax_total bigint NOT NULL DEFAULT 0,
    total bigint NOT NULL DEFAULT 0,
    amount_paid bigint NOT NULL DEFAULT 0 CHECK (amount_paid >= 0),
    amount_due bigint GENERATED ALWAYS AS (
        CASE WHEN status = 'VOID' OR total < 0 THEN 0 ELSE total END) STORED,
    due_date date,
    reverse_charge boolean NOT NULL DEFAULT false,
    tax_breakdown jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tax_breakdown) = 'array'),
    customer_snapshot jsonb NOT NULL DEFAULT '{}',
    memo text CHECK (length(memo) <= 2000),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finalized_at timestamptz,
    paid_at timestamptz,
    voided_at timestamptz,
    marked_uncollectible_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES subscriptions (tenant_id, id),
    UNIQUE (tenant_id, number),
    UNIQUE (tenant_id, sequence),
    CHECK ((status = 'DRAFT') = (number IS NULL)),
    CHECK ((number IS NULL) = (sequence IS NULL)),
    CHECK ((status = 'DRAFT') = (finalized_at IS NULL)),
    CHECK (amount_paid <= greatest(total, 0))
);
-- A subscription's period is billed once, whatever crashes or retries happen.
CREATE UNIQUE INDEX invoices_period_once ON invoices (tenant_id, subscription_id, period_start)
    WHERE billing_reason IN ('SUBSCRIPTION_CREATE', 'SUBSCRIPTION_CYCLE');
CREATE INDEX invoices_page_created ON invoices (tenant_id, created_at, id);
CREATE INDEX invoices_customer ON invoices (tenant_id, customer_id, created_at, id);
CREATE INDEX invoices_subscription ON invoices (tenant_id, subscription_id, created_at, id);
CREATE INDEX invoices_status ON invoices (tenant_id, status, created_at, id);

CREATE TABLE invoice_lines (
    tenant_id text NOT NULL,
    id text NOT NULL CHECK (id LIKE 'il\_%'),
    invoice_id text NOT NULL,
    position integer NOT NULL CHECK (position >= 0),
    kind text NOT NULL CHECK (kind IN
        ('SUBSCRIPTION', 'USAGE', 'PRORATION', 'MINIMUM_COMMITMENT', 'ONE_OFF')),
    description text NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    amount bigint NOT NULL,
    quantity numeric(38, 12) NOT NULL,
    unit_amount numeric(38, 12),
    period_start timestamptz,
    period_end timestamptz,
    price_id text,
    plan_id text,
    explanation text NOT NULL DEFAULT '',
    discounts jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(discounts) = 'array'),
    discount_amount bigint NOT NULL DEFAULT 0 CHECK (discount_amount >= 0),
    tax_rate_id text,
    tax_percentage numeric(7, 4),
    tax_inclusive boolean NOT NULL DEFAULT false,
    tax_amount bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, invoice_id, position),
    -- Deferred: the billing run writes a finalized invoice's lines before the invoice.
    FOREIGN KEY (tenant_id, invoice_id) REFERENCES invoices (tenant_id, id)
        DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY (tenant_id, price_id) REFERENCES prices (tenant_id, id) ON DELETE RESTRICT,
    FOREIGN KEY (tenant_id, tax_rate_id) REFERENCES tax_rates (tenant_id, id),
    CHECK (discount_amount <= greatest(amount, 0))
);

-- A finalized invoice is a legal document: its lines never change. A line may go to an
-- invoice not written yet (the billing run writes lines first; the deferred foreign key
-- makes sure the invoice comes in the same transaction).
CREATE FUNCTION invoice_lines_only_on_drafts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    line_invoice text := CASE WHEN TG_OP = 'DELETE' THEN OLD.invoice_id ELSE NEW.invoice_id END;
    line_tenant text := CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END;
BEGIN
    IF coalesce(
            (SELECT status FROM invoices WHERE tenant_id = line_tenant AND id = line_invoice),
            'DRAFT') <> 'DRAFT' THEN
        RAISE EXCEPTION 'invoice % is finalized: its lines cannot change', line_invoice
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.invoice_id IS DISTINCT FROM NEW.invoice_id THEN
        RAISE EXCEPTION 'a line stays on its invoice'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER invoice_lines_only_on_drafts BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines
    FOR EACH ROW EXECUTE FUNCTION invoice_lines_only_on_drafts();

-- Once finalized, only the status moves on (along the lifecycle) with its payment fields.
CREATE FUNCTION invoices_frozen_once_finalized() RETURNS trigger LANGUAGE plpgsql AS $$
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
        AND (OLD.tenant_id, OLD.id, OLD.customer_id, OLD.subscription_id, OLD.currency,
             OLD.billing_reason, OLD.number, OLD.sequence, OLD.period_start, OLD.period_end,
             OLD.subtotal, OLD.discount_total, OLD.tax_total, OLD.total, OLD.due_date,
             OLD.reverse_charge, OLD.tax_breakdown, OLD.customer_snapshot, OLD.memo,
             OLD.created_at, OLD.finalized_at)
            IS NOT DISTINCT FROM
            (NEW.tenant_id, NEW.id, NEW.customer_id, NEW.subscription_id, NEW.currency,
             NEW.billing_reason, NEW.number, NEW.sequence, NEW.period_start, NEW.period_end,
             NEW.subtotal, NEW.discount_total, NEW.tax_total, NEW.total, NEW.due_date,
             NEW.reverse_charge, NEW.tax_breakdown, NEW.customer_snapshot, NEW.memo,
             NEW.created_at, NEW.finalized_at)
    ) THEN
        RAISE EXCEPTION 'invoice % is finalized: only its status and payments change', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER invoices_frozen_once_finalized BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_frozen_once_finalized()
"""


def _statements(script: str) -> list[str]:
    """The script's statements: split on `;` at line ends, outside function bodies."""
    statements, current, in_body = [], [], False
    for line in script.splitlines():
        current.append(line)
        if line.count("$$") % 2:
            in_body = not in_body
        if not in_body and line.rstrip().endswith(";"):
            statements.append("\n".join(current))
            current = []
    statements.append("\n".join(current))
    return [
        s
        for s in statements
        if s.strip()
        and not all(part.strip().startswith("--") or not part.strip() for part in s.splitlines())
    ]


def upgrade() -> None:
    for statement in _statements(STATEMENTS):
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
        "GRANT SELECT, INSERT, UPDATE ON tax_rates, coupons, subscriptions, discounts,"
        " invoice_numbering, invoices, invoice_lines TO ledgerline_app"
    )
    op.execute("GRANT SELECT, INSERT, DELETE ON subscription_items TO ledgerline_app")
    op.execute("GRANT DELETE ON invoice_lines, invoices TO ledgerline_app")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP FUNCTION invoice_lines_only_on_drafts()")
    op.execute("DROP FUNCTION invoices_frozen_once_finalized()")
    op.execute(
        "ALTER TABLE customers DROP COLUMN tax_exempt, DROP COLUMN preferred_locale,"
        " DROP COLUMN net_terms_days"
    )
