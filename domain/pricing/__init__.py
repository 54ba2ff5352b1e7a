"""Price models: pure functions from a quantity to an amount, with a per-line breakdown.

The models are the ones Stripe Billing and Lago offer: a flat fee per period, per unit,
graduated and volume tiers, packages, a percentage of each transaction (with a fixed fee,
a minimum and a maximum per transaction), and a minimum commitment per period.

- `models`: the price models and breakdowns, value objects;
- `terms`: a price as a caller states it, and the fields each model needs;
- `validation`: the rules a model and a quantity must meet, with field paths;
- `computation`: what a quantity, transactions or a period's usage cost, line by line.
"""

from domain.pricing.computation import (
    charges_each_transaction,
    minimum_commitment_shortfall,
    price_for,
    price_transaction_fees,
    price_transactions,
    price_usage,
)
from domain.pricing.models import (
    MODEL_KINDS,
    FlatFee,
    GraduatedTiers,
    MeteredUsage,
    MinimumCommitment,
    Package,
    Percentage,
    PerUnit,
    PriceBreakdown,
    PriceLine,
    PriceModel,
    Tier,
    TransactionFees,
    VolumeTiers,
)
from domain.pricing.terms import PriceTerms, TierTerms, money_from_terms, price_model_from_terms
from domain.pricing.validation import (
    MAX_TIERS,
    RATE_MAX_DECIMALS,
    UNIT_AMOUNT_MAX_DECIMALS,
    price_errors,
    validate_minimum_commitment,
    validate_price,
    validate_quantity,
)

__all__ = [
    "MAX_TIERS",
    "MODEL_KINDS",
    "RATE_MAX_DECIMALS",
    "UNIT_AMOUNT_MAX_DECIMALS",
    "FlatFee",
    "GraduatedTiers",
    "MeteredUsage",
    "MinimumCommitment",
    "Package",
    "Percentage",
    "PerUnit",
    "PriceBreakdown",
    "PriceLine",
    "PriceModel",
    "PriceTerms",
    "Tier",
    "TierTerms",
    "TransactionFees",
    "VolumeTiers",
    "charges_each_transaction",
    "minimum_commitment_shortfall",
    "money_from_terms",
    "price_errors",
    "price_for",
    "price_model_from_terms",
    "price_transaction_fees",
    "price_transactions",
    "price_usage",
    "validate_minimum_commitment",
    "validate_price",
    "validate_quantity",
]
