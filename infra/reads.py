"""The read ports of one request, bound to its tenant transaction: one per concept, each
implemented beside its repository in infra/repositories/."""

from __future__ import annotations

from infra.db import TenantConnection
from infra.repositories.accounts import SqlAccountReads
from infra.repositories.customers import SqlCustomerReads
from infra.repositories.events import SqlEventReads
from infra.repositories.metrics import SqlMetricReads
from infra.repositories.plans import SqlPlanReads
from infra.repositories.usage import SqlUsageReads


class SqlReads:
    """domain.ports.Reads for the request's tenant transaction."""

    def __init__(self, db: TenantConnection) -> None:
        self.accounts = SqlAccountReads(db)
        self.customers = SqlCustomerReads(db)
        self.events = SqlEventReads(db)
        self.metrics = SqlMetricReads(db)
        self.plans = SqlPlanReads(db)
        self.usage = SqlUsageReads(db)
