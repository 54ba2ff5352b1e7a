"""Money as the API shows and takes it: an exact decimal amount and its currency."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from domain.money import Money as DomainMoney
from domain.money import format_money
from schema.scalars import CurrencyCode


@strawberry.type(description="An exact amount of one currency.")
class Money:
    amount: Decimal = strawberry.field(
        description="Decimal string with exactly the currency's minor-unit digits."
    )
    currency: CurrencyCode = strawberry.field(description="ISO 4217 code.")
    formatted: str = strawberry.field(
        resolver=lambda root: format_money(root.money),
        description="For display in en-US conventions, e.g. `$12.50` or `¥1,000`.",
    )
    money: strawberry.Private[DomainMoney]

    @classmethod
    def from_domain(cls, money: DomainMoney) -> Money:
        return cls(amount=money.amount, currency=CurrencyCode(money.currency), money=money)


def money_or_none(money: DomainMoney | None) -> Money | None:
    return None if money is None else Money.from_domain(money)


@strawberry.input(description="An amount of one currency.")
class MoneyInput:
    amount: Decimal = strawberry.field(description='Decimal string, e.g. "12.50".')
    currency: CurrencyCode = strawberry.field(description="ISO 4217 code.")
