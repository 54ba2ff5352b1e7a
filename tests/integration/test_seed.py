"""The demo seed: built through the services, each in a unit of work that owns its
transaction, at the time its clock tells, with a year of billing history behind it."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.seed import DEMO_CUSTOMERS, DEMO_METRICS, DEMO_PLANS, DEMO_TENANT, seed_demo
from tests.support.clock import FixedClock

SEEDED_AT = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
NUMBER = re.compile(r"DEMO-(\d{4})-(\d{6})")


@dataclass(frozen=True)
class Seeded:
    first: bool
    second: bool
    # Every demo row of every tenant table, digested, after each seed.
    after_first: dict[str, str]
    after_second: dict[str, str]


async def _digest(admin: asyncpg.Connection) -> dict[str, str]:
    tables = await admin.fetch(
        "select table_name from information_schema.columns"
        " where column_name = 'tenant_id' and table_schema = 'public' order by 1"
    )
    digests = {}
    for row in tables:
        table = row["table_name"]
        digests[table] = await admin.fetchval(
            f"select md5(coalesce(string_agg(t::text, '|' order by t::text), ''))"
            f" from {table} t where tenant_id = $1",
            DEMO_TENANT,
        )
    return digests


@pytest.fixture(scope="module")
async def seeded(engine: AsyncEngine, test_database: Any) -> AsyncIterator[Seeded]:
    # given a clock at a time of the test's choosing: the demo is seeded, and seeded again
    clock = FixedClock(SEEDED_AT)
    admin = await asyncpg.connect(test_database.admin_dsn)
    try:
        first = await seed_demo(engine, clock)
        after_first = await _digest(admin)
        second = await seed_demo(engine, clock)
        yield Seeded(first, second, after_first, await _digest(admin))
    finally:
        await admin.close()


async def test_the_demo_seed_creates_its_data_once_at_the_clocks_time(
    seeded: Seeded, engine: AsyncEngine, admin: asyncpg.Connection
) -> None:
    # then the first seed created it all and the second nothing
    assert (seeded.first, seeded.second) == (True, False)

    async def count(table: str, where: str = "true") -> int:
        query = f"select count(*) from {table} where tenant_id = $1 and {where}"
        return int(await admin.fetchval(query, DEMO_TENANT))

    assert await count("customers") == len(DEMO_CUSTOMERS)
    assert await count("customers", "archived_at is not null") == 1
    assert await count("billable_metrics") == len(DEMO_METRICS)
    assert await count("plans") == len(DEMO_PLANS)
    assert await count("events", "type = 'customer.created'") == len(DEMO_CUSTOMERS)
    # and its week of usage ends at the clock's time
    earliest, latest = await admin.fetchrow(
        "select min(occurred_at), max(occurred_at) from usage_events where tenant_id = $1",
        DEMO_TENANT,
    )
    assert SEEDED_AT - timedelta(days=7) <= earliest < latest < SEEDED_AT
    assert engine.pool.checkedout() == 0


async def test_a_second_seed_writes_nothing(seeded: Seeded) -> None:
    assert seeded.after_first["invoices"] != _EMPTY_DIGEST
    assert seeded.after_second == seeded.after_first


_EMPTY_DIGEST = "d41d8cd98f00b204e9800998ecf8427e"  # md5 of ''


async def _invoices(admin: asyncpg.Connection, where: str = "true") -> list[asyncpg.Record]:
    return await admin.fetch(
        "select i.*, c.name, c.tax_exempt from invoices i"
        " join customers c on c.tenant_id = i.tenant_id and c.id = i.customer_id"
        f" where i.tenant_id = $1 and {where} order by i.sequence nulls last, i.created_at",
        DEMO_TENANT,
    )


async def test_a_subscription_was_billed_every_month_of_the_year_without_a_gap(
    seeded: Seeded, admin: asyncpg.Connection
) -> None:
    periods = await _invoices(
        admin, "billing_reason in ('SUBSCRIPTION_CREATE', 'SUBSCRIPTION_CYCLE')"
    )
    by_subscription: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for invoice in periods:
        by_subscription[invoice["subscription_id"]].append(invoice)
    longest = max(by_subscription.values(), key=len)
    longest.sort(key=lambda invoice: invoice["period_start"])
    assert len(longest) >= 12
    assert all(invoice["status"] != "DRAFT" for invoice in longest)
    for earlier, later in zip(longest, longest[1:]):
        assert earlier["period_end"] == later["period_start"]
        # each renewal is dated at the boundary it bills, not on the day of the seed
        assert later["finalized_at"] == later["period_start"]
    assert longest[0]["period_start"] >= SEEDED_AT - timedelta(days=366)
    assert longest[-1]["period_start"] <= SEEDED_AT < longest[-1]["period_end"]


async def test_invoice_numbers_follow_the_demo_template_gaplessly_in_date_order(
    seeded: Seeded, admin: asyncpg.Connection
) -> None:
    finalized = await _invoices(admin, "status <> 'DRAFT'")
    assert [invoice["sequence"] for invoice in finalized] == list(range(1, len(finalized) + 1))
    for invoice in finalized:
        match = NUMBER.fullmatch(invoice["number"])
        assert match is not None, invoice["number"]
        assert int(match[1]) == invoice["finalized_at"].year
        assert int(match[2]) == invoice["sequence"]
    dates = [invoice["finalized_at"] for invoice in finalized]
    assert dates == sorted(dates)
    assert SEEDED_AT - timedelta(days=366) <= dates[0] and dates[-1] <= SEEDED_AT
    assert len({date.year for date in dates}) == 2  # the year crosses a new year


async def test_a_mid_period_plan_change_is_invoiced_as_a_credit_and_a_charge(
    seeded: Seeded, admin: asyncpg.Connection
) -> None:
    lines = await admin.fetch(
        "select l.invoice_id, l.amount, l.plan_id, l.kind from invoice_lines l"
        " join invoices i on i.tenant_id = l.tenant_id and i.id = l.invoice_id"
        " where l.tenant_id = $1 and i.billing_reason = 'SUBSCRIPTION_UPDATE'",
        DEMO_TENANT,
    )
    by_invoice: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for line in lines:
        by_invoice[line["invoice_id"]].append(line)
    changes = [
        found
        for found in by_invoice.values()
        if any(line["amount"] < 0 for line in found) and any(line["amount"] > 0 for line in found)
    ]
    assert len(changes) == 1
    [change] = changes
    assert {line["kind"] for line in change} == {"PRORATION"}
    credit = next(line for line in change if line["amount"] < 0)
    charge = next(line for line in change if line["amount"] > 0)
    assert credit["plan_id"] != charge["plan_id"]


async def test_invoices_are_taxed_in_several_countries_and_reverse_charged_in_one(
    seeded: Seeded, admin: asyncpg.Connection
) -> None:
    taxed = await admin.fetch(
        "select distinct r.country, r.region, r.inclusive from invoice_lines l"
        " join tax_rates r on r.tenant_id = l.tenant_id and r.id = l.tax_rate_id"
        " where l.tenant_id = $1 and l.tax_amount > 0",
        DEMO_TENANT,
    )
    assert len({rate["country"] for rate in taxed}) >= 3
    assert ("US", "CA") in {(rate["country"], rate["region"]) for rate in taxed}
    # one customer's prices include the tax: the total is what the lines say
    inclusive = await _invoices(
        admin,
        "exists (select 1 from invoice_lines l where l.tenant_id = i.tenant_id"
        " and l.invoice_id = i.id and l.tax_inclusive and l.tax_amount > 0)",
    )
    assert inclusive
    assert all(
        invoice["total"] == invoice["subtotal"] - invoice["discount_total"] for invoice in inclusive
    )
    assert all(invoice["tax_total"] > 0 for invoice in inclusive)
    reverse = await _invoices(admin, "reverse_charge")
    assert reverse
    assert all(
        invoice["tax_total"] == 0 and invoice["tax_exempt"] == "REVERSE" for invoice in reverse
    )


async def test_coupons_discount_the_invoices_they_cover(
    seeded: Seeded, admin: asyncpg.Connection
) -> None:
    used = await admin.fetch(
        "select c.duration, c.duration_in_months, c.max_redemptions, c.times_redeemed,"
        " count(distinct l.invoice_id) as invoices"
        " from coupons c join discounts d on d.tenant_id = c.tenant_id and d.coupon_id = c.id"
        " join invoice_lines l on l.tenant_id = d.tenant_id"
        "  and l.discounts @> jsonb_build_array(jsonb_build_object('discountId', d.id))"
        " where c.tenant_id = $1 group by c.tenant_id, c.id",
        DEMO_TENANT,
    )
    by_duration = {coupon["duration"]: coupon for coupon in used}
    assert set(by_duration) == {"ONCE", "REPEATING", "FOREVER"}
    assert by_duration["ONCE"]["invoices"] == 1
    repeating = by_duration["REPEATING"]
    assert repeating["invoices"] == repeating["duration_in_months"] == 3
    capped = [coupon for coupon in used if coupon["max_redemptions"] is not None]
    assert capped and all(c["times_redeemed"] <= c["max_redemptions"] for c in capped)
    discounted = await _invoices(admin, "discount_total > 0")
    assert all(invoice["total"] >= 0 for invoice in discounted)


async def test_one_off_invoices_show_every_state_and_subscriptions_every_ending(
    seeded: Seeded, admin: asyncpg.Connection
) -> None:
    one_offs = await _invoices(admin, "billing_reason = 'MANUAL'")
    assert {invoice["status"] for invoice in one_offs} == {
        "DRAFT",
        "OPEN",
        "PAID",
        "VOID",
        "UNCOLLECTIBLE",
    }
    subscriptions = await admin.fetch(
        "select status, cancel_at_period_end, canceled_at, ended_at, current_period_end"
        " from subscriptions where tenant_id = $1",
        DEMO_TENANT,
    )
    statuses = [subscription["status"] for subscription in subscriptions]
    assert statuses.count("TRIALING") == 1
    canceled = [s for s in subscriptions if s["status"] == "CANCELED"]
    # one ended at its period's end, one at once (mid-period)
    assert len(canceled) == 2
    assert {s["ended_at"] == s["current_period_end"] for s in canceled} == {True, False}
    live = [s for s in subscriptions if s["status"] != "CANCELED"]
    assert all(s["current_period_end"] > SEEDED_AT for s in live)


async def test_invoices_are_paid_partly_paid_declined_and_refunded(
    seeded: Seeded, admin: asyncpg.Connection
) -> None:
    renewals = await _invoices(
        admin, "billing_reason in ('SUBSCRIPTION_CREATE', 'SUBSCRIPTION_CYCLE') and amount_due > 0"
    )
    # the worker charged every renewal with something due as it was billed
    assert renewals and all(invoice["status"] == "PAID" for invoice in renewals), [
        (i["number"], i["status"]) for i in renewals if i["status"] != "PAID"
    ]
    payments = await admin.fetch(
        "select p.*, i.status as invoice_status, i.amount_due, i.amount_paid"
        " from payments p join invoices i on i.tenant_id = p.tenant_id and i.id = p.invoice_id"
        " where p.tenant_id = $1",
        DEMO_TENANT,
    )
    statuses = {(p["status"], p["invoice_status"]) for p in payments}
    assert ("SUCCEEDED", "PAID") in statuses
    assert ("FAILED", "UNCOLLECTIBLE") in statuses  # declined, then written off
    partly = [p for p in payments if p["invoice_status"] == "OPEN" and p["status"] == "SUCCEEDED"]
    assert partly and all(0 < p["amount_paid"] < p["amount_due"] for p in partly)
    refunded = [p for p in payments if p["amount_refunded"] > 0]
    assert [p["amount_refunded"] for p in refunded] == [15000]  # through a credit note
    # and the ledger agrees: each invoice's amount paid is its payments' sum
    mismatched = await admin.fetch(
        "select i.id from invoices i where i.tenant_id = $1 and i.amount_paid <>"
        " (select coalesce(sum(amount), 0) from payments p where p.tenant_id = i.tenant_id"
        "  and p.invoice_id = i.id and p.status = 'SUCCEEDED')",
        DEMO_TENANT,
    )
    assert mismatched == []


async def test_the_demo_has_a_credited_invoice_and_balances_taken_and_held(
    seeded: Seeded, admin: asyncpg.Connection
) -> None:
    # the workshop invoice: 300.00 off what is due and 200.00 to Acme's balance
    notes = await admin.fetch(
        "select n.number, n.amount, n.outcome, i.amount_credited, i.amount_due, i.total"
        " from credit_notes n join invoices i on i.tenant_id = n.tenant_id and i.id = n.invoice_id"
        " where n.tenant_id = $1 order by n.sequence",
        DEMO_TENANT,
    )
    assert [(n["amount"], n["outcome"]) for n in notes] == [
        (30000, "REDUCE_AMOUNT_DUE"),
        (20000, "CREDIT_BALANCE"),
        (15000, "REFUND"),  # once paid, travel billed twice goes back to the card
    ]
    assert re.fullmatch(r"CN-\d{4}-000001", notes[0]["number"])
    assert notes[0]["amount_credited"] == 30000
    assert notes[0]["amount_due"] == notes[0]["total"] - 30000
    # Acme's next invoice took the 200.00; the studio holds its 25.00 referral credit
    applied = await admin.fetchval(
        "select sum(balance_applied) from invoices i join customers c"
        " on c.tenant_id = i.tenant_id and c.id = i.customer_id"
        " where i.tenant_id = $1 and c.name = 'Acme Corporation'",
        DEMO_TENANT,
    )
    assert applied == 20000
    held = await admin.fetchval(
        "select balance from customers where tenant_id = $1 and name = 'Sunset Yoga Studio'",
        DEMO_TENANT,
    )
    assert held == -2500
