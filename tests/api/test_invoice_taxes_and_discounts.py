"""Discounts and taxes on real invoices: allocated per line, taxed after discounts, summed
per rate; reverse charge stated; the PDF in the customer's language."""

from __future__ import annotations

from typing import Any

from tests.api.billing_documents import CREATE_PLAN, CREATE_SUBSCRIPTION, monthly_plan
from tests.api.test_invoice_pdf import get_pdf, pdf_text
from tests.conftest import Tenant

CREATE_CUSTOMER = """
mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } userErrors { code field } }
}
"""
CREATE_TAX_RATE = """
mutation($input: CreateTaxRateInput!) {
  createTaxRate(input: $input) { taxRate { id } userErrors { code field } }
}
"""
CREATE_COUPON = """
mutation($input: CreateCouponInput!) {
  createCoupon(input: $input) { coupon { id } userErrors { code field } }
}
"""
INVOICE = """
query($id: ID!) { invoice(id: $id) {
  subtotal { amount } discountTotal { amount } taxTotal { amount } total { amount }
  reverseCharge
  taxBreakdown { name percentage inclusive taxableAmount { amount } taxAmount { amount } }
  lines { amount { amount } discountAmount { amount } taxAmount { amount } taxPercentage }
} }
"""


async def _data(tenant: Tenant, document: str, variables: dict[str, Any]) -> Any:
    body = await tenant.gql(document, variables)
    assert "errors" not in body, body
    return body["data"]


async def _customer(tenant: Tenant, country: str, **extra: Any) -> str:
    data = await _data(
        tenant,
        CREATE_CUSTOMER,
        {"input": {"name": "Client", "currency": "EUR", "address": {"country": country}, **extra}},
    )
    return str(data["createCustomer"]["customer"]["id"])


async def _plan(tenant: Tenant) -> str:
    data = await _data(tenant, CREATE_PLAN, {"input": monthly_plan("pro", "33.33", "EUR")})
    return str(data["createPlan"]["plan"]["id"])


async def _subscribe(tenant: Tenant, customer: str, plan: str, **extra: Any) -> dict[str, Any]:
    data = await _data(
        tenant,
        CREATE_SUBSCRIPTION,
        {"input": {"customerId": customer, "planId": plan, "quantity": 3, **extra}},
    )
    result: dict[str, Any] = data["createSubscription"]
    assert result["userErrors"] == [], result
    return result


async def test_a_french_subscription_is_discounted_then_taxed_at_the_french_rate(
    tenant: Tenant,
) -> None:
    # given French VAT at 20 %, German at 19 %, a 10 % coupon and a French customer
    for country, percentage in (("FR", "20"), ("DE", "19")):
        await _data(
            tenant,
            CREATE_TAX_RATE,
            {
                "input": {
                    "displayName": f"VAT {country}",
                    "percentage": percentage,
                    "inclusive": False,
                    "country": country,
                }
            },
        )
    coupon = await _data(
        tenant, CREATE_COUPON, {"input": {"name": "Ten", "percentOff": "10", "duration": "FOREVER"}}
    )
    customer = await _customer(tenant, "FR", preferredLocale="fr")
    plan = await _plan(tenant)

    # when the customer subscribes to 3 seats of 33.33 with the coupon
    result = await _subscribe(
        tenant, customer, plan, couponId=coupon["createCoupon"]["coupon"]["id"]
    )

    # then 99.99 − 10.00 (10 %, rounded once) = 89.99, taxed 20 % = 18.00, total 107.99
    invoice = (await _data(tenant, INVOICE, {"id": result["invoice"]["id"]}))["invoice"]
    assert invoice["subtotal"]["amount"] == "99.99"
    assert invoice["discountTotal"]["amount"] == "10.00"
    assert invoice["taxTotal"]["amount"] == "18.00"
    assert invoice["total"]["amount"] == "107.99"
    assert invoice["reverseCharge"] is False
    assert invoice["taxBreakdown"] == [
        {
            "name": "VAT FR",
            "percentage": "20",
            "inclusive": False,
            "taxableAmount": {"amount": "89.99"},
            "taxAmount": {"amount": "18.00"},
        }
    ]
    [line] = invoice["lines"]
    assert line["discountAmount"] == {"amount": "10.00"}
    assert line["taxAmount"] == {"amount": "18.00"}

    # and its PDF speaks French
    response = await get_pdf(tenant, result["invoice"]["id"])
    text = pdf_text(response.content)  # type: ignore[attr-defined]
    assert "Facture" in text
    assert "107,99" in text


async def test_a_reverse_charge_customer_pays_no_tax_and_the_invoice_says_so(
    tenant: Tenant,
) -> None:
    await _data(
        tenant,
        CREATE_TAX_RATE,
        {"input": {"displayName": "MwSt", "percentage": "19", "inclusive": False, "country": "DE"}},
    )
    customer = await _customer(tenant, "DE", taxExempt="REVERSE", preferredLocale="de")
    result = await _subscribe(tenant, customer, await _plan(tenant))
    invoice = (await _data(tenant, INVOICE, {"id": result["invoice"]["id"]}))["invoice"]
    assert invoice["taxTotal"] == {"amount": "0.00"}
    assert invoice["total"] == {"amount": "99.99"}
    assert invoice["reverseCharge"] is True
    text = pdf_text((await get_pdf(tenant, result["invoice"]["id"])).content)  # type: ignore[attr-defined]
    assert "Steuerschuldnerschaft des Leistungsempfängers" in text


async def test_an_inclusive_rate_takes_the_tax_out_of_the_price(tenant: Tenant) -> None:
    await _data(
        tenant,
        CREATE_TAX_RATE,
        {"input": {"displayName": "VAT", "percentage": "20", "inclusive": True, "country": "GB"}},
    )
    result = await _subscribe(tenant, await _customer(tenant, "GB"), await _plan(tenant))
    invoice = (await _data(tenant, INVOICE, {"id": result["invoice"]["id"]}))["invoice"]
    # 99.99 gross: tax = 99.99 × 20/120 = 16.665 → 16.67; net 83.32; total unchanged
    assert invoice["total"] == {"amount": "99.99"}
    assert invoice["taxTotal"] == {"amount": "16.67"}
    assert invoice["taxBreakdown"][0]["inclusive"] is True
