"""Events are read in an order no later commit can slip behind.

`events` was ordered by `created_at`, the clock when the row was inserted. A transaction
that inserts an event and commits seconds later (a billing batch, a slow request) puts its
event behind events that committed in the meantime: a partner polling with `after` has
already passed that point and never sees it; a webhook dispatcher reading by a watermark
neither.

Every event now has a position, (xid, seq):
- `xid` is the writing transaction's 64-bit id, `pg_current_xact_id()` (the top-level
  transaction even inside a savepoint, and an xid8 never wraps around);
- `seq` (an identity, never given by a statement) orders the events of one transaction as
  they were written, and breaks ties.

A reader only returns events whose `xid` is below `pg_snapshot_xmin(pg_current_snapshot())`,
the oldest transaction still running when its statement started. Every transaction below
that horizon has ended, and each one still to commit has an id at or above it (ids are
handed out in increasing order, and a running one is in the snapshot). So the events a
reader may return are always the whole set of positions below a horizon that only moves
up: an event a poller has not seen always stands after its cursor. Positions follow the
order transactions started writing, not exactly the order they committed; what matters
is that no position ever appears below one already readable.

The cost: an event becomes readable once every transaction that started writing before
its own has ended, in any tenant and any database of the server (transaction ids are the
server's). Transactions here are short (requests have a 15 s statement timeout, the
billing run commits per batch); a long-running write elsewhere on the server delays events,
never loses them. Transactions that only read hold no transaction id and delay nothing.
The other design, a sequence assigned by a dispatcher after commit, keeps other tenants
out of it, but leaves events unreadable until a worker has numbered them.

Events written before this migration keep their order by (created_at, id): they get `xid`
0, before every transaction, and `seq` in that order. The column is added with the
constant 0 first (stored once, no rewrite), then its default becomes the writing
transaction (a stable default given at ADD COLUMN would be evaluated once, for every
existing row). Pages, counts and an object's events read new indexes led by the position;
(tenant_id, type, xid, seq) also answers counts index-only, which replaces 0005's
`events_counts`. `events_page_created` stays for the created-at window filter. The unique
index on the position backs the identity.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UPGRADE = (
    "ALTER TABLE events ADD COLUMN xid xid8 NOT NULL DEFAULT '0', ADD COLUMN seq bigint",
    "ALTER TABLE events ALTER COLUMN xid SET DEFAULT pg_current_xact_id()",
    # The owner is under the policy too (FORCE): lifted for the backfill, in this transaction.
    "ALTER TABLE events NO FORCE ROW LEVEL SECURITY",
    """
    UPDATE events SET seq = numbered.seq
    FROM (
        SELECT tenant_id, id, row_number() OVER (ORDER BY created_at, id) AS seq FROM events
    ) AS numbered
    WHERE events.tenant_id = numbered.tenant_id AND events.id = numbered.id
    """,
    "ALTER TABLE events ALTER COLUMN seq SET NOT NULL",
    "ALTER TABLE events ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY",
    """
    SELECT setval(pg_get_serial_sequence('events', 'seq'), coalesce(max(seq), 0) + 1, false)
    FROM events
    """,
    "ALTER TABLE events FORCE ROW LEVEL SECURITY",
    "CREATE UNIQUE INDEX events_position ON events (tenant_id, xid, seq)",
    "DROP INDEX events_type_created",
    "DROP INDEX events_counts",
    "CREATE INDEX events_type_position ON events (tenant_id, type, xid, seq)",
    "DROP INDEX events_object",
    "CREATE INDEX events_object ON events (tenant_id, object_id, xid, seq)",
)

DOWNGRADE = (
    "DROP INDEX events_object",
    "CREATE INDEX events_object ON events (tenant_id, object_id, created_at)",
    "DROP INDEX events_type_position",
    "CREATE INDEX events_counts ON events (tenant_id, type)",
    "CREATE INDEX events_type_created ON events (tenant_id, type, created_at, id)",
    "DROP INDEX events_position",
    "ALTER TABLE events DROP COLUMN seq, DROP COLUMN xid",
)


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE:
        op.execute(statement)
