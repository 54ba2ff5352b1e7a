"""The Stripe adapter at its HTTP boundary: the official library, pointed at a fake of
Stripe's API on 127.0.0.1 that answers with Stripe's documented shapes, sends what Stripe
expects (form parameters, an Idempotency-Key on every POST) and maps every answer onto the
payment port. No request leaves the machine."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import stripe
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.money import Money
from domain.payments import (
    CardDetails,
    ChargeResult,
    ChargeStatus,
    IdempotencyKeyMismatch,
    PaymentMethodRejected,
    PaymentProviderError,
    ProviderUnavailable,
    RefundResult,
    RefundStatus,
)
from infra.payments import PaymentProviders
from infra.payments.stripe import StripePaymentProvider, stripe_client
from infra.payments.stripe_amounts import AmountNotRepresentable
from infra.settings import Settings, SettingsError
from tests.support.fake_stripe import (
    FakeStripe,
    Reply,
    card_error,
    error,
    payment_intent,
    payment_method,
    refund,
)

API_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
PM = "pm_1Q0PsIJvEtkwdCNYMSaVuRz6"
PI = "pi_3MtwBwLkdIwHu7ix28a3tqPa"
TWENTY_USD = Money(2000, "USD")
CLIENT_TIMEOUT = 0.5


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    server = FakeStripe()
    server.start()
    yield server
    server.stop()


async def _provider(fake: FakeStripe, retries: int = 0) -> AsyncIterator[StripePaymentProvider]:
    http = stripe.HTTPXClient(timeout=CLIENT_TIMEOUT)
    client = stripe_client(API_KEY, http, max_network_retries=retries, api_base=fake.url)
    yield StripePaymentProvider(client)
    await http.close_async()  # type: ignore[no-untyped-call]


@pytest.fixture
async def provider(fake: FakeStripe) -> AsyncIterator[StripePaymentProvider]:
    async for p in _provider(fake):
        yield p


@pytest.fixture
async def retrying_provider(fake: FakeStripe) -> AsyncIterator[StripePaymentProvider]:
    async for p in _provider(fake, retries=1):
        yield p


def _method_and(fake: FakeStripe, *intents: Reply) -> None:
    fake.reply("GET", f"/v1/payment_methods/{PM}", Reply(200, payment_method()))
    fake.reply("POST", "/v1/payment_intents", *intents)


# ------------------------------------------------------------------ payment methods


async def test_a_payment_method_is_described_by_its_card(
    provider: StripePaymentProvider, fake: FakeStripe
) -> None:
    # given
    fake.reply("GET", f"/v1/payment_methods/{PM}", Reply(200, payment_method()))
    # when
    card = await provider.describe_payment_method(PM)
    # then
    assert card == CardDetails(PM, "visa", "4242", 8, 2031, "Xt5EWLLDS7FJjR1c")
    [sent] = fake.requests
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"
    assert "idempotency-key" not in sent.headers  # a GET: Stripe ignores one


@pytest.mark.parametrize(
    "reply",
    [
        Reply(404, error("invalid_request_error", "resource_missing", param="payment_method")),
        Reply(200, payment_method(customer=None)),  # cannot be charged off-session
        Reply(200, payment_method(kind="sepa_debit")),
    ],
    ids=["unknown", "without-customer", "not-a-card"],
)
async def test_a_payment_method_stripe_cannot_charge_off_session_is_rejected(
    provider: StripePaymentProvider, fake: FakeStripe, reply: Reply
) -> None:
    fake.reply("GET", f"/v1/payment_methods/{PM}", reply)
    with pytest.raises(PaymentMethodRejected):
        await provider.describe_payment_method(PM)


async def test_a_token_that_is_no_payment_method_id_is_rejected_unsent(
    provider: StripePaymentProvider, fake: FakeStripe
) -> None:
    for token in ("tok_visa", "pm_../../v1/charges", "cus_NhD8HD2bY8dP3V"):
        with pytest.raises(PaymentMethodRejected):
            await provider.describe_payment_method(token)
    assert fake.requests == []


# ------------------------------------------------------------------ charges


async def test_a_charge_is_an_off_session_payment_intent_with_our_idempotency_key(
    provider: StripePaymentProvider, fake: FakeStripe
) -> None:
    # given
    _method_and(fake, Reply(200, payment_intent("succeeded")))
    # when
    result = await provider.charge(TWENTY_USD, PM, "pay-1", {"invoice": "inv_1", "payment": "p"})
    # then
    assert result == ChargeResult(ChargeStatus.SUCCEEDED, PI)
    [sent] = fake.sent("POST", "/v1/payment_intents")
    assert sent.headers["idempotency-key"] == "pay-1"
    assert sent.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert sent.form == {
        "amount": "2000",
        "currency": "usd",
        "payment_method": PM,
        "customer": "cus_NhD8HD2bY8dP3V",  # read from the payment method
        "confirm": "true",
        "off_session": "true",
        "automatic_payment_methods[enabled]": "true",
        "automatic_payment_methods[allow_redirects]": "never",
        "metadata[invoice]": "inv_1",
        "metadata[payment]": "p",
    }


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(200, payment_intent("processing")), ChargeResult(ChargeStatus.PENDING, PI)),
        (
            Reply(402, card_error("insufficient_funds")),
            ChargeResult(ChargeStatus.FAILED, PI, "insufficient_funds"),
        ),
        (
            # 3-D Secure asked for, with nobody there to answer it
            Reply(200, payment_intent("requires_action")),
            ChargeResult(ChargeStatus.FAILED, PI, "authentication_required"),
        ),
        (
            Reply(
                200,
                payment_intent(
                    "requires_payment_method",
                    last_payment_error={"type": "card_error", "code": "expired_card"},
                ),
            ),
            ChargeResult(ChargeStatus.FAILED, PI, "expired_card"),
        ),
    ],
    ids=["processing", "declined", "requires-action", "requires-payment-method"],
)
async def test_stripe_answers_map_onto_charge_results(
    provider: StripePaymentProvider,
    fake: FakeStripe,
    reply: Reply,
    expected: ChargeResult,
) -> None:
    _method_and(fake, reply)
    assert await provider.charge(TWENTY_USD, PM, "pay-1", {}) == expected


@pytest.mark.parametrize(
    ("reply", "raised"),
    [
        (Reply(400, error("idempotency_error")), IdempotencyKeyMismatch),
        (Reply(500, error("api_error")), ProviderUnavailable),
        (Reply(429, error("invalid_request_error", "rate_limit")), ProviderUnavailable),
        (Reply(400, error("invalid_request_error", "amount_too_small")), PaymentProviderError),
    ],
    ids=["idempotency", "server-error", "rate-limit", "invalid-request"],
)
async def test_stripe_errors_map_onto_the_ports_errors(
    provider: StripePaymentProvider,
    fake: FakeStripe,
    reply: Reply,
    raised: type[PaymentProviderError],
) -> None:
    _method_and(fake, reply)
    with pytest.raises(raised) as caught:
        await provider.charge(TWENTY_USD, PM, "pay-1", {})
    assert type(caught.value) is raised
    assert "req_fake123" in str(caught.value)  # what Stripe's support looks a call up by


async def test_a_refused_api_key_is_not_repeated_in_the_error(
    provider: StripePaymentProvider, fake: FakeStripe
) -> None:
    fake.reply(
        "GET",
        f"/v1/payment_methods/{PM}",
        Reply(
            401,
            {
                "error": {
                    "type": "invalid_request_error",
                    "message": f"Invalid API Key provided: {API_KEY}",
                }
            },
        ),
    )
    with pytest.raises(PaymentProviderError) as caught:
        await provider.charge(TWENTY_USD, PM, "pay-1", {})
    assert not isinstance(caught.value, ProviderUnavailable)
    assert "sk_test" not in str(caught.value) and caught.value.__cause__ is None


async def test_a_charge_stripe_does_not_answer_in_time_is_unavailable(
    provider: StripePaymentProvider, fake: FakeStripe
) -> None:
    # given Stripe answering after the client's timeout
    _method_and(fake, Reply(200, payment_intent("succeeded"), delay=CLIENT_TIMEOUT * 3))
    # then the caller learns it may or may not have been charged
    with pytest.raises(ProviderUnavailable):
        await provider.charge(TWENTY_USD, PM, "pay-1", {})


async def test_the_librarys_retry_repeats_our_idempotency_key(
    retrying_provider: StripePaymentProvider, fake: FakeStripe
) -> None:
    # given Stripe failing once, then answering
    _method_and(fake, Reply(500, error("api_error")), Reply(200, payment_intent("succeeded")))
    # when
    result = await retrying_provider.charge(TWENTY_USD, PM, "pay-retry", {})
    # then one charge, asked for twice under one key (Stripe answers the second from it)
    assert result.status is ChargeStatus.SUCCEEDED
    sent = fake.sent("POST", "/v1/payment_intents")
    assert [s.headers["idempotency-key"] for s in sent] == ["pay-retry", "pay-retry"]
    assert sent[0].form == sent[1].form


@pytest.mark.parametrize(
    ("amount", "sent_amount", "currency"),
    [
        (Money(500, "JPY"), "500", "jpy"),  # zero-decimal
        (Money(500, "ISK"), "50000", "isk"),  # two-decimal in Stripe's API
        (Money(12300, "MGA"), "123", "mga"),  # zero-decimal in Stripe, two in ISO
        (Money(5120, "KWD"), "5120", "kwd"),  # three-decimal, last digit 0
    ],
)
async def test_amounts_go_out_in_stripes_unit_of_the_currency(
    provider: StripePaymentProvider,
    fake: FakeStripe,
    amount: Money,
    sent_amount: str,
    currency: str,
) -> None:
    _method_and(fake, Reply(200, payment_intent("succeeded")))
    await provider.charge(amount, PM, "pay-1", {})
    [sent] = fake.sent("POST", "/v1/payment_intents")
    assert (sent.form["amount"], sent.form["currency"]) == (sent_amount, currency)


@pytest.mark.parametrize(
    "amount", [Money(5124, "KWD"), Money(12345, "MGA"), Money(1000, "IQD")], ids=str
)
async def test_an_amount_stripe_cannot_take_exactly_is_refused_unsent(
    provider: StripePaymentProvider, fake: FakeStripe, amount: Money
) -> None:
    with pytest.raises(AmountNotRepresentable):
        await provider.charge(amount, PM, "pay-1", {})
    with pytest.raises(AmountNotRepresentable):
        await provider.refund(PI, amount, "re-1")
    assert fake.requests == []


async def test_a_request_the_port_forbids_is_refused_unsent(
    provider: StripePaymentProvider, fake: FakeStripe
) -> None:
    for amount, key in [(Money(0, "USD"), "pay-1"), (TWENTY_USD, ""), (TWENTY_USD, "k" * 256)]:
        with pytest.raises(PaymentProviderError):
            await provider.charge(amount, PM, key, {})
        with pytest.raises(PaymentProviderError):
            await provider.refund(PI, amount, key)
    assert fake.requests == []


async def test_a_charge_is_retrieved_by_its_payment_intent(
    provider: StripePaymentProvider, fake: FakeStripe
) -> None:
    fake.reply("GET", f"/v1/payment_intents/{PI}", Reply(200, payment_intent("succeeded")))
    assert await provider.retrieve_charge(PI) == ChargeResult(ChargeStatus.SUCCEEDED, PI)


# ------------------------------------------------------------------ refunds


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            Reply(200, refund("succeeded")),
            RefundResult(RefundStatus.SUCCEEDED, "re_1Nispe2eZvKYlo2Cd31jOCgZ"),
        ),
        (
            Reply(200, refund("pending")),
            RefundResult(RefundStatus.PENDING, "re_1Nispe2eZvKYlo2Cd31jOCgZ"),
        ),
        (
            Reply(200, refund("failed", failure_reason="expired_or_canceled_card")),
            RefundResult(
                RefundStatus.FAILED, "re_1Nispe2eZvKYlo2Cd31jOCgZ", "expired_or_canceled_card"
            ),
        ),
        (
            Reply(200, refund("canceled")),
            RefundResult(RefundStatus.FAILED, "re_1Nispe2eZvKYlo2Cd31jOCgZ", "canceled"),
        ),
    ],
    ids=["succeeded", "pending", "failed", "canceled"],
)
async def test_a_refund_is_created_once_per_key_and_its_status_mapped(
    provider: StripePaymentProvider,
    fake: FakeStripe,
    reply: Reply,
    expected: RefundResult,
) -> None:
    fake.reply("POST", "/v1/refunds", reply)
    assert await provider.refund(PI, Money(1000, "USD"), "re-1") == expected
    [sent] = fake.sent("POST", "/v1/refunds")
    assert sent.headers["idempotency-key"] == "re-1"
    assert sent.form == {"payment_intent": PI, "amount": "1000"}


async def test_a_refund_is_read_back_by_its_id(
    provider: StripePaymentProvider, fake: FakeStripe
) -> None:
    # the reconciler reads a pending refund rather than creating it again
    fake.reply("GET", "/v1/refunds/re_1Nispe2eZvKYlo2Cd31jOCgZ", Reply(200, refund("succeeded")))
    found = await provider.retrieve_refund("re_1Nispe2eZvKYlo2Cd31jOCgZ")
    assert found == RefundResult(RefundStatus.SUCCEEDED, "re_1Nispe2eZvKYlo2Cd31jOCgZ")
    assert fake.sent("POST", "/v1/refunds") == []


async def test_a_refund_stripe_refuses_is_a_provider_error(
    provider: StripePaymentProvider, fake: FakeStripe
) -> None:
    fake.reply(
        "POST", "/v1/refunds", Reply(400, error("invalid_request_error", "charge_already_refunded"))
    )
    with pytest.raises(PaymentProviderError, match="charge_already_refunded"):
        await provider.refund(PI, Money(1000, "USD"), "re-1")


# ------------------------------------------------------------------ configuration


def _stripe_settings(**values: object) -> Settings:
    return Settings(**values)  # type: ignore[arg-type]


def test_stripe_is_chosen_per_tenant_with_its_own_key(engine: AsyncEngine) -> None:
    settings = _stripe_settings(
        tenant_payment_providers={"acct-a": "stripe", "acct-b": "stripe"},
        stripe_secret_key=SecretStr(API_KEY),
        tenant_stripe_secret_keys={"acct-b": SecretStr("rk_test_other")},
    )
    providers = PaymentProviders(engine, settings)
    assert providers.for_tenant("acct-a").name == "stripe"
    assert providers.for_tenant("acct-c").name == "sandbox"
    assert settings.stripe_secret_key_of("acct-b") == "rk_test_other"
    # the secrets never show in the settings' repr (logs, tracebacks)
    assert API_KEY not in repr(settings) and "rk_test_other" not in repr(settings)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"payment_provider": "stripe"}, "STRIPE_SECRET_KEY"),
        ({"tenant_payment_providers": {"acct-a": "stripe"}}, "'acct-a'"),
        (
            {"payment_provider": "stripe", "stripe_secret_key": SecretStr("pk_test_publishable")},
            "secret (sk_…)",
        ),
        ({"tenant_stripe_secret_keys": {"Not An Account": SecretStr(API_KEY)}}, "account id"),
    ],
    ids=["no-default-key", "no-tenant-key", "publishable-key", "bad-account"],
)
def test_stripe_without_a_usable_key_refuses_to_start(
    engine: AsyncEngine, values: dict[str, object], named: str
) -> None:
    settings = _stripe_settings(**values)
    with pytest.raises(SettingsError, match="payment providers") as caught:
        settings.check()
    assert named in str(caught.value) and "pk_test_publishable" not in str(caught.value)
    with pytest.raises(SettingsError):
        PaymentProviders(engine, settings)
