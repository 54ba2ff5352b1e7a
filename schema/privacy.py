"""Personal data: erasing a customer's on request, exporting all that is held about one.
Types and inputs of the concept."""

from __future__ import annotations

import strawberry

from domain import customers as customers_domain
from resolvers.errors import Outcome
from schema.customers import Customer
from schema.errors import UserError, user_errors_from


@strawberry.input(description="The customer whose personal data is erased.")
class EraseCustomerDataInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer (`cus_…`).")


@strawberry.type(description="The customer as erasure left it.")
class EraseCustomerDataPayload:
    customer: Customer | None = strawberry.field(
        description="The customer, named `[erased]`, without email, external id, address, "
        "tax ids or metadata, and archived."
    )
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(cls, outcome: Outcome[customers_domain.Customer]) -> EraseCustomerDataPayload:
        return cls(
            customer=None if outcome.value is None else Customer.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )
