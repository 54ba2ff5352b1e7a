"""Object types of the contract. Each is built from a domain object by one `from_domain`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Generic, TypeVar

import strawberry

import domain.customers as customers_domain
import domain.metrics as metrics_domain
import domain.plans as plans_domain
import domain.pricing as pricing_domain
from auth.scopes import CATALOG_READ, CUSTOMERS_READ, requires
from domain.errors import FieldError
from domain.events import Event as DomainEvent
from domain.money import Money as DomainMoney
from domain.money import format_money
from resolvers import customers as customer_resolvers
from resolvers import events as event_resolvers
from resolvers import plans as plan_resolvers
from resolvers import usage as usage_resolvers
from schema.enums import (
    Aggregation,
    BillingMode,
    Interval,
    PriceModelKind,
    TaxIdType,
    UserErrorCode,
)
from schema.scalars import JSON, CurrencyCode


@strawberry.interface(description="An object with a globally unique, prefixed, opaque id.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque id with a type prefix (`cus_…`, `evt_…`). Resolve it with `node`."
    )


@strawberry.type(description="One thing wrong with a mutation's input. Nothing was written.")
class UserError:
    code: UserErrorCode = strawberry.field(description="Machine-readable reason.")
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. `["input", "email"]`.'
    )
    message: str = strawberry.field(description="Explanation for humans; may change.")

    @classmethod
    def from_domain(cls, error: FieldError) -> UserError:
        return cls(
            code=error.code,
            field=list(error.field) if error.field is not None else None,
            message=error.message,
        )


@strawberry.type(description="An exact amount of one currency.")
class Money:
    amount: Decimal = strawberry.field(
        description="Decimal string with exactly the currency's minor-unit digits."
    )
    currency: CurrencyCode = strawberry.field(description="ISO 4217 code.")
    formatted: str = strawberry.field(
        resolver=lambda root: format_money(root.money),
        description="For display in en-US conventions, e.g. `$12.50` or `¥1,000`.",
    )
    money: strawberry.Private[DomainMoney]

    @classmethod
    def from_domain(cls, money: DomainMoney) -> Money:
        return cls(amount=money.amount, currency=CurrencyCode(money.currency), money=money)


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


@strawberry.type(description="A state change, recorded in the same transaction as the change.")
class Event(Node):
    type: str = strawberry.field(description="`customer.created`, `customer.updated`, ...")
    object_id: strawberry.ID = strawberry.field(description="Id of the object that changed.")
    data: JSON = strawberry.field(description="The object as it was right after the change.")
    created_at: datetime = strawberry.field(description="When the change was committed.")
    subject: Node | None = strawberry.field(
        resolver=event_resolvers.subject,
        description="The object that changed, as it is now (null if you may not read it).",
    )

    @classmethod
    def from_domain(cls, event: DomainEvent) -> Event:
        return cls(
            id=strawberry.ID(event.id),
            type=event.type,
            object_id=strawberry.ID(event.object_id),
            data=JSON(event.data),
            created_at=event.created_at,
        )


@strawberry.type(description="What usage is counted for billing, and how it is aggregated.")
class BillableMetric(Node):
    code: str = strawberry.field(
        description="Unique in your account; usage events and metered prices name it."
    )
    name: str = strawberry.field(description="For people: shown on dashboards and invoices.")
    aggregation: Aggregation = strawberry.field(description="How events become a quantity.")
    property: str | None = strawberry.field(
        description="The event property aggregated (null for COUNT)."
    )
    filters: JSON = strawberry.field(
        description="Only events whose properties have one of these values count, "
        'e.g. `{"region": ["eu"]}`.'
    )
    created_at: datetime = strawberry.field(description="When the metric was created.")

    @classmethod
    def from_domain(cls, metric: metrics_domain.BillableMetric) -> BillableMetric:
        return cls(
            id=strawberry.ID(metric.id),
            code=metric.code,
            name=metric.name,
            aggregation=metric.aggregation,
            property=metric.property,
            filters=JSON(metric.filters),
            created_at=metric.created_at,
        )


@strawberry.type(description="A customer's usage of one metric over a time window.")
class Usage:
    metric: BillableMetric = strawberry.field(description="The metric measured.")
    quantity: Decimal = strawberry.field(
        description="The window's events aggregated as the metric says (0 with no events)."
    )
    event_count: int = strawberry.field(description="Events counted in the window.")
    start: datetime = strawberry.field(name="from", description="Start of the window, inclusive.")
    end: datetime = strawberry.field(name="to", description="End of the window, exclusive.")


@strawberry.type(
    description="What a customer's usage in [from, to) costs under a metered price, before "
    "discounts and taxes."
)
class UsageCharge:
    price: Price = strawberry.field(description="The metered price.")
    metric: BillableMetric = strawberry.field(description="The metric the price charges.")
    quantity: Decimal = strawberry.field(description="The window's usage, aggregated.")
    event_count: int = strawberry.field(description="Events counted in the window.")
    breakdown: PriceBreakdown = strawberry.field(
        description="The amount line by line. A PERCENTAGE price has at most three lines, "
        "however many transactions: those charged the rate, those held at the minimum, those "
        "held at the maximum (`count` transactions, `quantity` their volume); each fee is "
        "rounded once on its own transaction."
    )
    start: datetime = strawberry.field(name="from", description="Start of the window, inclusive.")
    end: datetime = strawberry.field(name="to", description="End of the window, exclusive.")


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
    recent_events: list[Event] = strawberry.field(
        resolver=customer_resolvers.recent_events,
        description="The newest events about this customer, newest first.",
        permission_classes=[requires(CUSTOMERS_READ)],
    )
    usage: Usage | None = strawberry.field(
        resolver=usage_resolvers.customer_usage,
        description="Usage of a billable metric in [from, to), aggregated in the database; "
        "null when no such metric exists.",
        permission_classes=[requires(CUSTOMERS_READ)],
    )
    usage_charge: UsageCharge | None = strawberry.field(
        resolver=usage_resolvers.customer_usage_charge,
        description="What the usage in [from, to) costs under a metered price (`price_…`); "
        "null when no such price exists.",
        permission_classes=[requires(CUSTOMERS_READ), requires(CATALOG_READ)],
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
        )


@strawberry.type(description="A merchant: the tenant every object belongs to.")
class Account:
    id: strawberry.ID = strawberry.field(description="The account id: the `tenant` of tokens.")
    name: str = strawberry.field(description="The merchant's name.")
    created_at: datetime = strawberry.field(description="When the account was opened.")


@strawberry.type(description="Who is calling: the account and what the token allows.")
class Viewer:
    account: Account | None = strawberry.field(description="The merchant the token acts for.")
    client_id: str = strawberry.field(description="The OAuth client (or subject) of the token.")
    scopes: list[str] = strawberry.field(description="The scopes granted to this token.")


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow `endCursor`.")
    has_previous_page: bool = strawberry.field(description="More items precede `startCursor`.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge: pass it as `after` for the next page."
    )


T = TypeVar("T")


@strawberry.type(description="One item of a list, with the cursor that points at it.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque position of this item in the list.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list (Relay cursor connection).")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages exist.")
    total_count: int = strawberry.field(
        resolver=lambda root: root.count_total(),
        description="Items matching the filter across all pages (counted only when asked).",
    )
    count_total: strawberry.Private[object]


@strawberry.type(description="Result of `createCustomer`.")
class CreateCustomerPayload:
    customer: Customer | None = strawberry.field(description="The new customer; null on errors.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )


@strawberry.type(description="Result of `updateCustomer`.")
class UpdateCustomerPayload:
    customer: Customer | None = strawberry.field(description="The customer after the change.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )


@strawberry.type(description="Result of `archiveCustomer`.")
class ArchiveCustomerPayload:
    customer: Customer | None = strawberry.field(description="The archived customer.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )


@strawberry.type(description="Result of `createBillableMetric`.")
class CreateBillableMetricPayload:
    billable_metric: BillableMetric | None = strawberry.field(
        description="The new metric; null on errors."
    )
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )


@strawberry.type(description="An event of a `recordUsage` batch that was not recorded.")
class UsageEventError:
    index: int = strawberry.field(description="Position of the event in `input.events`.")
    code: UserErrorCode = strawberry.field(description="Machine-readable reason.")
    field: list[str] | None = strawberry.field(
        description='Path to the field at fault, e.g. `["input", "events", "3", "timestamp"]`.'
    )
    message: str = strawberry.field(description="Explanation for humans; may change.")


@strawberry.type(
    description="Result of `recordUsage`: valid events are kept even when others are not."
)
class RecordUsagePayload:
    accepted: int = strawberry.field(description="Events recorded by this call.")
    duplicates: int = strawberry.field(
        description="Valid events whose idempotency key was already recorded: counted once."
    )
    rejected: list[UsageEventError] = strawberry.field(
        description="Events not recorded, by index, with the reason."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Errors of the whole batch (such as more than 1,000 events): "
        "then nothing was recorded."
    )


@strawberry.type(description="One tier of a graduated or volume price.")
class PriceTier:
    up_to: Decimal | None = strawberry.field(
        description="Last quantity of the tier, inclusive; null for the open-ended last tier."
    )
    unit_amount: Decimal = strawberry.field(description="Price per unit, in major units.")
    flat_amount: Money | None = strawberry.field(description="Flat fee once the tier is reached.")


@strawberry.type(description="One line of a computed price.")
class PriceLine:
    description: str = strawberry.field(description='For people, e.g. "6 to 10".')
    tier: int | None = strawberry.field(description="Index of the tier (tiered prices).")
    quantity: Decimal = strawberry.field(description="Quantity priced on this line.")
    unit_amount: Decimal | None = strawberry.field(description="Price per unit on this line.")
    flat_amount: Money | None = strawberry.field(description="Flat fee on this line.")
    amount: Money = strawberry.field(description="The line's amount, rounded once (half-up).")
    count: int = strawberry.field(
        description="Transactions the line stands for (a PERCENTAGE price of usage: "
        "`quantity` is their volume, `amount` the sum of their fees); 1 otherwise."
    )


@strawberry.type(description="How a price turns a quantity into an amount, line by line.")
class PriceBreakdown:
    total: Money = strawberry.field(description="The sum of the lines.")
    lines: list[PriceLine] = strawberry.field(description="The computation, for dashboards.")

    @classmethod
    def from_domain(cls, breakdown: pricing_domain.PriceBreakdown) -> PriceBreakdown:
        return cls(
            total=Money.from_domain(breakdown.total),
            lines=[
                PriceLine(
                    description=line.description,
                    tier=line.tier,
                    quantity=line.quantity,
                    unit_amount=line.unit_amount,
                    flat_amount=Money.from_domain(line.flat_amount) if line.flat_amount else None,
                    amount=Money.from_domain(line.amount),
                    count=line.count,
                )
                for line in breakdown.lines
            ],
        )


@strawberry.type(description="A price of a plan. It never changes once created.")
class Price(Node):
    model: PriceModelKind = strawberry.field(description="How the price is computed.")
    currency: CurrencyCode = strawberry.field(description="ISO 4217 code.")
    billing_mode: BillingMode = strawberry.field(description="LICENSED or METERED.")
    metric_code: str | None = strawberry.field(description="The metric a METERED price charges.")
    amount: Money | None = strawberry.field(description="FLAT_FEE: the amount per period.")
    unit_amount: Decimal | None = strawberry.field(description="PER_UNIT: price per unit.")
    tiers: list[PriceTier] | None = strawberry.field(description="GRADUATED or VOLUME tiers.")
    package_amount: Decimal | None = strawberry.field(description="PACKAGE: price of a block.")
    package_size: int | None = strawberry.field(description="PACKAGE: units per block.")
    rate: Decimal | None = strawberry.field(description="PERCENTAGE: percent per transaction.")
    fixed_amount: Money | None = strawberry.field(description="PERCENTAGE: fixed fee.")
    min_amount: Money | None = strawberry.field(description="PERCENTAGE: minimum fee.")
    max_amount: Money | None = strawberry.field(description="PERCENTAGE: maximum fee.")
    price_for: PriceBreakdown = strawberry.field(
        resolver=plan_resolvers.price_for,
        description="What a quantity costs under this price (whole for a LICENSED price; for "
        "PERCENTAGE: the fee of one transaction of that amount).",
    )
    price_model: strawberry.Private[object]

    @classmethod
    def from_domain(cls, price: plans_domain.PlanPrice) -> Price:
        model = price.model
        money = Money.from_domain
        tiers = getattr(model, "tiers", None)
        return cls(
            id=strawberry.ID(price.id),
            model=PriceModelKind[plans_domain.MODEL_KINDS[type(model)]],
            currency=CurrencyCode(model.currency),
            billing_mode=price.billing_mode,
            metric_code=price.metric_code,
            amount=money(model.amount) if isinstance(model, pricing_domain.FlatFee) else None,
            unit_amount=getattr(model, "unit_amount", None),
            tiers=None
            if tiers is None
            else [
                PriceTier(
                    up_to=t.up_to,
                    unit_amount=t.unit_amount,
                    flat_amount=money(t.flat_amount) if t.flat_amount else None,
                )
                for t in tiers
            ],
            package_amount=getattr(model, "package_amount", None),
            package_size=getattr(model, "package_size", None),
            rate=getattr(model, "rate", None),
            fixed_amount=_money_or_none(getattr(model, "fixed_amount", None)),
            min_amount=_money_or_none(getattr(model, "min_amount", None)),
            max_amount=_money_or_none(getattr(model, "max_amount", None)),
            price_model=model,
        )


def _money_or_none(money: DomainMoney | None) -> Money | None:
    return None if money is None else Money.from_domain(money)


@strawberry.type(description="What a merchant sells: a billing period and its prices.")
class Plan(Node):
    code: str = strawberry.field(description="Unique in your account.")
    name: str = strawberry.field(description="For people.")
    description: str | None = strawberry.field(description="For customers.")
    interval: Interval = strawberry.field(description="Unit of the billing period.")
    interval_count: int = strawberry.field(description="Units per billing period.")
    trial_days: int = strawberry.field(description="Free days before the first bill.")
    prices: list[Price] = strawberry.field(description="Its prices, in order of creation.")
    currencies: list[CurrencyCode] = strawberry.field(description="Currencies it is sold in.")
    minimum_commitments: list[Money] = strawberry.field(
        description="Minimum spend per period, per currency; a shortfall is charged."
    )
    created_at: datetime = strawberry.field(description="When the plan was created.")
    updated_at: datetime = strawberry.field(description="When its details last changed.")
    archived: bool = strawberry.field(description="Archived plans are not sold anymore.")
    archived_at: datetime | None = strawberry.field(description="When it was archived.")

    @classmethod
    def from_domain(cls, plan: plans_domain.Plan) -> Plan:
        return cls(
            id=strawberry.ID(plan.id),
            code=plan.code,
            name=plan.name,
            description=plan.description,
            interval=plan.interval,
            interval_count=plan.interval_count,
            trial_days=plan.trial_days,
            prices=[Price.from_domain(price) for price in plan.prices],
            currencies=[CurrencyCode(c) for c in plan.currencies],
            minimum_commitments=[Money.from_domain(m) for m in plan.minimum_commitments],
            created_at=plan.created_at,
            updated_at=plan.updated_at,
            archived=plan.archived,
            archived_at=plan.archived_at,
        )


@strawberry.type(description="Result of `previewPrice`: a breakdown, or what is wrong.")
class PricePreview:
    breakdown: PriceBreakdown | None = strawberry.field(description="Null on errors.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the price or quantity."
    )


@strawberry.type(description="Result of `createPlan`.")
class CreatePlanPayload:
    plan: Plan | None = strawberry.field(description="The new plan; null on errors.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )


@strawberry.type(description="Result of `updatePlan`.")
class UpdatePlanPayload:
    plan: Plan | None = strawberry.field(description="The plan after the change.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )


@strawberry.type(description="Result of `archivePlan`.")
class ArchivePlanPayload:
    plan: Plan | None = strawberry.field(description="The archived plan.")
    user_errors: list[UserError] = strawberry.field(
        description="What was wrong with the input; empty on success."
    )
