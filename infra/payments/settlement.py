"""PLACEHOLDER settlement sink, until payments are recorded (issue 15, point 3): the
Stripe webhook receiver hands it each charge and refund that Stripe settles later, and it
only logs them. The payments service replaces it (create_app's `settlement_sink`) with one
that records the result against the payment or refund with that provider reference."""

from __future__ import annotations

import logging

from domain.payments import ChargeResult, RefundResult

_log = logging.getLogger("ledgerline.payments.settlement")


class LoggedSettlements:
    """domain.payments.SettlementSink that records nothing: it logs and drops."""

    async def charge_settled(
        self, tenant_id: str, provider_reference: str, result: ChargeResult
    ) -> None:
        _log.info(
            "charge %s of %s settled %s (not recorded: no payments yet)",
            provider_reference,
            tenant_id,
            result.status.value,
        )

    async def refund_settled(
        self, tenant_id: str, provider_reference: str, result: RefundResult
    ) -> None:
        _log.info(
            "refund %s of %s settled %s (not recorded: no payments yet)",
            provider_reference,
            tenant_id,
            result.status.value,
        )
