"""GraphQL documents the billing API tests share."""

from __future__ import annotations

CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code field } }
}
"""

CREATE_PLAN = """
mutation($input: CreatePlanInput!) {
  createPlan(input: $input) { plan { id prices { id } } userErrors { code field message } }
}
"""

INVOICE_FIELDS = """
  id number status billingReason currency periodStart periodEnd dueDate
  subtotal { amount currency } discountTotal { amount } taxTotal { amount }
  total { amount } amountDue { amount } amountPaid { amount } amountRemaining { amount }
  lines { id kind description amount { amount } quantity unitAmount periodStart periodEnd
          priceId proration explanation }
"""

CREATE_SUBSCRIPTION = f"""
mutation($input: CreateSubscriptionInput!) {{
  createSubscription(input: $input) {{
    subscription {{ id status quantity currentPeriodStart currentPeriodEnd trialEnd
                   cancelAtPeriodEnd priceIds }}
    invoice {{ {INVOICE_FIELDS} }}
    userErrors {{ code field message }}
  }}
}}
"""

CANCEL_SUBSCRIPTION = f"""
mutation($input: CancelSubscriptionInput!) {{
  cancelSubscription(input: $input) {{
    subscription {{ id status cancelAtPeriodEnd endedAt }}
    invoice {{ {INVOICE_FIELDS} }}
    userErrors {{ code field message }}
  }}
}}
"""

REACTIVATE_SUBSCRIPTION = """
mutation($input: ReactivateSubscriptionInput!) {
  reactivateSubscription(input: $input) {
    subscription { id status cancelAtPeriodEnd }
    userErrors { code field message }
  }
}
"""

CHANGE_PLAN = f"""
mutation($input: ChangeSubscriptionPlanInput!) {{
  changeSubscriptionPlan(input: $input) {{
    subscription {{ id planId quantity }}
    invoice {{ {INVOICE_FIELDS} }}
    userErrors {{ code field message }}
  }}
}}
"""

CREATE_INVOICE = f"""
mutation($input: CreateInvoiceInput!) {{
  createInvoice(input: $input) {{ invoice {{ {INVOICE_FIELDS} }} userErrors {{ code field }} }}
}}
"""

ADD_LINE = f"""
mutation($input: AddInvoiceLineInput!) {{
  addInvoiceLine(input: $input) {{ invoice {{ {INVOICE_FIELDS} }} userErrors {{ code field }} }}
}}
"""

FINALIZE = f"""
mutation($input: InvoiceIdInput!) {{
  finalizeInvoice(input: $input) {{ invoice {{ {INVOICE_FIELDS} }} userErrors {{ code field }} }}
}}
"""

VOID = """
mutation($input: InvoiceIdInput!) {
  voidInvoice(input: $input) { invoice { id status amountDue { amount } } userErrors { code } }
}
"""

UNCOLLECTIBLE = """
mutation($input: InvoiceIdInput!) {
  markInvoiceUncollectible(input: $input) { invoice { id status } userErrors { code } }
}
"""


def monthly_plan(
    code: str, amount: str, currency: str = "USD", **extra: object
) -> dict[str, object]:
    """A monthly plan with one per-seat price."""
    return {
        "code": code,
        "name": code.title(),
        "interval": "MONTH",
        "prices": [{"model": "PER_UNIT", "currency": currency, "unitAmount": amount}],
        **extra,
    }
