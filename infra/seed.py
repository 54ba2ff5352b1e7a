"""Demo data: a `demo` account with customers in several currencies and countries.

Built through the same services the API calls, so the data is what users could create.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.customers import Address, CustomerChanges, CustomerDraft, TaxId, TaxIdType
from domain.services.customers import archive_customer, create_customer, update_customer
from infra.db import tenant_transaction
from infra.repositories.accounts import ensure_account
from infra.tables import customers
from infra.uow import SqlUnitOfWork

DEMO_TENANT = "demo"

DEMO_CUSTOMERS = [
    CustomerDraft(
        name="Acme Corporation",
        email="billing@acme.example",
        currency="USD",
        external_id="acme-001",
        address=Address(
            country="US", line1="1 Market St", city="San Francisco", state="CA", postal_code="94105"
        ),
        tax_ids=(TaxId(TaxIdType.US_EIN, "12-3456789"),),
        metadata={"plan_hint": "enterprise", "account_manager": "dana"},
    ),
    CustomerDraft(
        name="Bäckerei Müller GmbH",
        email="rechnung@mueller.example",
        currency="EUR",
        external_id="mueller-002",
        address=Address(country="DE", line1="Hauptstraße 5", city="Berlin", postal_code="10115"),
        tax_ids=(TaxId(TaxIdType.EU_VAT, "DE123456789"),),
    ),
    CustomerDraft(
        name="Sakura Systems K.K.",
        email="keiri@sakura.example",
        currency="JPY",
        external_id="sakura-003",
        address=Address(country="JP", line1="1-1 Chiyoda", city="Tokyo", postal_code="100-0001"),
    ),
    CustomerDraft(
        name="Gulf Logistics W.L.L.",
        email="accounts@gulf.example",
        currency="KWD",
        address=Address(country="KW", city="Kuwait City"),
    ),
    CustomerDraft(
        name="Thames Analytics Ltd",
        email="finance@thames.example",
        currency="GBP",
        address=Address(country="GB", line1="10 Fleet St", city="London", postal_code="EC4Y 1AA"),
        tax_ids=(TaxId(TaxIdType.GB_VAT, "GB123456789"),),
    ),
    CustomerDraft(
        name="Maple Leaf Outfitters",
        email="ap@maple.example",
        currency="CAD",
        address=Address(country="CA", city="Toronto", state="ON", postal_code="M5H 2N2"),
    ),
    CustomerDraft(
        name="Rio Commerce Ltda",
        email="financeiro@rio.example",
        currency="BRL",
        address=Address(country="BR", city="Rio de Janeiro"),
        tax_ids=(TaxId(TaxIdType.BR_CNPJ, "12.345.678/0001-95"),),
    ),
    CustomerDraft(
        name="Alpine Tools AG",
        email="buchhaltung@alpine.example",
        currency="CHF",
        address=Address(country="CH", city="Zürich", postal_code="8001"),
    ),
]


async def seed_demo(engine: AsyncEngine) -> bool:
    """Creates the demo account's data unless it is there already; True if it seeded."""
    async with engine.begin() as conn:
        await ensure_account(conn, DEMO_TENANT, "Demo Merchant")
    async with tenant_transaction(engine, DEMO_TENANT) as db:
        if (await db.execute(select(customers.c.id).limit(1))).first() is not None:
            return False
        created = [await create_customer(SqlUnitOfWork(db), draft) for draft in DEMO_CUSTOMERS]
        await update_customer(
            SqlUnitOfWork(db), created[0].id, CustomerChanges(metadata={"plan_hint": "growth"})
        )
        await archive_customer(SqlUnitOfWork(db), created[-1].id)
    return True


async def is_empty(engine: AsyncEngine) -> bool:
    from infra.tables import accounts

    async with engine.connect() as conn:
        return (await conn.execute(select(accounts.c.id).limit(1))).first() is None
