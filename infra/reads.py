"""The read ports of one request, bound to its tenant transaction: one per concept, each
implemented beside its repository in infra/repositories/."""

from __future__ import annotations

from domain.audit import AuditReads
from domain.balances import BalanceReads
from domain.credit_notes import CreditNoteReads
from domain.invoice_payments import PaymentReads
from domain.payment_methods import PaymentMethodReads
from domain.ports import (
    AccountReads,
    CouponReads,
    CustomerReads,
    EventReads,
    InvoiceReads,
    MetricReads,
    PlanReads,
    SubscriptionReads,
    TaxRateReads,
    UsageReads,
)
from domain.privacy import PrivacyReads
from domain.refunds import RefundReads
from domain.webhook_deliveries import WebhookDeliveryReads
from domain.webhooks import WebhookEndpointReads
from infra.db import TenantConnection
from infra.repositories.accounts import SqlAccountReads
from infra.repositories.audit import SqlAuditReads
from infra.repositories.balances import SqlBalanceReads
from infra.repositories.coupons import SqlCouponReads
from infra.repositories.credit_notes import SqlCreditNoteReads
from infra.repositories.customers import SqlCustomerReads
from infra.repositories.events import SqlEventReads
from infra.repositories.invoices import SqlInvoiceReads
from infra.repositories.metrics import SqlMetricReads
from infra.repositories.payment_methods import SqlPaymentMethodReads
from infra.repositories.payments import SqlPaymentReads, SqlRefundReads
from infra.repositories.plans import SqlPlanReads
from infra.repositories.privacy import SqlPrivacyReads
from infra.repositories.subscriptions import SqlSubscriptionReads
from infra.repositories.tax_rates import SqlTaxRateReads
from infra.repositories.usage import SqlUsageReads
from infra.repositories.webhook_deliveries import SqlWebhookDeliveryReads
from infra.repositories.webhooks import SqlWebhookEndpointReads


class SqlReads:
    """domain.ports.Reads for the request's tenant transaction."""

    # Typed as the ports: the protocol's attributes are writable, so they are invariant.
    def __init__(self, db: TenantConnection) -> None:
        self.accounts: AccountReads = SqlAccountReads(db)
        self.customers: CustomerReads = SqlCustomerReads(db)
        self.events: EventReads = SqlEventReads(db)
        self.metrics: MetricReads = SqlMetricReads(db)
        self.plans: PlanReads = SqlPlanReads(db)
        self.coupons: CouponReads = SqlCouponReads(db)
        self.tax_rates: TaxRateReads = SqlTaxRateReads(db)
        self.usage: UsageReads = SqlUsageReads(db)
        self.subscriptions: SubscriptionReads = SqlSubscriptionReads(db)
        self.invoices: InvoiceReads = SqlInvoiceReads(db)
        self.payment_methods: PaymentMethodReads = SqlPaymentMethodReads(db)
        self.payments: PaymentReads = SqlPaymentReads(db)
        self.refunds: RefundReads = SqlRefundReads(db)
        self.webhook_endpoints: WebhookEndpointReads = SqlWebhookEndpointReads(db)
        self.credit_notes: CreditNoteReads = SqlCreditNoteReads(db)
        self.balances: BalanceReads = SqlBalanceReads(db)
        self.webhook_deliveries: WebhookDeliveryReads = SqlWebhookDeliveryReads(db)
        self.audit: AuditReads = SqlAuditReads(db)
        self.privacy: PrivacyReads = SqlPrivacyReads(db)
