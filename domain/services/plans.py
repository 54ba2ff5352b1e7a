"""Creating, changing and archiving plans. Prices change only while no subscription uses the
plan (see domain.plans)."""

from __future__ import annotations

from dataclasses import replace

from domain import events
from domain.errors import DomainError, ErrorCode, FieldError, NotFound
from domain.ids import new_id, prefix_of
from domain.plans import (
    Plan,
    PlanChanges,
    PlanDraft,
    PlanPrice,
    as_draft,
    validate_changes,
    validate_plan,
)
from domain.ports import UnitOfWork

_ID_FIELD = ("input", "id")


async def _validated(uow: UnitOfWork, draft: PlanDraft) -> PlanDraft:
    named = {p.metric_code for p in draft.prices if p.metric_code}
    known = await uow.metrics.by_codes(named) if named else {}
    return validate_plan(draft, {code: metric.aggregation for code, metric in known.items()})


async def create_plan(uow: UnitOfWork, draft: PlanDraft) -> Plan:
    async with uow:
        clean = await _validated(uow, draft)
        plan = await uow.plans.add(new_id("plan"), [new_id("price") for _ in clean.prices], clean)
        await uow.events.add(events.PLAN_CREATED, plan.id, plan.snapshot())
        await uow.commit()
    return plan


async def update_plan(uow: UnitOfWork, plan_id: str, changes: PlanChanges) -> Plan:
    clean = validate_changes(changes)
    async with uow:
        current = await _plan(uow, plan_id)
        if current.archived:
            raise DomainError(
                [FieldError(ErrorCode.ARCHIVED, _ID_FIELD, "An archived plan cannot change.")]
            )
        prices, minimums = current.prices, current.minimum_commitments
        if clean.changes_prices:
            # The plan row is locked (FOR UPDATE), so no subscription can start on the old
            # prices while they are replaced.
            if await uow.plans.has_subscriptions(current.id):
                field = "prices" if clean.prices is not None else "minimumCommitments"
                raise DomainError(
                    [
                        FieldError(
                            ErrorCode.IN_USE,
                            ("input", field),
                            "Subscriptions use this plan, so its prices cannot change: "
                            "create a new plan (a new version) with the new prices.",
                        )
                    ]
                )
            priced = await _validated(uow, as_draft(current, clean))
            minimums = priced.minimum_commitments
            if clean.prices is not None:
                prices = tuple(
                    PlanPrice(new_id("price"), p.model, p.billing_mode, p.metric_code)
                    for p in priced.prices
                )
        changed = replace(
            current,
            name=clean.name if clean.name is not None else current.name,
            description=(
                None
                if clean.clear_description
                else clean.description
                if clean.description is not None
                else current.description
            ),
            trial_days=clean.trial_days if clean.trial_days is not None else current.trial_days,
            prices=prices,
            minimum_commitments=minimums,
        )
        if changed == current:
            return current
        saved = await uow.plans.save(changed)
        await uow.events.add(events.PLAN_UPDATED, saved.id, saved.snapshot())
        await uow.commit()
    return saved


async def archive_plan(uow: UnitOfWork, plan_id: str) -> Plan:
    async with uow:
        current = await _plan(uow, plan_id)
        if current.archived:
            raise DomainError(
                [FieldError(ErrorCode.ALREADY_ARCHIVED, _ID_FIELD, "Plan is already archived.")]
            )
        archived = await uow.plans.archive(plan_id)
        await uow.events.add(events.PLAN_ARCHIVED, archived.id, archived.snapshot())
        await uow.commit()
    return archived


async def _plan(uow: UnitOfWork, plan_id: str) -> Plan:
    plan = None
    if prefix_of(plan_id) == "plan":
        plan = await uow.plans.get(plan_id, for_update=True)
    if plan is None:
        raise NotFound(_ID_FIELD, "Plan")
    return plan
