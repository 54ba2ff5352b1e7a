"""The rule behind `updatePlan`: a plan's prices change only while no subscription uses it.

Subscriptions do not exist yet, so the PostgreSQL repository always answers "not in use";
this drives the service with a unit of work whose plan is in use, to pin the rule down for
the day it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from domain.errors import DomainError, ErrorCode
from domain.money import Money
from domain.plans import BillingMode, Interval, Plan, PlanChanges, PlanPrice, PriceDraft
from domain.pricing import FlatFee, PerUnit
from domain.services.plans import update_plan

NOW = datetime(2026, 11, 26, tzinfo=UTC)
PLAN = Plan(
    id="plan_A",
    code="pro",
    name="Pro",
    description=None,
    interval=Interval.MONTH,
    interval_count=1,
    trial_days=0,
    minimum_commitments=(),
    prices=(PlanPrice("price_A", FlatFee(Money(4900, "USD")), BillingMode.LICENSED, None),),
    created_at=NOW,
    updated_at=NOW,
    archived_at=None,
)
NEW_PRICES = (PriceDraft(PerUnit(Decimal("3"), "USD")),)


@dataclass
class _Plans:
    subscribed: bool
    saved: list[Plan] = field(default_factory=list)

    async def get(self, plan_id: str, *, for_update: bool = False) -> Plan | None:
        return PLAN if plan_id == PLAN.id else None

    async def has_subscriptions(self, plan_id: str) -> bool:
        return self.subscribed

    async def save(self, plan: Plan) -> Plan:
        self.saved.append(plan)
        return plan


@dataclass
class _Events:
    added: list[str] = field(default_factory=list)

    async def add(self, event_type: str, object_id: str, data: dict[str, Any]) -> None:
        self.added.append(event_type)


class _Metrics:
    async def by_codes(self, codes: set[str]) -> dict[str, Any]:
        return {}


class _UnitOfWork:
    tenant_id = "acct_test"

    def __init__(self, subscribed: bool) -> None:
        self.plans = _Plans(subscribed)
        self.events = _Events()
        self.metrics = _Metrics()
        self.committed = False

    async def __aenter__(self) -> _UnitOfWork:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    async def commit(self) -> None:
        self.committed = True


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (PlanChanges(prices=NEW_PRICES), ("input", "prices")),
        (PlanChanges(name="Pro 2", minimum_commitments=()), ("input", "minimumCommitments")),
    ],
)
async def test_a_plan_in_use_refuses_new_prices_and_writes_nothing(
    changes: PlanChanges, field: tuple[str, ...]
) -> None:
    uow = _UnitOfWork(subscribed=True)
    with pytest.raises(DomainError) as refused:
        await update_plan(uow, PLAN.id, changes)  # type: ignore[arg-type]
    assert [(e.code, e.field) for e in refused.value.errors] == [(ErrorCode.IN_USE, field)]
    assert (uow.plans.saved, uow.events.added, uow.committed) == ([], [], False)


async def test_a_plan_in_use_still_changes_its_name() -> None:
    uow = _UnitOfWork(subscribed=True)
    updated = await update_plan(uow, PLAN.id, PlanChanges(name="Pro 2026"))  # type: ignore[arg-type]
    assert updated.name == "Pro 2026"
    assert updated.prices == PLAN.prices
    assert (uow.events.added, uow.committed) == (["plan.updated"], True)


async def test_a_plan_not_in_use_takes_new_prices_under_new_ids() -> None:
    uow = _UnitOfWork(subscribed=False)
    updated = await update_plan(uow, PLAN.id, PlanChanges(prices=NEW_PRICES))  # type: ignore[arg-type]
    assert [p.model for p in updated.prices] == [NEW_PRICES[0].model]
    assert updated.prices[0].id != "price_A" and updated.prices[0].id.startswith("price_")
    assert uow.plans.saved == [updated]
