"""SQLAlchemy Core tables: the shape the migrations create, used to build statements.

Columns (type, nullability, default) and primary keys are stated here exactly as the
migrations create them; tests/integration/test_migrations.py compares them with a migrated
database. Indexes, unique, check and foreign-key constraints, row-level security and grants
are the migrations' alone.

`tenant_id` leads every tenant-owned primary key, unique constraint and index, which keeps
the path to a distributed PostgreSQL (distributed by tenant) open.
"""

from __future__ import annotations

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    Column,
    Computed,
    Date,
    DateTime,
    Identity,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.types import UserDefinedType

metadata = MetaData()

# The time the row was written, not the transaction's start (now()): rows one transaction
# creates keep distinct creation times, in the order they were created.
_CLOCK = text("clock_timestamp()")


class Xid8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id (never wraps around); asyncpg reads it as an int."""

    cache_ok = True

    def get_col_spec(self, **_: object) -> str:
        return "xid8"


# So that reflecting a migrated database (tests/integration/test_migrations.py) knows it.
ischema_names.setdefault("xid8", Xid8)


accounts = Table(
    "accounts",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("id", Text, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("secret_hash", Text, nullable=False),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True)),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", Text, primary_key=True),
    Column("algorithm", Text, nullable=False),
    Column("private_key", LargeBinary, nullable=False),
    Column("public_jwk", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("retired_at", DateTime(timezone=True)),
)

customers = Table(
    "customers",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("email", Text),
    Column("currency", CHAR(3), nullable=False),
    Column("external_id", Text),
    Column("address", JSONB(none_as_null=True)),
    Column("tax_ids", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("balance", BigInteger, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=_CLOCK),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("archived_at", DateTime(timezone=True)),
    # Billing settings (migration 0008).
    Column("tax_exempt", Text, nullable=False, server_default="NONE"),
    Column("preferred_locale", Text, nullable=False, server_default="en"),
    Column("net_terms_days", Integer, nullable=False, server_default="30"),
    # Lower-cased copies that filters compare with leakproof operators (migration 0005).
    Column("email_normalized", Text, Computed("lower(email)", persisted=True)),
    Column("name_normalized", Text, Computed("lower(name)", persisted=True)),
    Column("external_id_normalized", Text, Computed("lower(external_id)", persisted=True)),
)

# Each customer's trigrams of its lower-cased name, email and external id: what a search
# reads through under row-level security. Kept by a trigger on customers (migration 0006).
customer_search_trigrams = Table(
    "customer_search_trigrams",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("trigram", Text(collation="C"), primary_key=True),
    Column("customer_id", Text, primary_key=True),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("response_status", Integer, nullable=False),
    Column("response_body", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("type", Text, nullable=False),
    Column("object_id", Text, nullable=False),
    Column("data", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=_CLOCK),
    # The position (migration 0011): the writing (top-level) transaction, then the order of
    # writing. Neither is ever given by a statement.
    Column("xid", Xid8, nullable=False, server_default=text("pg_current_xact_id()")),
    Column("seq", BigInteger, Identity(always=True), nullable=False),
)

billable_metrics = Table(
    "billable_metrics",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("code", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("aggregation", Text, nullable=False),
    Column("property", Text),
    Column("filters", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=_CLOCK),
    Column("archived_at", DateTime(timezone=True)),
)

usage_events = Table(
    "usage_events",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("idempotency_key", Text, primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("metric_code", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("properties", JSONB, nullable=False),
    Column("value", Numeric(38, 12)),
    Column("position", Integer, nullable=False, server_default="0"),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

plans = Table(
    "plans",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("code", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("interval", Text, nullable=False),
    Column("interval_count", Integer, nullable=False),
    Column("trial_days", Integer, nullable=False),
    Column("minimum_commitments", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=_CLOCK),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=_CLOCK),
    Column("archived_at", DateTime(timezone=True)),
)

# A plan's prices, one row each (migration 0007). A price never changes once written (a
# trigger refuses it): it is only archived, once, when updatePlan replaces the plan's prices,
# and never deleted, so what points at it keeps meaning one price.
prices = Table(
    "prices",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("plan_id", Text, nullable=False),
    Column("position", SmallInteger, nullable=False),
    Column("billing_mode", Text, nullable=False),
    Column("metric_code", Text),
    Column("currency", CHAR(3), nullable=False),
    Column("model", Text, nullable=False),
    Column("definition", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=_CLOCK),
    Column("archived_at", DateTime(timezone=True)),
)


_TIME = DateTime(timezone=True)

tax_rates = Table(
    "tax_rates",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("display_name", Text, nullable=False),
    Column("description", Text),
    Column("percentage", Numeric(7, 4), nullable=False),
    Column("inclusive", Boolean, nullable=False),
    Column("country", Text, nullable=False),
    Column("region", Text),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", _TIME, nullable=False, server_default=_CLOCK),
)

coupons = Table(
    "coupons",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("code", Text),
    Column("name", Text, nullable=False),
    Column("percent_off", Numeric(7, 4)),
    Column("amount_off", BigInteger),
    Column("currency", Text),
    Column("duration", Text, nullable=False),
    Column("duration_in_months", Integer),
    Column("max_redemptions", Integer),
    Column("times_redeemed", Integer, nullable=False, server_default="0"),
    Column("redeem_by", _TIME),
    Column("applies_to_plans", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("created_at", _TIME, nullable=False, server_default=_CLOCK),
    Column("archived_at", _TIME),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("plan_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("start_at", _TIME, nullable=False),
    Column("billing_cycle_anchor", _TIME, nullable=False),
    Column("trial_end", _TIME),
    Column("current_period_start", _TIME, nullable=False),
    Column("current_period_end", _TIME, nullable=False),
    Column("cancel_at_period_end", Boolean, nullable=False, server_default=text("false")),
    Column("canceled_at", _TIME),
    Column("ended_at", _TIME),
    Column("created_at", _TIME, nullable=False, server_default=_CLOCK),
    Column("updated_at", _TIME, nullable=False, server_default=_CLOCK),
    Column("collection_method", Text, nullable=False, server_default="CHARGE_AUTOMATICALLY"),
)

subscription_items = Table(
    "subscription_items",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("subscription_id", Text, primary_key=True),
    Column("price_id", Text, primary_key=True),
)

discounts = Table(
    "discounts",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("coupon_id", Text, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("subscription_id", Text),
    Column("start_at", _TIME, nullable=False),
    Column("end_at", _TIME),
    Column("invoiced_once", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", _TIME, nullable=False, server_default=_CLOCK),
)

invoice_numbering = Table(
    "invoice_numbering",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("prefix", Text, nullable=False, server_default="INV"),
    Column("include_year", Boolean, nullable=False, server_default=text("true")),
    Column("padding", Integer, nullable=False, server_default="6"),
    Column("last_number", BigInteger, nullable=False, server_default="0"),
)

invoices = Table(
    "invoices",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("subscription_id", Text),
    Column("status", Text, nullable=False),
    Column("billing_reason", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("number", Text),
    Column("sequence", BigInteger),
    Column("period_start", _TIME),
    Column("period_end", _TIME),
    Column("subtotal", BigInteger, nullable=False, server_default="0"),
    Column("discount_total", BigInteger, nullable=False, server_default="0"),
    Column("tax_total", BigInteger, nullable=False, server_default="0"),
    Column("total", BigInteger, nullable=False, server_default="0"),
    Column("amount_paid", BigInteger, nullable=False, server_default="0"),
    Column("amount_credited", BigInteger, nullable=False, server_default="0"),
    Column("balance_applied", BigInteger, nullable=False, server_default="0"),
    Column(
        "amount_due",
        BigInteger,
        Computed(
            "CASE WHEN status = 'VOID' OR total < 0 THEN 0"
            " ELSE total - balance_applied - amount_credited END",
            persisted=True,
        ),
    ),
    Column("due_date", Date),
    Column("reverse_charge", Boolean, nullable=False, server_default=text("false")),
    Column("tax_breakdown", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("customer_snapshot", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("memo", Text),
    Column("created_at", _TIME, nullable=False, server_default=_CLOCK),
    Column("updated_at", _TIME, nullable=False, server_default=_CLOCK),
    Column("finalized_at", _TIME),
    Column("paid_at", _TIME),
    Column("voided_at", _TIME),
    Column("marked_uncollectible_at", _TIME),
    Column("collection_attempts", Integer, nullable=False, server_default="0"),
    Column("next_collection_at", _TIME),
)

invoice_lines = Table(
    "invoice_lines",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("invoice_id", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("quantity", Numeric(38, 12), nullable=False),
    Column("unit_amount", Numeric(38, 12)),
    Column("period_start", _TIME),
    Column("period_end", _TIME),
    Column("price_id", Text),
    Column("plan_id", Text),
    Column("explanation", Text, nullable=False, server_default=""),
    Column("discounts", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("discount_amount", BigInteger, nullable=False, server_default="0"),
    Column("tax_rate_id", Text),
    Column("tax_percentage", Numeric(7, 4)),
    Column("tax_inclusive", Boolean, nullable=False, server_default=text("false")),
    Column("tax_amount", BigInteger, nullable=False, server_default="0"),
)

payment_methods = Table(
    "payment_methods",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("provider_reference", Text, nullable=False),
    Column("brand", Text, nullable=False),
    Column("last4", Text, nullable=False),
    Column("exp_month", SmallInteger, nullable=False),
    Column("exp_year", SmallInteger, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("is_default", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", _TIME, nullable=False, server_default=_CLOCK),
    Column("detached_at", _TIME),
)

payments = Table(
    "payments",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("invoice_id", Text, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("payment_method_id", Text),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("decline_code", Text),
    Column("provider", Text, nullable=False),
    Column("provider_reference", Text),
    Column("provider_idempotency_key", Text, nullable=False),
    Column("request_key", Text),
    Column("attempt", Integer),
    Column("amount_refunded", BigInteger, nullable=False, server_default="0"),
    Column("created_at", _TIME, nullable=False, server_default=_CLOCK),
    Column("settled_at", _TIME),
)

refunds = Table(
    "refunds",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("payment_id", Text, nullable=False),
    Column("invoice_id", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("failure_code", Text),
    Column("reason", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("provider_reference", Text),
    Column("provider_idempotency_key", Text, nullable=False),
    Column("request_key", Text),
    Column("created_at", _TIME, nullable=False, server_default=_CLOCK),
    Column("settled_at", _TIME),
    Column("credit_note_id", Text),
)

# The sandbox payment processor's own record (infra/payments/sandbox.py), not Ledgerline's.
sandbox_requests = Table(
    "sandbox_requests",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("idempotency_key", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("provider_reference", Text, nullable=False),
    Column("payment_method_ref", Text),
    Column("charge_reference", Text),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("decline_code", Text),
    Column("settles_at", _TIME),
    Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("created_at", _TIME, nullable=False, server_default=_CLOCK),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", ARRAY(Text), nullable=False),
    Column("description", Text),
    # Sealed by infra.secret_box (ciphertext only; a CHECK refuses anything else).
    Column("secret", LargeBinary, nullable=False),
    Column("previous_secret", LargeBinary),
    Column("previous_secret_expires_at", _TIME),
    Column("created_at", _TIME, nullable=False, server_default=_CLOCK),
    # The delivery feed (migration 0014): the last event position considered for it, the
    # run of deliveries that failed for good, and when and why it was disabled.
    Column(
        "cursor_xid",
        Xid8,
        nullable=False,
        server_default=text("pg_snapshot_xmin(pg_current_snapshot())"),
    ),
    Column("cursor_seq", BigInteger, nullable=False, server_default=text("0")),
    Column("consecutive_failures", Integer, nullable=False, server_default=text("0")),
    Column("disabled_at", _TIME),
    Column("disabled_reason", Text),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("endpoint_id", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("event_xid", Xid8, nullable=False),
    Column("event_seq", BigInteger, nullable=False),
    Column("object_id", Text, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'PENDING'::text")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", _TIME, nullable=False, server_default=_CLOCK),
    Column("leased_until", _TIME),
    Column("lease_token", Text),
    Column("created_at", _TIME, nullable=False, server_default=_CLOCK),
    Column("completed_at", _TIME),
)

webhook_delivery_attempts = Table(
    "webhook_delivery_attempts",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("delivery_id", Text, primary_key=True),
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("attempted_at", _TIME, nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Integer, nullable=False),
    Column("error", Text),
    Column("succeeded", Boolean, nullable=False),
)

credit_note_numbering = Table(
    "credit_note_numbering",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("last_number", BigInteger, nullable=False, server_default="0"),
)

credit_notes = Table(
    "credit_notes",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("invoice_id", Text, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("number", Text, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("memo", Text),
    # [{invoiceLineId, amount (minor units), description}], when credited line by line.
    Column("lines", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("created_at", _TIME, nullable=False, server_default=_CLOCK),
)

# Append-only; each row moves customers.balance by its amount (a trigger), which it ended at.
customer_balance_transactions = Table(
    "customer_balance_transactions",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("ending_balance", BigInteger, nullable=False),
    Column("description", Text),
    Column("credit_note_id", Text),
    Column("invoice_id", Text),
    Column("created_at", _TIME, nullable=False, server_default=_CLOCK),
    Column("position", BigInteger, Identity(always=True), nullable=False),
)

# Append-only (migration 0017): granted SELECT and INSERT only, and a trigger refuses the rest.
audit_log = Table(
    "audit_log",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("id", Text, primary_key=True),
    Column("occurred_at", _TIME, nullable=False, server_default=_CLOCK),
    Column("client_id", Text, nullable=False),
    Column("subject", Text),
    Column("operation", Text, nullable=False),
    Column("operation_name", Text),
    Column("object_ids", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("input", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("outcome", Text, nullable=False),
    Column("error_codes", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("request_id", Text),
)
