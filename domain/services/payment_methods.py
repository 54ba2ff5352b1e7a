"""Attaching a customer's payment method (as a provider's token), choosing their default,
and detaching one."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from domain.customers import Customer
from domain.errors import DomainError, ErrorCode, FieldError, NotFound
from domain.ids import new_id, prefix_of
from domain.payment_methods import PaymentMethod, check_card_details, check_provider_token
from domain.payments import PaymentMethodRejected, PaymentProvider
from domain.ports import UnitOfWork

CUSTOMER_FIELD = ("input", "customerId")
TOKEN_FIELD = ("input", "providerToken")
PAYMENT_METHOD_FIELD = ("input", "paymentMethodId")


async def attach_payment_method(
    uow: UnitOfWork,
    provider: PaymentProvider,
    customer_id: str,
    token: str,
    *,
    set_as_default: bool | None = None,
    now: datetime,
) -> PaymentMethod:
    """Stores the card a provider's token stands for as one of the customer's payment
    methods. `set_as_default`: True makes it the default, False leaves the default as it
    is, None makes it the default when the customer has none yet."""
    check_provider_token(token, TOKEN_FIELD)
    # Two phases, so no lock is held while the provider is called over the network, and
    # nothing is sent to it for a customer that is not the caller's.
    async with uow:
        await _active_customer(uow, customer_id)
    try:
        card = await provider.describe_payment_method(token)
    except PaymentMethodRejected:
        raise DomainError(
            [
                FieldError(
                    ErrorCode.PAYMENT_METHOD_INVALID,
                    TOKEN_FIELD,
                    "The payment provider does not know this token.",
                )
            ]
        ) from None
    check_card_details(card, TOKEN_FIELD)
    async with uow:
        # The customer's row lock orders concurrent changes of their default.
        customer = await _active_customer(uow, customer_id, for_update=True)
        if set_as_default is None:
            set_as_default = await uow.payment_methods.default_of(customer.id) is None
        if set_as_default:
            await uow.payment_methods.set_default(customer.id, None)
        method = await uow.payment_methods.add(
            PaymentMethod(
                id=new_id("pm"),
                customer_id=customer.id,
                provider=provider.name,
                provider_reference=card.reference,
                brand=card.brand,
                last4=card.last4,
                exp_month=card.exp_month,
                exp_year=card.exp_year,
                fingerprint=card.fingerprint,
                is_default=set_as_default,
                created_at=now,
                detached_at=None,
            )
        )
        await uow.commit()
    return method


async def set_default_payment_method(uow: UnitOfWork, payment_method_id: str) -> PaymentMethod:
    """Makes an attached method its customer's default (the previous one no longer is)."""
    async with uow:
        method = await _attached_method(uow, payment_method_id)
        await uow.payment_methods.set_default(method.customer_id, method.id)
        await uow.commit()
    return replace(method, is_default=True)


async def detach_payment_method(uow: UnitOfWork, payment_method_id: str) -> PaymentMethod:
    """Detaches a method: kept on record, no longer listed, charged or the default."""
    async with uow:
        method = await _attached_method(uow, payment_method_id)
        detached = await uow.payment_methods.detach(method.id)
        await uow.commit()
    return detached


async def _attached_method(uow: UnitOfWork, payment_method_id: str) -> PaymentMethod:
    """The method with its customer locked (read again under the lock: a concurrent detach
    may have come first), or why it cannot change."""
    found = None
    if prefix_of(payment_method_id) == "pm":
        found = await uow.payment_methods.get(payment_method_id)
    if found is None:
        raise NotFound(PAYMENT_METHOD_FIELD, "Payment method")
    await uow.customers.get(found.customer_id, for_update=True)
    method = await uow.payment_methods.get(payment_method_id)
    assert method is not None  # methods are never deleted
    if method.detached:
        raise DomainError(
            [
                FieldError(
                    ErrorCode.PAYMENT_METHOD_DETACHED,
                    PAYMENT_METHOD_FIELD,
                    "The payment method is detached.",
                )
            ]
        )
    return method


async def _active_customer(
    uow: UnitOfWork, customer_id: str, *, for_update: bool = False
) -> Customer:
    customer = None
    if prefix_of(customer_id) == "cus":
        customer = await uow.customers.get(customer_id, for_update=for_update)
    if customer is None:
        raise NotFound(CUSTOMER_FIELD, "Customer")
    if customer.archived:
        raise DomainError(
            [FieldError(ErrorCode.ARCHIVED, CUSTOMER_FIELD, "The customer is archived.")]
        )
    return customer
