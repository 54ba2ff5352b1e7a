"""The planned path answers the billing lists (`invoices`, `subscriptions`, `coupons`,
`taxRates`) byte for byte as the executor does.

One tenant billed through the API, seen through the planned app and one with planned
reads off (test_planned_reads.Pair): selections of columns are planned from the page's
rows, selections reaching links (lines, customer, plan, newest invoices) by the list's own
resolver; what plans do not cover (the upcoming invoice, filters, backwards pages) is the
executor's. An invoice changed by a mutation reads back changed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import queries

from auth.scopes import ALL_SCOPES
from tests.api.billing_documents import ADD_LINE, CREATE_INVOICE, CREATE_PLAN, FINALIZE, VOID
from tests.api.test_fuzz import CUSTOM_SCALARS
from tests.api.test_planned_reads import SCHEMA, Pair, graphql_data, unplanned_app
from tests.conftest import make_tenant

__all__ = ["unplanned_app"]  # the fixture, for this module's pair

CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code } }
}
"""
CREATE_SUBSCRIPTION = """
mutation($input: CreateSubscriptionInput!) {
  createSubscription(input: $input) { subscription { id } userErrors { code message } }
}
"""
CREATE_COUPON = """
mutation($input: CreateCouponInput!) { createCoupon(input: $input) { userErrors { code } } }
"""
CREATE_TAX_RATE = """
mutation($input: CreateTaxRateInput!) { createTaxRate(input: $input) { userErrors { code } } }
"""
PLAN = {
    "code": "team",
    "name": "Team « Ünïcode »",
    "interval": "MONTH",
    "prices": [
        {"model": "PER_UNIT", "currency": "USD", "unitAmount": "12.50"},
        {"model": "FLAT_FEE", "currency": "EUR", "amount": "49.00"},
        {"model": "PER_UNIT", "currency": "JPY", "unitAmount": "1500"},
    ],
}
ROOTS = ["invoices", "subscriptions", "coupons", "taxRates"]


@pytest.fixture(scope="module")
async def billing_pair(app: Any, unplanned_app: Any) -> AsyncIterator[Pair]:
    """A tenant with a German tax rate, two coupons, six subscribers (one trialing, one in
    Germany taxed at 19 %), their first invoices, a one-off draft and a one-off open
    invoice: all made through the API."""
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as p,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=unplanned_app), base_url="http://u"
        ) as u,
    ):
        tenant = await make_tenant(app, p)
        pair = Pair(tenant, u)
        rate = {"displayName": "MwSt", "percentage": "19", "inclusive": False, "country": "DE"}
        await _ok(tenant.gql(CREATE_TAX_RATE, {"input": rate}), "createTaxRate")
        for coupon in (
            {"name": "Spring", "percentOff": "25"},
            {"name": "Welcome", "amountOff": {"amount": "5.00", "currency": "USD"}},
        ):
            await _ok(tenant.gql(CREATE_COUPON, {"input": coupon}), "createCoupon")
        plan = await _ok(tenant.gql(CREATE_PLAN, {"input": PLAN}), "createPlan")
        for i, (currency, country) in enumerate(
            [("USD", None), ("EUR", "DE"), ("JPY", None), ("USD", None), ("EUR", None)]
            + [("USD", None)]
        ):
            customer: dict[str, Any] = {"name": f"Subscriber {i} « ü »", "currency": currency}
            if country is not None:
                customer["address"] = {"country": country, "line1": "Hauptstr. 1"}
            made = await _ok(tenant.gql(CREATE_CUSTOMER, {"input": customer}), "createCustomer")
            pair.customer_ids.append(made["customer"]["id"])
            subscription = {"customerId": pair.customer_ids[-1], "planId": plan["plan"]["id"]}
            subscription |= {"quantity": 1 + i} if i != 5 else {"trialDays": 14}
            await _ok(
                tenant.gql(CREATE_SUBSCRIPTION, {"input": subscription}), "createSubscription"
            )
        for finalized in (False, True):
            invoice = await _ok(
                tenant.gql(CREATE_INVOICE, {"input": {"customerId": pair.customer_ids[0]}}),
                "createInvoice",
            )
            line = {"invoiceId": invoice["invoice"]["id"], "description": "Setup"}
            await _ok(
                tenant.gql(ADD_LINE, {"input": line | {"unitAmount": "80.005"}}), "addInvoiceLine"
            )
            if finalized:
                await _ok(
                    tenant.gql(FINALIZE, {"input": {"id": line["invoiceId"]}}), "finalizeInvoice"
                )
        await tenant.gql("{ viewer { clientId } }")  # the account, known to the planned path
        yield pair


async def _ok(answer: Any, mutation: str) -> dict[str, Any]:
    body = await answer
    payload: dict[str, Any] = body["data"][mutation]
    assert payload["userErrors"] == [], body
    return payload


MONEY = "{ amount currency formatted }"
INVOICE_COLUMNS = (
    "id number status billingReason currency customerId subscriptionId periodStart periodEnd"
    f" subtotal {MONEY} discountTotal {MONEY} taxTotal {MONEY} total {MONEY}"
    f" amountDue {MONEY} amountPaid {{ amount }} amountRemaining {{ amount currency }}"
    " dueDate reverseCharge memo createdAt finalizedAt paidAt voidedAt markedUncollectibleAt"
    " pdfPath taxBreakdown { taxRateId name percentage inclusive taxableAmount { amount }"
    " taxAmount { formatted } }"
)
SUBSCRIPTION_COLUMNS = (
    "id status customerId planId priceIds currency quantity startDate billingCycleAnchor"
    " trialEnd currentPeriodStart currentPeriodEnd cancelAtPeriodEnd canceledAt endedAt"
    " createdAt"
)
PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"

FROM_COLUMNS = [
    f"{{ invoices {{ totalCount edges {{ cursor node {{ {INVOICE_COLUMNS} }} }} {PAGE_INFO} }} }}",
    f"{{ subscriptions(first: 50) {{ totalCount edges {{ cursor node {{ {SUBSCRIPTION_COLUMNS}"
    f" }} }} {PAGE_INFO} }} }}",
    "{ coupons { totalCount edges { node { id code name percentOff amountOff { amount currency"
    " formatted } duration durationInMonths maxRedemptions timesRedeemed redeemBy"
    " appliesToPlans createdAt } } } }",
    "{ taxRates(first: 5) { edges { node { __typename id displayName description percentage"
    " inclusive country region active createdAt } } } }",
    "query Q { a: invoices(first: 3) { __typename edges { __typename node { __typename"
    " ...Amounts } } } b: subscriptions(first: 2) { edges { node { id ... on Node { id } } } } }"
    " fragment Amounts on Invoice { id t: total { amount } due: amountDue { formatted } }",
]
THROUGH_LINKS = [
    "{ invoices(first: 20) { edges { node { id status lines { id kind description amount"
    f" {MONEY} quantity unitAmount periodStart periodEnd priceId planId proration explanation"
    f" discounts {{ discountId }} discountAmount {{ amount }} taxRateId taxPercentage"
    " taxInclusive taxAmount { amount } } customer { id name } subscription { id status } } } } }",
    "{ subscriptions { edges { node { id status customer { id name balance { formatted } }"
    " plan { id code prices { id } } invoices(first: 3) { id number total { formatted } } } } } }",
]


@pytest.mark.parametrize("query", FROM_COLUMNS + THROUGH_LINKS)
async def test_a_billing_list_answers_the_same_bytes_from_its_plan(
    billing_pair: Pair, query: str
) -> None:
    body, planned = await billing_pair.same(query)
    assert b'"errors"' not in body, body
    assert planned == 1
    assert b'"edges":[]' not in body, body  # the lists had something to show


@pytest.mark.parametrize(
    ("query", "from_rows"),
    [(query, True) for query in FROM_COLUMNS] + [(query, False) for query in THROUGH_LINKS],
)
def test_columns_are_planned_from_the_page_rows_and_links_by_the_lists_resolver(
    app: Any, query: str, from_rows: bool
) -> None:
    # a plan answered by a resolver needs the request's context; one from rows does not
    planner = app.state.graphql.planner
    plan = planner.plan(graphql.parse(query), f"test: {query}", None, frozenset(ALL_SCOPES))
    assert plan is not None
    assert plan.needs_database and plan.needs_context is not from_rows


async def test_invoices_show_their_money_and_tax_from_the_plan(billing_pair: Pair) -> None:
    body, planned = await billing_pair.same(FROM_COLUMNS[0])
    assert planned == 1
    invoices = [edge["node"] for edge in graphql_data(body)["invoices"]["edges"]]
    statuses = sorted(invoice["status"] for invoice in invoices)
    # five first invoices (the trialing subscriber has none) and the two one-offs
    assert statuses == ["DRAFT"] + ["OPEN"] * 6, statuses
    taxed = [invoice for invoice in invoices if invoice["taxBreakdown"]]
    assert [invoice["taxBreakdown"][0]["percentage"] for invoice in taxed] == ["19"]
    assert taxed[0]["total"] == {"amount": "58.31", "currency": "EUR", "formatted": "€58.31"}
    yen = next(invoice for invoice in invoices if invoice["currency"] == "JPY")
    assert yen["total"]["amount"] == "4500"  # three seats, no minor unit


@pytest.mark.parametrize(
    "query",
    [
        # one subscription: the executor's previews of siblings share one connection
        "{ subscriptions(first: 1) { edges { node { id upcomingInvoice { status total {"
        " amount } } } } } }",
        "{ invoices(first: 2, filter: {status: [OPEN]}) { edges { node { id } } } }",
        "{ invoices(last: 2) { edges { node { id } } } }",
        "{ subscriptions(orderBy: {direction: ASC}) { edges { node { id } } } }",
        '{ coupons(filter: {code: "x"}) { totalCount } }',
        "{ invoices(first: 101) { totalCount } }",
        '{ invoices(after: "garbage") { totalCount } }',
    ],
)
async def test_what_a_billing_plan_does_not_cover_is_the_executors(
    billing_pair: Pair, query: str
) -> None:
    _, planned = await billing_pair.same(query)
    assert planned == 0


async def test_a_billing_list_without_its_scope_is_the_executors(billing_pair: Pair) -> None:
    query = "{ invoices(first: 2) { edges { node { id customer { name } } } } }"
    body, planned = await billing_pair.same(query, scopes=["invoices:read"])
    assert planned == 0
    assert b"FORBIDDEN" in body, body


async def test_invoice_pages_followed_by_cursor_answer_the_same_bytes(billing_pair: Pair) -> None:
    query = (
        "query($after: String) { invoices(first: 2, after: $after) {"
        " edges { cursor node { id number } } pageInfo { hasNextPage endCursor } } }"
    )
    after, seen = None, []
    while True:
        body, planned = await billing_pair.same(query, {"after": after})
        assert planned == 1
        page = graphql_data(body)["invoices"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 7


INVOICE_STATES = (
    "{ invoices(first: 50) { edges { node { id number status amountDue { amount }"
    " amountRemaining { amount } finalizedAt voidedAt lines { id } } } } }"
)


async def test_an_invoice_changed_by_a_mutation_reads_back_changed(billing_pair: Pair) -> None:
    # given the invoices read once through their plan
    before, planned = await billing_pair.same(INVOICE_STATES)
    assert planned == 1
    invoices = [edge["node"] for edge in graphql_data(before)["invoices"]["edges"]]
    draft = next(invoice for invoice in invoices if invoice["status"] == "DRAFT")

    # when the draft is finalized, then voided
    tenant = billing_pair.planned
    await _ok(tenant.gql(FINALIZE, {"input": {"id": draft["id"]}}), "finalizeInvoice")
    finalized, planned_finalized = await billing_pair.same(INVOICE_STATES)
    await _ok(tenant.gql(VOID, {"input": {"id": draft["id"]}}), "voidInvoice")
    voided, planned_voided = await billing_pair.same(INVOICE_STATES)

    # then each read, planned, shows the change (and equals the executor's)
    assert planned_finalized == planned_voided == 1

    def the_invoice(body: bytes) -> dict[str, Any]:
        edges = graphql_data(body)["invoices"]["edges"]
        return next(edge["node"] for edge in edges if edge["node"]["id"] == draft["id"])

    assert the_invoice(finalized)["status"] == "OPEN" and the_invoice(finalized)["number"]
    assert the_invoice(finalized)["amountRemaining"] == {"amount": "80.01"}
    assert the_invoice(voided)["status"] == "VOID" and the_invoice(voided)["voidedAt"]
    assert the_invoice(voided)["amountDue"] == {"amount": "0.00"}
    assert the_invoice(voided)["lines"] == draft["lines"]


_PLANNED_BY_GENERATED: list[int] = []


@st.composite
def billing_list_queries(draw: st.DrawFn) -> str:
    """A generated selection of the billing lists (hypothesis-graphql's), with a page size:
    the arguments a plan takes."""
    document = graphql.parse(draw(queries(SCHEMA, fields=ROOTS, custom_scalars=CUSTOM_SCALARS)))
    operation = document.definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    fields = []
    for selection in operation.selection_set.selections:
        assert isinstance(selection, graphql.FieldNode)
        size = graphql.IntValueNode(value=str(draw(st.integers(1, 30))))
        first = graphql.ArgumentNode(name=graphql.NameNode(value="first"), value=size)
        fields.append(
            graphql.FieldNode(
                alias=selection.alias,
                name=selection.name,
                arguments=(first,),
                directives=(),
                selection_set=selection.selection_set,
            )
        )
    selections = graphql.SelectionSetNode(selections=tuple(fields))
    operation = graphql.OperationDefinitionNode(
        operation=graphql.OperationType.QUERY, selection_set=selections
    )
    return graphql.print_ast(graphql.DocumentNode(definitions=[operation]))


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), scopes=st.sampled_from([None, ["invoices:read", "subscriptions:read"]]))
async def test_generated_billing_selections_answer_the_same_bytes_planned_or_not(
    billing_pair: Pair, data: st.DataObject, scopes: list[str] | None
) -> None:
    query = data.draw(billing_list_queries())
    _, planned = await billing_pair.same(query, None, scopes)
    _PLANNED_BY_GENERATED.append(planned)


def test_the_generated_billing_selections_exercised_the_plans() -> None:
    # runs after the test above: a good share of its examples were answered from plans
    assert sum(_PLANNED_BY_GENERATED) >= 15, _PLANNED_BY_GENERATED
