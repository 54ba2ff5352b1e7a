"""Recording an operation in the audit log, inside the request's transaction."""

from __future__ import annotations

from domain.audit import AuditEntryDraft
from domain.ids import new_id
from domain.ports import UnitOfWork


async def record_operation(uow: UnitOfWork, draft: AuditEntryDraft) -> str:
    """Appends one entry; its id. It commits with the request: an operation whose request
    rolls back leaves no entry, as it leaves no change."""
    entry_id = new_id("aud")
    async with uow:
        await uow.audit.add(entry_id, draft)
        await uow.commit()
    return entry_id
