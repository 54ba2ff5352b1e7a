"""Customers: someone a merchant bills. Types, inputs and enums of the concept."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

import domain.customers as customers_domain
import domain.taxes as taxes_domain
from auth.scopes import (
    CATALOG_READ,
    CUSTOMERS_READ,
    INVOICES_READ,
    PAYMENTS_READ,
    SUBSCRIPTIONS_READ,
    requires,
)
from resolvers import balances as balance_resolvers
from resolvers import customers as customer_resolvers
from resolvers import invoices as invoice_resolvers
from resolvers import payment_methods as payment_method_resolvers
from resolvers import subscriptions as subscription_resolvers
from resolvers import usage as usage_resolvers
from resolvers.errors import Outcome
from schema.balances import CustomerBalanceTransaction
from schema.connections import SortDirection
from schema.errors import UserError, user_errors_from
from schema.events import Event
from schema.fields import each, returning
from schema.invoices import Invoice
from schema.money import Money
from schema.nodes import Node
from schema.payment_methods import PaymentMethod
from schema.scalars import JSON, CurrencyCode
from schema.subscriptions import Subscription
from schema.usage import Usage, UsageCharge

# The domain's enum class itself, registered as a GraphQL enum (see schema/errors.py).
strawberry.enum(customers_domain.TaxIdType, name="TaxIdType", description="The kind of a tax id.")
TaxIdType = customers_domain.TaxIdType

strawberry.enum(
    taxes_domain.TaxExemption,
    name="TaxExemption",
    description="A customer's tax status. NONE: taxed by your tax rates for their address. "
    "EXEMPT: never taxed. REVERSE: a business that accounts for the tax itself (EU reverse "
    'charge): not taxed, and its invoices say "Reverse charge".',
)
TaxExemption = taxes_domain.TaxExemption


@strawberry.type(description="A postal address.")
class Address:
    line1: str | None = strawberry.field(description="Street and number.")
    line2: str | None = strawberry.field(description="Apartment, suite, building.")
    city: str | None = strawberry.field(description="City or locality.")
    state: str | None = strawberry.field(description="State, county, province or region.")
    postal_code: str | None = strawberry.field(description="Postal or ZIP code.")
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 country code, e.g. `DE`.")

    @classmethod
    def from_domain(cls, address: customers_domain.Address) -> Address:
        return cls(
            line1=address.line1,
            line2=address.line2,
            city=address.city,
            state=address.state,
            postal_code=address.postal_code,
            country=address.country,
        )


@strawberry.type(description="A customer's tax registration, printed on invoices.")
class TaxId:
    type: TaxIdType = strawberry.field(description="Which registry the id belongs to.")
    value: str = strawberry.field(description="The id as registered, e.g. `DE123456789`.")

    @classmethod
    def from_domain(cls, tax_id: customers_domain.TaxId) -> TaxId:
        return cls(type=tax_id.type, value=tax_id.value)


@strawberry.type(description="Someone a merchant bills.")
class Customer(Node):
    name: str = strawberry.field(description="Legal or display name, 1 to 200 characters.")
    email: str | None = strawberry.field(description="Billing email address, normalised.")
    currency: CurrencyCode = strawberry.field(description="The currency the customer is billed in.")
    external_id: str | None = strawberry.field(
        description="The merchant's own id for this customer; unique within the account."
    )
    address: Address | None = strawberry.field(description="Billing address; sets tax rules.")
    tax_ids: list[TaxId] = strawberry.field(description="Tax registrations, up to 5.")
    metadata: JSON = strawberry.field(description="The merchant's own key/value strings.")
    balance: Money = strawberry.field(
        description=(
            "Amount carried to the next invoices, in the customer's currency: negative is a "
            "credit in the customer's favour, positive is owed (Stripe's convention)."
        )
    )
    created_at: datetime = strawberry.field(description="When the customer was created.")
    updated_at: datetime = strawberry.field(description="When its details last changed.")
    archived: bool = strawberry.field(description="Archived customers are kept but not billed.")
    archived_at: datetime | None = strawberry.field(description="When it was archived.")
    tax_exempt: TaxExemption = strawberry.field(
        description="Tax status: whether and how the customer's invoices are taxed."
    )
    preferred_locale: str = strawberry.field(
        description="Language (and territory) of the customer's invoices, e.g. `fr` or `de_CH`."
    )
    net_terms_days: int = strawberry.field(
        description="Days from an invoice's finalization to its due date (0 to 365)."
    )
    recent_events: list[Event] = strawberry.field(
        resolver=returning(each(Event.from_domain), customer_resolvers.recent_events),
        description="The newest events about this customer, newest first.",
        permission_classes=[requires(CUSTOMERS_READ)],
    )
    subscriptions: list[Subscription] = strawberry.field(
        resolver=returning(
            each(Subscription.from_domain), subscription_resolvers.customer_subscriptions
        ),
        description="Its subscriptions, newest first (at most 100).",
        permission_classes=[requires(SUBSCRIPTIONS_READ)],
    )
    invoices: list[Invoice] = strawberry.field(
        resolver=returning(each(Invoice.from_domain), invoice_resolvers.customer_invoices),
        description="Its newest invoices, newest first (`first`: 1 to 100, default 10); "
        "`invoices(filter: {customerId})` pages through all of them.",
        permission_classes=[requires(INVOICES_READ)],
    )
    usage: Usage | None = strawberry.field(
        resolver=returning(Usage.from_domain, usage_resolvers.customer_usage),
        description="Usage of a billable metric in [from, to), aggregated in the database; "
        "null when no such metric exists.",
        permission_classes=[requires(CUSTOMERS_READ)],
    )
    usage_charge: UsageCharge | None = strawberry.field(
        resolver=returning(UsageCharge.from_domain, usage_resolvers.customer_usage_charge),
        description="What the usage in [from, to) costs under a metered price (`price_…`); "
        "null when no such price exists.",
        permission_classes=[requires(CUSTOMERS_READ), requires(CATALOG_READ)],
    )
    payment_methods: list[PaymentMethod] = strawberry.field(
        resolver=returning(
            each(PaymentMethod.from_domain), payment_method_resolvers.customer_payment_methods
        ),
        description="Its attached payment methods, the default first, then newest first "
        "(at most 100).",
        permission_classes=[requires(PAYMENTS_READ)],
    )
    balance_transactions: list[CustomerBalanceTransaction] = strawberry.field(
        resolver=returning(
            each(CustomerBalanceTransaction.from_domain),
            balance_resolvers.customer_balance_transactions,
        ),
        description="The newest changes of its balance, newest first (`first`: 1 to 100, "
        "default 10); `balance` is their sum over all time.",
        permission_classes=[requires(CUSTOMERS_READ)],
    )
    default_payment_method: PaymentMethod | None = strawberry.field(
        resolver=returning(
            PaymentMethod.from_domain, payment_method_resolvers.customer_default_payment_method
        ),
        description="The payment method automatic collection charges; null when none is set.",
        permission_classes=[requires(PAYMENTS_READ)],
    )

    @classmethod
    def from_domain(cls, customer: customers_domain.Customer) -> Customer:
        return cls(
            id=strawberry.ID(customer.id),
            name=customer.name,
            email=customer.email,
            currency=CurrencyCode(customer.currency),
            external_id=customer.external_id,
            address=Address.from_domain(customer.address) if customer.address else None,
            tax_ids=[TaxId.from_domain(tax_id) for tax_id in customer.tax_ids],
            metadata=JSON(customer.metadata),
            balance=Money.from_domain(customer.balance),
            created_at=customer.created_at,
            updated_at=customer.updated_at,
            archived=customer.archived,
            archived_at=customer.archived_at,
            tax_exempt=TaxExemption(customer.tax_exempt),
            preferred_locale=customer.preferred_locale,
            net_terms_days=customer.net_terms_days,
        )


@strawberry.type(description="Result of `createCustomer`.")
class CreateCustomerPayload:
    customer: Customer | None = strawberry.field(description="The new customer; null on errors.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(cls, outcome: Outcome[customers_domain.Customer]) -> CreateCustomerPayload:
        return cls(
            customer=None if outcome.value is None else Customer.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.type(description="Result of `updateCustomer`.")
class UpdateCustomerPayload:
    customer: Customer | None = strawberry.field(description="The customer after the change.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(cls, outcome: Outcome[customers_domain.Customer]) -> UpdateCustomerPayload:
        return cls(
            customer=None if outcome.value is None else Customer.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.type(description="Result of `archiveCustomer`.")
class ArchiveCustomerPayload:
    customer: Customer | None = strawberry.field(description="The archived customer.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )

    @classmethod
    def from_domain(cls, outcome: Outcome[customers_domain.Customer]) -> ArchiveCustomerPayload:
        return cls(
            customer=None if outcome.value is None else Customer.from_domain(outcome.value),
            user_errors=user_errors_from(outcome.errors),
        )


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
    tax_exempt: TaxExemption = strawberry.field(
        default=TaxExemption.NONE, description="Tax status; NONE unless said otherwise."
    )
    preferred_locale: str = strawberry.field(
        default="en",
        description='Language of its invoices, optionally with a territory: "en", "fr", '
        '"de_CH" (`de-CH` is read as `de_CH`). Unknown locales are `INVALID`.',
    )
    net_terms_days: int = strawberry.field(
        default=30, description="Days from finalization to an invoice's due date, 0 to 365."
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
    tax_exempt: TaxExemption | None = strawberry.field(
        default=strawberry.UNSET, description="A new tax status; cannot be null."
    )
    preferred_locale: str | None = strawberry.field(
        default=strawberry.UNSET,
        description='A new invoice locale such as "fr" or "de_CH"; cannot be null.',
    )
    net_terms_days: int | None = strawberry.field(
        default=strawberry.UNSET, description="New payment terms, 0 to 365 days; cannot be null."
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
