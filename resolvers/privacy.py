"""Personal data of a customer: erasing it, exporting it (both audited: resolvers/audit.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import strawberry

from domain import customers as model
from domain.errors import DomainError
from domain.ids import prefix_of
from domain.services import privacy as services
from resolvers.errors import Outcome, done, refused

if TYPE_CHECKING:
    from resolvers.context import Context
    from schema.privacy import EraseCustomerDataInput
else:
    EraseCustomerDataInput = strawberry.LazyType("EraseCustomerDataInput", "schema.privacy")


async def erase_customer_data(
    info: strawberry.Info[Context], input: EraseCustomerDataInput
) -> Outcome[model.Customer]:
    try:
        erased = await services.erase_customer_data(info.context.uow(), str(input.customer_id))
    except DomainError as error:
        return refused(error)
    info.context.loaders.by_id("cus").clear(erased.id).prime(erased.id, erased)
    return done(erased)


async def customer_data_export(
    info: strawberry.Info[Context], customer_id: strawberry.ID
) -> dict[str, Any] | None:
    if prefix_of(str(customer_id)) != "cus":
        return None
    return await info.context.reads.privacy.customer_export(str(customer_id))
