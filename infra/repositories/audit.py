"""The audit log in PostgreSQL: appended to, read by page; never updated nor deleted (the
application's role may not, migration 0017)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, select

from domain.audit import AuditEntry, AuditEntryDraft, AuditFilter, AuditOutcome
from domain.queries import PageRequest
from infra.db import TenantConnection
from infra.pagination import paginate
from infra.tables import audit_log


class SqlAuditRepository:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def add(self, entry_id: str, draft: AuditEntryDraft) -> None:
        await self._db.execute(
            insert(audit_log).values(
                tenant_id=self._db.tenant_id,
                id=entry_id,
                client_id=draft.client_id,
                subject=draft.subject,
                operation=draft.operation,
                operation_name=draft.operation_name,
                object_ids=list(draft.object_ids),
                input=draft.input,
                outcome=draft.outcome.value,
                error_codes=list(draft.error_codes),
                request_id=draft.request_id,
            )
        )


def audit_entry_from_row(row: Any) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        tenant_id=row.tenant_id,
        occurred_at=row.occurred_at,
        client_id=row.client_id,
        subject=row.subject,
        operation=row.operation,
        operation_name=row.operation_name,
        object_ids=tuple(row.object_ids),
        input=row.input,
        outcome=AuditOutcome(row.outcome),
        error_codes=tuple(row.error_codes),
        request_id=row.request_id,
    )


class SqlAuditReads:
    """domain.audit.AuditReads: one statement per call, in the request's tenant."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    def _where(self, where: AuditFilter) -> ColumnElement[bool]:
        c = audit_log.c
        conditions: list[ColumnElement[bool]] = [c.tenant_id == self._db.tenant_id]
        if where.operations:
            conditions.append(c.operation.in_(list(where.operations)))
        if where.client_id is not None:
            conditions.append(c.client_id == where.client_id)
        if where.object_id is not None:
            conditions.append(c.object_ids.contains([where.object_id]))
        if where.occurred_after is not None:
            conditions.append(c.occurred_at >= where.occurred_after)
        if where.occurred_before is not None:
            conditions.append(c.occurred_at < where.occurred_before)
        if where.outcomes:
            conditions.append(c.outcome.in_([outcome.value for outcome in where.outcomes]))
        return and_(*conditions)

    async def page(
        self, where: AuditFilter, descending: bool, page: PageRequest
    ) -> list[AuditEntry]:
        statement = paginate(
            select(audit_log).where(self._where(where)),
            audit_log.c.occurred_at,
            audit_log.c.id,
            descending=descending,
            page=page,
        )
        return [audit_entry_from_row(row) for row in await self._db.execute(statement)]

    async def count(self, where: AuditFilter) -> int:
        statement = select(func.count()).select_from(audit_log).where(self._where(where))
        return int((await self._db.execute(statement)).scalar_one())
