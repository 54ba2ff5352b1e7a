"""Payment methods: a customer's methods and default, and the mutations that change them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from aiodataloader import DataLoader

from domain.errors import DomainError
from domain.payment_methods import PaymentMethod, PaymentMethodReads
from domain.services import payment_methods as services
from resolvers.errors import Outcome, done, refused

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.customers import Customer as CustomerType
    from schema.payment_methods import (
        AttachPaymentMethodInput,
        DetachPaymentMethodInput,
        SetDefaultPaymentMethodInput,
    )
else:
    # The schema's types its arguments take, by name: the schema imports resolvers, not
    # the reverse.
    AttachPaymentMethodInput = strawberry.LazyType(
        "AttachPaymentMethodInput", "schema.payment_methods"
    )
    DetachPaymentMethodInput = strawberry.LazyType(
        "DetachPaymentMethodInput", "schema.payment_methods"
    )
    SetDefaultPaymentMethodInput = strawberry.LazyType(
        "SetDefaultPaymentMethodInput", "schema.payment_methods"
    )


class PaymentMethodsByCustomerLoader(DataLoader):  # type: ignore[type-arg]
    """Each customer's attached methods, the default first: one statement per batch."""

    def __init__(self, reads: PaymentMethodReads) -> None:
        super().__init__()
        self._reads = reads

    async def batch_load_fn(self, customer_ids: list[str]) -> list[list[PaymentMethod]]:
        return await self._reads.by_customers(customer_ids)


async def customer_payment_methods(
    root: CustomerType, info: strawberry.Info[Context]
) -> list[PaymentMethod]:
    found: list[PaymentMethod] = await info.context.loaders.payment_methods_by_customer.load(
        str(root.id)
    )
    return found


async def customer_default_payment_method(
    root: CustomerType, info: strawberry.Info[Context]
) -> PaymentMethod | None:
    # The same loader as the list: both fields on a page cost one statement.
    methods: list[PaymentMethod] = await info.context.loaders.payment_methods_by_customer.load(
        str(root.id)
    )
    return next((method for method in methods if method.is_default), None)


async def attach_payment_method(
    info: strawberry.Info[Context], input: AttachPaymentMethodInput
) -> Outcome[PaymentMethod]:
    try:
        method = await services.attach_payment_method(
            info.context.uow(),
            info.context.payment_provider,
            str(input.customer_id),
            input.provider_token,
            set_as_default=input.set_as_default,
            now=info.context.clock.now(),
        )
    except DomainError as error:
        return refused(error)
    _forget_customer(info, method)
    return done(method)


async def set_default_payment_method(
    info: strawberry.Info[Context], input: SetDefaultPaymentMethodInput
) -> Outcome[PaymentMethod]:
    try:
        method = await services.set_default_payment_method(
            info.context.uow(), str(input.payment_method_id)
        )
    except DomainError as error:
        return refused(error)
    _forget_customer(info, method)
    return done(method)


async def detach_payment_method(
    info: strawberry.Info[Context], input: DetachPaymentMethodInput
) -> Outcome[PaymentMethod]:
    try:
        method = await services.detach_payment_method(
            info.context.uow(), str(input.payment_method_id)
        )
    except DomainError as error:
        return refused(error)
    _forget_customer(info, method)
    return done(method)


def _forget_customer(info: strawberry.Info[Context], method: PaymentMethod) -> None:
    """A later field of the same request reads the customer's methods as they are now."""
    loaders = info.context.loaders
    loaders.payment_methods_by_customer.clear(method.customer_id)
    # The default of the customer's other methods changed too: read them again.
    loaders.by_id("pm").clear_all()
    loaders.by_id("pm").prime(method.id, method)
