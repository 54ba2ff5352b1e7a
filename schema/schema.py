"""The root types and the Schema, with the limits every request is validated against."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from auth.mutation_scopes import MutationScopes
from auth.scopes import (
    AUDIT_READ,
    CATALOG_READ,
    CATALOG_WRITE,
    CUSTOMERS_READ,
    CUSTOMERS_WRITE,
    INVOICES_READ,
    INVOICES_WRITE,
    PAYMENTS_READ,
    PAYMENTS_WRITE,
    SUBSCRIPTIONS_READ,
    SUBSCRIPTIONS_WRITE,
    USAGE_WRITE,
    WEBHOOKS_MANAGE,
    requires,
)
from resolvers import audit as audit_resolvers
from resolvers import balances as balance_resolvers
from resolvers import coupons as coupon_resolvers
from resolvers import credit_notes as credit_note_resolvers
from resolvers import customers, events, nodes, usage, viewer
from resolvers import invoices as invoice_resolvers
from resolvers import payment_methods as payment_method_resolvers
from resolvers import payments as payment_resolvers
from resolvers import plans as plan_resolvers
from resolvers import privacy as privacy_resolvers
from resolvers import subscriptions as subscription_resolvers
from resolvers import tax_rates as tax_rate_resolvers
from resolvers import webhook_deliveries as webhook_delivery_resolvers
from resolvers import webhooks as webhook_resolvers
from resolvers.audit import audit_operations
from schema.audit import AuditEntry
from schema.balances import AdjustCustomerBalancePayload, CustomerBalanceTransaction
from schema.connections import Connection, connection_of
from schema.cost import QueryCostLimit
from schema.coupons import ApplyCouponPayload, Coupon, CreateCouponPayload
from schema.credit_notes import CreditNote, CreditNotePayload
from schema.customers import (
    ArchiveCustomerPayload,
    CreateCustomerPayload,
    Customer,
    UpdateCustomerPayload,
)
from schema.events import Event
from schema.fields import each, returning
from schema.invoices import (
    Invoice,
    InvoiceNumbering,
    InvoicePayload,
    UpdateInvoiceNumberingPayload,
)
from schema.nodes import Node, node_from_domain
from schema.payment_methods import PaymentMethod, PaymentMethodPayload
from schema.payments import (
    PayInvoicePayload,
    Payment,
    Refund,
    RefundPaymentPayload,
)
from schema.plans import (
    ArchivePlanPayload,
    CreatePlanPayload,
    Plan,
    Price,
    PricePreview,
    UpdatePlanPayload,
)
from schema.privacy import EraseCustomerDataPayload
from schema.scalars import JSON, SCALAR_MAP
from schema.subscriptions import Subscription, SubscriptionPayload
from schema.tax_rates import CreateTaxRatePayload, TaxRate
from schema.usage import BillableMetric, CreateBillableMetricPayload, RecordUsagePayload
from schema.viewer import Viewer
from schema.webhook_deliveries import RetryWebhookDeliveryPayload
from schema.webhooks import (
    CreateWebhookEndpointPayload,
    DeleteWebhookEndpointPayload,
    EnableWebhookEndpointPayload,
    RotateWebhookSecretPayload,
    WebhookEndpoint,
)

# graphql-armor's defaults, loosened where a dashboard's queries need it (OWASP GraphQL).
MAX_DEPTH = 8
MAX_ALIASES = 15
MAX_TOKENS = 2000
# What a query may cost (schema/cost.py): QUERY_COST_LIMIT in the settings, this by default.
DEFAULT_QUERY_COST_LIMIT = 3000


@strawberry.type(description="Everything a merchant can read.")
class Query:
    viewer: Viewer = strawberry.field(
        resolver=returning(Viewer.from_domain, viewer.viewer),
        description="The calling account and the token's scopes.",
    )
    node: Node | None = strawberry.field(
        resolver=returning(node_from_domain, nodes.node),
        description="Any object by id. Unknown, foreign or unreadable ids give null.",
    )
    nodes: list[Node | None] = strawberry.field(
        resolver=returning(each(node_from_domain), nodes.nodes),
        description="Up to 100 objects by id, in the order asked.",
    )
    customer: Customer | None = strawberry.field(
        resolver=returning(Customer.from_domain, customers.customer),
        description="A customer by id; null when it does not exist in your account.",
        permission_classes=[requires(CUSTOMERS_READ)],
    )
    customers: Connection[Customer] = strawberry.field(
        resolver=returning(connection_of(Customer.from_domain), customers.customers),
        description="Customers, newest first unless `orderBy` says otherwise. Page size 1-100.",
        permission_classes=[requires(CUSTOMERS_READ)],
    )
    billable_metrics: Connection[BillableMetric] = strawberry.field(
        resolver=returning(connection_of(BillableMetric.from_domain), usage.billable_metrics),
        description="Billable metrics, newest first. Page size 1-100.",
        permission_classes=[requires(CATALOG_READ)],
    )
    plans: Connection[Plan] = strawberry.field(
        resolver=returning(connection_of(Plan.from_domain), plan_resolvers.plans),
        description="Plans, newest first. Page size 1-100.",
        permission_classes=[requires(CATALOG_READ)],
    )
    plan: Plan | None = strawberry.field(
        resolver=returning(Plan.from_domain, plan_resolvers.plan),
        description="A plan by id; null when it does not exist in your account.",
        permission_classes=[requires(CATALOG_READ)],
    )
    preview_price: PricePreview = strawberry.field(
        resolver=returning(PricePreview.from_domain, plan_resolvers.preview_price),
        description="How a price (not yet saved) turns a quantity into an amount, tier by "
        "tier: for pricing pages and plan editors. A LICENSED quantity is whole.",
        permission_classes=[requires(CATALOG_READ)],
    )
    subscriptions: Connection[Subscription] = strawberry.field(
        resolver=returning(
            connection_of(Subscription.from_domain), subscription_resolvers.subscriptions
        ),
        description="Subscriptions, newest first. Page size 1-100.",
        permission_classes=[requires(SUBSCRIPTIONS_READ)],
    )
    subscription: Subscription | None = strawberry.field(
        resolver=returning(Subscription.from_domain, subscription_resolvers.subscription),
        description="A subscription by id; null when it does not exist in your account.",
        permission_classes=[requires(SUBSCRIPTIONS_READ)],
    )
    invoices: Connection[Invoice] = strawberry.field(
        resolver=returning(connection_of(Invoice.from_domain), invoice_resolvers.invoices),
        description="Invoices, newest first. Page size 1-100.",
        permission_classes=[requires(INVOICES_READ)],
    )
    invoice_numbering: InvoiceNumbering = strawberry.field(
        resolver=returning(InvoiceNumbering.from_domain, invoice_resolvers.invoice_numbering),
        description="How the account's invoice numbers look, and the last one given.",
        permission_classes=[requires(INVOICES_READ)],
    )
    invoice: Invoice | None = strawberry.field(
        resolver=returning(Invoice.from_domain, invoice_resolvers.invoice),
        description="An invoice by id; null when it does not exist in your account.",
        permission_classes=[requires(INVOICES_READ)],
    )
    payments: Connection[Payment] = strawberry.field(
        resolver=returning(connection_of(Payment.from_domain), payment_resolvers.payments),
        description="Payments (every attempt, failed ones too), newest first. Page size 1-100.",
        permission_classes=[requires(PAYMENTS_READ)],
    )
    refunds: Connection[Refund] = strawberry.field(
        resolver=returning(connection_of(Refund.from_domain), payment_resolvers.refunds),
        description="Refunds, newest first. Page size 1-100.",
        permission_classes=[requires(PAYMENTS_READ)],
    )
    credit_notes: Connection[CreditNote] = strawberry.field(
        resolver=returning(
            connection_of(CreditNote.from_domain), credit_note_resolvers.credit_notes
        ),
        description="Credit notes, newest first; filter by invoice or customer. Page size 1-100.",
        permission_classes=[requires(INVOICES_READ)],
    )
    coupons: Connection[Coupon] = strawberry.field(
        resolver=returning(connection_of(Coupon.from_domain), coupon_resolvers.coupons),
        description="Coupons, newest first. Page size 1-100.",
        permission_classes=[requires(CATALOG_READ)],
    )
    coupon: Coupon | None = strawberry.field(
        resolver=returning(Coupon.from_domain, coupon_resolvers.coupon),
        description="A coupon by id; null when it does not exist in your account.",
        permission_classes=[requires(CATALOG_READ)],
    )
    tax_rates: Connection[TaxRate] = strawberry.field(
        resolver=returning(connection_of(TaxRate.from_domain), tax_rate_resolvers.tax_rates),
        description="Tax rates, newest first; filter by country and active. Page size 1-100.",
        permission_classes=[requires(CATALOG_READ)],
    )
    webhook_endpoints: Connection[WebhookEndpoint] = strawberry.field(
        resolver=returning(
            connection_of(WebhookEndpoint.from_domain), webhook_resolvers.webhook_endpoints
        ),
        description="Webhook endpoints, newest first. Page size 1-100.",
        permission_classes=[requires(WEBHOOKS_MANAGE)],
    )
    webhook_endpoint: WebhookEndpoint | None = strawberry.field(
        resolver=returning(WebhookEndpoint.from_domain, webhook_resolvers.webhook_endpoint),
        description="A webhook endpoint by id; null when it does not exist in your account.",
        permission_classes=[requires(WEBHOOKS_MANAGE)],
    )
    events: Connection[Event] = strawberry.field(
        resolver=returning(connection_of(Event.from_domain), events.events),
        description=(
            "State changes, newest first. Lists the types whose objects your token may read "
            "(customer events need customers:read)."
        ),
    )
    audit_log: Connection[AuditEntry] = strawberry.field(
        resolver=returning(connection_of(AuditEntry.from_domain), audit_resolvers.audit_log),
        description="Every mutation that ran (and each `customerDataExport`), newest first: "
        "who, what, when and how it ended, without personal data. Page size 1-100.",
        permission_classes=[requires(AUDIT_READ)],
    )
    customer_data_export: JSON | None = strawberry.field(
        resolver=returning(JSON, privacy_resolvers.customer_data_export),
        description="Everything held about one customer, as one JSON document, for a "
        "data subject's access request (GDPR art. 15): the customer, payment methods (brand, "
        "last 4, expiry; never provider tokens), subscriptions, discounts, invoices with "
        "lines, payments, refunds, credit notes, balance transactions, usage events and the "
        "events about them. Rows as stored (snake_case), amounts in minor units of their "
        "currency, exact decimals as strings. Null when the customer does not exist in your "
        "account. Each export is recorded in the audit log.",
        permission_classes=[requires(CUSTOMERS_READ)],
    )


@strawberry.type(
    description=(
        "Changes. Each takes one `input` and returns its object and `userErrors`; a mutation "
        "with any user error writes nothing. Send an `Idempotency-Key` header to retry safely."
    )
)
class Mutation:
    create_customer: CreateCustomerPayload = strawberry.field(
        resolver=returning(CreateCustomerPayload.from_domain, customers.create_customer),
        description="Creates a customer. Emits `customer.created`.",
        permission_classes=[requires(CUSTOMERS_WRITE)],
    )
    update_customer: UpdateCustomerPayload = strawberry.field(
        resolver=returning(UpdateCustomerPayload.from_domain, customers.update_customer),
        description="Changes a customer's details. Emits `customer.updated`.",
        permission_classes=[requires(CUSTOMERS_WRITE)],
    )
    erase_customer_data: EraseCustomerDataPayload = strawberry.field(
        resolver=returning(
            EraseCustomerDataPayload.from_domain, privacy_resolvers.erase_customer_data
        ),
        description="Erases a customer's personal data on request (GDPR art. 17): name "
        "replaced by `[erased]`; email, external id, address, tax ids and metadata cleared; "
        "usage events' properties dropped but for the keys billable metrics aggregate or "
        "filter on; the customer's events rewritten alike; the customer archived. Amounts "
        "and finalized invoices (with the bill-to they were issued with, as tax law "
        "requires) are kept. `IN_USE` while a subscription is not canceled. Emits "
        "`customer.updated`.",
        permission_classes=[requires(CUSTOMERS_WRITE)],
    )
    create_plan: CreatePlanPayload = strawberry.field(
        resolver=returning(CreatePlanPayload.from_domain, plan_resolvers.create_plan),
        description="Creates a plan with its prices. Emits `plan.created`.",
        permission_classes=[requires(CATALOG_WRITE)],
    )
    update_plan: UpdatePlanPayload = strawberry.field(
        resolver=returning(UpdatePlanPayload.from_domain, plan_resolvers.update_plan),
        description="Changes a plan's name, description or trial; replaces its prices and "
        "minimum commitments while no subscription uses it. Emits `plan.updated`.",
        permission_classes=[requires(CATALOG_WRITE)],
    )
    archive_plan: ArchivePlanPayload = strawberry.field(
        resolver=returning(ArchivePlanPayload.from_domain, plan_resolvers.archive_plan),
        description="Archives a plan: no longer sold. Emits `plan.archived`.",
        permission_classes=[requires(CATALOG_WRITE)],
    )
    create_billable_metric: CreateBillableMetricPayload = strawberry.field(
        resolver=returning(CreateBillableMetricPayload.from_domain, usage.create_billable_metric),
        description="Creates a billable metric: what usage counts and how it is aggregated.",
        permission_classes=[requires(CATALOG_WRITE)],
    )
    create_coupon: CreateCouponPayload = strawberry.field(
        resolver=returning(CreateCouponPayload.from_domain, coupon_resolvers.create_coupon),
        description="Creates a coupon: a percentage or an amount off, once, for some months "
        "or forever. Plans it is restricted to must exist.",
        permission_classes=[requires(CATALOG_WRITE)],
    )
    apply_coupon: ApplyCouponPayload = strawberry.field(
        resolver=returning(ApplyCouponPayload.from_domain, coupon_resolvers.apply_coupon),
        description="Applies a coupon from now to a customer or to one of their "
        "subscriptions, counting one redemption; refused once it is expired, exhausted, for "
        "another plan, or an amount in another currency than the customer's.",
        permission_classes=[requires("subscriptions:write")],
    )
    create_tax_rate: CreateTaxRatePayload = strawberry.field(
        resolver=returning(CreateTaxRatePayload.from_domain, tax_rate_resolvers.create_tax_rate),
        description="Creates a tax rate for a country or one of its regions.",
        permission_classes=[requires(CATALOG_WRITE)],
    )
    record_usage: RecordUsagePayload = strawberry.field(
        resolver=returning(RecordUsagePayload.from_domain, usage.record_usage),
        description="Records up to 1,000 usage events. Each event's idempotencyKey makes a "
        "replay count once; valid events are kept even when others in the batch are rejected.",
        permission_classes=[requires(USAGE_WRITE)],
    )
    archive_customer: ArchiveCustomerPayload = strawberry.field(
        resolver=returning(ArchiveCustomerPayload.from_domain, customers.archive_customer),
        description="Archives a customer: kept for history, no longer billed. "
        "Emits `customer.archived`.",
        permission_classes=[requires(CUSTOMERS_WRITE)],
    )
    create_subscription: SubscriptionPayload = strawberry.field(
        resolver=returning(
            SubscriptionPayload.from_domain, subscription_resolvers.create_subscription
        ),
        description="Subscribes a customer to a plan and invoices the first period (a trial "
        "is free). Emits `subscription.created`, `invoice.created`, `invoice.finalized`.",
        permission_classes=[requires(SUBSCRIPTIONS_WRITE)],
    )
    change_subscription_plan: SubscriptionPayload = strawberry.field(
        resolver=returning(
            SubscriptionPayload.from_domain, subscription_resolvers.change_subscription_plan
        ),
        description="Moves a subscription to another plan or quantity now, with proration "
        "lines invoiced at once. Emits `subscription.updated`.",
        permission_classes=[requires(SUBSCRIPTIONS_WRITE)],
    )
    cancel_subscription: SubscriptionPayload = strawberry.field(
        resolver=returning(
            SubscriptionPayload.from_domain, subscription_resolvers.cancel_subscription
        ),
        description="Cancels at the end of the period (undoable) or now (usage so far "
        "invoiced, optionally a credit for the unused time). Emits `subscription.canceled` "
        "or `subscription.updated`.",
        permission_classes=[requires(SUBSCRIPTIONS_WRITE)],
    )
    reactivate_subscription: SubscriptionPayload = strawberry.field(
        resolver=returning(
            SubscriptionPayload.from_domain, subscription_resolvers.reactivate_subscription
        ),
        description="Undoes a cancellation at period end. Emits `subscription.updated`.",
        permission_classes=[requires(SUBSCRIPTIONS_WRITE)],
    )
    create_invoice: InvoicePayload = strawberry.field(
        resolver=returning(InvoicePayload.from_domain, invoice_resolvers.create_invoice),
        description="Creates a one-off draft invoice. Emits `invoice.created`.",
        permission_classes=[requires(INVOICES_WRITE)],
    )
    add_invoice_line: InvoicePayload = strawberry.field(
        resolver=returning(InvoicePayload.from_domain, invoice_resolvers.add_invoice_line),
        description="Adds a line to a draft invoice (`NOT_DRAFT` once finalized).",
        permission_classes=[requires(INVOICES_WRITE)],
    )
    finalize_invoice: InvoicePayload = strawberry.field(
        resolver=returning(InvoicePayload.from_domain, invoice_resolvers.finalize_invoice),
        description="Freezes a draft: lines and totals fixed, a gapless number, the due date "
        "from the customer's net terms. Emits `invoice.finalized`.",
        permission_classes=[requires(INVOICES_WRITE)],
    )
    void_invoice: InvoicePayload = strawberry.field(
        resolver=returning(InvoicePayload.from_domain, invoice_resolvers.void_invoice),
        description="Voids an open or uncollectible invoice: nothing is owed (`NOT_OPEN` "
        "otherwise). Emits `invoice.voided`.",
        permission_classes=[requires(INVOICES_WRITE)],
    )
    update_invoice_numbering: UpdateInvoiceNumberingPayload = strawberry.field(
        resolver=returning(
            UpdateInvoiceNumberingPayload.from_domain, invoice_resolvers.update_invoice_numbering
        ),
        description="Sets the account's invoice number template (prefix, year, padding) for "
        "the invoices finalized from now on; the counter goes on.",
        permission_classes=[requires(INVOICES_WRITE)],
    )
    mark_invoice_uncollectible: InvoicePayload = strawberry.field(
        resolver=returning(
            InvoicePayload.from_domain, invoice_resolvers.mark_invoice_uncollectible
        ),
        description="Writes an open invoice off; it may still be paid. Emits "
        "`invoice.marked_uncollectible`.",
        permission_classes=[requires(INVOICES_WRITE)],
    )
    attach_payment_method: PaymentMethodPayload = strawberry.field(
        resolver=returning(
            PaymentMethodPayload.from_domain, payment_method_resolvers.attach_payment_method
        ),
        description="Attaches a card to a customer as the payment provider's token (never "
        "a card number); the provider is asked what card it stands for.",
        permission_classes=[requires(PAYMENTS_WRITE)],
    )
    set_default_payment_method: PaymentMethodPayload = strawberry.field(
        resolver=returning(
            PaymentMethodPayload.from_domain, payment_method_resolvers.set_default_payment_method
        ),
        description="Makes an attached payment method its customer's default.",
        permission_classes=[requires(PAYMENTS_WRITE)],
    )
    detach_payment_method: PaymentMethodPayload = strawberry.field(
        resolver=returning(
            PaymentMethodPayload.from_domain, payment_method_resolvers.detach_payment_method
        ),
        description="Detaches a payment method: kept on record, no longer listed nor charged.",
        permission_classes=[requires(PAYMENTS_WRITE)],
    )
    pay_invoice: PayInvoicePayload = strawberry.field(
        resolver=returning(PayInvoicePayload.from_domain, payment_resolvers.pay_invoice),
        description="Charges an open invoice, wholly or in part, on a payment method of its "
        "customer. The payment is recorded before the provider is called and the provider "
        "gets our idempotency key: with the same Idempotency-Key a retry resumes it, and "
        "nothing is ever charged twice. Emits `payment.succeeded` or `payment.failed`, and "
        "`invoice.paid` when nothing remains.",
        permission_classes=[requires(PAYMENTS_WRITE)],
    )
    refund_payment: RefundPaymentPayload = strawberry.field(
        resolver=returning(RefundPaymentPayload.from_domain, payment_resolvers.refund_payment),
        description="Gives back part or all of a successful payment; refunds never exceed "
        "what was captured, however many run at once. Emits `refund.created` or "
        "`refund.failed`.",
        permission_classes=[requires(PAYMENTS_WRITE)],
    )
    create_credit_note: CreditNotePayload = strawberry.field(
        resolver=returning(CreditNotePayload.from_domain, credit_note_resolvers.create_credit_note),
        description="Credits a finalized invoice: its amount due reduced, the customer's "
        "balance credited, or (later) a refund. Emits `credit_note.created`, and "
        "`invoice.paid` when nothing is left to pay.",
        permission_classes=[requires(PAYMENTS_WRITE)],
    )
    adjust_customer_balance: AdjustCustomerBalancePayload = strawberry.field(
        resolver=returning(
            AdjustCustomerBalancePayload.from_domain, balance_resolvers.adjust_customer_balance
        ),
        description="Credits a customer's balance by hand (negative amount), or takes credit "
        "back (positive). Credit is applied to their next invoices as they are finalized.",
        permission_classes=[requires(PAYMENTS_WRITE)],
    )
    create_webhook_endpoint: CreateWebhookEndpointPayload = strawberry.field(
        resolver=returning(
            CreateWebhookEndpointPayload.from_domain, webhook_resolvers.create_webhook_endpoint
        ),
        description="Creates a webhook endpoint and answers its signing secret, once.",
        permission_classes=[requires(WEBHOOKS_MANAGE)],
    )
    rotate_webhook_secret: RotateWebhookSecretPayload = strawberry.field(
        resolver=returning(
            RotateWebhookSecretPayload.from_domain, webhook_resolvers.rotate_webhook_secret
        ),
        description="Gives an endpoint a new signing secret, answered once. For 24 hours "
        "deliveries are signed with the old secret too, so receivers can switch over.",
        permission_classes=[requires(WEBHOOKS_MANAGE)],
    )
    delete_webhook_endpoint: DeleteWebhookEndpointPayload = strawberry.field(
        resolver=returning(
            DeleteWebhookEndpointPayload.from_domain, webhook_resolvers.delete_webhook_endpoint
        ),
        description="Deletes a webhook endpoint and its secrets; nothing more is sent to it.",
        permission_classes=[requires(WEBHOOKS_MANAGE)],
    )
    enable_webhook_endpoint: EnableWebhookEndpointPayload = strawberry.field(
        resolver=returning(
            EnableWebhookEndpointPayload.from_domain, webhook_resolvers.enable_webhook_endpoint
        ),
        description="Sends events to an endpoint that was disabled after repeated failures "
        "again: its pending deliveries resume, then what happened meanwhile, in order.",
        permission_classes=[requires(WEBHOOKS_MANAGE)],
    )
    retry_webhook_delivery: RetryWebhookDeliveryPayload = strawberry.field(
        resolver=returning(
            RetryWebhookDeliveryPayload.from_domain,
            webhook_delivery_resolvers.retry_webhook_delivery,
        ),
        description="Sends a delivery again now (one more attempt if it had FAILED), after "
        "any earlier pending delivery of the same object.",
        permission_classes=[requires(WEBHOOKS_MANAGE)],
    )


# Validation rules built once: a rule class made per request would defeat ValidationCache,
# whose key includes the rules, and every request would be validated afresh.
LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]


class DocumentLimits(AddValidationRules):
    """Depth and alias limits (aliases counted through fragment spreads too)."""

    def __init__(self) -> None:
        super().__init__(LIMIT_RULES)


class ExecutionStarted(SchemaExtension):
    """Marks the context once validation passed and execution began (idempotency keeps
    only such responses)."""

    def on_execute(self):  # type: ignore[no-untyped-def]
        context = self.execution_context.context
        if context is not None and hasattr(context, "began_executing"):
            context.began_executing = True
        yield


class LedgerlineSchema(strawberry.Schema):
    """The HTTP endpoint reports unexpected errors (with an error id, and masked in
    production); strawberry's own logging would print every refused document."""

    def process_errors(self, errors, execution_context=None):  # type: ignore[no-untyped-def]
        return None


def build_schema(
    *,
    introspection: bool = True,
    production: bool = False,
    query_cost_limit: int = DEFAULT_QUERY_COST_LIMIT,
) -> strawberry.Schema:
    """`production` turns field suggestions off; unexpected errors are masked by the endpoint."""
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        # After ValidationCache: it costs only documents that validated.
        lambda: QueryCostLimit(query_cost_limit),
        DocumentLimits,
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        ExecutionStarted,
        MutationScopes,
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    built = LedgerlineSchema(
        query=Query,
        mutation=Mutation,
        types=[
            Customer,
            Event,
            BillableMetric,
            Plan,
            Price,
            PaymentMethod,
            CreditNote,
            CustomerBalanceTransaction,
            Payment,
            Refund,
        ],
        extensions=extensions,
        config=StrawberryConfig(scalar_map=SCALAR_MAP, disable_field_suggestions=production),
    )
    # Every mutation (and each personal-data export) leaves an audit entry: one wrapper
    # around their resolvers, so a field added later is audited without code of its own.
    audit_operations(built._schema)
    return built


schema = build_schema()
