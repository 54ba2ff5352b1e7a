"""Customer search reads through an index under row-level security.

`customers(filter: {search:})` matches text contained in the name, email or external id.
A substring (LIKE '%…%') is not leakproof, and neither are pg_trgm's operators, so under
the tenant policy no index could serve it: every search read the tenant's whole range
(110–200 ms over 200,000 customers, growing with the tenant).

`customer_search_trigrams` holds each customer's trigrams (three-character substrings) of
the lower-cased name, email and external id, kept by a trigger on customers like an index.
A search of three characters or more asks for the customers holding some of its trigrams,
each compared with `=` (leakproof) on the primary key, and rechecks the substring on the few
candidates: its cost follows how many customers share the search's rarest trigrams, not the
tenant's size. Matches are exactly what they were (tests/integration/test_search_index.py).

Postings are derived data, like an index entry: no foreign key (customers are archived,
never deleted; one key check per trigram would double the cost of creating a customer).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# One statement each: the function body holds semicolons.
UPGRADE = (
    """
    CREATE TABLE customer_search_trigrams (
        tenant_id text NOT NULL,
        trigram text COLLATE "C" NOT NULL,
        customer_id text NOT NULL,
        PRIMARY KEY (tenant_id, trigram, customer_id)
    )
    """,
    """
    CREATE FUNCTION customer_search_trigrams_of(name text, email text, external_id text)
    RETURNS SETOF text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT DISTINCT substr(t, i, 3) COLLATE "C"
        FROM unnest(ARRAY[name, email, external_id]) AS t,
             generate_series(1, length(t) - 2) AS i
        WHERE t IS NOT NULL
    $$
    """,
    """
    CREATE FUNCTION customer_search_trigrams_follow_customer() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            DELETE FROM customer_search_trigrams
            WHERE tenant_id = OLD.tenant_id
              AND trigram IN (SELECT customer_search_trigrams_of(
                  OLD.name_normalized, OLD.email_normalized, OLD.external_id_normalized))
              AND customer_id = OLD.id;
        END IF;
        INSERT INTO customer_search_trigrams (tenant_id, trigram, customer_id)
        SELECT NEW.tenant_id, trigram, NEW.id
        FROM customer_search_trigrams_of(
            NEW.name_normalized, NEW.email_normalized, NEW.external_id_normalized) AS trigram;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER customer_search_trigrams_on_insert AFTER INSERT ON customers
        FOR EACH ROW EXECUTE FUNCTION customer_search_trigrams_follow_customer()
    """,
    """
    CREATE TRIGGER customer_search_trigrams_on_update
        AFTER UPDATE OF name, email, external_id ON customers
        FOR EACH ROW WHEN (
            OLD.name IS DISTINCT FROM NEW.name
            OR OLD.email IS DISTINCT FROM NEW.email
            OR OLD.external_id IS DISTINCT FROM NEW.external_id
        )
        EXECUTE FUNCTION customer_search_trigrams_follow_customer()
    """,
    # The owner is under the policy too (FORCE): lifted for the backfill, in this transaction.
    "ALTER TABLE customers NO FORCE ROW LEVEL SECURITY",
    """
    INSERT INTO customer_search_trigrams (tenant_id, trigram, customer_id)
    SELECT c.tenant_id, trigram, c.id
    FROM customers AS c,
         customer_search_trigrams_of(
             c.name_normalized, c.email_normalized, c.external_id_normalized) AS trigram
    """,
    "ALTER TABLE customers FORCE ROW LEVEL SECURITY",
    "ALTER TABLE customer_search_trigrams ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE customer_search_trigrams FORCE ROW LEVEL SECURITY",
    """
    CREATE POLICY tenant_isolation ON customer_search_trigrams
        USING (tenant_id = current_setting('app.tenant_id', true))
        WITH CHECK (tenant_id = current_setting('app.tenant_id', true))
    """,
    "GRANT SELECT, INSERT, DELETE ON customer_search_trigrams TO ledgerline_app",
    "ANALYZE customer_search_trigrams",
)

DOWNGRADE = (
    "DROP TABLE customer_search_trigrams",
    "DROP FUNCTION customer_search_trigrams_follow_customer() CASCADE",
    "DROP FUNCTION customer_search_trigrams_of(text, text, text)",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
