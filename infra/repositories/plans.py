"""Plans in PostgreSQL, and their prices as rows of `prices` (migration 0007). A price's model
is stored as JSON with exact decimals as strings and money as integer minor units.

A plan is read in one statement: its row with its active prices gathered in SQL into the
JSON list `plan_from_row` reads (PLAN_PRICES), in the plan's order."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, func, insert, literal_column, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError

from domain.errors import DomainError, ErrorCode, FieldError
from domain.money import Money
from domain.plans import MODEL_KINDS, BillingMode, Interval, Plan, PlanDraft, PlanPrice
from domain.pricing import (
    FlatFee,
    GraduatedTiers,
    Package,
    Percentage,
    PerUnit,
    PriceModel,
    Tier,
    VolumeTiers,
)
from domain.queries import PageRequest
from infra.db import TenantConnection
from infra.pagination import paginate
from infra.repositories.customers import UNIQUE_VIOLATION
from infra.tables import plans, prices, subscriptions


def _minor(money: Money | None) -> int | None:
    return None if money is None else money.minor_units


def _money(minor: int | None, currency: str) -> Money | None:
    return None if minor is None else Money(minor, currency)


def _tiers_to_json(tiers: Sequence[Tier]) -> list[dict[str, Any]]:
    return [
        {
            "upTo": None if t.up_to is None else str(t.up_to),
            "unitAmount": str(t.unit_amount),
            "flatAmount": _minor(t.flat_amount),
        }
        for t in tiers
    ]


def _tiers_from_json(tiers: list[dict[str, Any]], currency: str) -> tuple[Tier, ...]:
    return tuple(
        Tier(
            up_to=None if t["upTo"] is None else Decimal(t["upTo"]),
            unit_amount=Decimal(t["unitAmount"]),
            flat_amount=_money(t["flatAmount"], currency),
        )
        for t in tiers
    )


def model_to_json(model: PriceModel) -> dict[str, Any]:
    data: dict[str, Any] = {"model": MODEL_KINDS[type(model)], "currency": model.currency}
    match model:
        case FlatFee():
            data["amount"] = model.amount.minor_units
        case PerUnit():
            data["unitAmount"] = str(model.unit_amount)
        case GraduatedTiers() | VolumeTiers():
            data["tiers"] = _tiers_to_json(model.tiers)
        case Package():
            data["packageAmount"] = str(model.package_amount)
            data["packageSize"] = model.package_size
        case Percentage():
            data["rate"] = str(model.rate)
            data["fixedAmount"] = _minor(model.fixed_amount)
            data["minAmount"] = _minor(model.min_amount)
            data["maxAmount"] = _minor(model.max_amount)
    return data


def model_from_json(data: dict[str, Any]) -> PriceModel:
    currency = data["currency"]
    match data["model"]:
        case "FLAT_FEE":
            return FlatFee(Money(data["amount"], currency))
        case "PER_UNIT":
            return PerUnit(Decimal(data["unitAmount"]), currency)
        case "GRADUATED":
            return GraduatedTiers(_tiers_from_json(data["tiers"], currency), currency)
        case "VOLUME":
            return VolumeTiers(_tiers_from_json(data["tiers"], currency), currency)
        case "PACKAGE":
            return Package(Decimal(data["packageAmount"]), data["packageSize"], currency)
        case "PERCENTAGE":
            return Percentage(
                Decimal(data["rate"]),
                currency,
                _money(data["fixedAmount"], currency),
                _money(data["minAmount"], currency),
                _money(data["maxAmount"], currency),
            )
    raise ValueError(f"unknown price model {data['model']!r}")


def _price_to_json(
    price_id: str, billing_mode: BillingMode, metric_code: str | None, model: PriceModel
) -> dict[str, Any]:
    return {
        "id": price_id,
        "billingMode": billing_mode.value,
        "metricCode": metric_code,
        "definition": model_to_json(model),
    }


def _price_row(tenant_id: str, plan_id: str, position: int, price: PlanPrice) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "id": price.id,
        "plan_id": plan_id,
        "position": position,
        "billing_mode": price.billing_mode.value,
        "metric_code": price.metric_code,
        "currency": price.currency,
        "model": MODEL_KINDS[type(price.model)],
        "definition": model_to_json(price.model),
    }


def _price_from_row(row: Any) -> PlanPrice:
    return PlanPrice(
        id=row.id,
        model=model_from_json(row.definition),
        billing_mode=BillingMode(row.billing_mode),
        metric_code=row.metric_code,
    )


# A plan's active prices in its order, as the JSON list plan_from_row reads (the shape
# `_price_to_json` writes), correlated with the plans row of the statement that selects it.
PLAN_PRICES = (
    select(
        func.coalesce(
            func.json_agg(
                aggregate_order_by(
                    # Keys as literals: the statement carries no parameter of its own.
                    func.json_build_object(
                        literal_column("'id'"),
                        prices.c.id,
                        literal_column("'billingMode'"),
                        prices.c.billing_mode,
                        literal_column("'metricCode'"),
                        prices.c.metric_code,
                        literal_column("'definition'"),
                        prices.c.definition,
                    ),
                    prices.c.position,
                )
            ),
            literal_column("'[]'::json"),
            type_=JSON,
        )
    )
    .where(
        prices.c.tenant_id == plans.c.tenant_id,
        prices.c.plan_id == plans.c.id,
        prices.c.archived_at.is_(None),
    )
    .correlate(plans)
    .scalar_subquery()
    .label("prices")
)
# A plan's columns and its prices: what plan_from_row reads.
PLAN_COLUMNS = (*plans.c, PLAN_PRICES)


def _minimums_to_json(minimums: Sequence[Money]) -> list[dict[str, Any]]:
    return [{"currency": m.currency, "amount": m.minor_units} for m in minimums]


def plan_from_row(row: Any) -> Plan:
    """A plan from its row: a SQLAlchemy row, or the driver's record (planned reads)."""
    values = row._mapping if hasattr(row, "_mapping") else row
    return Plan(
        id=values["id"],
        code=values["code"],
        name=values["name"],
        description=values["description"],
        interval=Interval(values["interval"]),
        interval_count=values["interval_count"],
        trial_days=values["trial_days"],
        minimum_commitments=tuple(
            Money(m["amount"], m["currency"]) for m in values["minimum_commitments"]
        ),
        prices=tuple(
            PlanPrice(
                id=p["id"],
                model=model_from_json(p["definition"]),
                billing_mode=BillingMode(p["billingMode"]),
                metric_code=p["metricCode"],
            )
            for p in values["prices"]
        ),
        created_at=values["created_at"],
        updated_at=values["updated_at"],
        archived_at=values["archived_at"],
    )


def _with_prices(row: Any, plan_prices: Sequence[PlanPrice]) -> Plan:
    """A plan from its row as a write returned it, with the prices just written."""
    listed = [_price_to_json(p.id, p.billing_mode, p.metric_code, p.model) for p in plan_prices]
    return plan_from_row({**row._mapping, "prices": listed})


class SqlPlanRepository:
    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def add(self, plan_id: str, price_ids: list[str], draft: PlanDraft) -> Plan:
        plan_prices = [
            PlanPrice(price_id, price.model, price.billing_mode, price.metric_code)
            for price_id, price in zip(price_ids, draft.prices, strict=True)
        ]
        statement = (
            insert(plans)
            .values(
                tenant_id=self._db.tenant_id,
                id=plan_id,
                code=draft.code,
                name=draft.name,
                description=draft.description,
                interval=draft.interval.value,
                interval_count=draft.interval_count,
                trial_days=draft.trial_days,
                minimum_commitments=_minimums_to_json(draft.minimum_commitments),
            )
            .returning(*plans.c)
        )
        try:
            row = (await self._db.execute(statement)).one()
        except IntegrityError as exc:
            if getattr(exc.orig, "sqlstate", None) == UNIQUE_VIOLATION:
                raise DomainError(
                    [
                        FieldError(
                            ErrorCode.DUPLICATE, ("input", "code"), "Another plan has this code."
                        )
                    ]
                ) from None
            raise
        await self._insert_prices(plan_id, list(enumerate(plan_prices)))
        return _with_prices(row, plan_prices)

    async def _insert_prices(self, plan_id: str, placed: list[tuple[int, PlanPrice]]) -> None:
        """One statement for all of them."""
        rows = [
            _price_row(self._db.tenant_id, plan_id, position, price) for position, price in placed
        ]
        await self._db.execute(insert(prices).values(rows))

    async def get(
        self, plan_id: str, *, for_update: bool = False, for_share: bool = False
    ) -> Plan | None:
        if for_update or for_share:
            # The lock first, the plan after it: a locking read that waited for another
            # transaction re-reads the plan row, but its prices subquery would still answer
            # from the snapshot taken before the wait (READ COMMITTED), i.e. the replaced
            # prices. The next statement's snapshot sees what the other one committed.
            lock = select(plans.c.id).where(
                plans.c.tenant_id == self._db.tenant_id, plans.c.id == plan_id
            )
            lock = lock.with_for_update(read=not for_update)
            if (await self._db.execute(lock)).first() is None:
                return None
        statement = select(*PLAN_COLUMNS).where(
            plans.c.tenant_id == self._db.tenant_id, plans.c.id == plan_id
        )
        row = (await self._db.execute(statement)).first()
        return None if row is None else plan_from_row(row)

    async def get_many(self, plan_ids: Collection[str]) -> dict[str, Plan]:
        statement = select(*PLAN_COLUMNS).where(
            plans.c.tenant_id == self._db.tenant_id, plans.c.id.in_(sorted(plan_ids))
        )
        return {row.id: plan_from_row(row) for row in await self._db.execute(statement)}

    async def save(self, plan: Plan) -> Plan:
        """Prices no longer the plan's are archived (never deleted: what was billed from them
        keeps pointing at them) and new ones inserted; a price kept keeps its row. The plan
        row is updated in any case, which bumps `updated_at` and the row version the planned
        reads keep answers by (infra/planned/plans.py)."""
        ids = [price.id for price in plan.prices]
        # The CTE's archiving and the SELECT see the same snapshot: the SELECT answers the
        # prices active before this statement, archived ones included.
        archive = (
            update(prices)
            .where(
                prices.c.tenant_id == self._db.tenant_id,
                prices.c.plan_id == plan.id,
                prices.c.archived_at.is_(None),
                prices.c.id.not_in(ids),
            )
            .values(archived_at=func.clock_timestamp())
            .returning(prices.c.id)
            .cte("archived")
        )
        active = select(prices.c.id).where(
            prices.c.tenant_id == self._db.tenant_id,
            prices.c.plan_id == plan.id,
            prices.c.archived_at.is_(None),
        )
        active = active.add_cte(archive)
        were_active = set((await self._db.execute(active)).scalars())
        new = [(i, price) for i, price in enumerate(plan.prices) if price.id not in were_active]
        if new:
            await self._insert_prices(plan.id, new)
        statement = (
            update(plans)
            .where(plans.c.tenant_id == self._db.tenant_id, plans.c.id == plan.id)
            .values(
                name=plan.name,
                description=plan.description,
                trial_days=plan.trial_days,
                minimum_commitments=_minimums_to_json(plan.minimum_commitments),
                updated_at=func.clock_timestamp(),
            )
            .returning(*PLAN_COLUMNS)
        )
        return plan_from_row((await self._db.execute(statement)).one())

    async def has_subscriptions(self, plan_id: str) -> bool:
        # Any subscription, canceled ones too: customers were billed on these prices. New
        # subscriptions take a share lock on the plan row, which the caller (updatePlan)
        # holds FOR UPDATE, so none can start while this answer is acted on.
        statement = select(
            select(subscriptions.c.id)
            .where(
                subscriptions.c.tenant_id == self._db.tenant_id,
                subscriptions.c.plan_id == plan_id,
            )
            .exists()
        )
        return bool((await self._db.execute(statement)).scalar_one())

    async def archive(self, plan_id: str) -> Plan:
        statement = (
            update(plans)
            .where(plans.c.tenant_id == self._db.tenant_id, plans.c.id == plan_id)
            .values(archived_at=func.clock_timestamp(), updated_at=func.clock_timestamp())
            .returning(*PLAN_COLUMNS)
        )
        return plan_from_row((await self._db.execute(statement)).one())


def _filtered(db: TenantConnection, archived: bool | None, columns: Sequence[Any]) -> Any:
    statement = select(*columns).where(plans.c.tenant_id == db.tenant_id)
    if archived is not None:
        statement = statement.where(
            plans.c.archived_at.isnot(None) if archived else plans.c.archived_at.is_(None)
        )
    return statement


class SqlPlanReads:
    """The read path's plans and prices (domain.ports.PlanReads), in the request's tenant."""

    def __init__(self, db: TenantConnection) -> None:
        self._db = db

    async def by_ids(self, ids: Sequence[str]) -> list[Plan | None]:
        statement = select(*PLAN_COLUMNS).where(
            plans.c.tenant_id == self._db.tenant_id, plans.c.id.in_(list(ids))
        )
        found = {row.id: plan_from_row(row) for row in await self._db.execute(statement)}
        return [found.get(plan_id) for plan_id in ids]

    async def page(self, archived: bool | None, descending: bool, page: PageRequest) -> list[Plan]:
        statement = paginate(
            _filtered(self._db, archived, PLAN_COLUMNS),
            plans.c.created_at,
            plans.c.id,
            descending=descending,
            page=page,
        )
        return [plan_from_row(row) for row in await self._db.execute(statement)]

    async def count(self, archived: bool | None) -> int:
        statement = _filtered(self._db, archived, [func.count()])
        return int((await self._db.execute(statement)).scalar_one())

    async def prices_by_ids(self, ids: Sequence[str]) -> list[PlanPrice | None]:
        """Prices by id, archived ones included (a price id always means one price), in
        one statement."""
        statement = select(
            prices.c.id, prices.c.billing_mode, prices.c.metric_code, prices.c.definition
        ).where(prices.c.tenant_id == self._db.tenant_id, prices.c.id.in_(list(ids)))
        found = {row.id: _price_from_row(row) for row in await self._db.execute(statement)}
        return [found.get(price_id) for price_id in ids]
