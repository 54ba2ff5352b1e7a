"""Input types of the contract: mutation inputs, filters and sort orders."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from schema.enums import SortDirection, TaxIdType
from schema.scalars import JSON, CurrencyCode


@strawberry.input(description="A postal address; `country` is required.")
class AddressInput:
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code, e.g. `FR`.")
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None


@strawberry.input(description="A tax registration.")
class TaxIdInput:
    type: TaxIdType
    value: str


@strawberry.input(description="A new customer.")
class CreateCustomerInput:
    name: str = strawberry.field(description="1 to 200 characters.")
    currency: CurrencyCode = strawberry.field(description="ISO 4217 billing currency.")
    email: str | None = None
    external_id: str | None = strawberry.field(
        default=None, description="Your own id for the customer; unique in your account."
    )
    address: AddressInput | None = None
    tax_ids: list[TaxIdInput] | None = strawberry.field(default=None, description="Up to 5.")
    metadata: JSON | None = strawberry.field(
        default=None, description="Up to 50 string keys with string values."
    )


@strawberry.input(
    description="Changes to a customer. Omitted fields stay as they are; null clears a field."
)
class UpdateCustomerInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    currency: CurrencyCode | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    external_id: str | None = strawberry.UNSET
    address: AddressInput | None = strawberry.UNSET
    tax_ids: list[TaxIdInput] | None = strawberry.UNSET
    metadata: JSON | None = strawberry.UNSET


@strawberry.input(description="The customer to archive.")
class ArchiveCustomerInput:
    id: strawberry.ID


@strawberry.input(description="Narrows the customers list; all given conditions must hold.")
class CustomerFilter:
    email: str | None = strawberry.field(default=None, description="Exact, case-insensitive.")
    search: str | None = strawberry.field(
        default=None, description="Text contained in the name, email or external id."
    )
    created_after: datetime | None = strawberry.field(default=None, description="Inclusive.")
    created_before: datetime | None = strawberry.field(default=None, description="Exclusive.")
    archived: bool | None = strawberry.field(
        default=None, description="true: only archived; false: only active; null: both."
    )


@strawberry.enum(description="What the customers list is sorted by.")
class CustomerOrderField(Enum):
    CREATED_AT = "created_at"
    NAME = "name"


@strawberry.input(description="Sort order of the customers list.")
class CustomerOrder:
    field: CustomerOrderField = CustomerOrderField.CREATED_AT
    direction: SortDirection = SortDirection.DESC


@strawberry.input(description="Narrows the events list.")
class EventFilter:
    types: list[str] | None = strawberry.field(
        default=None, description='Event types, e.g. `["customer.created"]`.'
    )
    object_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only events about this object."
    )
    created_after: datetime | None = strawberry.field(default=None, description="Inclusive.")
    created_before: datetime | None = strawberry.field(default=None, description="Exclusive.")


@strawberry.input(description="Sort order of the events list (by creation time).")
class EventOrder:
    direction: SortDirection = SortDirection.DESC
