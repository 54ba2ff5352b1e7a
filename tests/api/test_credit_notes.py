"""Credit notes through the real app: each outcome, the caps (total, line, what is left to
pay), bad input written nowhere, numbering, concurrency and idempotent replay."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from pypdf import PdfReader

from tests.api.billing_documents import VOID
from tests.api.credit_documents import (
    CREATE_CREDIT_NOTE,
    adjust,
    balance_of,
    credit,
    customer,
    invoice_of,
    read_invoice,
)
from tests.api.test_payments import open_invoice, pay
from tests.conftest import Tenant

YEAR = datetime.now(UTC).year

CREDIT_NOTES_LIST = """
query($filter: CreditNoteFilterInput) {
  creditNotes(first: 10, filter: $filter) {
    totalCount edges { node { id number invoiceId customerId amount { amount } } }
  }
}
"""


async def _events(admin: asyncpg.Connection, tenant: Tenant, object_id: str) -> list[str]:
    rows = await admin.fetch(
        "select type from events where tenant_id = $1 and object_id = $2 order by seq",
        tenant.id,
        object_id,
    )
    return [row["type"] for row in rows]


async def _written(admin: asyncpg.Connection, tenant: Tenant) -> tuple[int, int, int]:
    """(credit notes, balance transactions, credit note events) of the tenant."""
    row = await admin.fetchrow(
        """
        select (select count(*) from credit_notes where tenant_id = $1),
               (select count(*) from customer_balance_transactions where tenant_id = $1),
               (select count(*) from events where tenant_id = $1 and type like 'credit_note.%')
        """,
        tenant.id,
    )
    return (row[0], row[1], row[2])


async def test_reducing_the_amount_due_in_part_then_in_full_pays_the_invoice(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given an open invoice of 100.00
    invoice = await invoice_of(tenant, await customer(tenant), "100.00")

    # when 30.00 of it is credited against what is due
    first = await credit(tenant, invoice["id"], amount="30.00", outcome="REDUCE_AMOUNT_DUE")

    # then the credit note is numbered and the invoice owes 70.00, still open
    assert first["userErrors"] == []
    note = first["creditNote"]
    assert note["number"] == f"CN-{YEAR}-000001"
    assert note["amount"] == {"amount": "30.00", "currency": "USD"}
    assert note["invoice"]["status"] == "OPEN"
    assert note["invoice"]["amountCredited"] == {"amount": "30.00"}
    assert note["invoice"]["amountDue"] == {"amount": "70.00"}
    assert note["invoice"]["amountRemaining"] == {"amount": "70.00"}

    # when the remaining 70.00 is credited too
    second = await credit(
        tenant, invoice["id"], amount="70.00", outcome="REDUCE_AMOUNT_DUE", reason="DUPLICATE"
    )

    # then nothing is left to pay: the invoice is paid, and both notes are on it
    assert second["userErrors"] == []
    assert second["creditNote"]["number"] == f"CN-{YEAR}-000002"
    after = await read_invoice(tenant, invoice["id"])
    assert after["status"] == "PAID" and after["paidAt"] is not None
    assert after["amountDue"] == {"amount": "0.00"}
    assert after["amountRemaining"] == {"amount": "0.00"}
    assert [n["amount"]["amount"] for n in after["creditNotes"]] == ["30.00", "70.00"]
    assert (await _events(admin, tenant, invoice["id"]))[-1:] == ["invoice.paid"]
    assert await _events(admin, tenant, first["creditNote"]["id"]) == ["credit_note.created"]


async def test_crediting_the_balance_is_applied_to_the_next_invoice_at_finalization(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given an open invoice of 80.00, 50.00 of which is credited to the customer's balance
    customer_id = await customer(tenant)
    invoice = await invoice_of(tenant, customer_id, "80.00")
    payload = await credit(tenant, invoice["id"], amount="50.00", reason="ORDER_CHANGE")
    assert payload["userErrors"] == []
    # then the invoice still owes its 80.00 and the customer holds 50.00 of credit
    assert payload["creditNote"]["invoice"]["amountDue"] == {"amount": "80.00"}
    held = await balance_of(tenant, customer_id)
    assert held["balance"] == {"amount": "-50.00", "currency": "USD"}
    [entry] = held["balanceTransactions"]
    assert entry["kind"] == "CREDIT_NOTE" and entry["amount"] == {"amount": "-50.00"}
    assert entry["creditNote"]["id"] == payload["creditNote"]["id"]

    # when their next invoice (30.00) is finalized
    covered = await invoice_of(tenant, customer_id, "30.00")

    # then the credit pays it at once, and 20.00 of credit is left
    assert covered["status"] == "PAID" and covered["paidAt"] is not None
    assert covered["balanceApplied"] == {"amount": "30.00"}
    assert covered["amountDue"] == {"amount": "0.00"}
    assert await _events(admin, tenant, covered["id"]) == [
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
    ]
    # and the one after (45.00) takes the 20.00 left and stays open for the rest
    partly = await invoice_of(tenant, customer_id, "45.00")
    assert partly["status"] == "OPEN"
    assert partly["balanceApplied"] == {"amount": "20.00"}
    assert partly["amountRemaining"] == {"amount": "25.00"}
    held = await balance_of(tenant, customer_id)
    assert held["balance"]["amount"] == "0.00"
    assert [
        (e["kind"], e["amount"]["amount"], e["endingBalance"]["amount"])
        for e in held["balanceTransactions"]
    ] == [
        ("APPLIED_TO_INVOICE", "20.00", "0.00"),
        ("APPLIED_TO_INVOICE", "30.00", "-20.00"),
        ("CREDIT_NOTE", "-50.00", "-50.00"),
    ]
    assert held["balanceTransactions"][0]["invoice"]["id"] == partly["id"]


async def test_a_voided_invoice_gives_its_applied_credit_back(tenant: Tenant) -> None:
    # given an invoice that took 10.00 of the customer's credit
    customer_id = await customer(tenant)
    assert (await _adjusted(tenant, customer_id, "-10.00"))["userErrors"] == []
    invoice = await invoice_of(tenant, customer_id, "25.00")
    assert invoice["balanceApplied"] == {"amount": "10.00"}
    # when it is voided
    body = await tenant.gql(VOID, {"input": {"id": invoice["id"]}})
    assert body["data"]["voidInvoice"]["userErrors"] == []
    # then the credit is the customer's again
    held = await balance_of(tenant, customer_id)
    assert held["balance"]["amount"] == "-10.00"
    assert held["balanceTransactions"][0]["kind"] == "UNAPPLIED_FROM_INVOICE"


async def _adjusted(tenant: Tenant, customer_id: str, amount: str) -> dict[str, Any]:
    return await adjust(tenant, customer_id, amount)


async def test_lines_are_credited_each_within_what_it_charged(tenant: Tenant) -> None:
    # given an invoice with lines of 60.00 and 40.00
    invoice = await invoice_of(tenant, await customer(tenant), "60.00", "40.00")
    first_line, second_line = (line["id"] for line in invoice["lines"])

    # when 25.00 of the first and all of the second are credited
    payload = await credit(
        tenant,
        invoice["id"],
        lines=[
            {"invoiceLineId": first_line, "amount": "25.00"},
            {"invoiceLineId": second_line, "amount": "40.00"},
        ],
        outcome="REDUCE_AMOUNT_DUE",
    )

    # then the note credits 65.00 line by line
    assert payload["userErrors"] == []
    note = payload["creditNote"]
    assert note["amount"]["amount"] == "65.00"
    assert [
        (li["invoiceLineId"], li["description"], li["amount"]["amount"]) for li in note["lines"]
    ] == [(first_line, "Item 0", "25.00"), (second_line, "Item 1", "40.00")]
    assert note["invoice"]["amountRemaining"] == {"amount": "35.00"}

    # when the second line is credited again, and the first beyond what is left of it
    again = await credit(
        tenant,
        invoice["id"],
        lines=[
            {"invoiceLineId": first_line, "amount": "35.01"},
            {"invoiceLineId": second_line, "amount": "0.01"},
        ],
    )
    # then both are refused, each at its line
    assert again["creditNote"] is None
    assert [(e["code"], e["field"]) for e in again["userErrors"]] == [
        ("CREDIT_NOTE_EXCEEDS_CREDITABLE", ["input", "lines", "0", "amount"]),
        ("CREDIT_NOTE_EXCEEDS_CREDITABLE", ["input", "lines", "1", "amount"]),
    ]


BAD_INPUTS: dict[str, tuple[dict[str, Any], str, list[str]]] = {
    "zero amount": ({"amount": "0"}, "INVALID", ["input", "amount"]),
    "negative amount": ({"amount": "-5.00"}, "INVALID", ["input", "amount"]),
    "finer than cents": ({"amount": "1.001"}, "INVALID", ["input", "amount"]),
    "above the total": (
        {"amount": "100.01"},
        "CREDIT_NOTE_EXCEEDS_CREDITABLE",
        ["input", "amount"],
    ),
    "neither amount nor lines": ({}, "REQUIRED", ["input", "amount"]),
    "amount and lines": (
        {"amount": "1.00", "lines": [{"invoiceLineId": "<line>", "amount": "1.00"}]},
        "INVALID",
        ["input", "amount"],
    ),
    "a line of another invoice": (
        {"lines": [{"invoiceLineId": "il_000000000000000000000000", "amount": "1.00"}]},
        "NOT_FOUND",
        ["input", "lines", "0", "invoiceLineId"],
    ),
    "a line twice": (
        {
            "lines": [
                {"invoiceLineId": "<line>", "amount": "1.00"},
                {"invoiceLineId": "<line>", "amount": "1.00"},
            ]
        },
        "DUPLICATE",
        ["input", "lines", "1", "invoiceLineId"],
    ),
    "above the total less an earlier credit note": (
        {"amount": "90.01", "_credit_first": "10.00"},
        "CREDIT_NOTE_EXCEEDS_CREDITABLE",
        ["input", "amount"],
    ),
    "refunding an unpaid invoice": (
        {"amount": "1.00", "outcome": "REFUND"},
        "CREDIT_NOTE_EXCEEDS_PAID",
        ["input", "amount"],
    ),
    "an unknown invoice": (
        {"amount": "1.00", "invoiceId": "inv_000000000000000000000000"},
        "NOT_FOUND",
        ["input", "invoiceId"],
    ),
    "not an invoice id": (
        {"amount": "1.00", "invoiceId": "cus_000000000000000000000000"},
        "NOT_FOUND",
        ["input", "invoiceId"],
    ),
    "a memo too long": ({"amount": "1.00", "memo": "x" * 2001}, "TOO_LONG", ["input", "memo"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
async def test_bad_input_is_refused_and_nothing_is_written(
    tenant: Tenant, admin: asyncpg.Connection, case: str
) -> None:
    # given an open invoice of 100.00 (credited 10.00 first, for some cases)
    given, code, field = BAD_INPUTS[case]
    given = dict(given)
    invoice = await invoice_of(tenant, await customer(tenant), "100.00")
    line_id = invoice["lines"][0]["id"]
    if "_credit_first" in given:
        first = await credit(tenant, invoice["id"], amount=given.pop("_credit_first"))
        assert first["userErrors"] == []
    given = {
        k: [dict(li, invoiceLineId=li["invoiceLineId"].replace("<line>", line_id)) for li in v]
        if k == "lines"
        else v
        for k, v in given.items()
    }
    before = await _written(admin, tenant)
    # when
    payload = await credit(tenant, given.pop("invoiceId", invoice["id"]), **given)
    # then one user error says why, and nothing was written
    assert payload["creditNote"] is None
    assert [(e["code"], e["field"]) for e in payload["userErrors"]][:1] == [(code, field)], payload
    assert await _written(admin, tenant) == before


async def test_the_amount_due_is_reduced_by_no_more_than_is_left_to_pay(tenant: Tenant) -> None:
    # given an invoice of 100.00 that took 10.00 of its customer's credit: 90.00 left to pay
    customer_id = await customer(tenant)
    assert (await _adjusted(tenant, customer_id, "-10.00"))["userErrors"] == []
    invoice = await invoice_of(tenant, customer_id, "100.00")
    assert invoice["amountRemaining"] == {"amount": "90.00"}
    # when 90.01 is taken off what is due: refused
    over = await credit(tenant, invoice["id"], amount="90.01", outcome="REDUCE_AMOUNT_DUE")
    assert [(e["code"], e["field"]) for e in over["userErrors"]] == [
        ("CREDIT_NOTE_EXCEEDS_REMAINING", ["input", "amount"])
    ]
    # when 90.00 is: the invoice is paid by credit and credit note
    paid = await credit(tenant, invoice["id"], amount="90.00", outcome="REDUCE_AMOUNT_DUE")
    assert paid["creditNote"]["invoice"]["status"] == "PAID"


async def test_draft_void_and_foreign_invoices_are_not_credited(
    tenant: Tenant, other_tenant: Tenant, admin: asyncpg.Connection
) -> None:
    customer_id = await customer(tenant)
    draft = await invoice_of(tenant, customer_id, "10.00", finalize=False)
    void = await invoice_of(tenant, customer_id, "10.00")
    await tenant.gql(VOID, {"input": {"id": void["id"]}})
    foreign = await invoice_of(other_tenant, await customer(other_tenant), "10.00")
    for invoice_id, code in (
        (draft["id"], "NOT_OPEN"),
        (void["id"], "NOT_OPEN"),
        (foreign["id"], "NOT_FOUND"),
    ):
        payload = await credit(tenant, invoice_id, amount="1.00")
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
            (code, ["input", "invoiceId"])
        ]
    assert await _written(admin, tenant) == (0, 0, 0)
    assert await _written(admin, other_tenant) == (0, 0, 0)


async def test_a_paid_invoice_is_credited_to_the_balance_not_against_its_amount_due(
    tenant: Tenant,
) -> None:
    invoice = await invoice_of(tenant, await customer(tenant), "20.00")
    paid = await credit(tenant, invoice["id"], amount="20.00", outcome="REDUCE_AMOUNT_DUE")
    assert paid["creditNote"]["invoice"]["status"] == "PAID"
    refused = await credit(tenant, invoice["id"], amount="1.00", outcome="REDUCE_AMOUNT_DUE")
    assert [e["code"] for e in refused["userErrors"]] == ["NOT_OPEN"]
    # the whole total is credited already: nothing more, whatever the outcome
    beyond = await credit(tenant, invoice["id"], amount="0.01")
    assert [e["code"] for e in beyond["userErrors"]] == ["CREDIT_NOTE_EXCEEDS_CREDITABLE"]


async def test_a_refund_credit_note_gives_the_money_back_through_the_payments(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given an invoice of 100.00 paid 60.00 then 40.00 on a card
    _, invoice_id, _ = await open_invoice(tenant, "100.00")
    first = (await pay(tenant, invoiceId=invoice_id, amount="60.00"))["payment"]
    second = (await pay(tenant, invoiceId=invoice_id, amount="40.00"))["payment"]
    # when more than was paid is refunded: refused by the rule, nothing written
    over = await credit(tenant, invoice_id, amount="100.01", outcome="REFUND")
    assert [e["code"] for e in over["userErrors"]] == ["CREDIT_NOTE_EXCEEDS_CREDITABLE"]
    # when 50.00 is refunded through a credit note
    refunded = await credit(
        tenant, invoice_id, amount="50.00", outcome="REFUND", reason="DUPLICATE"
    )
    assert refunded["userErrors"] == []
    note_id = refunded["creditNote"]["id"]
    # then the newest payment gives back all 40.00 and the older one 10.00, both named
    rows = await admin.fetch(
        "select payment_id, amount, status, reason, credit_note_id from refunds"
        " where tenant_id = $1 order by amount desc",
        tenant.id,
    )
    assert [(r["payment_id"], r["amount"], r["status"]) for r in rows] == [
        (second["id"], 4000, "SUCCEEDED"),
        (first["id"], 1000, "SUCCEEDED"),
    ]
    assert {(r["reason"], r["credit_note_id"]) for r in rows} == {("DUPLICATE", note_id)}
    given_back = await admin.fetchval(
        "select sum(amount) from sandbox_requests where tenant_id = $1 and kind = 'refund'",
        tenant.id,
    )
    assert given_back == 5000
    # and no more than the invoice's total is ever credited
    beyond = await credit(tenant, invoice_id, amount="50.01", outcome="REFUND")
    assert [e["code"] for e in beyond["userErrors"]] == ["CREDIT_NOTE_EXCEEDS_CREDITABLE"]
    # on an invoice paid in part, a refund is at most what was paid
    _, partly_paid, _ = await open_invoice(tenant, "100.00")
    await pay(tenant, invoiceId=partly_paid, amount="60.00")
    over_paid = await credit(tenant, partly_paid, amount="60.01", outcome="REFUND")
    assert [e["code"] for e in over_paid["userErrors"]] == ["CREDIT_NOTE_EXCEEDS_PAID"]
    assert (
        await admin.fetchval("select count(*) from credit_notes where tenant_id = $1", tenant.id)
        == 1
    )


async def test_numbers_stay_gapless_across_refusals_and_are_per_account(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    invoice = await invoice_of(tenant, await customer(tenant), "10.00")
    numbers = []
    for amount in ("1.00", "99.00", "2.00"):  # the second is refused
        payload = await credit(tenant, invoice["id"], amount=amount)
        if payload["creditNote"]:
            numbers.append(payload["creditNote"]["number"])
    assert numbers == [f"CN-{YEAR}-000001", f"CN-{YEAR}-000002"]
    elsewhere = await invoice_of(other_tenant, await customer(other_tenant), "10.00")
    other = await credit(other_tenant, elsewhere["id"], amount="1.00")
    assert other["creditNote"]["number"] == f"CN-{YEAR}-000001"


async def test_a_credited_invoice_cannot_be_voided(tenant: Tenant) -> None:
    invoice = await invoice_of(tenant, await customer(tenant), "10.00")
    assert (await credit(tenant, invoice["id"], amount="1.00"))["userErrors"] == []
    body = await tenant.gql(VOID, {"input": {"id": invoice["id"]}})
    assert [e["code"] for e in body["data"]["voidInvoice"]["userErrors"]] == ["IN_USE"]


async def test_64_concurrent_credit_notes_never_credit_more_than_the_total(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given an invoice of 100.00
    customer_id = await customer(tenant)
    invoice = await invoice_of(tenant, customer_id, "100.00")
    # when 64 credit notes of 10.00 are asked at once
    answers = await asyncio.gather(
        *(credit(tenant, invoice["id"], amount="10.00") for _ in range(64))
    )
    # then exactly ten are made, the rest refused with the cap's code
    made = [a["creditNote"] for a in answers if a["creditNote"]]
    refused = [e["code"] for a in answers for e in a["userErrors"]]
    assert len(made) == 10
    assert refused == ["CREDIT_NOTE_EXCEEDS_CREDITABLE"] * 54
    # and what is stored adds up to the total, numbered without gaps, all on the balance
    stored = await admin.fetchrow(
        "select sum(amount), array_agg(sequence order by sequence) from credit_notes"
        " where tenant_id = $1",
        tenant.id,
    )
    assert stored[0] == 10000 and list(stored[1]) == list(range(1, 11))
    assert (await balance_of(tenant, customer_id))["balance"]["amount"] == "-100.00"


async def test_a_retried_credit_note_with_the_same_key_is_made_once(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    invoice = await invoice_of(tenant, await customer(tenant), "10.00")
    variables = {
        "input": {
            "invoiceId": invoice["id"],
            "reason": "OTHER",
            "outcome": "CREDIT_BALANCE",
            "amount": "4.00",
        }
    }
    headers = {"Idempotency-Key": "credit-once"}
    first = await tenant.post(CREATE_CREDIT_NOTE, variables, headers=headers)
    again = await tenant.post(CREATE_CREDIT_NOTE, variables, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers.get("idempotent-replayed") == "true"
    assert await _written(admin, tenant) == (1, 1, 1)


async def test_credit_notes_are_listed_by_invoice_and_customer_and_resolve_as_nodes(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    first_customer, second_customer = await customer(tenant), await customer(tenant, name="B")
    first = await invoice_of(tenant, first_customer, "10.00")
    second = await invoice_of(tenant, second_customer, "10.00")
    notes = [
        (await credit(tenant, invoice_id, amount="1.00"))["creditNote"]["id"]
        for invoice_id in (first["id"], second["id"], second["id"])
    ]
    everything = await tenant.gql(CREDIT_NOTES_LIST)
    assert everything["data"]["creditNotes"]["totalCount"] == 3
    listed = [e["node"]["id"] for e in everything["data"]["creditNotes"]["edges"]]
    assert listed == notes[::-1]  # newest first
    by_invoice = await tenant.gql(CREDIT_NOTES_LIST, {"filter": {"invoiceId": second["id"]}})
    assert by_invoice["data"]["creditNotes"]["totalCount"] == 2
    by_customer = await tenant.gql(CREDIT_NOTES_LIST, {"filter": {"customerId": first_customer}})
    assert [e["node"]["id"] for e in by_customer["data"]["creditNotes"]["edges"]] == notes[:1]
    node = "query($id: ID!) { node(id: $id) { id ... on CreditNote { number } } }"
    mine = await tenant.gql(node, {"id": notes[0]})
    assert mine["data"]["node"]["number"] == f"CN-{YEAR}-000001"
    theirs = await other_tenant.gql(node, {"id": notes[0]})
    assert theirs["data"]["node"] is None
    nothing = await other_tenant.gql(CREDIT_NOTES_LIST)
    assert nothing["data"]["creditNotes"]["totalCount"] == 0


async def test_the_invoice_pdf_lists_its_credit_notes(tenant: Tenant) -> None:
    invoice = await invoice_of(tenant, await customer(tenant), "100.00")
    reduced = await credit(tenant, invoice["id"], amount="30.00", outcome="REDUCE_AMOUNT_DUE")
    to_balance = await credit(tenant, invoice["id"], amount="5.00")
    response = await tenant.client.get(
        f"/invoices/{invoice['id']}/pdf",
        headers={"Authorization": f"Bearer {tenant.token(['invoices:read'])}"},
    )
    assert response.status_code == 200
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    for payload in (reduced, to_balance):
        assert payload["creditNote"]["number"] in text
    assert "Credited" in text
    assert "$70.00" in text  # what is left to pay
