"""Per-request DataLoaders, keyed by tenant-scoped ids: one SQL statement per batch.

Created in the request context, never at module level, so nothing is cached across
requests or tenants. A by-id loader per node kind comes from the node registry; a concept's
other loaders (by parent, by window) live in its resolver module and get one line here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiodataloader import DataLoader

from auth.principal import Principal
from auth.scopes import readable_event_types
from domain.events import EVENT_TYPES
from domain.ids import KINDS
from domain.ports import Reads
from resolvers.balances import BalanceTransactionsByCustomerLoader
from resolvers.credit_notes import CreditNotesByInvoiceLoader
from resolvers.events import RecentEventsByObjectLoader
from resolvers.invoices import LinesByInvoiceLoader, RecentInvoicesLoader
from resolvers.payment_methods import PaymentMethodsByCustomerLoader
from resolvers.payments import PaymentsByInvoiceLoader, RefundsByPaymentLoader
from resolvers.subscriptions import SubscriptionsByCustomerLoader
from resolvers.usage import UsageByCustomerLoader, UsageChargeLoader
from resolvers.webhook_deliveries import (
    AttemptsByDeliveryLoader,
    RecentDeliveriesByEndpointLoader,
)


class ByIdLoader(DataLoader):  # type: ignore[type-arg]
    """Objects of one kind by id: one statement per batch, answers in key order with None
    for an id not found."""

    def __init__(self, by_ids: Callable[[list[str]], Awaitable[Sequence[object | None]]]) -> None:
        super().__init__()
        self._by_ids = by_ids

    async def batch_load_fn(self, ids: list[str]) -> list[object | None]:
        return list(await self._by_ids(ids))


class Loaders:
    def __init__(self, reads: Reads, principal: Principal) -> None:
        self._reads = reads
        self._by_id: dict[str, ByIdLoader] = {}
        self.account_by_id = ByIdLoader(reads.accounts.by_ids)
        self.recent_events_by_object = RecentEventsByObjectLoader(
            reads.events, readable_event_types(EVENT_TYPES, principal.scopes)
        )
        self.usage_by_customer = UsageByCustomerLoader(reads)
        self.usage_charge = UsageChargeLoader(reads)
        self.subscriptions_by_customer = SubscriptionsByCustomerLoader(reads.subscriptions)
        self.lines_by_invoice = LinesByInvoiceLoader(reads.invoices)
        self.recent_invoices = RecentInvoicesLoader(reads.invoices)
        self.payment_methods_by_customer = PaymentMethodsByCustomerLoader(reads.payment_methods)
        self.payments_by_invoice = PaymentsByInvoiceLoader(reads.payments)
        self.refunds_by_payment = RefundsByPaymentLoader(reads.refunds)
        self.credit_notes_by_invoice = CreditNotesByInvoiceLoader(reads.credit_notes)
        self.balance_transactions_by_customer = BalanceTransactionsByCustomerLoader(reads.balances)
        self.recent_deliveries = RecentDeliveriesByEndpointLoader(reads.webhook_deliveries)
        self.delivery_attempts = AttemptsByDeliveryLoader(reads.webhook_deliveries)

    def by_id(self, prefix: str) -> ByIdLoader:
        """The loader of the node kind with that id prefix (`cus`, `plan`...), made on
        first use from the kind's reader in the node registry."""
        loader = self._by_id.get(prefix)
        if loader is None:
            by_ids = KINDS[prefix].by_ids
            if by_ids is None:
                raise LookupError(f"{prefix!r} ids are not nodes")
            reads = self._reads
            loader = self._by_id[prefix] = ByIdLoader(lambda ids: by_ids(reads, ids))
        return loader
