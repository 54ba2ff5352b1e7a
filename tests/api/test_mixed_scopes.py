"""Mixed scopes (issue 12): a token that may read some fields of a document and not others
gets HTTP 200 with `data` for the former and one FORBIDDEN error per refused field (with the
GraphQL null propagation the schema's nullability calls for), never a server error; the
connection the request used goes back to the pool clean.

The root fields and the scope each one needs are read from the schema itself (the
permission classes `auth.scopes.requires(scope)` attach), so a root field added without
a minimal selection below fails these tests rather than going untested.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLUnionType,
    get_named_type,
    is_non_null_type,
)

from auth.scopes import ALL_SCOPES
from schema.schema import schema
from tests.api.app_errors import recording_client, server_errors
from tests.conftest import Tenant, make_tenant

GRAPHQL_SCHEMA = schema._schema

# A minimal valid selection per root field, with arguments, run on the seeded tenant below.
# `<customer>`, `<plan>` are replaced by the seeded ids. Keep it covering every root field:
# `test_every_root_field_has_a_minimal_selection` fails otherwise.
ROOT_SELECTIONS: dict[str, str] = {
    "viewer": "viewer { clientId scopes account { id name } }",
    "node": 'node(id: "<customer>") { id ... on Customer { name } }',
    "nodes": 'nodes(ids: ["<customer>", "<plan>", "<payment_method>"]) { id }',
    "customer": 'customer(id: "<customer>") { id name }',
    "customers": "customers(first: 5) { totalCount edges { node { id name } } }",
    "billableMetrics": "billableMetrics(first: 5) { totalCount edges { node { code } } }",
    "plans": "plans(first: 5) { totalCount edges { node { code prices { id } } } }",
    "plan": 'plan(id: "<plan>") { id code }',
    "previewPrice": (
        'previewPrice(price: {model: PER_UNIT, currency: "USD", unitAmount: "0.50"}, '
        'quantity: "3") { breakdown { total { amount currency } } userErrors { code } }'
    ),
    "events": "events(first: 5) { totalCount edges { node { type objectId } } }",
    "coupons": "coupons(first: 5) { totalCount edges { node { id code } } }",
    "coupon": 'coupon(id: "<coupon>") { id name }',
    "subscriptions": "subscriptions(first: 5) { totalCount edges { node { id status } } }",
    "subscription": 'subscription(id: "<subscription>") { id status quantity }',
    "invoices": "invoices(first: 5) { totalCount edges { node { id number total { amount } } } }",
    "invoice": 'invoice(id: "<invoice>") { id number lines { id amount { amount } } }',
    "invoiceNumbering": "invoiceNumbering { prefix includeYear padding lastNumber }",
    "taxRates": "taxRates(first: 5) { totalCount edges { node { id country } } }",
    "payments": "payments(first: 5) { totalCount edges { node { id status amount { amount } } } }",
    "refunds": "refunds(first: 5) { totalCount edges { node { id status } } }",
    "webhookEndpoints": "webhookEndpoints(first: 5) { totalCount edges { node { id url } } }",
    "webhookEndpoint": (
        'webhookEndpoint(id: "<webhook>") { id url events status '
        "deliveries(first: 5) { id status attempts { statusCode } } }"
    ),
    "creditNotes": "creditNotes(first: 5) { totalCount edges { node { id number } } }",
    # Only the seeding's entries: exports, which these tests run, add entries of their own.
    "auditLog": (
        'auditLog(first: 5, filter: {operations: ["createCustomer", "createPlan"]}) '
        "{ totalCount edges { node { id operation outcome } } }"
    ),
    "customerDataExport": 'customerDataExport(customerId: "<customer>")',
}

# The same for mutations, with the SQL that counts what each one wrote in a tenant.
MUTATION_SELECTIONS: dict[str, str] = {
    "createCustomer": (
        'createCustomer(input: {name: "Mixed", currency: "USD"}) '
        "{ customer { id } userErrors { code } }"
    ),
    "updateCustomer": (
        'updateCustomer(input: {id: "<customer>", name: "Renamed"}) '
        "{ customer { id } userErrors { code } }"
    ),
    "archiveCustomer": (
        'archiveCustomer(input: {id: "<customer>"}) { customer { id } userErrors { code } }'
    ),
    "createPlan": (
        'createPlan(input: {code: "mixed", name: "Mixed", interval: MONTH, prices: '
        '[{model: FLAT_FEE, currency: "USD", amount: "9.00"}]}) { plan { id } userErrors { code } }'
    ),
    "updatePlan": (
        'updatePlan(input: {id: "<plan>", name: "Renamed"}) { plan { id } userErrors { code } }'
    ),
    "archivePlan": 'archivePlan(input: {id: "<plan>"}) { plan { id } userErrors { code } }',
    "createBillableMetric": (
        'createBillableMetric(input: {code: "mixed", name: "Mixed", aggregation: COUNT}) '
        "{ billableMetric { id } userErrors { code } }"
    ),
    "recordUsage": (
        'recordUsage(input: {events: [{idempotencyKey: "mixed-1", metricCode: "api_calls", '
        'timestamp: "<now>", customerId: "<customer>"}]}) '
        "{ accepted duplicates userErrors { code } }"
    ),
    "createCoupon": (
        'createCoupon(input: {name: "Mixed", code: "mixed", percentOff: "10"}) '
        "{ coupon { id } userErrors { code } }"
    ),
    "applyCoupon": (
        'applyCoupon(input: {couponId: "<coupon>", customerId: "<customer>"}) '
        "{ discount { id } userErrors { code } }"
    ),
    "createTaxRate": (
        'createTaxRate(input: {displayName: "Mixed", percentage: "5", inclusive: false, '
        'country: "US"}) { taxRate { id } userErrors { code } }'
    ),
    "createSubscription": (
        'createSubscription(input: {customerId: "<customer>", planId: "<plan>"}) '
        "{ subscription { id } userErrors { code } }"
    ),
    "changeSubscriptionPlan": (
        'changeSubscriptionPlan(input: {id: "<subscription>", planId: "<plan>", quantity: 2}) '
        "{ subscription { id } userErrors { code } }"
    ),
    "cancelSubscription": (
        'cancelSubscription(input: {id: "<subscription>"}) '
        "{ subscription { id } userErrors { code } }"
    ),
    "reactivateSubscription": (
        'reactivateSubscription(input: {id: "<subscription>"}) '
        "{ subscription { id } userErrors { code } }"
    ),
    "createInvoice": (
        'createInvoice(input: {customerId: "<customer>", memo: "mixed"}) '
        "{ invoice { id } userErrors { code } }"
    ),
    "addInvoiceLine": (
        'addInvoiceLine(input: {invoiceId: "<invoice>", description: "mixed", unitAmount: "1"}) '
        "{ invoice { id } userErrors { code } }"
    ),
    "finalizeInvoice": (
        'finalizeInvoice(input: {id: "<invoice>"}) { invoice { id } userErrors { code } }'
    ),
    "voidInvoice": 'voidInvoice(input: {id: "<invoice>"}) { invoice { id } userErrors { code } }',
    "updateInvoiceNumbering": (
        'updateInvoiceNumbering(input: {prefix: "MIXED"}) '
        "{ numbering { prefix } userErrors { code } }"
    ),
    "markInvoiceUncollectible": (
        'markInvoiceUncollectible(input: {id: "<invoice>"}) { invoice { id } userErrors { code } }'
    ),
    "attachPaymentMethod": (
        'attachPaymentMethod(input: {customerId: "<customer>", providerToken: '
        '"tok_card_declined"}) { paymentMethod { id } userErrors { code } }'
    ),
    "setDefaultPaymentMethod": (
        'setDefaultPaymentMethod(input: {paymentMethodId: "<payment_method>"}) '
        "{ paymentMethod { id } userErrors { code } }"
    ),
    "detachPaymentMethod": (
        'detachPaymentMethod(input: {paymentMethodId: "<payment_method>"}) '
        "{ paymentMethod { id } userErrors { code } }"
    ),
    "payInvoice": (
        'payInvoice(input: {invoiceId: "<invoice>", amount: "1.00"}) '
        "{ payment { id } userErrors { code } }"
    ),
    "refundPayment": (
        'refundPayment(input: {paymentId: "<payment>", amount: "0.50"}) '
        "{ refund { id } userErrors { code } }"
    ),
    "createWebhookEndpoint": (
        'createWebhookEndpoint(input: {url: "https://hooks.example.com/mixed", events: ["*"], '
        'description: "mixed"}) { webhookEndpoint { id } secret userErrors { code } }'
    ),
    "rotateWebhookSecret": (
        'rotateWebhookSecret(input: {id: "<webhook>"}) '
        "{ webhookEndpoint { id } secret userErrors { code } }"
    ),
    "deleteWebhookEndpoint": (
        'deleteWebhookEndpoint(input: {id: "<webhook>"}) '
        "{ deletedWebhookEndpointId userErrors { code } }"
    ),
    "createCreditNote": (
        'createCreditNote(input: {invoiceId: "<invoice>", reason: OTHER, outcome: CREDIT_BALANCE, '
        'amount: "1.00", memo: "mixed"}) { creditNote { id } userErrors { code } }'
    ),
    "adjustCustomerBalance": (
        'adjustCustomerBalance(input: {customerId: "<customer>", amount: "-1.00", '
        'description: "mixed"}) { balanceTransaction { id } userErrors { code } }'
    ),
    "enableWebhookEndpoint": (
        'enableWebhookEndpoint(input: {id: "<webhook>"}) '
        "{ webhookEndpoint { id status } userErrors { code } }"
    ),
    "retryWebhookDelivery": (
        'retryWebhookDelivery(input: {deliveryId: "whd_mixed"}) '
        "{ webhookDelivery { id } userErrors { code } }"
    ),
    "eraseCustomerData": (
        'eraseCustomerData(input: {customerId: "<customer>"}) '
        "{ customer { id name } userErrors { code } }"
    ),
}
MUTATION_WRITES: dict[str, str] = {
    "createCustomer": "select count(*) from customers where tenant_id = $1 and name = 'Mixed'",
    "updateCustomer": (
        "select count(*) from events where tenant_id = $1 and type = 'customer.updated'"
    ),
    "archiveCustomer": (
        "select count(*) from events where tenant_id = $1 and type = 'customer.archived'"
    ),
    "createPlan": "select count(*) from plans where tenant_id = $1 and code = 'mixed'",
    "updatePlan": "select count(*) from events where tenant_id = $1 and type = 'plan.updated'",
    "archivePlan": "select count(*) from events where tenant_id = $1 and type = 'plan.archived'",
    "createBillableMetric": (
        "select count(*) from billable_metrics where tenant_id = $1 and code = 'mixed'"
    ),
    "recordUsage": (
        "select count(*) from usage_events where tenant_id = $1 and idempotency_key = 'mixed-1'"
    ),
    "createCoupon": "select count(*) from coupons where tenant_id = $1 and code = 'mixed'",
    "applyCoupon": "select count(*) from discounts where tenant_id = $1",
    "createTaxRate": (
        "select count(*) from tax_rates where tenant_id = $1 and display_name = 'Mixed'"
    ),
    "createSubscription": (
        "select count(*) from events where tenant_id = $1 and type = 'subscription.created'"
    ),
    "changeSubscriptionPlan": (
        "select count(*) from subscriptions where tenant_id = $1 and quantity = 2"
    ),
    "cancelSubscription": (
        "select count(*) from subscriptions where tenant_id = $1 and cancel_at_period_end"
    ),
    "reactivateSubscription": (
        "select count(*) from events where tenant_id = $1 and type = 'subscription.updated'"
    ),
    "createInvoice": "select count(*) from invoices where tenant_id = $1 and memo = 'mixed'",
    "updateInvoiceNumbering": (
        "select count(*) from invoice_numbering where tenant_id = $1 and prefix = 'MIXED'"
    ),
    "addInvoiceLine": (
        "select count(*) from invoice_lines where tenant_id = $1 and description = 'mixed'"
    ),
    "finalizeInvoice": (
        "select count(*) from events where tenant_id = $1 and type = 'invoice.finalized'"
    ),
    "voidInvoice": "select count(*) from events where tenant_id = $1 and type = 'invoice.voided'",
    "markInvoiceUncollectible": (
        "select count(*) from events where tenant_id = $1 and type = 'invoice.marked_uncollectible'"
    ),
    "attachPaymentMethod": (
        "select count(*) from payment_methods where tenant_id = $1"
        " and provider_reference = 'tok_card_declined'"
    ),
    "setDefaultPaymentMethod": (
        "select count(*) from payment_methods where tenant_id = $1 and is_default"
        " and provider_reference = 'tok_mastercard'"
    ),
    "detachPaymentMethod": (
        "select count(*) from payment_methods where tenant_id = $1 and detached_at is not null"
    ),
    "payInvoice": "select count(*) from payments where tenant_id = $1",
    "refundPayment": "select count(*) from refunds where tenant_id = $1",
    "createWebhookEndpoint": (
        "select count(*) from webhook_endpoints where tenant_id = $1 and description = 'mixed'"
    ),
    "rotateWebhookSecret": (
        "select count(*) from webhook_endpoints where tenant_id = $1"
        " and previous_secret is not null"
    ),
    # A deletion counts as -1: any change fails the tests' "nothing written".
    "deleteWebhookEndpoint": "select count(*) from webhook_endpoints where tenant_id = $1",
    "createCreditNote": "select count(*) from credit_notes where tenant_id = $1 and memo = 'mixed'",
    "adjustCustomerBalance": (
        "select count(*) from customer_balance_transactions where tenant_id = $1"
        " and description = 'mixed'"
    ),
    "enableWebhookEndpoint": (
        "select count(*) from webhook_endpoints where tenant_id = $1 and disabled_at is null"
    ),
    "retryWebhookDelivery": (
        "select count(*) from webhook_deliveries where tenant_id = $1 and status = 'PENDING'"
    ),
    "eraseCustomerData": (
        "select count(*) from customers where tenant_id = $1 and name = '[erased]'"
    ),
}

PAY_INVOICE = """
mutation($input: PayInvoiceInput!) {
  payInvoice(input: $input) { payment { id status } userErrors { code } }
}
"""
CREATE_METRIC = """
mutation($input: CreateBillableMetricInput!) {
  createBillableMetric(input: $input) { billableMetric { code } userErrors { code } }
}
"""
CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code } }
}
"""
CREATE_PLAN = """
mutation($input: CreatePlanInput!) {
  createPlan(input: $input) { plan { id prices { id billingMode } } userErrors { code } }
}
"""
CREATE_COUPON = """
mutation($input: CreateCouponInput!) {
  createCoupon(input: $input) { coupon { id } userErrors { code } }
}
"""
CREATE_WEBHOOK_ENDPOINT = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { webhookEndpoint { id } userErrors { code } }
}
"""
CREATE_SUBSCRIPTION = """
mutation($input: CreateSubscriptionInput!) {
  createSubscription(input: $input) { subscription { id } invoice { id } userErrors { code } }
}
"""
ATTACH_PAYMENT_METHOD = """
mutation($input: AttachPaymentMethodInput!) {
  attachPaymentMethod(input: $input) { paymentMethod { id } userErrors { code } }
}
"""
CREATE_CREDIT_NOTE = """
mutation($input: CreateCreditNoteInput!) {
  createCreditNote(input: $input) { creditNote { id } userErrors { code } }
}
"""
RECORD_USAGE = """
mutation($input: RecordUsageInput!) {
  recordUsage(input: $input) { accepted userErrors { code } }
}
"""

NOW = datetime.now(UTC).replace(microsecond=0)
WINDOW_FROM = (NOW - timedelta(days=2)).isoformat()
WINDOW_TO = (NOW + timedelta(hours=1)).isoformat()


# ------------------------------------------------------------------------ the schema's rules


def required_scopes(graphql_field: GraphQLField) -> frozenset[str]:
    """The scopes the field's permission classes demand (each names its `requiredScope`)."""
    definition = graphql_field.extensions.get("strawberry-definition")
    scopes = set()
    for permission in getattr(definition, "permission_classes", None) or []:
        extensions = permission.error_extensions or {}
        assert extensions.get("code") == "FORBIDDEN" and extensions.get("requiredScope"), (
            f"{permission.__name__} does not say which scope it needs: extend these tests"
        )
        scopes.add(extensions["requiredScope"])
    return frozenset(scopes)


def _root_fields(root: GraphQLObjectType | None) -> dict[str, GraphQLField]:
    assert root is not None
    return dict(root.fields)


QUERY_FIELDS = _root_fields(GRAPHQL_SCHEMA.query_type)
MUTATION_FIELDS = _root_fields(GRAPHQL_SCHEMA.mutation_type)
QUERY_SCOPES = {name: required_scopes(f) for name, f in QUERY_FIELDS.items()}
MUTATION_SCOPES = {name: required_scopes(f) for name, f in MUTATION_FIELDS.items()}


def _mixed_pairs(scopes: dict[str, frozenset[str]]) -> list[tuple[str, str]]:
    return [(a, b) for a, b in itertools.combinations(scopes, 2) if scopes[a] != scopes[b]]


QUERY_PAIRS = _mixed_pairs(QUERY_SCOPES)
MUTATION_PAIRS = _mixed_pairs(MUTATION_SCOPES)


def _guarded_nested_fields() -> set[str]:
    """`Type.field` for every field below the root types that a permission class guards."""
    roots = {GRAPHQL_SCHEMA.query_type, GRAPHQL_SCHEMA.mutation_type}
    found = set()
    for type_ in GRAPHQL_SCHEMA.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_ in roots:
            continue
        if type_.name.startswith("__"):
            continue
        for name, graphql_field in type_.fields.items():
            if required_scopes(graphql_field):
                found.add(f"{type_.name}.{name}")
    return found


def propagate_errors(
    data: Any, error_paths: Iterable[Sequence[str | int]], root: GraphQLObjectType
) -> Any:
    """`data` as the GraphQL spec (6.4.4, Handling Field Errors) gives it when the fields at
    `error_paths` raise: each error's null goes up to the nearest nullable position, and to
    `data` itself when every position up to the root is non-null."""
    for path in error_paths:
        nullable_at = -1  # -1: no nullable position, the whole `data` is null
        type_: GraphQLOutputType = root
        for index, segment in enumerate(path):
            if isinstance(segment, int):
                assert isinstance(type_, GraphQLNonNull | GraphQLList)
                list_type = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
                assert isinstance(list_type, GraphQLList)
                type_ = list_type.of_type
            else:
                type_ = _field_type(get_named_type(type_), segment)
            if not is_non_null_type(type_):
                nullable_at = index
        if nullable_at == -1:
            return None
        if data is None:
            continue  # an earlier error already nulled everything
        target = data
        try:
            for segment in path[:nullable_at]:
                target = target[segment]
        except (TypeError, KeyError, IndexError):
            continue  # an earlier error nulled an ancestor
        if target is not None:
            target[path[nullable_at]] = None
    return data


def _field_type(parent: GraphQLNamedType, name: str) -> GraphQLOutputType:
    """The field's type; below an interface or union, as every object type that has the field
    declares it (they must agree, or the path would not say which one applies)."""
    if isinstance(parent, GraphQLObjectType):
        return parent.fields[name].type
    assert isinstance(parent, GraphQLInterfaceType | GraphQLUnionType), parent
    declared = {
        str(object_type.fields[name].type): object_type.fields[name].type
        for object_type in GRAPHQL_SCHEMA.get_possible_types(parent)
        if name in object_type.fields
    }
    assert len(declared) == 1, (parent, name, sorted(declared))
    return next(iter(declared.values()))


# ------------------------------------------------------------------------ the seeded account


@dataclass
class Seeded:
    """An account with customers, usage, a metric and a plan, so list fields have rows and
    every field runs its statements. `alone` caches each root field's answer by itself."""

    tenant: Tenant
    customer_ids: list[str]
    plan_id: str
    metered_price_id: str
    coupon_id: str
    subscription_id: str
    invoice_id: str
    payment_method_id: str  # the customer's second method (tok_mastercard), not the default
    webhook_endpoint_id: str
    payment_id: str  # 1.00 paid on the invoice (still open)
    credit_note_id: str  # 1.00 of the invoice, credited to the first customer's balance
    alone: dict[tuple[str, tuple[str, ...]], Any] = field(default_factory=dict)

    def fill(self, text: str) -> str:
        return (
            text.replace("<customer>", self.customer_ids[0])
            .replace("<plan>", self.plan_id)
            .replace("<now>", NOW.isoformat())
            .replace("<coupon>", self.coupon_id)
            .replace("<subscription>", self.subscription_id)
            .replace("<invoice>", self.invoice_id)
            .replace("<payment_method>", self.payment_method_id)
            .replace("<webhook>", self.webhook_endpoint_id)
            .replace("<payment>", self.payment_id)
        )


async def _ok(tenant: Tenant, document: str, variables: dict[str, Any] | None = None) -> Any:
    body = await tenant.gql(document, variables)
    assert "errors" not in body, body
    return body["data"]


async def seed(tenant: Tenant) -> Seeded:
    await _ok(
        tenant,
        CREATE_METRIC,
        {"input": {"code": "api_calls", "name": "API calls", "aggregation": "COUNT"}},
    )
    customer_ids = []
    for name in ("Ada", "Bea", "Cy"):
        data = await _ok(tenant, CREATE_CUSTOMER, {"input": {"name": name, "currency": "USD"}})
        customer_ids.append(data["createCustomer"]["customer"]["id"])
    prices = [
        {"model": "FLAT_FEE", "currency": "USD", "amount": "49.00"},
        {
            "model": "PER_UNIT",
            "currency": "USD",
            "billingMode": "METERED",
            "metricCode": "api_calls",
            "unitAmount": "0.01",
        },
    ]
    plan = await _ok(
        tenant,
        CREATE_PLAN,
        {"input": {"code": "pro", "name": "Pro", "interval": "MONTH", "prices": prices}},
    )
    plan_payload = plan["createPlan"]["plan"]
    metered = [p["id"] for p in plan_payload["prices"] if p["billingMode"] == "METERED"]
    events = [
        {
            "idempotencyKey": f"seed-{c}-{i}",
            "metricCode": "api_calls",
            "timestamp": (NOW - timedelta(minutes=i + 1)).isoformat(),
            "customerId": customer_id,
        }
        for c, customer_id in enumerate(customer_ids)
        for i in range(c + 2)
    ]
    recorded = await _ok(tenant, RECORD_USAGE, {"input": {"events": events}})
    assert recorded["recordUsage"]["accepted"] == len(events)
    coupon = await _ok(tenant, CREATE_COUPON, {"input": {"name": "Seeded", "percentOff": "5"}})
    coupon_id = coupon["createCoupon"]["coupon"]["id"]
    subscribed = await _ok(
        tenant,
        CREATE_SUBSCRIPTION,
        {"input": {"customerId": customer_ids[0], "planId": plan_payload["id"]}},
    )
    payload = subscribed["createSubscription"]
    methods = []
    for token in ("tok_visa", "tok_mastercard"):
        attached = await _ok(
            tenant,
            ATTACH_PAYMENT_METHOD,
            {"input": {"customerId": customer_ids[0], "providerToken": token}},
        )
        methods.append(attached["attachPaymentMethod"]["paymentMethod"]["id"])
    paid = await _ok(
        tenant,
        PAY_INVOICE,
        {"input": {"invoiceId": payload["invoice"]["id"], "amount": "1.00"}},
    )
    webhook = await _ok(
        tenant,
        CREATE_WEBHOOK_ENDPOINT,
        {"input": {"url": "https://hooks.example.com/seeded", "events": ["*"]}},
    )
    credited = await _ok(
        tenant,
        CREATE_CREDIT_NOTE,
        {
            "input": {
                "invoiceId": payload["invoice"]["id"],
                "reason": "OTHER",
                "outcome": "CREDIT_BALANCE",
                "amount": "1.00",
            }
        },
    )
    assert credited["createCreditNote"]["userErrors"] == []
    return Seeded(
        tenant,
        customer_ids,
        plan_payload["id"],
        metered[0],
        coupon_id,
        payload["subscription"]["id"],
        payload["invoice"]["id"],
        methods[1],
        webhook["createWebhookEndpoint"]["webhookEndpoint"]["id"],
        paid["payInvoice"]["payment"]["id"],
        credited["createCreditNote"]["creditNote"]["id"],
    )


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """As a real client sees the app: a server error is an answer, not a raised exception."""
    async with recording_client(app) as c:
        yield c


@pytest.fixture(scope="module")
async def seeded(app: Any) -> AsyncIterator[Seeded]:
    async with recording_client(app) as c:
        yield await seed(await make_tenant(app, c))


# ------------------------------------------------------------------------ checking answers


def _describe(
    tenant: Tenant, response: httpx.Response, scopes: Sequence[str], document: str
) -> str:
    return (
        f"\nscopes: {list(scopes)}\ndocument: {document}\n-> HTTP {response.status_code} "
        f"{response.headers.get('content-type')!r}\n{response.text[:3000]}"
        + server_errors(tenant.client)
    )


@dataclass
class Answer:
    response: httpx.Response
    body: dict[str, Any]
    described: str  # the request and the answer, for assertion messages


async def post_json(
    tenant: Tenant,
    document: str,
    scopes: Sequence[str],
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """The answer, which must be HTTP 200 with a JSON body (never a 5xx nor plain text)."""
    response = await tenant.post(document, variables, scopes=list(scopes), headers=headers)
    described = _describe(tenant, response, scopes, document)
    assert response.status_code < 500, "server error" + described
    assert response.headers.get("content-type", "").startswith("application/json"), (
        "not JSON" + described
    )
    body = response.json()
    assert response.status_code == 200, described
    assert (
        isinstance(body, dict) and set(body) <= {"data", "errors", "extensions"} and "data" in body
    ), described
    return Answer(response, body, described)


def assert_forbidden_errors(
    body: dict[str, Any],
    expected: dict[tuple[str | int, ...], frozenset[str]],
    context: str,
) -> None:
    """Exactly one FORBIDDEN error per refused path, naming a scope the token lacks."""
    errors = body.get("errors") or []
    got = {}
    for error in errors:
        path = tuple(error.get("path") or ())
        extensions = error.get("extensions") or {}
        assert extensions.get("code") == "FORBIDDEN", f"unexpected error {error}{context}"
        assert path in expected, f"error at an unexpected path {error}{context}"
        assert extensions.get("requiredScope") in expected[path], f"{error}{context}"
        assert error.get("message") and error.get("locations"), f"{error}{context}"
        assert path not in got, f"two errors at {path}{context}"
        got[path] = error
    assert set(got) == set(expected), f"errors at {sorted(got)} != {sorted(expected)}{context}"


def _readable(needed: frozenset[str], scopes: Sequence[str]) -> bool:
    return needed <= set(scopes)


def _query(seeded: Seeded, fields: Sequence[str]) -> str:
    return "{ " + " ".join(seeded.fill(ROOT_SELECTIONS[f]) for f in fields) + " }"


async def answer_alone(seeded: Seeded, root_field: str, scopes: Sequence[str]) -> Any:
    """What `root_field` answers by itself for a token with `scopes` (which may read it)."""
    key = (root_field, tuple(sorted(scopes)))
    if key not in seeded.alone:
        document = _query(seeded, [root_field])
        answer = await post_json(seeded.tenant, document, scopes)
        assert "errors" not in answer.body, answer.described
        seeded.alone[key] = answer.body["data"][root_field]
    return seeded.alone[key]


async def check_mixed_query(seeded: Seeded, fields: Sequence[str], scopes: Sequence[str]) -> None:
    """One document of `fields` with a token holding `scopes`: readable fields answer as
    they do alone, each refused one is a FORBIDDEN error, nulls propagate per the schema."""
    document = _query(seeded, fields)
    refused = [f for f in fields if not _readable(QUERY_SCOPES[f], scopes)]
    expected_data: Any = {}
    for f in fields:
        expected_data[f] = None if f in refused else await answer_alone(seeded, f, scopes)
    expected_data = propagate_errors(
        expected_data, [[f] for f in refused], GRAPHQL_SCHEMA.query_type
    )
    answer = await post_json(seeded.tenant, document, scopes)
    body, context = answer.body, answer.described
    assert_forbidden_errors(body, {(f,): QUERY_SCOPES[f] - set(scopes) for f in refused}, context)
    assert body["data"] == expected_data, context
    if expected_data is not None:
        assert list(body["data"]) == list(fields), "fields out of order" + context


def _token_scopes(needed: frozenset[str]) -> list[str]:
    """A token that holds just what a field needs (none at all for a field that needs none)."""
    return sorted(needed)


# ------------------------------------------------------------------------ root fields


def test_every_root_field_has_a_minimal_selection() -> None:
    assert set(ROOT_SELECTIONS) == set(QUERY_FIELDS), (
        "give each root Query field a minimal selection in ROOT_SELECTIONS"
    )
    assert set(MUTATION_SELECTIONS) == set(MUTATION_FIELDS), (
        "give each Mutation field a minimal selection in MUTATION_SELECTIONS"
    )
    assert set(MUTATION_WRITES) == set(MUTATION_FIELDS)
    # the pairs below would prove nothing if every field needed the same scope
    assert QUERY_PAIRS and MUTATION_PAIRS
    assert all(scope in ALL_SCOPES for s in QUERY_SCOPES.values() for scope in s)


async def test_each_minimal_selection_answers_without_errors_with_all_scopes(
    seeded: Seeded,
) -> None:
    for root_field in QUERY_FIELDS:
        await answer_alone(seeded, root_field, ALL_SCOPES)
    # and the seeded rows are there to be read
    assert seeded.alone[("customers", tuple(sorted(ALL_SCOPES)))]["totalCount"] == 3
    assert seeded.alone[("plans", tuple(sorted(ALL_SCOPES)))]["totalCount"] == 1


@pytest.mark.parametrize(("first", "second"), QUERY_PAIRS, ids=[f"{a}+{b}" for a, b in QUERY_PAIRS])
async def test_a_token_that_may_read_one_root_field_and_not_the_other_gets_data_and_forbidden(
    seeded: Seeded, first: str, second: str
) -> None:
    # given two root fields that need different scopes, and a token with the scopes of each
    for scopes in (_token_scopes(QUERY_SCOPES[first]), _token_scopes(QUERY_SCOPES[second])):
        # when both are asked in one document, in either order
        for fields in ((first, second), (second, first)):
            # then 200 with the readable one's data and FORBIDDEN for the other
            await check_mixed_query(seeded, fields, scopes)


async def test_the_issue_12_document_answers_forbidden_with_null_data(seeded: Seeded) -> None:
    # given the document of the report, with a token that may read customers only
    document = "{ customers(first: 5) { totalCount } plans(first: 5) { totalCount } }"
    # when
    answer = await post_json(seeded.tenant, document, ["customers:read"])
    # then plans is refused and, being non-null, nulls the whole data (GraphQL 6.4.4)
    assert_forbidden_errors(
        answer.body, {("plans",): frozenset({"catalog:read"})}, answer.described
    )
    assert answer.body["data"] is None, answer.described


async def test_after_mixed_scope_requests_normal_requests_succeed_and_no_transaction_stays_open(
    seeded: Seeded, app: Any, admin: asyncpg.Connection
) -> None:
    tenant = seeded.tenant
    everything = sorted(ALL_SCOPES)
    expected = {f: await answer_alone(seeded, f, everything) for f in QUERY_FIELDS}
    problems: list[str] = []

    async def send(document: str, scopes: list[str]) -> httpx.Response:
        return await tenant.post(document, scopes=scopes)

    # given every mixed pair, both orders, both tokens, sent ten at a time
    mixed = [
        (_query(seeded, fields), _token_scopes(QUERY_SCOPES[token_of]))
        for a, b in QUERY_PAIRS
        for fields in ((a, b), (b, a))
        for token_of in (a, b)
    ]
    for start in range(0, len(mixed), 10):
        batch = mixed[start : start + 10]
        responses = await asyncio.gather(*(send(doc, scopes) for doc, scopes in batch))
        for (doc, scopes), response in zip(batch, responses, strict=True):
            if response.status_code != 200 or "json" not in response.headers["content-type"]:
                problems.append("mixed:" + _describe(tenant, response, scopes, doc))
    # when 100 normal requests follow: each root field alone, pairs, and all at once
    names = list(QUERY_FIELDS)
    documents = [[f] for f in names] + [list(p) for p in itertools.combinations(names, 2)]
    documents = (documents + [names] * 100)[:99] + [names]
    assert len(documents) == 100
    for start in range(0, len(documents), 10):
        batch_fields = documents[start : start + 10]
        responses = await asyncio.gather(
            *(send(_query(seeded, fields), everything) for fields in batch_fields)
        )
        for fields, response in zip(batch_fields, responses, strict=True):
            described = "normal:" + _describe(tenant, response, everything, _query(seeded, fields))
            if response.status_code != 200 or "json" not in response.headers["content-type"]:
                problems.append(described)
                continue
            body = response.json()
            if "errors" in body or body.get("data") != {f: expected[f] for f in fields}:
                problems.append(described)
    # then they all succeeded, and no connection is left in a transaction
    open_transactions = await _transactions_left_open(admin)
    checked_out = app.state.engine.pool.checkedout()
    summary = (
        f"{len(problems)} failed requests, {len(open_transactions)} connections idle in a "
        f"transaction {open_transactions}, {checked_out} connections still checked out"
    )
    assert not problems and not open_transactions and checked_out == 0, (
        summary + "\n" + "\n".join(problems[:5])
    )


async def _transactions_left_open(admin: asyncpg.Connection) -> list[dict[str, Any]]:
    """Connections to the test database idle inside a transaction, after a short moment for
    any that is just finishing."""
    rows: list[Any] = []
    for _ in range(20):
        rows = await admin.fetch(
            """
            select pid, state, left(query, 200) as query from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid()
              and state like 'idle in transaction%'
            """
        )
        if not rows:
            return []
        await asyncio.sleep(0.1)
    return [dict(row) for row in rows]


# ------------------------------------------------------------------------ nested fields

CUSTOMER_PAGE = """
query Page($from: DateTime!, $to: DateTime!, $price: ID!) {
  customers(first: 10) {
    totalCount
    edges { node {
      id name
      recentEvents { type }
      usage(metricCode: "api_calls", from: $from, to: $to) { quantity eventCount }
      usageCharge(priceId: $price, from: $from, to: $to) { quantity breakdown { total { amount } } }
    } }
  }
}
"""
CUSTOMER_BY_NODE = """
query ByNode($id: ID!, $from: DateTime!, $to: DateTime!, $price: ID!) {
  node(id: $id) { id ... on Customer {
    name
    usage(metricCode: "api_calls", from: $from, to: $to) { quantity }
    usageCharge(priceId: $price, from: $from, to: $to) { quantity }
  } }
  customer(id: $id) {
    id
    usageCharge(priceId: $price, from: $from, to: $to) { quantity }
    recentEvents { type }
  }
}
"""
EVENT_SUBJECTS = """
query Subjects($from: DateTime!, $to: DateTime!, $price: ID!) {
  events(first: 10, filter: {types: ["customer.created"]}) {
    edges { node { type subject { id ... on Customer {
      name
      usageCharge(priceId: $price, from: $from, to: $to) { quantity }
    } } } }
  }
}
"""
_PAGE_OF_CUSTOMERS = """
  customers(first: 10) { edges { node {
    id recentEvents { type } usage(metricCode: "api_calls", from: $from, to: $to) { quantity }
  } } }
"""
_PAGE_OF_PLANS = """
  plans(first: 5) { totalCount edges { node { code } } }
"""
PAGES_BESIDE_A_REFUSED_ROOT = [
    "query Beside($from: DateTime!, $to: DateTime!) {" + first + second + "}"
    for first, second in (
        (_PAGE_OF_CUSTOMERS, _PAGE_OF_PLANS),
        (_PAGE_OF_PLANS, _PAGE_OF_CUSTOMERS),
    )
]
CREATE_CUSTOMER_READING_USAGE = """
mutation($input: CreateCustomerInput!, $from: DateTime!, $to: DateTime!) {
  createCustomer(input: $input) {
    customer { id name usage(metricCode: "api_calls", from: $from, to: $to) { quantity } }
    userErrors { code }
  }
}
"""
CREATE_CUSTOMER_READING_EVENTS = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id name recentEvents { type } } userErrors { code } }
}
"""

# Every guarded field below the root, and the test that reads it with a token that may read
# its parent and not the field itself.
NESTED_CASES = {
    "Customer.subscriptions": "test_a_customer_refuses_its_subscriptions_and_invoices",
    "Customer.invoices": "test_a_customer_refuses_its_subscriptions_and_invoices",
    "Subscription.customer": "test_a_subscription_refuses_its_links_without_their_scopes",
    "Subscription.plan": "test_a_subscription_refuses_its_links_without_their_scopes",
    "Subscription.invoices": "test_a_subscription_refuses_its_links_without_their_scopes",
    "Subscription.upcomingInvoice": "test_a_subscription_refuses_its_links_without_their_scopes",
    "Invoice.customer": "test_an_invoice_refuses_its_customer_and_subscription",
    "Invoice.subscription": "test_an_invoice_refuses_its_customer_and_subscription",
    "Customer.usageCharge": "test_a_page_of_customers_answers_and_refuses_each_usage_charge",
    "Customer.usage": "test_a_created_customer_read_back_without_customers_read_is_refused",
    "Customer.recentEvents": "test_a_created_customer_read_back_without_customers_read_is_refused",
    "Customer.paymentMethods": "test_a_customer_refuses_its_payment_methods",
    "Customer.defaultPaymentMethod": "test_a_customer_refuses_its_payment_methods",
    "Invoice.payments": "test_an_invoice_refuses_its_customer_and_subscription",
    "Payment.invoice": "test_a_payment_refuses_its_invoice",
    "Customer.balanceTransactions": "test_a_written_customer_refuses_its_balance_transactions",
    "CustomerBalanceTransaction.creditNote": "test_balance_transactions_refuse_their_documents",
    "CustomerBalanceTransaction.invoice": "test_balance_transactions_refuse_their_documents",
    "CreditNote.customer": "test_a_credit_note_refuses_its_customer",
}


def test_every_guarded_nested_field_is_tested_with_a_token_that_may_read_its_parent() -> None:
    assert _guarded_nested_fields() == set(NESTED_CASES), (
        "a nested field guarded by a scope needs a case here (a parent readable without it)"
    )
    assert all(callable(globals()[name]) for name in NESTED_CASES.values())


def _window(seeded: Seeded) -> dict[str, Any]:
    return {"from": WINDOW_FROM, "to": WINDOW_TO, "price": seeded.metered_price_id}


async def _expected_with_refusals(
    seeded: Seeded,
    document: str,
    variables: dict[str, Any],
    refused: Sequence[Sequence[str | int]],
) -> Any:
    """The all-scopes answer, with the refused paths nulled as the spec propagates them."""
    body = await seeded.tenant.gql(document, variables, scopes=ALL_SCOPES)
    assert "errors" not in body, body
    return propagate_errors(body["data"], refused, GRAPHQL_SCHEMA.query_type)


async def _check_nested(
    seeded: Seeded,
    document: str,
    variables: dict[str, Any],
    scopes: list[str],
    refused: dict[tuple[str | int, ...], frozenset[str]],
) -> None:
    expected = await _expected_with_refusals(seeded, document, variables, list(refused))
    answer = await post_json(seeded.tenant, document, scopes, variables)
    assert_forbidden_errors(answer.body, refused, answer.described)
    assert answer.body["data"] == expected, answer.described


async def test_a_page_of_customers_answers_and_refuses_each_usage_charge(seeded: Seeded) -> None:
    # given a page of three customers whose usage charge needs catalog:read too, read
    # beside their events and usage (loaders running statements) with customers:read only
    refused = {
        ("customers", "edges", i, "node", "usageCharge"): frozenset({"catalog:read"})
        for i in range(len(seeded.customer_ids))
    }
    # then each customer's charge is refused (nullable: null), everything else answers
    await _check_nested(seeded, CUSTOMER_PAGE, _window(seeded), ["customers:read"], refused)
    all_scopes = await seeded.tenant.gql(CUSTOMER_PAGE, _window(seeded), scopes=ALL_SCOPES)
    charges = [e["node"]["usageCharge"] for e in all_scopes["data"]["customers"]["edges"]]
    assert all(charge is not None for charge in charges), "the seeded charges should exist"


async def test_a_customer_by_node_and_by_id_answers_and_refuses_its_usage_charge(
    seeded: Seeded,
) -> None:
    variables = {"id": seeded.customer_ids[1], **_window(seeded)}
    refused = {
        ("node", "usageCharge"): frozenset({"catalog:read"}),
        ("customer", "usageCharge"): frozenset({"catalog:read"}),
    }
    await _check_nested(seeded, CUSTOMER_BY_NODE, variables, ["customers:read"], refused)


async def test_event_subjects_answer_and_refuse_their_usage_charge(seeded: Seeded) -> None:
    refused = {
        ("events", "edges", i, "node", "subject", "usageCharge"): frozenset({"catalog:read"})
        for i in range(len(seeded.customer_ids))
    }
    await _check_nested(seeded, EVENT_SUBJECTS, _window(seeded), ["customers:read"], refused)


@pytest.mark.parametrize("scopes", [["customers:read"], ["customers:read", "usage:write"]])
async def test_a_page_of_customers_running_loaders_beside_a_refused_root_field(
    seeded: Seeded, scopes: list[str]
) -> None:
    # given customers whose events and usage are being loaded while `plans`, refused and
    # non-null, nulls the whole answer
    variables = {"from": WINDOW_FROM, "to": WINDOW_TO}
    for document in PAGES_BESIDE_A_REFUSED_ROOT:
        answer = await post_json(seeded.tenant, document, scopes, variables)
        refused = {("plans",): frozenset({"catalog:read"})}
        assert_forbidden_errors(answer.body, refused, answer.described)
        assert answer.body["data"] is None, answer.described
    # and the next request on the pool is served
    data = await _ok(seeded.tenant, "{ customers(first: 1) { totalCount } }")
    assert data == {"customers": {"totalCount": 3}}


async def test_a_created_customer_read_back_without_customers_read_is_refused(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given a token that may write customers and not read them
    await seed_metric(tenant)
    scopes = ["customers:write"]
    # when it creates a customer and reads back its usage (nullable)
    usage = await post_json(
        tenant,
        CREATE_CUSTOMER_READING_USAGE,
        scopes,
        {"input": {"name": "Written", "currency": "USD"}, "from": WINDOW_FROM, "to": WINDOW_TO},
    )
    # then the usage alone is refused
    refused = {("createCustomer", "customer", "usage"): frozenset({"customers:read"})}
    assert_forbidden_errors(usage.body, refused, usage.described)
    payload = usage.body["data"]["createCustomer"]
    assert payload["userErrors"] == [], usage.described
    assert payload["customer"]["id"].startswith("cus_"), usage.described
    assert payload["customer"]["name"] == "Written", usage.described
    assert payload["customer"]["usage"] is None, usage.described
    # when it creates another and reads back its events ([Event!]!, non-null)
    events = await post_json(
        tenant,
        CREATE_CUSTOMER_READING_EVENTS,
        scopes,
        {"input": {"name": "Written", "currency": "USD"}},
    )
    # then the events are refused, and their null goes up to the nullable `customer`
    path = ("createCustomer", "customer", "recentEvents")
    assert_forbidden_errors(events.body, {path: frozenset({"customers:read"})}, events.described)
    assert GRAPHQL_SCHEMA.mutation_type is not None
    expected = propagate_errors(
        {"createCustomer": {"customer": {"id": "x", "recentEvents": []}, "userErrors": []}},
        [path],
        GRAPHQL_SCHEMA.mutation_type,
    )
    assert expected == {"createCustomer": {"customer": None, "userErrors": []}}
    assert events.body["data"] == expected, events.described
    # and both customers were written once each, with their events
    written = await admin.fetchrow(
        """
        select (select count(*) from customers where tenant_id = $1 and name = 'Written'),
               (select count(*) from events where tenant_id = $1 and type = 'customer.created')
        """,
        tenant.id,
    )
    assert tuple(written) == (2, 2)


async def seed_metric(tenant: Tenant) -> None:
    await _ok(
        tenant,
        CREATE_METRIC,
        {"input": {"code": "api_calls", "name": "API calls", "aggregation": "COUNT"}},
    )


# ------------------------------------------------------------------------ mutations

MIXED_MUTATION_CASES = [
    (pair, order, token_of)
    for pair in MUTATION_PAIRS
    for order in ("as-paired", "reversed")
    for token_of in pair
]


@pytest.mark.parametrize(
    ("pair", "order", "token_of"),
    MIXED_MUTATION_CASES,
    ids=[f"{a}+{b}-{order}-token-of-{t}" for (a, b), order, t in MIXED_MUTATION_CASES],
)
async def test_a_mutation_document_mixing_a_permitted_and_a_refused_field(
    seeded: Seeded,
    admin: asyncpg.Connection,
    pair: tuple[str, str],
    order: str,
    token_of: str,
) -> None:
    # given the seeded account (shared: nothing may be written, which the counts before and
    # after check) and a token that may run only one of the two mutations
    tenant = seeded.tenant
    fields = pair if order == "as-paired" else pair[::-1]
    scopes = _token_scopes(MUTATION_SCOPES[token_of])
    before = {f: await admin.fetchval(MUTATION_WRITES[f], tenant.id) for f in fields}
    document = "mutation { " + " ".join(seeded.fill(MUTATION_SELECTIONS[f]) for f in fields) + " }"
    # when both run in one document
    answer = await post_json(tenant, document, scopes)
    body, context = answer.body, answer.described
    # then nothing runs: a mutation document runs only when every mutation it names may
    # (run serially, a permitted one before the refused one would write while the refused
    # one's non-null payload nulls `data`); the refused one is FORBIDDEN, `data` null
    refused = [f for f in fields if not _readable(MUTATION_SCOPES[f], scopes)]
    assert len(refused) == 1, context
    assert_forbidden_errors(
        body, {(refused[0],): MUTATION_SCOPES[refused[0]] - set(scopes)}, context
    )
    assert GRAPHQL_SCHEMA.mutation_type is not None
    expected_data = propagate_errors(
        {f: "ran" for f in fields}, [[refused[0]]], GRAPHQL_SCHEMA.mutation_type
    )
    assert expected_data is None and body["data"] is None, context
    # and the database holds nothing of either
    for f in fields:
        written = await admin.fetchval(MUTATION_WRITES[f], tenant.id) - before[f]
        assert written == 0, f"{f} wrote {written}{context}"


async def test_a_mixed_mutation_with_an_idempotency_key_replays_the_same_bytes(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given createCustomer then createPlan, sent with a key by a customers:write token
    seeded = await seed(tenant)
    document = (
        "mutation { "
        + seeded.fill(MUTATION_SELECTIONS["createCustomer"])
        + " "
        + seeded.fill(MUTATION_SELECTIONS["createPlan"])
        + " }"
    )
    headers = {"Idempotency-Key": "mixed-mutation-1"}
    first = await post_json(tenant, document, ["customers:write"], headers=headers)
    refused = {("createPlan",): frozenset({"catalog:write"})}
    assert_forbidden_errors(first.body, refused, first.described)
    assert first.body["data"] is None, first.described
    # when it is sent again with the same key
    replay = await post_json(tenant, document, ["customers:write"], headers=headers)
    # then the same bytes answer, and nothing more is written
    assert replay.response.status_code == first.response.status_code
    assert replay.response.content == first.response.content, replay.described
    assert replay.response.headers.get("idempotent-replayed") == "true"
    assert await admin.fetchval(MUTATION_WRITES["createCustomer"], tenant.id) == 0
    assert await admin.fetchval(MUTATION_WRITES["createPlan"], tenant.id) == 0
    assert (
        await admin.fetchval(
            "select count(*) from idempotency_keys where tenant_id = $1", tenant.id
        )
        == 1
    )


async def test_a_refused_mutation_hidden_in_a_fragment_under_an_alias_stops_the_document(
    tenant: Tenant, admin: asyncpg.Connection
) -> None:
    # given createCustomer beside a createPlan spread from a fragment, aliased
    seeded = await seed(tenant)
    document = (
        "mutation { "
        + seeded.fill(MUTATION_SELECTIONS["createCustomer"])
        + " ...More } fragment More on Mutation { ... on Mutation { newPlan: "
        + seeded.fill(MUTATION_SELECTIONS["createPlan"])
        + " } }"
    )
    # when a customers:write token sends it
    answer = await post_json(tenant, document, ["customers:write"])
    # then the aliased field is FORBIDDEN by its response key, and nothing was written
    assert_forbidden_errors(
        answer.body, {("newPlan",): frozenset({"catalog:write"})}, answer.described
    )
    assert answer.body["data"] is None, answer.described
    assert await admin.fetchval(MUTATION_WRITES["createCustomer"], tenant.id) == 0
    assert await admin.fetchval(MUTATION_WRITES["createPlan"], tenant.id) == 0


LINKS = {
    "subscription": "query($id: ID!) { subscription(id: $id) { id %s } }",
    "invoice": "query($id: ID!) { invoice(id: $id) { id lines { id } %s } }",
    "customer": "query($id: ID!) { customer(id: $id) { id %s } }",
    "node": "query($id: ID!) { node(id: $id) { id ... on Payment { %s } } }",
}


async def _check_links(
    seeded: Seeded, parent: str, parent_id: str, scopes: list[str], links: dict[str, str]
) -> None:
    """Each link alone (a refused non-null list nulls its parent, hiding its siblings)."""
    for selection, scope in links.items():
        document = LINKS[parent] % selection
        refused = {(parent, selection.split()[0]): frozenset({scope})}
        await _check_nested(seeded, document, {"id": parent_id}, scopes, refused)


async def test_a_subscription_refuses_its_links_without_their_scopes(seeded: Seeded) -> None:
    links = {
        "customer { id }": "customers:read",
        "plan { id }": "catalog:read",
        "invoices { id }": "invoices:read",
        "upcomingInvoice { id }": "invoices:read",
    }
    await _check_links(
        seeded, "subscription", seeded.subscription_id, ["subscriptions:read"], links
    )


async def test_an_invoice_refuses_its_customer_and_subscription(seeded: Seeded) -> None:
    links = {
        "customer { id }": "customers:read",
        "subscription { id }": "subscriptions:read",
        "payments { id }": "payments:read",
    }
    await _check_links(seeded, "invoice", seeded.invoice_id, ["invoices:read"], links)


async def test_a_payment_refuses_its_invoice(seeded: Seeded) -> None:
    links = {"invoice { id }": "invoices:read"}
    await _check_links(seeded, "node", seeded.payment_id, ["payments:read"], links)


async def test_a_customer_refuses_its_subscriptions_and_invoices(seeded: Seeded) -> None:
    links = {"subscriptions { id }": "subscriptions:read", "invoices { id }": "invoices:read"}
    await _check_links(seeded, "customer", seeded.customer_ids[0], ["customers:read"], links)


async def test_a_customer_refuses_its_payment_methods(seeded: Seeded) -> None:
    links = {
        "paymentMethods { id last4 }": "payments:read",
        "defaultPaymentMethod { id }": "payments:read",
    }
    await _check_links(seeded, "customer", seeded.customer_ids[0], ["customers:read"], links)


async def test_a_written_customer_refuses_its_balance_transactions(tenant: Tenant) -> None:
    # given a token that may write customers and not read them
    document = (
        'mutation { createCustomer(input: {name: "Written", currency: "USD"}) '
        "{ customer { id balanceTransactions { id } } userErrors { code } } }"
    )
    # when it creates one and reads back its balance transactions ([..!]!, non-null)
    answer = await post_json(tenant, document, ["customers:write"])
    # then they are refused, and the null goes up to the nullable `customer`
    path = ("createCustomer", "customer", "balanceTransactions")
    assert_forbidden_errors(answer.body, {path: frozenset({"customers:read"})}, answer.described)
    assert answer.body["data"] == {"createCustomer": {"customer": None, "userErrors": []}}


async def test_balance_transactions_refuse_their_documents(seeded: Seeded) -> None:
    # given the seeded customer's one transaction: the credit note of the seeded invoice
    for selection in ("creditNote { id }", "invoice { id }"):
        document = (
            "query($id: ID!) { customer(id: $id) { id balanceTransactions { id kind "
            + selection
            + " } } }"
        )
        refused = {
            ("customer", "balanceTransactions", 0, selection.split()[0]): frozenset(
                {"invoices:read"}
            )
        }
        await _check_nested(
            seeded, document, {"id": seeded.customer_ids[0]}, ["customers:read"], refused
        )


async def test_a_credit_note_refuses_its_customer(seeded: Seeded) -> None:
    document = "{ creditNotes(first: 5) { edges { node { id invoice { id } customer { id } } } } }"
    refused = {("creditNotes", "edges", 0, "node", "customer"): frozenset({"customers:read"})}
    await _check_nested(seeded, document, {}, ["invoices:read"], refused)
