"""Prices become rows of their own.

Subscription items and invoice lines will point at the price they were billed from, with a
foreign key; a JSON array inside the plan row cannot be pointed at. So each price is a row of
`prices`, keyed (tenant_id, id), with a foreign key to its plan and its place in the plan's
list (`position`). `definition` is the price model's JSON exactly as plans stored it.

A price in use never changes (domain.plans): updatePlan gives replaced prices new ids. The
database backs the rule: a trigger refuses every change to a price but archiving it once
(`archived_at`, set when updatePlan replaces the plan's prices) and refuses every delete, so a
price id always means one price, for as long as anything may point at it. The application
role may update `archived_at` only.

`plan_prices` (price id -> plan id, kept by a trigger on plans) is what `prices` now is, and
goes with `plans.prices` (its GIN index went in 0005).

Downgrading writes each plan's active prices back into `plans.prices`; archived prices have
no place there and are lost.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# One statement each: function bodies hold semicolons.
UPGRADE = (
    """
    CREATE TABLE prices (
        tenant_id text NOT NULL,
        id text NOT NULL CHECK (id LIKE 'price\\_%'),
        plan_id text NOT NULL,
        position smallint NOT NULL CHECK (position BETWEEN 0 AND 19),
        billing_mode text NOT NULL CHECK (billing_mode IN ('LICENSED', 'METERED')),
        metric_code text,
        currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        model text NOT NULL CHECK (
            model IN ('FLAT_FEE', 'PER_UNIT', 'GRADUATED', 'VOLUME', 'PACKAGE', 'PERCENTAGE')
        ),
        definition jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        archived_at timestamptz,
        PRIMARY KEY (tenant_id, id),
        FOREIGN KEY (tenant_id, plan_id) REFERENCES plans (tenant_id, id) ON DELETE RESTRICT,
        -- The columns a reader filters on say what the definition says.
        CONSTRAINT prices_definition_matches CHECK (
            jsonb_typeof(definition) = 'object'
            AND definition ->> 'model' = model
            AND definition ->> 'currency' = currency
        ),
        -- domain.plans: a metered price names its billable metric, and only a metered one.
        CONSTRAINT prices_metric_iff_metered CHECK (
            (billing_mode = 'METERED') = (metric_code IS NOT NULL)
        ),
        -- domain.plans: a flat fee is licensed, a percentage metered.
        CONSTRAINT prices_mode_fits_model CHECK (
            (model <> 'FLAT_FEE' OR billing_mode = 'LICENSED')
            AND (model <> 'PERCENTAGE' OR billing_mode = 'METERED')
        )
    )
    """,
    # A plan's prices in order (the plan's read), one per place among the active ones.
    """
    CREATE UNIQUE INDEX prices_plan_position ON prices (tenant_id, plan_id, position)
        WHERE archived_at IS NULL
    """,
    # Archived prices by plan too: the foreign key's check when a plan is deleted.
    "CREATE INDEX prices_plan ON prices (tenant_id, plan_id)",
    """
    CREATE FUNCTION prices_never_change() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'price % cannot be deleted', OLD.id
                USING ERRCODE = 'restrict_violation',
                      HINT = 'A price is never deleted: subscriptions and invoice lines may '
                             'point at it. Archive it (set archived_at) instead.';
        END IF;
        IF OLD.archived_at IS NULL AND NEW.archived_at IS NOT NULL
           AND to_jsonb(NEW) - 'archived_at' = to_jsonb(OLD) - 'archived_at' THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'price % cannot change', OLD.id
            USING ERRCODE = 'restrict_violation',
                  HINT = 'A price never changes once written: only archiving it, once, is '
                         'allowed. A new price is a new row with a new id.';
    END
    $$
    """,
    """
    CREATE TRIGGER prices_never_updated BEFORE UPDATE ON prices
        FOR EACH ROW EXECUTE FUNCTION prices_never_change()
    """,
    """
    CREATE TRIGGER prices_never_deleted BEFORE DELETE ON prices
        FOR EACH ROW EXECUTE FUNCTION prices_never_change()
    """,
    # The owner is under the policy too (FORCE): lifted for the backfill, in this transaction.
    # A backfilled price was written at the latest when its plan was last updated.
    "ALTER TABLE plans NO FORCE ROW LEVEL SECURITY",
    """
    INSERT INTO prices (tenant_id, id, plan_id, position, billing_mode, metric_code,
                        currency, model, definition, created_at)
    SELECT plans.tenant_id, price ->> 'id', plans.id, (place - 1)::smallint,
           price ->> 'billingMode', price ->> 'metricCode',
           price -> 'definition' ->> 'currency', price -> 'definition' ->> 'model',
           price -> 'definition', plans.updated_at
    FROM plans, jsonb_array_elements(plans.prices) WITH ORDINALITY AS listed (price, place)
    """,
    "ALTER TABLE plans FORCE ROW LEVEL SECURITY",
    "DROP TABLE plan_prices",
    "DROP FUNCTION plan_prices_follow_plan() CASCADE",
    "ALTER TABLE plans DROP COLUMN prices",
    "ALTER TABLE prices ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE prices FORCE ROW LEVEL SECURITY",
    """
    CREATE POLICY tenant_isolation ON prices
        USING (tenant_id = current_setting('app.tenant_id', true))
        WITH CHECK (tenant_id = current_setting('app.tenant_id', true))
    """,
    "GRANT SELECT, INSERT, UPDATE (archived_at) ON prices TO ledgerline_app",
    "ANALYZE prices",
)

# 0003's `plans.prices` and 0005's `plan_prices` with its trigger, as they were.
DOWNGRADE = (
    "ALTER TABLE plans ADD COLUMN prices jsonb",
    "ALTER TABLE plans NO FORCE ROW LEVEL SECURITY",
    "ALTER TABLE prices NO FORCE ROW LEVEL SECURITY",
    """
    UPDATE plans SET prices = (
        SELECT jsonb_agg(
                   jsonb_build_object('id', p.id, 'billingMode', p.billing_mode,
                                      'metricCode', p.metric_code,
                                      'definition', p.definition)
                   ORDER BY p.position)
        FROM prices AS p
        WHERE p.tenant_id = plans.tenant_id AND p.plan_id = plans.id
          AND p.archived_at IS NULL
    )
    """,
    "DROP TABLE prices",
    "DROP FUNCTION prices_never_change()",
    """
    ALTER TABLE plans
        ALTER COLUMN prices SET NOT NULL,
        ADD CONSTRAINT plans_prices_check CHECK (
            jsonb_typeof(prices) = 'array' AND jsonb_array_length(prices) BETWEEN 1 AND 20
        )
    """,
    """
    CREATE TABLE plan_prices (
        tenant_id text NOT NULL,
        id text NOT NULL CHECK (id LIKE 'price\\_%'),
        plan_id text NOT NULL,
        PRIMARY KEY (tenant_id, id),
        FOREIGN KEY (tenant_id, plan_id) REFERENCES plans (tenant_id, id) ON DELETE CASCADE
    )
    """,
    "CREATE INDEX plan_prices_plan ON plan_prices (tenant_id, plan_id)",
    """
    CREATE FUNCTION plan_prices_follow_plan() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            DELETE FROM plan_prices WHERE tenant_id = OLD.tenant_id AND plan_id = OLD.id;
        END IF;
        INSERT INTO plan_prices (tenant_id, id, plan_id)
        SELECT NEW.tenant_id, price ->> 'id', NEW.id
        FROM jsonb_array_elements(NEW.prices) AS price;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER plan_prices_on_insert AFTER INSERT ON plans
        FOR EACH ROW EXECUTE FUNCTION plan_prices_follow_plan()
    """,
    """
    CREATE TRIGGER plan_prices_on_update AFTER UPDATE OF prices ON plans
        FOR EACH ROW WHEN (OLD.prices IS DISTINCT FROM NEW.prices)
        EXECUTE FUNCTION plan_prices_follow_plan()
    """,
    """
    INSERT INTO plan_prices (tenant_id, id, plan_id)
    SELECT plans.tenant_id, price ->> 'id', plans.id
    FROM plans, jsonb_array_elements(plans.prices) AS price
    """,
    "ALTER TABLE plans FORCE ROW LEVEL SECURITY",
    "ALTER TABLE plan_prices ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE plan_prices FORCE ROW LEVEL SECURITY",
    """
    CREATE POLICY tenant_isolation ON plan_prices
        USING (tenant_id = current_setting('app.tenant_id', true))
        WITH CHECK (tenant_id = current_setting('app.tenant_id', true))
    """,
    "GRANT SELECT, INSERT, DELETE ON plan_prices TO ledgerline_app",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
