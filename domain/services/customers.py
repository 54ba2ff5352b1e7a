"""Creating, changing and archiving customers."""

from __future__ import annotations

from domain import events
from domain.customers import (
    Customer,
    CustomerChanges,
    CustomerDraft,
    apply_changes,
    validate_changes,
    validate_draft,
)
from domain.errors import DomainError, ErrorCode, FieldError, NotFound
from domain.ids import new_id
from domain.ports import UnitOfWork

_ID_FIELD = ("input", "id")


async def create_customer(uow: UnitOfWork, draft: CustomerDraft) -> Customer:
    clean = validate_draft(draft)
    async with uow:
        customer = await uow.customers.add(new_id("cus"), clean)
        await uow.events.add(events.CUSTOMER_CREATED, customer.id, customer.snapshot())
        await uow.commit()
    return customer


async def update_customer(uow: UnitOfWork, customer_id: str, changes: CustomerChanges) -> Customer:
    clean = validate_changes(changes)
    async with uow:
        current = await _editable_customer(uow, customer_id)
        changed = apply_changes(current, clean)
        if changed == current:
            return current
        saved = await uow.customers.save(changed)
        await uow.events.add(events.CUSTOMER_UPDATED, saved.id, saved.snapshot())
        await uow.commit()
    return saved


async def archive_customer(uow: UnitOfWork, customer_id: str) -> Customer:
    async with uow:
        current = await uow.customers.get(customer_id, for_update=True)
        if current is None:
            raise NotFound(_ID_FIELD, "Customer")
        if current.archived:
            raise DomainError(
                [FieldError(ErrorCode.ALREADY_ARCHIVED, _ID_FIELD, "Customer is already archived.")]
            )
        archived = await uow.customers.archive(customer_id)
        await uow.events.add(events.CUSTOMER_ARCHIVED, archived.id, archived.snapshot())
        await uow.commit()
    return archived


async def _editable_customer(uow: UnitOfWork, customer_id: str) -> Customer:
    # Locked so two concurrent updates apply one after the other, never over each other.
    customer = await uow.customers.get(customer_id, for_update=True)
    if customer is None:
        raise NotFound(_ID_FIELD, "Customer")
    if customer.archived:
        raise DomainError(
            [FieldError(ErrorCode.ARCHIVED, _ID_FIELD, "An archived customer cannot be changed.")]
        )
    return customer
