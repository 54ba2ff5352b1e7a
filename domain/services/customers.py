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
from domain.ids import new_id, prefix_of
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
        if changed.currency != current.currency and current.balance.minor_units != 0:
            # The balance is held in the customer's currency; it would change meaning.
            raise DomainError(
                [
                    FieldError(
                        ErrorCode.INVALID,
                        ("input", "currency"),
                        "The currency cannot change while the customer has a balance.",
                    )
                ]
            )
        saved = await uow.customers.save(changed)
        await uow.events.add(events.CUSTOMER_UPDATED, saved.id, saved.snapshot())
        await uow.commit()
    return saved


async def archive_customer(uow: UnitOfWork, customer_id: str) -> Customer:
    async with uow:
        current = await _customer(uow, customer_id)
        if current.archived:
            raise DomainError(
                [FieldError(ErrorCode.ALREADY_ARCHIVED, _ID_FIELD, "Customer is already archived.")]
            )
        archived = await uow.customers.archive(customer_id)
        await uow.events.add(events.CUSTOMER_ARCHIVED, archived.id, archived.snapshot())
        await uow.commit()
    return archived


async def _customer(uow: UnitOfWork, customer_id: str) -> Customer:
    """The customer, locked so concurrent changes apply one after the other; a malformed,
    unknown or foreign id is "not found" alike."""
    customer = None
    if prefix_of(customer_id) == "cus":
        customer = await uow.customers.get(customer_id, for_update=True)
    if customer is None:
        raise NotFound(_ID_FIELD, "Customer")
    return customer


async def _editable_customer(uow: UnitOfWork, customer_id: str) -> Customer:
    customer = await _customer(uow, customer_id)
    if customer.archived:
        raise DomainError(
            [FieldError(ErrorCode.ARCHIVED, _ID_FIELD, "An archived customer cannot be changed.")]
        )
    return customer


async def billable_customer(uow: UnitOfWork, customer_id: str, field: tuple[str, ...]) -> Customer:
    """A customer that can be billed (subscribed, invoiced, discounted): unknown, foreign or
    malformed ids are "not found" alike; an archived customer is refused at `field`."""
    customer = await uow.customers.get(customer_id) if prefix_of(customer_id) == "cus" else None
    if customer is None:
        raise NotFound(field, "Customer")
    if customer.archived:
        raise DomainError([FieldError(ErrorCode.ARCHIVED, field, "The customer is archived.")])
    return customer
