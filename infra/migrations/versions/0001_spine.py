"""The spine: accounts, OAuth clients, signing keys, customers, idempotency keys, events.

Row-level security backs the repositories' tenant filter: the application runs as
`ledgerline_app`, which owns no table and has no BYPASSRLS, and every transaction sets
`app.tenant_id` with set_config(..., true) so a pooled connection never carries it on.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TENANT_TABLES = ("customers", "idempotency_keys", "events")

SPINE_TABLES = """
CREATE TABLE accounts (
    id text PRIMARY KEY CHECK (id ~ '^acct_[A-Za-z0-9]+$' OR id ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE oauth_clients (
    id text PRIMARY KEY,
    tenant_id text NOT NULL REFERENCES accounts (id),
    name text NOT NULL,
    secret_hash text NOT NULL,
    scopes text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX oauth_clients_tenant ON oauth_clients (tenant_id);

CREATE TABLE signing_keys (
    kid text PRIMARY KEY,
    algorithm text NOT NULL,
    private_key bytea NOT NULL,
    public_jwk jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz
);

CREATE TABLE customers (
    tenant_id text NOT NULL REFERENCES accounts (id),
    id text NOT NULL CHECK (id LIKE 'cus\\_%'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email text CHECK (length(email) <= 254),
    currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    external_id text CHECK (length(external_id) <= 255),
    address jsonb CHECK (address IS NULL OR jsonb_typeof(address) = 'object'),
    tax_ids jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tax_ids) = 'array'),
    metadata jsonb NOT NULL DEFAULT '{}' CHECK (
        jsonb_typeof(metadata) = 'object' AND pg_column_size(metadata) <= 262144
    ),
    balance bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    archived_at timestamptz,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, external_id)
);
CREATE INDEX customers_page_created ON customers (tenant_id, created_at, id);
CREATE INDEX customers_page_name ON customers (tenant_id, name, id);
CREATE INDEX customers_email ON customers (tenant_id, lower(email));

CREATE TABLE idempotency_keys (
    tenant_id text NOT NULL REFERENCES accounts (id),
    key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint text NOT NULL,
    response_status integer NOT NULL,
    response_body bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

CREATE TABLE events (
    tenant_id text NOT NULL REFERENCES accounts (id),
    id text NOT NULL CHECK (id LIKE 'evt\\_%'),
    type text NOT NULL,
    object_id text NOT NULL,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX events_page_created ON events (tenant_id, created_at, id);
CREATE INDEX events_object ON events (tenant_id, object_id, created_at);
"""


def upgrade() -> None:
    op.execute(
        """
        DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ledgerline_app') THEN
                CREATE ROLE ledgerline_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
            END IF;
        END $$;
        """
    )
    op.execute(
        """
        DO $$ BEGIN
            IF NOT pg_has_role(current_user, 'ledgerline_app', 'MEMBER') THEN
                EXECUTE format('GRANT ledgerline_app TO %I', current_user);
            END IF;
        END $$;
        """
    )
    for statement in SPINE_TABLES.split(";"):
        if statement.strip():
            op.execute(statement)
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"""
            CREATE POLICY tenant_isolation ON {table}
                USING (tenant_id = current_setting('app.tenant_id', true))
                WITH CHECK (tenant_id = current_setting('app.tenant_id', true))
            """
        )
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO ledgerline_app")
    op.execute("GRANT SELECT, INSERT ON accounts TO ledgerline_app")
    op.execute("GRANT SELECT, INSERT, UPDATE ON oauth_clients, signing_keys TO ledgerline_app")


def downgrade() -> None:
    op.execute(
        "DROP TABLE events, idempotency_keys, customers, signing_keys, oauth_clients, accounts"
    )
