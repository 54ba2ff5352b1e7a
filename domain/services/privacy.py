"""Erasing a customer's personal data on request (domain/privacy.py says what is kept)."""

from __future__ import annotations

from domain import events
from domain.customers import Customer
from domain.errors import DomainError, ErrorCode, FieldError, NotFound
from domain.ids import prefix_of
from domain.ports import UnitOfWork

_ID_FIELD = ("input", "customerId")


async def erase_customer_data(uow: UnitOfWork, customer_id: str) -> Customer:
    """Replaces the customer's personal data, archives it, and emits `customer.updated` with
    what is left. Refused (IN_USE) while a subscription still bills it: cancel it first."""
    async with uow:
        customer = None
        if prefix_of(customer_id) == "cus":
            # Locked: a concurrent update cannot write the old details back.
            customer = await uow.customers.get(customer_id, for_update=True)
        if customer is None:
            raise NotFound(_ID_FIELD, "Customer")
        if await uow.privacy.has_live_subscriptions(customer_id):
            raise DomainError(
                [
                    FieldError(
                        ErrorCode.IN_USE,
                        _ID_FIELD,
                        "The customer has a subscription that is not canceled; cancel it "
                        "before erasing the customer's data.",
                    )
                ]
            )
        await uow.privacy.erase_customer(customer_id)
        erased = await uow.customers.get(customer_id)
        assert erased is not None  # locked above
        await uow.events.add(events.CUSTOMER_UPDATED, erased.id, erased.snapshot())
        await uow.commit()
    return erased
