"""Payments and refunds in PostgreSQL (domain.invoice_payments' and domain.refunds' ports)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, insert, select, update

from domain.invoice_payments import Payment, PaymentFilter, PaymentStatus
from domain.money import Money
from domain.queries import PageRequest
from domain.refunds import Refund, RefundFilter, RefundReason, RefundStatus
from infra.db import TenantConnection
from infra.pagination import paginate
from infra.tables import payments, refunds


def payment_from_row(row: Any) -> Payment:
    return Payment(
        id=row.id,
        invoice_id=row.invoice_id,
        customer_id=row.customer_id,
        payment_method_id=row.payment_method_id,
        amount=Money(row.amount, row.currency),
        status=PaymentStatus(row.status),
        decline_code=row.decline_code,
        provider=row.provider,
        provider_reference=row.provider_reference,
        provider_idempotency_key=row.provider_idempotency_key,
        request_key=row.request_key,
        attempt=row.attempt,
        amount_refunded=Money(row.amount_refunded, row.currency),
        created_at=row.created_at,
        settled_at=row.settled_at,
    )


def refund_from_row(row: Any) -> Refund:
    return Refund(
        id=row.id,
        payment_id=row.payment_id,
        invoice_id=row.invoice_id,
        amount=Money(row.amount, row.currency),
        status=RefundStatus(row.status),
        failure_code=row.failure_code,
        reason=RefundReason(row.reason),
        provider=row.provider,
        provider_reference=row.provider_reference,
        provider_idempotency_key=row.provider_idempotency_key,
        request_key=row.request_key,
        created_at=row.created_at,
        settled_at=row.settled_at,
        credit_note_id=row.credit_note_id,
    )


class SqlPaymentRepository:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def add(self, payment: Payment) -> Payment:
        statement = (
            insert(payments)
            .values(
                tenant_id=self._db.tenant_id,
                id=payment.id,
                invoice_id=payment.invoice_id,
                customer_id=payment.customer_id,
                payment_method_id=payment.payment_method_id,
                amount=payment.amount.minor_units,
                currency=payment.amount.currency,
                status=payment.status.value,
                decline_code=payment.decline_code,
                provider=payment.provider,
                provider_reference=payment.provider_reference,
                provider_idempotency_key=payment.provider_idempotency_key,
                request_key=payment.request_key,
                attempt=payment.attempt,
                created_at=payment.created_at,
                settled_at=payment.settled_at,
            )
            .returning(*payments.c)
        )
        return payment_from_row((await self._db.execute(statement)).one())

    async def get(self, payment_id: str, *, for_update: bool = False) -> Payment | None:
        statement = select(payments).where(
            payments.c.tenant_id == self._db.tenant_id, payments.c.id == payment_id
        )
        if for_update:
            statement = statement.with_for_update()
        row = (await self._db.execute(statement)).first()
        return None if row is None else payment_from_row(row)

    async def by_request_key(self, request_key: str) -> Payment | None:
        statement = select(payments).where(
            payments.c.tenant_id == self._db.tenant_id, payments.c.request_key == request_key
        )
        row = (await self._db.execute(statement)).first()
        return None if row is None else payment_from_row(row)

    async def by_provider_reference(self, provider: str, reference: str) -> Payment | None:
        statement = select(payments).where(
            payments.c.tenant_id == self._db.tenant_id,
            payments.c.provider == provider,
            payments.c.provider_reference == reference,
        )
        row = (await self._db.execute(statement)).first()
        return None if row is None else payment_from_row(row)

    async def save(self, payment: Payment) -> Payment:
        statement = (
            update(payments)
            .where(payments.c.tenant_id == self._db.tenant_id, payments.c.id == payment.id)
            .values(
                status=payment.status.value,
                decline_code=payment.decline_code,
                provider_reference=payment.provider_reference,
                amount_refunded=payment.amount_refunded.minor_units,
                settled_at=payment.settled_at,
            )
            .returning(*payments.c)
        )
        return payment_from_row((await self._db.execute(statement)).one())

    async def in_flight(self, invoice_id: str) -> Money | None:
        statement = select(func.sum(payments.c.amount), func.min(payments.c.currency)).where(
            payments.c.tenant_id == self._db.tenant_id,
            payments.c.invoice_id == invoice_id,
            payments.c.status == PaymentStatus.PENDING.value,
        )
        row: Any = (await self._db.execute(statement)).one()
        total, currency = row
        return None if total is None else Money(int(total), currency)

    async def captured_of_invoice(self, invoice_id: str) -> list[Payment]:
        statement = (
            select(payments)
            .where(
                payments.c.tenant_id == self._db.tenant_id,
                payments.c.invoice_id == invoice_id,
                payments.c.status == PaymentStatus.SUCCEEDED.value,
            )
            .order_by(payments.c.created_at.desc(), payments.c.id.desc())
            .with_for_update()
        )
        return [payment_from_row(row) for row in await self._db.execute(statement)]

    async def stale_pending(self, older_than: datetime, limit: int) -> list[Payment]:
        statement = (
            select(payments)
            .where(
                payments.c.tenant_id == self._db.tenant_id,
                payments.c.status == PaymentStatus.PENDING.value,
                payments.c.created_at < older_than,
            )
            .order_by(payments.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [payment_from_row(row) for row in await self._db.execute(statement)]


class SqlRefundRepository:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def add(self, refund: Refund) -> Refund:
        statement = (
            insert(refunds)
            .values(
                tenant_id=self._db.tenant_id,
                id=refund.id,
                payment_id=refund.payment_id,
                invoice_id=refund.invoice_id,
                amount=refund.amount.minor_units,
                currency=refund.amount.currency,
                status=refund.status.value,
                failure_code=refund.failure_code,
                reason=refund.reason.value,
                provider=refund.provider,
                provider_reference=refund.provider_reference,
                provider_idempotency_key=refund.provider_idempotency_key,
                request_key=refund.request_key,
                created_at=refund.created_at,
                settled_at=refund.settled_at,
                credit_note_id=refund.credit_note_id,
            )
            .returning(*refunds.c)
        )
        return refund_from_row((await self._db.execute(statement)).one())

    async def get(self, refund_id: str, *, for_update: bool = False) -> Refund | None:
        statement = select(refunds).where(
            refunds.c.tenant_id == self._db.tenant_id, refunds.c.id == refund_id
        )
        if for_update:
            statement = statement.with_for_update()
        row = (await self._db.execute(statement)).first()
        return None if row is None else refund_from_row(row)

    async def by_request_key(self, request_key: str) -> Refund | None:
        statement = select(refunds).where(
            refunds.c.tenant_id == self._db.tenant_id, refunds.c.request_key == request_key
        )
        row = (await self._db.execute(statement)).first()
        return None if row is None else refund_from_row(row)

    async def by_provider_reference(self, provider: str, reference: str) -> Refund | None:
        statement = select(refunds).where(
            refunds.c.tenant_id == self._db.tenant_id,
            refunds.c.provider == provider,
            refunds.c.provider_reference == reference,
        )
        row = (await self._db.execute(statement)).first()
        return None if row is None else refund_from_row(row)

    async def save(self, refund: Refund) -> Refund:
        statement = (
            update(refunds)
            .where(refunds.c.tenant_id == self._db.tenant_id, refunds.c.id == refund.id)
            .values(
                status=refund.status.value,
                failure_code=refund.failure_code,
                provider_reference=refund.provider_reference,
                settled_at=refund.settled_at,
            )
            .returning(*refunds.c)
        )
        return refund_from_row((await self._db.execute(statement)).one())

    async def given_back_directly(self, invoice_id: str) -> Money | None:
        statement = select(func.sum(refunds.c.amount), func.min(refunds.c.currency)).where(
            refunds.c.tenant_id == self._db.tenant_id,
            refunds.c.invoice_id == invoice_id,
            refunds.c.credit_note_id.is_(None),
            refunds.c.status != RefundStatus.FAILED.value,
        )
        row: Any = (await self._db.execute(statement)).one()
        total, currency = row
        return None if total is None else Money(int(total), currency)

    async def reserved(self, payment_id: str) -> Money | None:
        statement = select(func.sum(refunds.c.amount), func.min(refunds.c.currency)).where(
            refunds.c.tenant_id == self._db.tenant_id,
            refunds.c.payment_id == payment_id,
            refunds.c.status != RefundStatus.FAILED.value,
        )
        row: Any = (await self._db.execute(statement)).one()
        total, currency = row
        return None if total is None else Money(int(total), currency)

    async def stale_pending(self, older_than: datetime, limit: int) -> list[Refund]:
        statement = (
            select(refunds)
            .where(
                refunds.c.tenant_id == self._db.tenant_id,
                refunds.c.status == RefundStatus.PENDING.value,
                refunds.c.created_at < older_than,
            )
            .order_by(refunds.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [refund_from_row(row) for row in await self._db.execute(statement)]


def _payment_filter(db: TenantConnection, where: PaymentFilter, columns: Any) -> Select[Any]:
    conditions: list[ColumnElement[bool]] = [payments.c.tenant_id == db.tenant_id]
    if where.invoice_id is not None:
        conditions.append(payments.c.invoice_id == where.invoice_id)
    if where.customer_id is not None:
        conditions.append(payments.c.customer_id == where.customer_id)
    if where.status is not None:
        conditions.append(payments.c.status == where.status.value)
    return select(*columns).where(*conditions)


def _refund_filter(db: TenantConnection, where: RefundFilter, columns: Any) -> Select[Any]:
    conditions: list[ColumnElement[bool]] = [refunds.c.tenant_id == db.tenant_id]
    if where.payment_id is not None:
        conditions.append(refunds.c.payment_id == where.payment_id)
    if where.invoice_id is not None:
        conditions.append(refunds.c.invoice_id == where.invoice_id)
    if where.status is not None:
        conditions.append(refunds.c.status == where.status.value)
    return select(*columns).where(*conditions)


class SqlPaymentReads:
    """The read path's payments and refunds, in the request's tenant: one statement a call."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[str]) -> list[Payment | None]:
        statement = select(payments).where(
            payments.c.tenant_id == self._db.tenant_id, payments.c.id.in_(list(ids))
        )
        found = {row.id: payment_from_row(row) for row in await self._db.execute(statement)}
        return [found.get(payment_id) for payment_id in ids]

    async def page(
        self, where: PaymentFilter, descending: bool, page: PageRequest
    ) -> list[Payment]:
        statement = paginate(
            _payment_filter(self._db, where, [payments]),
            payments.c.created_at,
            payments.c.id,
            descending=descending,
            page=page,
        )
        return [payment_from_row(row) for row in await self._db.execute(statement)]

    async def count(self, where: PaymentFilter) -> int:
        statement = _payment_filter(self._db, where, [func.count()])
        return int((await self._db.execute(statement)).scalar_one())

    async def by_invoices(self, invoice_ids: Sequence[str]) -> list[list[Payment]]:
        statement = (
            select(payments)
            .where(
                payments.c.tenant_id == self._db.tenant_id,
                payments.c.invoice_id.in_(list(invoice_ids)),
            )
            .order_by(payments.c.invoice_id, payments.c.created_at, payments.c.id)
        )
        grouped: dict[str, list[Payment]] = {invoice_id: [] for invoice_id in invoice_ids}
        for row in await self._db.execute(statement):
            grouped[row.invoice_id].append(payment_from_row(row))
        return [grouped[invoice_id] for invoice_id in invoice_ids]


class SqlRefundReads:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[str]) -> list[Refund | None]:
        statement = select(refunds).where(
            refunds.c.tenant_id == self._db.tenant_id, refunds.c.id.in_(list(ids))
        )
        found = {row.id: refund_from_row(row) for row in await self._db.execute(statement)}
        return [found.get(refund_id) for refund_id in ids]

    async def page(self, where: RefundFilter, descending: bool, page: PageRequest) -> list[Refund]:
        statement = paginate(
            _refund_filter(self._db, where, [refunds]),
            refunds.c.created_at,
            refunds.c.id,
            descending=descending,
            page=page,
        )
        return [refund_from_row(row) for row in await self._db.execute(statement)]

    async def count(self, where: RefundFilter) -> int:
        statement = _refund_filter(self._db, where, [func.count()])
        return int((await self._db.execute(statement)).scalar_one())

    async def by_payments(self, payment_ids: Sequence[str]) -> list[list[Refund]]:
        statement = (
            select(refunds)
            .where(
                refunds.c.tenant_id == self._db.tenant_id,
                refunds.c.payment_id.in_(list(payment_ids)),
            )
            .order_by(refunds.c.payment_id, refunds.c.created_at, refunds.c.id)
        )
        grouped: dict[str, list[Refund]] = {payment_id: [] for payment_id in payment_ids}
        for row in await self._db.execute(statement):
            grouped[row.payment_id].append(refund_from_row(row))
        return [grouped[payment_id] for payment_id in payment_ids]
