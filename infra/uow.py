"""The SQL unit of work: a savepoint inside the request's tenant transaction.

The request (or CLI command) owns the transaction; each service call is a savepoint in
it, so a service that raises leaves nothing behind while earlier work of the same
request (an idempotency record, a previous mutation) stays intact.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from infra.db import TenantConnection
from infra.repositories.customers import SqlCustomerRepository
from infra.repositories.events import SqlEventRepository
from infra.repositories.metrics import SqlMetricRepository
from infra.repositories.plans import SqlPlanRepository
from infra.repositories.usage import SqlUsageRepository


class SqlUnitOfWork:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db
        self.tenant_id = db.tenant_id
        self.customers = SqlCustomerRepository(db)
        self.events = SqlEventRepository(db)
        self.metrics = SqlMetricRepository(db)
        self.usage = SqlUsageRepository(db)
        self.plans = SqlPlanRepository(db)
        self._savepoint: Any = None
        self._committed = False

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
