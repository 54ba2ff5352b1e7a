"""Payment methods: a customer's card as the payment provider knows it. Types and inputs of
the concept."""

from __future__ import annotations

from datetime import datetime

import strawberry

import domain.payment_methods as payment_methods_domain
from resolvers.errors import Outcome
from schema.errors import UserError, user_errors_from
from schema.nodes import Node


@strawberry.type(
    description="A customer's card as the payment provider knows it. Ledgerline never sees "
    "the card number: it keeps the provider's reference with the brand, last 4 digits, "
    "expiry and fingerprint."
)
class PaymentMethod(Node):
    customer_id: strawberry.ID = strawberry.field(description="The customer (`cus_…`).")
    provider: str = strawberry.field(
        description="The payment processor that holds the card (`sandbox`)."
    )
    provider_reference: str = strawberry.field(
        description="The processor's own id for it (what it is charged by)."
    )
    brand: str = strawberry.field(description="Card network, lowercase: `visa`, `mastercard`…")
    last4: str = strawberry.field(description="The card number's last 4 digits.")
    exp_month: int = strawberry.field(description="Expiry month, 1 to 12.")
    exp_year: int = strawberry.field(description="Expiry year, four digits.")
    fingerprint: str = strawberry.field(
        description="The same for every method of the same card at this processor: spots "
        "a card attached twice."
    )
    is_default: bool = strawberry.field(
        description="Whether it is the customer's default: the one automatic collection charges."
    )
    created_at: datetime = strawberry.field(description="When it was attached.")
    detached_at: datetime | None = strawberry.field(
        description="When it was detached (no longer listed nor charged); null while attached."
    )

    @classmethod
    def from_domain(cls, method: payment_methods_domain.PaymentMethod) -> PaymentMethod:
        return cls(
            id=strawberry.ID(method.id),
            customer_id=strawberry.ID(method.customer_id),
            provider=method.provider,
            provider_reference=method.provider_reference,
            brand=method.brand,
            last4=method.last4,
            exp_month=method.exp_month,
            exp_year=method.exp_year,
            fingerprint=method.fingerprint,
            is_default=method.is_default,
            created_at=method.created_at,
            detached_at=method.detached_at,
        )


@strawberry.type(
    description="Result of `attachPaymentMethod`, `setDefaultPaymentMethod` and "
    "`detachPaymentMethod`."
)
class PaymentMethodPayload:
    payment_method: PaymentMethod | None = strawberry.field(
        description="The payment method after the change; null on errors."
    )
    user_errors: list[UserError] = strawberry.field(
        description="Why nothing changed (NOT_FOUND, PAYMENT_METHOD_INVALID, "
        "PAYMENT_METHOD_DETACHED, ARCHIVED...); empty on success."
    )

    @classmethod
    def from_domain(
        cls, outcome: Outcome[payment_methods_domain.PaymentMethod]
    ) -> PaymentMethodPayload:
        return cls(
            payment_method=(
                None if outcome.value is None else PaymentMethod.from_domain(outcome.value)
            ),
            user_errors=user_errors_from(outcome.errors),
        )


@strawberry.input(
    description="A card to attach to a customer, as the token the payment provider's client "
    "library made in the customer's browser (Stripe.js, or a sandbox token such as "
    "`tok_visa`). Never send a card number: such a request is refused as a whole."
)
class AttachPaymentMethodInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer (`cus_…`).")
    provider_token: str = strawberry.field(
        description="The provider's token or payment method id: 1 to 255 letters, digits, "
        "`_`, `.`, `:` or `-`. One the provider does not know is PAYMENT_METHOD_INVALID."
    )
    set_as_default: bool | None = strawberry.field(
        default=None,
        description="true: it becomes the customer's default; false: the default stays as "
        "it is; omitted: it becomes the default when the customer has none.",
    )


@strawberry.input(description="The payment method to make its customer's default.")
class SetDefaultPaymentMethodInput:
    payment_method_id: strawberry.ID = strawberry.field(
        description="An attached payment method (`pm_…`)."
    )


@strawberry.input(description="The payment method to detach from its customer.")
class DetachPaymentMethodInput:
    payment_method_id: strawberry.ID = strawberry.field(
        description="An attached payment method (`pm_…`)."
    )
