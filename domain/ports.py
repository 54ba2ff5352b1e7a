"""What the services need from the outside world; `infra/` implements it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Protocol

from domain.accounts import Account
from domain.audit import AuditReads, AuditRepository
from domain.balances import BalanceReads, BalanceRepository
from domain.coupons import Coupon, Discount
from domain.credit_notes import CreditNoteReads, CreditNoteRepository
from domain.customers import Customer, CustomerDraft
from domain.events import Event
from domain.invoice_payments import PaymentReads, PaymentRepository
from domain.invoices import Invoice, InvoiceLine, NumberTemplate
from domain.metrics import BillableMetric, MetricDraft
from domain.payment_methods import PaymentMethodReads, PaymentMethodRepository
from domain.plans import Plan, PlanDraft, PlanPrice
from domain.pricing import Percentage, TransactionFees
from domain.privacy import PrivacyReads, PrivacyRepository
from domain.queries import (
    CouponFilter,
    CustomerFilter,
    CustomerSort,
    EventFilter,
    InvoiceFilter,
    PageRequest,
    SubscriptionFilter,
    TaxRateFilter,
)
from domain.refunds import RefundReads, RefundRepository
from domain.subscriptions import Subscription
from domain.taxes import TaxRate, TaxRateDraft
from domain.usage import UsageEvent
from domain.webhook_deliveries import WebhookDeliveryReads, WebhookDeliveryRepository
from domain.webhooks import WebhookEndpointReads, WebhookEndpointRepository


class CustomerRepository(Protocol):
    async def get(self, customer_id: str, *, for_update: bool = False) -> Customer | None: ...

    async def get_many(self, customer_ids: Collection[str]) -> dict[str, Customer]: ...

    async def add(self, customer_id: str, draft: CustomerDraft) -> Customer:
        """Stores a new customer; raises DomainError(DUPLICATE) if its external id is taken."""
        ...

    async def save(self, customer: Customer) -> Customer:
        """Stores changed details; raises DomainError(DUPLICATE) if its external id is taken."""
        ...

    async def archive(self, customer_id: str) -> Customer: ...


class PlanRepository(Protocol):
    async def add(self, plan_id: str, price_ids: list[str], draft: PlanDraft) -> Plan:
        """Stores a plan and its prices; raises DomainError(DUPLICATE) if its code is taken."""
        ...

    async def get(
        self, plan_id: str, *, for_update: bool = False, for_share: bool = False
    ) -> Plan | None:
        """`for_share`: a share lock, so prices cannot be replaced (FOR UPDATE) meanwhile."""
        ...

    async def get_many(self, plan_ids: Collection[str]) -> dict[str, Plan]: ...

    async def save(self, plan: Plan) -> Plan:
        """Stores what may change: name, description, trial, prices, minimum commitments."""
        ...

    async def has_subscriptions(self, plan_id: str) -> bool:
        """Whether any subscription uses the plan (its prices are then fixed)."""
        ...

    async def archive(self, plan_id: str) -> Plan: ...


class MetricRepository(Protocol):
    async def add(self, metric_id: str, draft: MetricDraft) -> BillableMetric:
        """Stores a new metric; raises DomainError(DUPLICATE) if its code is taken."""
        ...

    async def by_codes(self, codes: set[str]) -> dict[str, BillableMetric]: ...


@dataclass(frozen=True, slots=True)
class CustomerRefs:
    """Active customers' ids, found by id and by the merchant's external id."""

    by_id: dict[str, str]
    by_external_id: dict[str, str]


class UsageRepository(Protocol):
    async def customer_ids(self, ids: set[str], external_ids: set[str]) -> CustomerRefs: ...

    async def add_new(self, events: list[UsageEvent]) -> int:
        """Stores the events whose idempotency keys are new; answers how many were stored."""
        ...

    async def quantities(
        self, customer_ids: Sequence[str], metric: BillableMetric, start: datetime, end: datetime
    ) -> dict[str, tuple[Decimal, int]]:
        """As UsageReads.by_customers, in the unit of work's transaction (billing)."""
        ...

    async def percentage_fees(
        self,
        customer_ids: Sequence[str],
        metric: BillableMetric,
        model: Percentage,
        start: datetime,
        end: datetime,
    ) -> dict[str, TransactionFees]:
        """Each customer's transactions of the metric in [start, end) priced under `model`,
        summed where they are stored: how many, their volume, the sum of their fees (each
        rounded once and held within the minimum and maximum, as `domain.pricing` does);
        absent when none. Fees beyond what `Money` holds are a `DomainError` at
        ("usage", customer id)."""
        ...


class EventRepository(Protocol):
    async def add(self, event_type: str, object_id: str, data: dict[str, Any]) -> Event: ...

    async def add_many(self, items: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """(type, object id, data) each, in order, in one statement."""
        ...


class SubscriptionRepository(Protocol):
    async def add(self, subscription: Subscription) -> Subscription: ...

    async def get(
        self, subscription_id: str, *, for_update: bool = False
    ) -> Subscription | None: ...

    async def save(self, subscription: Subscription) -> Subscription:
        """Stores its status, plan, prices (items), quantity, period and cancellation."""
        ...

    async def save_many(self, subscriptions: Sequence[Subscription]) -> None:
        """Stores the billing run's changes (status, period) in one statement."""
        ...

    async def claim_due(self, as_of: datetime, limit: int) -> list[Subscription]:
        """Up to `limit` live subscriptions whose period ended by `as_of`, locked; those
        another transaction holds are skipped (FOR UPDATE SKIP LOCKED), so any number of
        workers share the work."""
        ...


class InvoiceRepository(Protocol):
    async def add(self, invoices: Sequence[Invoice], *, with_lines: bool = True) -> None:
        """Stores new invoices with their lines (one statement per table); without them
        when `add_lines` stored them already in this transaction."""
        ...

    async def add_lines(self, invoices: Sequence[Invoice]) -> None:
        """Stores the lines of invoices to be added later in this transaction (the billing
        run writes them before it takes the invoices' numbers), in one statement."""
        ...

    async def get(self, invoice_id: str, *, for_update: bool = False) -> Invoice | None: ...

    async def save(self, invoice: Invoice) -> Invoice:
        """Stores a changed invoice: a draft's lines and totals, or a new status."""
        ...

    async def claim_drafts(self, created_by: datetime, limit: int) -> list[Invoice]:
        """Up to `limit` of the billing run's drafts created by then, with their lines,
        locked; those another transaction holds are skipped (FOR UPDATE SKIP LOCKED)."""
        ...

    async def others_in_dunning(self, subscription_id: str, invoice_id: str) -> bool:
        """Whether another open invoice of the subscription has failed automatic attempts."""
        ...

    async def claim_collectable(self, as_of: datetime, limit: int) -> list[Invoice]:
        """Up to `limit` open invoices whose automatic collection is due by `as_of`
        (without their lines), locked; those others hold are skipped."""
        ...

    async def set_template(self, template: NumberTemplate) -> None:
        """The tenant's invoice number template from now on (the counter goes on)."""
        ...

    async def take_numbers(self, count: int) -> tuple[NumberTemplate, int]:
        """Reserves the tenant's next `count` invoice numbers in this transaction (gapless:
        a rollback gives them back) and answers the template and the first of them."""
        ...


class CouponRepository(Protocol):
    async def add(self, coupon: Coupon) -> Coupon: ...

    async def get(self, coupon_id: str) -> Coupon | None: ...

    async def redeem(self, coupon_id: str) -> bool:
        """Counts one redemption unless the maximum is reached (answers False then)."""
        ...


class DiscountRepository(Protocol):
    async def add(self, discount: Discount) -> Discount: ...

    async def live_for(self, customer_ids: Sequence[str]) -> list[Discount]:
        """The customers' discounts that have not ended, oldest first."""
        ...

    async def mark_invoiced_once(self, discount_ids: Sequence[str]) -> None: ...


class TaxRateRepository(Protocol):
    async def add(self, rate_id: str, draft: TaxRateDraft) -> TaxRate:
        """Stores a validated rate; the database stamps its creation time."""
        ...

    async def active_rates(self, country: str) -> list[TaxRate]: ...


class Clock(Protocol):
    """The current time, as the services see it: the system's in production, a fixed one in
    tests."""

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class UnitOfWork(Protocol):
    """One atomic change for one tenant: leaving without `commit()` undoes everything."""

    tenant_id: str
    customers: CustomerRepository
    events: EventRepository
    metrics: MetricRepository
    usage: UsageRepository
    plans: PlanRepository
    subscriptions: SubscriptionRepository
    invoices: InvoiceRepository
    coupons: CouponRepository
    discounts: DiscountRepository
    tax_rates: TaxRateRepository
    payment_methods: PaymentMethodRepository
    payments: PaymentRepository
    refunds: RefundRepository
    webhook_endpoints: WebhookEndpointRepository
    credit_notes: CreditNoteRepository
    balances: BalanceRepository
    webhook_deliveries: WebhookDeliveryRepository
    audit: AuditRepository
    privacy: PrivacyRepository

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


# The read ports: one per concept, bound to one request's tenant transaction. Each call is
# one SQL statement; batch reads answer in key order, with None (or an empty list) for a key
# not found.


class AccountReads(Protocol):
    async def by_ids(self, ids: Sequence[str]) -> list[Account | None]: ...


class CustomerReads(Protocol):
    async def by_ids(self, ids: Sequence[str]) -> list[Customer | None]: ...

    async def page(
        self, where: CustomerFilter, sort: CustomerSort, descending: bool, page: PageRequest
    ) -> list[Customer]:
        """Up to `page.limit + 1` customers in the order asked (backwards pages reversed)."""
        ...

    async def count(self, where: CustomerFilter) -> int: ...


class EventReads(Protocol):
    async def by_ids(self, ids: Sequence[str]) -> list[Event | None]: ...

    async def page(
        self, where: EventFilter, descending: bool, page: PageRequest
    ) -> list[Event]: ...

    async def count(self, where: EventFilter) -> int: ...

    async def recent_by_objects(
        self, object_ids: Sequence[str], limit: int, types: Sequence[str]
    ) -> list[list[Event]]: ...


class MetricReads(Protocol):
    async def by_ids(self, ids: Sequence[str]) -> list[BillableMetric | None]: ...

    async def by_codes(self, codes: set[str]) -> dict[str, BillableMetric]: ...

    async def page(
        self, codes: Sequence[str] | None, descending: bool, page: PageRequest
    ) -> list[BillableMetric]: ...

    async def count(self, codes: Sequence[str] | None) -> int: ...


class PlanReads(Protocol):
    async def by_ids(self, ids: Sequence[str]) -> list[Plan | None]: ...

    async def page(
        self, archived: bool | None, descending: bool, page: PageRequest
    ) -> list[Plan]: ...

    async def count(self, archived: bool | None) -> int: ...

    async def prices_by_ids(self, ids: Sequence[str]) -> list[PlanPrice | None]: ...


class CouponReads(Protocol):
    async def by_ids(self, ids: Sequence[str]) -> list[Coupon | None]: ...

    async def page(
        self, where: CouponFilter, descending: bool, page: PageRequest
    ) -> list[Coupon]: ...

    async def count(self, where: CouponFilter) -> int: ...

    async def discounts_by_ids(self, ids: Sequence[str]) -> list[Discount | None]:
        """Discounts with their coupons."""
        ...


class TaxRateReads(Protocol):
    async def by_ids(self, ids: Sequence[str]) -> list[TaxRate | None]: ...

    async def page(
        self, where: TaxRateFilter, descending: bool, page: PageRequest
    ) -> list[TaxRate]: ...

    async def count(self, where: TaxRateFilter) -> int: ...


class UsageReads(Protocol):
    async def by_customers(
        self, customer_ids: Sequence[str], metric: BillableMetric, start: datetime, end: datetime
    ) -> dict[str, tuple[Decimal, int]]:
        """Each customer's quantity and event count in [start, end); absent when none."""
        ...

    async def value_counts_by_customers(
        self, customer_ids: Sequence[str], metric: BillableMetric, start: datetime, end: datetime
    ) -> dict[str, list[tuple[Decimal, int]]]:
        """Each customer's distinct event values in [start, end) with their event counts."""
        ...

    async def percentage_fees(
        self,
        customer_ids: Sequence[str],
        metric: BillableMetric,
        model: Percentage,
        start: datetime,
        end: datetime,
    ) -> dict[str, TransactionFees]:
        """As `UsageRepository.percentage_fees`, in the request's tenant (previews)."""
        ...


class SubscriptionReads(Protocol):
    async def by_ids(self, ids: Sequence[str]) -> list[Subscription | None]: ...

    async def page(
        self, where: SubscriptionFilter, descending: bool, page: PageRequest
    ) -> list[Subscription]: ...

    async def count(self, where: SubscriptionFilter) -> int: ...

    async def by_customers(self, customer_ids: Sequence[str]) -> list[list[Subscription]]:
        """Each customer's subscriptions, newest first (at most 100 each)."""
        ...


class InvoiceReads(Protocol):
    async def by_ids(self, ids: Sequence[str]) -> list[Invoice | None]:
        """Invoices without their lines (`lines_by_invoices` reads those)."""
        ...

    async def page(
        self, where: InvoiceFilter, descending: bool, page: PageRequest
    ) -> list[Invoice]: ...

    async def count(self, where: InvoiceFilter) -> int: ...

    async def lines_by_invoices(self, invoice_ids: Sequence[str]) -> list[list[InvoiceLine]]: ...

    async def numbering(self) -> tuple[NumberTemplate, int]:
        """The tenant's number template and the last number given (0: none yet)."""
        ...

    async def recent_by_parents(
        self, column: str, parent_ids: Sequence[str], limit: int
    ) -> list[list[Invoice]]:
        """Each parent's newest invoices (`column`: customer_id or subscription_id)."""
        ...


class Reads(Protocol):
    """The reads of one request, within its tenant: one port per concept."""

    accounts: AccountReads
    customers: CustomerReads
    events: EventReads
    metrics: MetricReads
    plans: PlanReads
    coupons: CouponReads
    tax_rates: TaxRateReads
    usage: UsageReads
    subscriptions: SubscriptionReads
    invoices: InvoiceReads
    payment_methods: PaymentMethodReads
    payments: PaymentReads
    refunds: RefundReads
    webhook_endpoints: WebhookEndpointReads
    credit_notes: CreditNoteReads
    balances: BalanceReads
    webhook_deliveries: WebhookDeliveryReads
    audit: AuditReads
    privacy: PrivacyReads
