"""Personal data of a customer: erasing it on request, and exporting all that is held.

What erasure replaces, and what it keeps (GDPR art. 17(3)(b) and (e): what a legal
obligation requires is kept):
- the customer's name becomes ERASED_NAME; email, external id, address, tax ids and
  metadata are cleared; it is archived. Its currency, billing settings and balance stay.
- usage events lose their properties but for the keys the account's billable metrics
  aggregate or filter on (billing dimensions the merchant declared, which the next
  invoice of the period is computed from); their quantities stay.
- the `customer.*` events about it carry the erased customer instead of the old copies.
- finalized invoices keep the bill-to they were issued with (`customer_snapshot`): issued
  invoices are kept unchanged for the retention period tax law sets (EU VAT Directive
  2006/112/EC art. 226 and 244-247; 10 years in Germany, §147 AO), and the database
  refuses to change them. Amounts, payments, refunds, credit notes and the balance ledger
  stay as they are: they carry no personal data beyond ids and the merchant's own memos.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

ERASED_NAME: Final = "[erased]"


class PrivacyRepository(Protocol):
    async def has_live_subscriptions(self, customer_id: str) -> bool:
        """Whether a subscription of the customer is not canceled yet (it is still billed)."""
        ...

    async def erase_customer(self, customer_id: str) -> None:
        """Replaces the customer's personal data where it is held (see the module's list)."""
        ...


class PrivacyReads(Protocol):
    async def customer_export(self, customer_id: str) -> dict[str, Any] | None:
        """Everything held about one customer, JSON-ready; None when there is no such
        customer in the tenant."""
        ...
