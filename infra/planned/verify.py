"""The differential check of the planned path, for development and the test suite.

With PLANNED_READS_VERIFY on, every query the planned path answers is answered by the
executor too, and the two responses must be byte-identical (status and body). A difference
is logged and kept in DIFFERENCES, and the client gets the executor's answer. The test suite
runs with it on and fails any test whose operations answered differently
(tests/conftest.py), so every operation of every test is a differential test of the plans.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("ledgerline.planned")


@dataclass(frozen=True)
class Difference:
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None
    scopes: frozenset[str]
    planned: tuple[int, bytes]
    executed: tuple[int, bytes]


DIFFERENCES: list[Difference] = []
# True while the executor answers a query a second time, for the comparison: what that
# costs (statements, for instance) is the check's, not the request's.
VERIFYING: ContextVar[bool] = ContextVar("verifying_planned_answer", default=False)


def compare(difference: Difference) -> bool:
    """True when both paths answered the same bytes; otherwise logs and keeps the case."""
    if difference.planned == difference.executed:
        return True
    DIFFERENCES.append(difference)
    log.error(
        "planned answer differs from the executor's",
        extra={
            "operation_name": difference.operation_name,
            "planned": difference.planned[1][:2000].decode(errors="replace"),
            "executed": difference.executed[1][:2000].decode(errors="replace"),
        },
    )
    return False
