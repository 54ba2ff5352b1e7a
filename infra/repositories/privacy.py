"""A customer's personal data in PostgreSQL: erased in place (domain/privacy.py says what
and why), and exported as one JSON document built by PostgreSQL in one statement."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from domain.privacy import ERASED_NAME
from infra import jsoncodec
from infra.db import TenantConnection

_LIVE_SUBSCRIPTIONS = text(
    "SELECT EXISTS (SELECT FROM subscriptions WHERE tenant_id = :tenant"
    " AND customer_id = :customer AND status <> 'CANCELED')"
)

_ERASE_CUSTOMER = text(
    """
    UPDATE customers SET name = :erased_name, email = NULL, external_id = NULL,
        address = NULL, tax_ids = '[]'::jsonb, metadata = '{}'::jsonb,
        archived_at = coalesce(archived_at, now()), updated_at = now()
    WHERE tenant_id = :tenant AND id = :customer
    """
)

# The copies of the customer that its events carry (customer.created, .updated, .archived).
_ERASE_CUSTOMER_EVENTS = text(
    """
    UPDATE events SET data = data || jsonb_build_object(
        'name', CAST(:erased_name AS text), 'email', NULL, 'externalId', NULL,
        'address', NULL, 'taxIds', '[]'::jsonb, 'metadata', '{}'::jsonb)
    WHERE tenant_id = :tenant AND object_id = :customer AND type LIKE 'customer.%'
    """
)

# Properties but the billing dimensions the account's metrics aggregate or filter on.
_ERASE_USAGE_PROPERTIES = text(
    """
    UPDATE usage_events u SET properties = coalesce((
        SELECT jsonb_object_agg(p.key, p.value) FROM jsonb_each(u.properties) p
        WHERE p.key IN (
            SELECT m.property FROM billable_metrics m
            WHERE m.tenant_id = :tenant AND m.property IS NOT NULL
            UNION SELECT jsonb_object_keys(m.filters) FROM billable_metrics m
            WHERE m.tenant_id = :tenant)
    ), '{}'::jsonb)
    WHERE u.tenant_id = :tenant AND u.customer_id = :customer AND u.properties <> '{}'::jsonb
    """
)

# Rows as stored (snake_case columns), without the tenant, provider tokens, idempotency
# keys and internal positions; exact decimals as strings.
_EXPORT = """
WITH c AS (SELECT * FROM customers WHERE tenant_id = $1 AND id = $2),
subs AS (SELECT * FROM subscriptions WHERE tenant_id = $1 AND customer_id = $2),
invs AS (SELECT * FROM invoices WHERE tenant_id = $1 AND customer_id = $2),
pays AS (SELECT * FROM payments WHERE tenant_id = $1 AND customer_id = $2),
refs AS (SELECT * FROM refunds WHERE tenant_id = $1
         AND invoice_id IN (SELECT id FROM invs)),
pms AS (SELECT * FROM payment_methods WHERE tenant_id = $1 AND customer_id = $2),
cns AS (SELECT * FROM credit_notes WHERE tenant_id = $1 AND customer_id = $2),
btx AS (SELECT * FROM customer_balance_transactions WHERE tenant_id = $1
        AND customer_id = $2),
dis AS (SELECT * FROM discounts WHERE tenant_id = $1 AND customer_id = $2),
objs AS (SELECT $2::text AS id UNION ALL SELECT id FROM subs UNION ALL SELECT id FROM invs
         UNION ALL SELECT id FROM pays UNION ALL SELECT id FROM refs
         UNION ALL SELECT id FROM pms UNION ALL SELECT id FROM cns)
SELECT jsonb_build_object(
  'customer', (SELECT to_jsonb(c)
      - '{tenant_id,email_normalized,name_normalized,external_id_normalized}'::text[] FROM c),
  'payment_methods', coalesce((SELECT jsonb_agg(
      to_jsonb(p) - '{tenant_id,provider_reference,fingerprint}'::text[]
      ORDER BY p.created_at, p.id) FROM pms p), '[]'::jsonb),
  'subscriptions', coalesce((SELECT jsonb_agg(to_jsonb(s) - 'tenant_id'
      ORDER BY s.created_at, s.id) FROM subs s), '[]'::jsonb),
  'discounts', coalesce((SELECT jsonb_agg(to_jsonb(d) - 'tenant_id'
      ORDER BY d.created_at, d.id) FROM dis d), '[]'::jsonb),
  'invoices', coalesce((SELECT jsonb_agg((to_jsonb(i) - 'tenant_id') || jsonb_build_object(
      'lines', coalesce((SELECT jsonb_agg(
          (to_jsonb(l) - '{tenant_id,quantity,unit_amount,tax_percentage}'::text[])
          || jsonb_build_object('quantity', trim_scale(l.quantity)::text,
                                'unit_amount', trim_scale(l.unit_amount)::text,
                                'tax_percentage', trim_scale(l.tax_percentage)::text)
          ORDER BY l.position, l.id)
        FROM invoice_lines l WHERE l.tenant_id = $1 AND l.invoice_id = i.id), '[]'::jsonb))
      ORDER BY i.created_at, i.id) FROM invs i), '[]'::jsonb),
  'payments', coalesce((SELECT jsonb_agg(
      to_jsonb(p) - '{tenant_id,provider_idempotency_key,request_key}'::text[]
      ORDER BY p.created_at, p.id) FROM pays p), '[]'::jsonb),
  'refunds', coalesce((SELECT jsonb_agg(
      to_jsonb(r) - '{tenant_id,provider_idempotency_key,request_key}'::text[]
      ORDER BY r.created_at, r.id) FROM refs r), '[]'::jsonb),
  'credit_notes', coalesce((SELECT jsonb_agg(to_jsonb(n) - 'tenant_id'
      ORDER BY n.created_at, n.id) FROM cns n), '[]'::jsonb),
  'balance_transactions', coalesce((SELECT jsonb_agg(
      to_jsonb(b) - '{tenant_id,position}'::text[] ORDER BY b.position) FROM btx b),
      '[]'::jsonb),
  'usage_events', coalesce((SELECT jsonb_agg(
      (to_jsonb(u) - '{tenant_id,value,position}'::text[])
      || jsonb_build_object('value', trim_scale(u.value)::text)
      ORDER BY u.occurred_at, u.idempotency_key)
    FROM usage_events u WHERE u.tenant_id = $1 AND u.customer_id = $2), '[]'::jsonb),
  'events', coalesce((SELECT jsonb_agg(to_jsonb(e) - '{tenant_id,xid,seq}'::text[]
      ORDER BY e.created_at, e.id)
    FROM events e WHERE e.tenant_id = $1 AND e.object_id IN (SELECT id FROM objs)),
    '[]'::jsonb)
)::text
WHERE EXISTS (SELECT FROM c)
"""


class SqlPrivacyRepository:
    """domain.privacy.PrivacyRepository within the unit of work's tenant transaction."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    def _params(self, customer_id: str) -> dict[str, str]:
        return {"tenant": self._db.tenant_id, "customer": customer_id, "erased_name": ERASED_NAME}

    async def has_live_subscriptions(self, customer_id: str) -> bool:
        found = await self._db.execute(_LIVE_SUBSCRIPTIONS, self._params(customer_id))
        return bool(found.scalar_one())

    async def erase_customer(self, customer_id: str) -> None:
        params = self._params(customer_id)
        for statement in (_ERASE_CUSTOMER, _ERASE_CUSTOMER_EVENTS, _ERASE_USAGE_PROPERTIES):
            await self._db.execute(statement, params)


class SqlPrivacyReads:
    """domain.privacy.PrivacyReads: the export, one statement."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def customer_export(self, customer_id: str) -> dict[str, Any] | None:
        found = await self._db.fetchval(_EXPORT, self._db.tenant_id, customer_id)
        if found is None:
            return None
        document: dict[str, Any] = jsoncodec.loads(found)
        return document
