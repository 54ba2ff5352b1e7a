"""The demo seed's catalog makes sense as a catalog: what a developer exploring GraphiQL
sees first should look like a merchant's prices, not like test data."""

from __future__ import annotations

from decimal import Decimal

from domain.pricing import FlatFee
from infra.seed import DEMO_METRICS, DEMO_PLANS

# Rough rates to USD, enough to tell 3.6 dinars from 3,600.
ABOUT_USD = {
    "GBP": Decimal("1.27"),
    "USD": Decimal(1),
    "EUR": Decimal("1.1"),
    "JPY": Decimal("0.0067"),
    "KWD": Decimal("3.25"),
}


def test_a_plans_flat_prices_cost_about_the_same_in_every_currency() -> None:
    for plan in DEMO_PLANS:
        in_usd = [
            price.model.amount.amount * ABOUT_USD[price.model.amount.currency]
            for price in plan.prices
            if isinstance(price.model, FlatFee)
        ]
        if len(in_usd) > 1:
            assert max(in_usd) / min(in_usd) < Decimal("1.5"), (plan.code, in_usd)


def test_each_metered_price_charges_a_metric_of_its_own_kind() -> None:
    codes = {metric.code for metric in DEMO_METRICS}
    metered = {
        plan.code: price.metric_code
        for plan in DEMO_PLANS
        for price in plan.prices
        if price.metric_code is not None
    }
    assert set(metered.values()) <= codes
    assert metered["sms-packs"] == "sms.sent"
    assert metered["api-graduated"] == "api.calls"
