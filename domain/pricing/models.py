"""The price models and what pricing answers: value objects, no rule.

Amounts: a unit amount is an exact `Decimal` in major units that may be finer than the
minor unit ("0.0125" USD); a flat amount is `Money`. Tiers follow Stripe's `up_to`: a tier
covers the quantities above the previous tier's `up_to` up to and including its own; the
last tier is open-ended (`up_to=None`). The rules a model must meet are in
`domain.pricing.validation`, how it prices a quantity in `domain.pricing.computation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from domain.money import Money


@dataclass(frozen=True, slots=True)
class Tier:
    """Quantities above the previous tier's `up_to`, up to and including this one's."""

    up_to: Decimal | None  # None: open-ended, the last tier only
    unit_amount: Decimal  # exact, major units, may be finer than the minor unit
    flat_amount: Money | None = None


@dataclass(frozen=True, slots=True)
class FlatFee:
    """One amount per period, whatever the quantity."""

    amount: Money

    @property
    def currency(self) -> str:
        return self.amount.currency


@dataclass(frozen=True, slots=True)
class PerUnit:
    """Quantity x unit amount."""

    unit_amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class GraduatedTiers:
    """Each unit priced by the tier it falls in, plus each reached tier's flat fee."""

    tiers: tuple[Tier, ...]
    currency: str


@dataclass(frozen=True, slots=True)
class VolumeTiers:
    """Every unit priced at the tier the total falls in, plus that tier's flat fee."""

    tiers: tuple[Tier, ...]
    currency: str


@dataclass(frozen=True, slots=True)
class Package:
    """A price per block of `package_size` units, a partial block rounded up."""

    package_amount: Decimal  # the price of one block, exact, major units
    package_size: int  # units per block
    currency: str


@dataclass(frozen=True, slots=True)
class Percentage:
    """`rate` percent of each transaction's amount (Decimal("2.9") is 2.9 %) plus
    `fixed_amount`; the fee of each transaction is then held within min and max."""

    rate: Decimal
    currency: str
    fixed_amount: Money | None = None
    min_amount: Money | None = None
    max_amount: Money | None = None


@dataclass(frozen=True, slots=True)
class MinimumCommitment:
    """A period's minimum spend: a total below it is topped up by the shortfall."""

    amount: Money

    @property
    def currency(self) -> str:
        return self.amount.currency


PriceModel = FlatFee | PerUnit | GraduatedTiers | VolumeTiers | Package | Percentage

# The name of each price model in the API and in storage.
MODEL_KINDS: Final[dict[type, str]] = {
    FlatFee: "FLAT_FEE",
    PerUnit: "PER_UNIT",
    GraduatedTiers: "GRADUATED",
    VolumeTiers: "VOLUME",
    Package: "PACKAGE",
    Percentage: "PERCENTAGE",
}


@dataclass(frozen=True, slots=True)
class MeteredUsage:
    """A customer's usage of a metric in a period, as a metered price needs it: the
    aggregated quantity, and each distinct event value with the number of events that
    carried it (a percentage price charges every transaction, not the period's sum)."""

    quantity: Decimal
    value_counts: tuple[tuple[Decimal, int], ...] = ()


@dataclass(frozen=True, slots=True)
class TransactionFees:
    """A period's transactions under a percentage price, summed where they are stored (the
    billing run never reads each amount): how many, their volume, and the sum of their fees,
    each fee rounded once on its own transaction and held within the minimum and maximum
    (the rule of `domain.pricing.computation`)."""

    count: int  # transactions
    volume: Decimal  # the sum of their amounts, major units, exact
    fees: Money  # the sum of their fees


@dataclass(frozen=True, slots=True)
class PriceLine:
    """One computed line: `amount` is `quantity x unit_amount` rounded once, plus
    `flat_amount` (a percentage fee then held within its minimum and maximum)."""

    description: str
    tier: int | None  # the index of the tier this line prices, for tiered models
    quantity: Decimal  # units, packages (Package) or the transaction amount (Percentage)
    unit_amount: Decimal | None  # per unit, per package, or the rate as a fraction
    flat_amount: Money | None
    amount: Money
    # Percentage of usage: how many transactions the line stands for (`quantity` is then
    # their volume and `amount` the sum of their fees, each rounded once).
    count: int = 1


@dataclass(frozen=True, slots=True)
class PriceBreakdown:
    """What a quantity costs: the lines of the computation and their exact sum."""

    total: Money
    lines: tuple[PriceLine, ...]
