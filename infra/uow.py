"""The SQL units of work: the repositories of one tenant transaction, and where it ends.

In a request the request owns the transaction (row-level security, byte-exact idempotent
replay); each service call is a savepoint in it (`SqlUnitOfWork(db)`), so a service that
raises leaves nothing behind while earlier work of the same request (an idempotency record,
a previous mutation) stays intact.

Outside requests (workers, the CLI) nothing else owns a transaction: the unit of work opens
its own (`SqlUnitOfWork.owning(engine, tenant_id)`) and commits it, or rolls it back.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.audit import AuditRepository
from domain.balances import BalanceRepository
from domain.credit_notes import CreditNoteRepository
from domain.errors import DomainError, ErrorCode, FieldError
from domain.invoice_payments import PaymentRepository
from domain.payment_methods import PaymentMethodRepository
from domain.ports import (
    CouponRepository,
    CustomerRepository,
    DiscountRepository,
    EventRepository,
    InvoiceRepository,
    MetricRepository,
    PlanRepository,
    SubscriptionRepository,
    TaxRateRepository,
    UsageRepository,
)
from domain.privacy import PrivacyRepository
from domain.refunds import RefundRepository
from domain.webhook_deliveries import WebhookDeliveryRepository
from domain.webhooks import WebhookEndpointRepository
from infra.db import STATEMENT_TIMEOUT_SECONDS, TenantConnection, tenant_transaction
from infra.db_errors import is_lock_timeout
from infra.repositories.audit import SqlAuditRepository
from infra.repositories.balances import SqlBalanceRepository
from infra.repositories.coupons import SqlCouponRepository, SqlDiscountRepository
from infra.repositories.credit_notes import SqlCreditNoteRepository
from infra.repositories.customers import SqlCustomerRepository
from infra.repositories.events import SqlEventRepository
from infra.repositories.invoices import SqlInvoiceRepository
from infra.repositories.metrics import SqlMetricRepository
from infra.repositories.payment_methods import SqlPaymentMethodRepository
from infra.repositories.payments import SqlPaymentRepository, SqlRefundRepository
from infra.repositories.plans import SqlPlanRepository
from infra.repositories.privacy import SqlPrivacyRepository
from infra.repositories.subscriptions import SqlSubscriptionRepository
from infra.repositories.tax_rates import SqlTaxRateRepository
from infra.repositories.usage import SqlUsageRepository
from infra.repositories.webhook_deliveries import SqlWebhookDeliveryRepository
from infra.repositories.webhooks import SqlWebhookEndpointRepository
from infra.secret_box import SecretBox


class _Repositories:
    """The repositories over one tenant connection, typed as the ports the services use."""

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
    # Seals secrets at rest (SECRET_KEY); None where no secret is ever handled.
    _secret_box: SecretBox | None

    def _bind(self, db: TenantConnection) -> None:
        self.customers = SqlCustomerRepository(db)
        self.events = SqlEventRepository(db)
        self.metrics = SqlMetricRepository(db)
        self.usage = SqlUsageRepository(db)
        self.plans = SqlPlanRepository(db)
        self.subscriptions = SqlSubscriptionRepository(db)
        self.invoices = SqlInvoiceRepository(db)
        self.coupons = SqlCouponRepository(db)
        self.discounts = SqlDiscountRepository(db)
        self.tax_rates = SqlTaxRateRepository(db)
        self.payment_methods = SqlPaymentMethodRepository(db)
        self.payments = SqlPaymentRepository(db)
        self.refunds = SqlRefundRepository(db)
        self.webhook_endpoints = SqlWebhookEndpointRepository(db, self._secret_box)
        self.credit_notes = SqlCreditNoteRepository(db)
        self.balances = SqlBalanceRepository(db)
        self.webhook_deliveries = SqlWebhookDeliveryRepository(db)
        self.audit = SqlAuditRepository(db)
        self.privacy = SqlPrivacyRepository(db)


class SqlUnitOfWork(_Repositories):
    """A savepoint inside a tenant transaction that its caller owns (a request's)."""

    def __init__(self, db: TenantConnection, *, secret_box: SecretBox | None = None) -> None:
        self._db = db
        self.tenant_id = db.tenant_id
        self._secret_box = secret_box
        self._bind(db)
        self._savepoint: Any = None
        self._committed = False

    @staticmethod
    def owning(
        engine: AsyncEngine,
        tenant_id: str,
        *,
        statement_timeout: float = STATEMENT_TIMEOUT_SECONDS,
        secret_box: SecretBox | None = None,
        lock_timeout: float | None = None,
    ) -> OwningUnitOfWork:
        """A unit of work that opens and ends a tenant transaction of its own. With
        `lock_timeout`, a lock not granted in time refuses the change as BUSY."""
        return OwningUnitOfWork(
            engine,
            tenant_id,
            statement_timeout=statement_timeout,
            secret_box=secret_box,
            lock_timeout=lock_timeout,
        )

    async def __aenter__(self) -> SqlUnitOfWork:
        self._savepoint = await self._db.begin_savepoint()
        self._committed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._committed:
            await self._db.end_savepoint(self._savepoint, commit=False)

    async def commit(self) -> None:
        await self._db.end_savepoint(self._savepoint, commit=True)
        self._committed = True


class _NotCommitted(Exception):
    """Ends a transaction that was left without `commit()` and without an error."""


class OwningUnitOfWork(_Repositories):
    """A unit of work that owns its tenant transaction, for work outside requests.

    Each `async with` opens a tenant transaction (`infra.db.tenant_transaction`: row-level
    security shows only `tenant_id`'s rows, a statement timeout applies); `commit()` commits
    it there and then; leaving the block without `commit()`, by an error or not, rolls it
    back. The transaction's guarantees are tenant_transaction's own: no statement is in
    flight when it ends, and a connection in doubt is closed rather than pooled.

    The same unit of work may be given to one service after another: each call is a
    transaction of its own. It is not re-entrant: one transaction at a time.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        tenant_id: str,
        *,
        statement_timeout: float,
        secret_box: SecretBox | None = None,
        lock_timeout: float | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self._lock_timeout = lock_timeout
        self._secret_box = secret_box
        self._engine = engine
        self._statement_timeout = statement_timeout
        self._transaction: AbstractAsyncContextManager[TenantConnection] | None = None
        self._db: TenantConnection | None = None

    @property
    def connection(self) -> TenantConnection:
        """The open transaction's connection, for statements no repository holds."""
        if self._db is None or self._transaction is None:
            raise RuntimeError("the unit of work has no open transaction")
        return self._db

    async def __aenter__(self) -> OwningUnitOfWork:
        if self._transaction is not None:
            raise RuntimeError("the unit of work already has an open transaction")
        transaction = tenant_transaction(
            self._engine,
            self.tenant_id,
            statement_timeout=self._statement_timeout,
            lock_timeout=self._lock_timeout,
        )
        db = await transaction.__aenter__()
        self._transaction, self._db = transaction, db
        self._bind(db)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        transaction, self._transaction = self._transaction, None
        if transaction is None:  # committed
            return
        if exc is None:
            exc_type, exc = _NotCommitted, _NotCommitted()
        # tenant_transaction rolls back on the error it is handed, and hands it back; the
        # block's own error then goes on from here.
        await transaction.__aexit__(exc_type, exc, tb)
        if self._lock_timeout is not None and is_lock_timeout(exc):
            # Another transaction holds what this change must lock (or the caller's own
            # request does, having changed it earlier): a refusal to retry, not a fault.
            raise DomainError(
                [
                    FieldError(
                        ErrorCode.BUSY,
                        None,
                        "Another change of the same object is in progress (or this request "
                        "changed it earlier); retry in a moment, in a request of its own.",
                    )
                ]
            ) from exc

    async def commit(self) -> None:
        transaction, self._transaction = self._transaction, None
        if transaction is None:
            raise RuntimeError("the unit of work has no open transaction")
        await transaction.__aexit__(None, None, None)
