"""Planned reads of plans: `plans(first:, after:)`.

A plan's prices come with its row, gathered by the page's statement from `prices` (the
repository's PLAN_PRICES), so a node is the schema's own Plan made from the row (the
repository's plan_from_row, then Plan.from_domain) and walked along the selection, as the
executor would serialize it: the page comes from one planned statement on the read-only
transaction's driver connection, without the resolver's tenant transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import GraphQLNonNull

from infra.db import ReadConnection
from infra.planned.customers import ShapeTools
from infra.planned.kept import MISSING, PLAN_ANSWERS
from infra.planned.lists import ListOf
from infra.planned.selection import Selected
from infra.planned.walker import NO_ENV
from infra.repositories.plans import PLAN_PRICES, plan_from_row
from infra.tables import plans
from schema.plans import Plan


class PlanShape:
    """A Plan selection: every column and the plan's prices (plan_from_row reads them all),
    walked.

    The answer is a function of the row and its active prices, so it is kept by the row's
    version: its id with the id of the transaction that wrote it (`xmin`, new with every
    UPDATE) and its `updated_at`, and reused while the row is unchanged. Prices change only
    through the repository's save, which updates the plan row in the same transaction; a
    price archived by any other path must do so too, or kept answers would still list it."""

    loaded: Sequence[Any] = ()
    row_version = True
    computed = (PLAN_PRICES,)

    def __init__(self, selected: Selected, tools: ShapeTools) -> None:
        self.columns = {column.name for column in plans.c}
        self._convert = tools.walker.output(GraphQLNonNull(tools.node_type), selected)

    def bind(self, values: dict[str, Any]) -> Any:
        return []

    async def load(self, db: ReadConnection, bound: Any, rows: list[Any]) -> Any:
        return []

    async def build(self, row: Any, loaded: Any = None) -> Any:
        key = (self, row["tenant_id"], row["id"], row["row_version"], row["updated_at"])
        answer = PLAN_ANSWERS.get(key)
        if answer is MISSING:
            answer = await self._convert(Plan.from_domain(plan_from_row(row)), NO_ENV)
            PLAN_ANSWERS.put(key, answer)
        return answer


def plan_list(tools: ShapeTools) -> ListOf:
    return ListOf(
        plans,
        "PlanConnection",
        "PlanEdge",
        frozenset({"Plan", "Node"}),
        lambda selected: PlanShape(selected, tools),
    )
