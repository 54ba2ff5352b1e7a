"""A price as a caller states it, and the price model it describes.

A caller (the API's `PriceInput`) names a model and fills the fields that model needs:
FLAT_FEE an `amount`; PER_UNIT a `unitAmount`; GRADUATED and VOLUME `tiers`; PACKAGE a
`packageAmount` and a `packageSize`; PERCENTAGE a `rate` and optionally a `fixedAmount`,
a `minAmount` and a `maxAmount`. The fields of other models are ignored. Amounts of money
are stated in major units and must be exact to the currency's minor unit; unit amounts
may be finer. Field paths are the caller's prefix followed by the GraphQL names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, TypeVar

from domain.currency import is_known_currency
from domain.errors import DomainError, ErrorCode, FieldError, FieldErrors
from domain.money import InvalidAmount, Money
from domain.pricing.models import (
    MODEL_KINDS,
    FlatFee,
    GraduatedTiers,
    Package,
    Percentage,
    PerUnit,
    PriceModel,
    Tier,
    VolumeTiers,
)

_MODELS_BY_KIND: Final = {kind: model for model, kind in MODEL_KINDS.items()}

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class TierTerms:
    """A tier as stated: its `up_to` (None for the open-ended last tier), its unit amount
    and an optional flat amount in major units."""

    up_to: Decimal | None
    unit_amount: Decimal
    flat_amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PriceTerms:
    """A price as stated: a model kind (`MODEL_KINDS`' names), a currency code and the
    fields of that model, plain values no rule has checked yet."""

    model: str
    currency: str
    amount: Decimal | None = None
    unit_amount: Decimal | None = None
    tiers: Sequence[TierTerms] | None = None
    package_amount: Decimal | None = None
    package_size: int | None = None
    rate: Decimal | None = None
    fixed_amount: Decimal | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None


def price_model_from_terms(terms: PriceTerms, field: tuple[str, ...] = ()) -> PriceModel:
    """The price model the terms describe. An unknown currency is refused first, alone; then
    each field the model needs and lacks is REQUIRED, each amount of money not exact to the
    minor unit INVALID, all at once. The model's own rules (tiers ascending, amounts not
    negative) are `validate_price`'s, not checked here."""
    if not is_known_currency(terms.currency):
        raise DomainError([_unknown_currency(field)])
    kind, currency = terms.model, terms.currency
    model_type = _MODELS_BY_KIND.get(kind)
    if model_type is None:
        raise DomainError([FieldError(ErrorCode.INVALID, (*field, "model"), "Not a price model.")])
    errors = FieldErrors()
    model: PriceModel | None = None
    if model_type is FlatFee:
        path = (*field, "amount")
        amount = _money(errors, _required(errors, terms.amount, path, kind), currency, path)
        model = FlatFee(amount) if amount is not None else None
    elif model_type is PerUnit:
        unit = _required(errors, terms.unit_amount, (*field, "unitAmount"), kind)
        model = PerUnit(unit, currency) if unit is not None else None
    elif model_type is GraduatedTiers or model_type is VolumeTiers:
        stated = _required(errors, terms.tiers, (*field, "tiers"), kind) or ()
        tiers = tuple(
            Tier(
                up_to=tier.up_to,
                unit_amount=tier.unit_amount,
                flat_amount=_money(
                    errors, tier.flat_amount, currency, (*field, "tiers", str(i), "flatAmount")
                ),
            )
            for i, tier in enumerate(stated)
        )
        model = (GraduatedTiers if model_type is GraduatedTiers else VolumeTiers)(tiers, currency)
    elif model_type is Package:
        package_amount = _required(errors, terms.package_amount, (*field, "packageAmount"), kind)
        size = _required(errors, terms.package_size, (*field, "packageSize"), kind)
        if package_amount is not None and size is not None:
            model = Package(package_amount, size, currency)
    elif model_type is Percentage:
        rate = _required(errors, terms.rate, (*field, "rate"), kind)
        # Without a rate there is no model: its optional amounts are not read either.
        if rate is not None:
            model = Percentage(
                rate,
                currency,
                _money(errors, terms.fixed_amount, currency, (*field, "fixedAmount")),
                _money(errors, terms.min_amount, currency, (*field, "minAmount")),
                _money(errors, terms.max_amount, currency, (*field, "maxAmount")),
            )
    errors.raise_if_any()
    assert model is not None
    return model


def money_from_terms(amount: Decimal, currency: str, field: tuple[str, ...] = ()) -> Money:
    """An amount of money stated on its own (a plan's minimum commitment): a known currency,
    else UNKNOWN_CURRENCY at `currency`, and an amount exact to its minor unit, else INVALID
    at `amount`."""
    if not is_known_currency(currency):
        raise DomainError([_unknown_currency(field)])
    errors = FieldErrors()
    money = _money(errors, amount, currency, (*field, "amount"))
    errors.raise_if_any()
    assert money is not None
    return money


def _unknown_currency(field: tuple[str, ...]) -> FieldError:
    return FieldError(ErrorCode.UNKNOWN_CURRENCY, (*field, "currency"), "Not an ISO 4217 code.")


def _required(errors: FieldErrors, value: _T | None, path: tuple[str, ...], kind: str) -> _T | None:
    if value is None:
        errors.add(ErrorCode.REQUIRED, path, f"A {kind} price needs {path[-1]}.")
    return value


def _money(
    errors: FieldErrors, amount: Decimal | None, currency: str, path: tuple[str, ...]
) -> Money | None:
    if amount is None:
        return None
    try:
        return Money.from_decimal(amount, currency)
    except (InvalidAmount, ValueError) as exc:
        errors.add(ErrorCode.INVALID, path, str(exc))
        return None
