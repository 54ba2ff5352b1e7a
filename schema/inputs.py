"""Input types of the contract: mutation inputs, filters and sort orders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry

from schema.enums import (
    Aggregation,
    BillingMode,
    Interval,
    PriceModelKind,
    SortDirection,
    TaxIdType,
)
from schema.scalars import JSON, CurrencyCode


@strawberry.input(description="A postal address; `country` is required.")
class AddressInput:
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code, e.g. `FR`.")
    line1: str | None = strawberry.field(default=None, description="Street and number.")
    line2: str | None = strawberry.field(default=None, description="Apartment, suite, building.")
    city: str | None = strawberry.field(default=None, description="City or locality.")
    state: str | None = strawberry.field(default=None, description="State, county or region.")
    postal_code: str | None = strawberry.field(default=None, description="Postal or ZIP code.")


@strawberry.input(description="A tax registration.")
class TaxIdInput:
    type: TaxIdType = strawberry.field(description="Which registry the id belongs to.")
    value: str = strawberry.field(
        description="Letters, digits, spaces, `.`, `-` or `/`; 64 at most."
    )


@strawberry.input(description="A new customer.")
class CreateCustomerInput:
    name: str = strawberry.field(description="1 to 200 characters.")
    currency: CurrencyCode = strawberry.field(description="ISO 4217 billing currency.")
    email: str | None = strawberry.field(default=None, description="Billing email address.")
    external_id: str | None = strawberry.field(
        default=None, description="Your own id for the customer; unique in your account."
    )
    address: AddressInput | None = strawberry.field(default=None, description="Billing address.")
    tax_ids: list[TaxIdInput] | None = strawberry.field(default=None, description="Up to 5.")
    metadata: JSON | None = strawberry.field(
        default=None, description="Up to 50 string keys with string values."
    )


@strawberry.input(
    description="Changes to a customer. Omitted fields stay as they are; null clears a field."
)
class UpdateCustomerInput:
    id: strawberry.ID = strawberry.field(description="The customer to change (`cus_…`).")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="Cannot be null.")
    currency: CurrencyCode | None = strawberry.field(
        default=strawberry.UNSET, description="ISO 4217 billing currency; cannot be null."
    )
    email: str | None = strawberry.field(default=strawberry.UNSET, description="null clears it.")
    external_id: str | None = strawberry.field(
        default=strawberry.UNSET, description="null clears it."
    )
    address: AddressInput | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the whole address; null clears it."
    )
    tax_ids: list[TaxIdInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the list; null or [] clears it."
    )
    metadata: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces all metadata; null or {} clears it."
    )


@strawberry.input(description="The customer to archive.")
class ArchiveCustomerInput:
    id: strawberry.ID = strawberry.field(description="The customer to archive (`cus_…`).")


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
    field: CustomerOrderField = strawberry.field(
        default=CustomerOrderField.CREATED_AT, description="Sort key; ties broken by id."
    )
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC, description="ASC or DESC."
    )


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
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC, description="DESC lists the newest first."
    )


@strawberry.input(description="A new billable metric.")
class CreateBillableMetricInput:
    code: str = strawberry.field(
        description="1 to 64 lowercase letters, digits, `_`, `.` or `-`; unique in your account."
    )
    name: str = strawberry.field(description="1 to 200 characters.")
    aggregation: Aggregation = strawberry.field(description="How events become a quantity.")
    property: str | None = strawberry.field(
        default=None, description="The event property aggregated; required except for COUNT."
    )
    filters: JSON | None = strawberry.field(
        default=None,
        description='Only events with these property values count, e.g. `{"region": ["eu"]}`.',
    )


@strawberry.input(description="One usage event. Name the customer by id or by external id.")
class UsageEventInput:
    idempotency_key: str = strawberry.field(
        description="Your unique id for this event: a replay of it is counted once."
    )
    metric_code: str = strawberry.field(description="The billable metric's code.")
    timestamp: datetime = strawberry.field(
        description="When it happened: at most 5 minutes ahead, at most 31 days back."
    )
    customer_id: strawberry.ID | None = strawberry.field(default=None, description="`cus_…`.")
    external_customer_id: str | None = strawberry.field(
        default=None, description="The customer's `externalId`."
    )
    properties: JSON | None = strawberry.field(
        default=None, description="Up to 50 string, number or boolean values."
    )


@strawberry.input(description="A batch of up to 1,000 usage events.")
class RecordUsageInput:
    events: list[UsageEventInput] = strawberry.field(description="1 to 1,000 events.")


@strawberry.input(description="Narrows the billable metrics list.")
class BillableMetricFilter:
    codes: list[str] | None = strawberry.field(default=None, description="Only these codes.")


@strawberry.input(description="Sort order of the billable metrics list (by creation time).")
class BillableMetricOrder:
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC, description="DESC lists the newest first."
    )


@strawberry.input(description="An amount of one currency.")
class MoneyInput:
    amount: Decimal = strawberry.field(description='Decimal string, e.g. "12.50".')
    currency: CurrencyCode = strawberry.field(description="ISO 4217 code.")


@strawberry.input(description="One tier of a graduated or volume price.")
class TierInput:
    up_to: Decimal | None = strawberry.field(
        default=None, description="Last quantity of the tier, inclusive; null for the last tier."
    )
    unit_amount: Decimal = strawberry.field(
        description="Price per unit in major units; may be finer than the minor unit."
    )
    flat_amount: Decimal | None = strawberry.field(
        default=None, description="A flat fee charged once the tier is reached."
    )


@strawberry.input(
    description="A price. Fill the fields of its model: FLAT_FEE `amount`; PER_UNIT "
    "`unitAmount`; GRADUATED and VOLUME `tiers`; PACKAGE `packageAmount` and `packageSize`; "
    "PERCENTAGE `rate` and optionally `fixedAmount`, `minAmount`, `maxAmount`."
)
class PriceInput:
    model: PriceModelKind = strawberry.field(description="How the price is computed.")
    currency: CurrencyCode = strawberry.field(description="ISO 4217 code of the price.")
    billing_mode: BillingMode = strawberry.field(
        default=BillingMode.LICENSED, description="LICENSED (default) or METERED."
    )
    metric_code: str | None = strawberry.field(
        default=None, description="The billable metric a METERED price charges for."
    )
    amount: Decimal | None = strawberry.field(default=None, description="FLAT_FEE per period.")
    unit_amount: Decimal | None = strawberry.field(default=None, description="PER_UNIT price.")
    tiers: list[TierInput] | None = strawberry.field(
        default=None, description="GRADUATED or VOLUME tiers, ascending; the last open-ended."
    )
    package_amount: Decimal | None = strawberry.field(
        default=None, description="PACKAGE: the price of one block."
    )
    package_size: int | None = strawberry.field(
        default=None, description="PACKAGE: units per block; a partial block counts whole."
    )
    rate: Decimal | None = strawberry.field(
        default=None, description='PERCENTAGE: percent of each transaction ("2.9").'
    )
    fixed_amount: Decimal | None = strawberry.field(
        default=None, description="PERCENTAGE: fixed fee per transaction."
    )
    min_amount: Decimal | None = strawberry.field(
        default=None, description="PERCENTAGE: minimum fee per transaction."
    )
    max_amount: Decimal | None = strawberry.field(
        default=None, description="PERCENTAGE: maximum fee per transaction."
    )


@strawberry.input(description="A new plan with its prices.")
class CreatePlanInput:
    code: str = strawberry.field(description="Unique in your account, e.g. `pro-monthly`.")
    name: str = strawberry.field(description="1 to 200 characters.")
    interval: Interval = strawberry.field(description="The unit of the billing period.")
    prices: list[PriceInput] = strawberry.field(
        description="1 to 20 prices, in one or more currencies. They can be replaced only "
        "while no subscription uses the plan."
    )
    interval_count: int = strawberry.field(default=1, description="Periods of 1 to 36 units.")
    description: str | None = strawberry.field(default=None, description="For customers.")
    trial_days: int = strawberry.field(default=0, description="Free days before billing.")
    minimum_commitments: list[MoneyInput] | None = strawberry.field(
        default=None, description="A minimum spend per period, at most one per currency."
    )


@strawberry.input(
    description="Changes to a plan; omitted fields stay as they are. Name, description and "
    "trial can always change. Prices and minimum commitments can be replaced only while no "
    "subscription uses the plan (else `IN_USE`: create a new plan, a new version, instead)."
)
class UpdatePlanInput:
    id: strawberry.ID = strawberry.field(description="The plan (`plan_…`).")
    name: str | None = strawberry.field(default=None, description="A new name.")
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new description; null clears it."
    )
    trial_days: int | None = strawberry.field(default=None, description="A new trial length.")
    prices: list[PriceInput] | None = strawberry.field(
        default=None,
        description="Replaces all prices (1 to 20); each gets a new id. Checked like "
        "`createPlan`'s.",
    )
    minimum_commitments: list[MoneyInput] | None = strawberry.field(
        default=None,
        description="Replaces the minimum commitments; [] removes them.",
    )


@strawberry.input(description="The plan to archive.")
class ArchivePlanInput:
    id: strawberry.ID = strawberry.field(description="The plan (`plan_…`).")


@strawberry.input(description="Narrows the plans list.")
class PlanFilter:
    archived: bool | None = strawberry.field(
        default=None, description="true: only archived; false: only active; null: both."
    )


@strawberry.input(description="Sort order of the plans list (by creation time).")
class PlanOrder:
    direction: SortDirection = strawberry.field(
        default=SortDirection.DESC, description="DESC lists the newest first."
    )
