"""Customers in PostgreSQL: the repository the services use, and the batched reads of loaders."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Select, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from domain.customers import (
    Customer,
    CustomerDraft,
    TaxId,
    TaxIdType,
    address_from_json,
    address_to_json,
    tax_ids_to_json,
)
from domain.errors import DomainError, ErrorCode, FieldError
from domain.money import Money
from domain.queries import CustomerFilter, CustomerSort, PageRequest
from infra.db import TenantConnection
from infra.pagination import paginate
from infra.tables import customer_search_trigrams, customers

UNIQUE_VIOLATION = "23505"

# What a Customer is built from: the normalised copies are for filters, not for reading.
CUSTOMER_COLUMNS = tuple(column for column in customers.c if column.computed is None)


def customer_from_row(row: Any) -> Customer:
    return Customer(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        email=row.email,
        currency=row.currency,
        external_id=row.external_id,
        address=address_from_json(row.address),
        tax_ids=tuple(TaxId(TaxIdType(t["type"]), t["value"]) for t in row.tax_ids),
        metadata=row.metadata,
        balance=Money(row.balance, row.currency),
        created_at=row.created_at,
        updated_at=row.updated_at,
        archived_at=row.archived_at,
        tax_exempt=row.tax_exempt,
        preferred_locale=row.preferred_locale,
        net_terms_days=row.net_terms_days,
    )


def _details(customer: Customer | CustomerDraft) -> dict[str, Any]:
    return {
        "name": customer.name,
        "email": customer.email,
        "currency": customer.currency,
        "external_id": customer.external_id,
        "address": address_to_json(customer.address),
        "tax_ids": tax_ids_to_json(customer.tax_ids),
        "metadata": customer.metadata,
        "tax_exempt": customer.tax_exempt,
        "preferred_locale": customer.preferred_locale,
        "net_terms_days": customer.net_terms_days,
    }


def _duplicate_external_id() -> DomainError:
    return DomainError(
        [
            FieldError(
                ErrorCode.DUPLICATE,
                ("input", "externalId"),
                "Another customer already has this external id.",
            )
        ]
    )


class SqlCustomerRepository:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    def _scoped(self) -> Select[Any]:
        return select(*CUSTOMER_COLUMNS).where(customers.c.tenant_id == self._db.tenant_id)

    async def get(self, customer_id: str, *, for_update: bool = False) -> Customer | None:
        statement = self._scoped().where(customers.c.id == customer_id)
        if for_update:
            statement = statement.with_for_update()
        row = (await self._db.execute(statement)).first()
        return None if row is None else customer_from_row(row)

    async def get_many(self, customer_ids: Collection[str]) -> dict[str, Customer]:
        statement = self._scoped().where(customers.c.id.in_(sorted(customer_ids)))
        return {row.id: customer_from_row(row) for row in await self._db.execute(statement)}

    async def add(self, customer_id: str, draft: CustomerDraft) -> Customer:
        statement = (
            insert(customers)
            .values(tenant_id=self._db.tenant_id, id=customer_id, **_details(draft))
            .returning(*CUSTOMER_COLUMNS)
        )
        return customer_from_row(await self._write(statement))

    async def save(self, customer: Customer) -> Customer:
        statement = (
            update(customers)
            .where(customers.c.tenant_id == self._db.tenant_id, customers.c.id == customer.id)
            .values(**_details(customer), updated_at=func.now())
            .returning(*CUSTOMER_COLUMNS)
        )
        return customer_from_row(await self._write(statement))

    async def archive(self, customer_id: str) -> Customer:
        statement = (
            update(customers)
            .where(customers.c.tenant_id == self._db.tenant_id, customers.c.id == customer_id)
            .values(archived_at=func.now(), updated_at=func.now())
            .returning(*CUSTOMER_COLUMNS)
        )
        return customer_from_row(await self._write(statement))

    async def _write(self, statement: Any) -> Any:
        try:
            return (await self._db.execute(statement)).one()
        except IntegrityError as exc:
            # The unique index is the backstop for two concurrent writers of one external id;
            # the unit of work rolls its savepoint back.
            if getattr(exc.orig, "sqlstate", None) == UNIQUE_VIOLATION:
                raise _duplicate_external_id() from None
            raise


def _filtered(db: TenantConnection, where: CustomerFilter, columns: Any) -> Select[Any]:
    # Row-level security applies a condition before the tenant policy, and so through an
    # index, only when it is leakproof: each filter compares a column (a stored normalised
    # copy where case must not matter) with `=`, `<`, `>=` or IS NULL, never a function of it.
    statement = select(*columns).where(customers.c.tenant_id == db.tenant_id)
    if where.email is not None:
        statement = statement.where(customers.c.email_normalized == where.email.lower())
    if where.search:
        # Candidates first: customers holding the search's trigrams, each found with `=` on
        # the postings' primary key (migration 0006). Then the substring itself, on them only.
        for trigram in search_trigrams(where.search):
            statement = statement.where(
                customers.c.id.in_(
                    select(customer_search_trigrams.c.customer_id).where(
                        customer_search_trigrams.c.tenant_id == db.tenant_id,
                        customer_search_trigrams.c.trigram == func.lower(trigram),
                    )
                )
            )
        # ILIKE in a UTF-8 database is LIKE on lower() of both sides: the same matches,
        # without lower-casing three columns of every row.
        pattern = func.lower("%" + _escape_like(where.search) + "%")
        statement = statement.where(
            or_(
                customers.c.name_normalized.like(pattern, escape="\\"),
                customers.c.email_normalized.like(pattern, escape="\\"),
                customers.c.external_id_normalized.like(pattern, escape="\\"),
            )
        )
    if where.created_after is not None:
        statement = statement.where(customers.c.created_at >= where.created_after)
    if where.created_before is not None:
        statement = statement.where(customers.c.created_at < where.created_before)
    if where.archived is not None:
        statement = statement.where(
            customers.c.archived_at.isnot(None)
            if where.archived
            else customers.c.archived_at.is_(None)
        )
    return statement


# Each trigram is one semi-join, and the planner starts from the one its statistics of the
# postings say is rarest: a few candidates let it choose, more only lengthen its search.
MAX_SEARCH_TRIGRAMS = 4
# How common a character is in names, emails and ids (English letter frequency; digits and
# other punctuation rarer): which trigrams are offered when a search has more.
_COMMON_FIRST = " etaoinsrhldcumfpgwyb.vkxjqz"


def _rarity(trigram: str) -> int:
    return sum(_COMMON_FIRST.find(c) % len(_COMMON_FIRST) for c in trigram.lower())


def search_trigrams(search: str) -> list[str]:
    """Trigrams of a search that every match holds, or none when the postings cannot narrow
    it: fewer than three characters, or text outside ASCII, where lower-casing may change its
    length (the postings hold PostgreSQL's lower()). Up to MAX_SEARCH_TRIGRAMS, the
    rarest-looking, in the order they appear."""
    if len(search) < 3 or not search.isascii():
        return []
    # Lower-cased by PostgreSQL, as the postings are (its locale decides); Python's lower()
    # only spots repeats.
    grams = {search[i : i + 3].lower(): search[i : i + 3] for i in range(len(search) - 2)}
    rarest = sorted(grams, key=_rarity, reverse=True)[:MAX_SEARCH_TRIGRAMS]
    return [grams[g] for g in grams if g in rarest]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlCustomerReads:
    """The read path's customers (domain.ports.CustomerReads), in the request's tenant."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[str]) -> list[Customer | None]:
        """One statement for a batch of ids, answered in key order with None for unknown ids."""
        statement = select(*CUSTOMER_COLUMNS).where(
            customers.c.tenant_id == self._db.tenant_id, customers.c.id.in_(list(ids))
        )
        found = {row.id: customer_from_row(row) for row in await self._db.execute(statement)}
        return [found.get(customer_id) for customer_id in ids]

    async def page(
        self,
        where: CustomerFilter,
        sort: CustomerSort,
        descending: bool,
        page: PageRequest,
    ) -> list[Customer]:
        """Up to `page.limit + 1` customers in display order (the extra one tells of a next
        page)."""
        sort_column = customers.c[sort.value]
        statement = paginate(
            _filtered(self._db, where, CUSTOMER_COLUMNS),
            sort_column,
            customers.c.id,
            descending=descending,
            page=page,
        )
        return [customer_from_row(row) for row in await self._db.execute(statement)]

    async def count(self, where: CustomerFilter) -> int:
        statement = _filtered(self._db, where, (func.count(),))
        return int((await self._db.execute(statement)).scalar_one())
