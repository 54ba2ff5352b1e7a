"""Webhook signatures verify with the Standard Webhooks library itself, for the current
secret and, during a rotation's overlap, the previous one; secrets sealed at rest open only
with the same SECRET_KEY and in the place they were sealed for."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from domain.webhooks import SECRET_PREFIX, new_signing_secret
from infra.secret_box import SecretBox, WrongSecretKey, is_sealed
from infra.webhooks.signing import sign

BODY = b'{"id":"evt_1","type":"invoice.finalized","data":{"total":"12.50","name":"M\xc3\xbcller"}}'


def _now() -> datetime:
    # The library refuses timestamps more than five minutes from its own clock.
    return datetime.now(UTC)


def test_a_signed_delivery_verifies_with_the_standard_webhooks_library() -> None:
    # given
    secret = new_signing_secret()
    # when
    headers = sign(secret, "evt_1", _now(), BODY)
    # then
    assert Webhook(secret).verify(BODY, headers) == {
        "id": "evt_1",
        "type": "invoice.finalized",
        "data": {"total": "12.50", "name": "Müller"},
    }
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-signature"].startswith("v1,")


def test_the_timestamp_header_is_the_instant_in_whole_unix_seconds_whatever_the_offset() -> None:
    # given an instant stated in UTC+02:00 (the library would read its wall clock as UTC)
    instant = _now().replace(microsecond=654321)
    in_paris_summer = instant.astimezone(timezone(timedelta(hours=2)))
    secret = new_signing_secret()
    # when
    headers = sign(secret, "evt_2", in_paris_summer, BODY)
    # then
    assert headers["webhook-timestamp"] == str(int(instant.timestamp()))
    Webhook(secret).verify(BODY, headers)


def test_during_a_rotation_both_secrets_verify_the_same_delivery() -> None:
    # given
    current, previous = new_signing_secret(), new_signing_secret()
    # when
    headers = sign(current, "evt_3", _now(), BODY, previous_secret=previous)
    # then
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(current).verify(BODY, headers)
    Webhook(previous).verify(BODY, headers)


def test_without_the_previous_secret_only_the_current_one_verifies() -> None:
    # given
    current, previous = new_signing_secret(), new_signing_secret()
    # when
    headers = sign(current, "evt_4", _now(), BODY)
    # then
    Webhook(current).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(previous).verify(BODY, headers)


def test_a_changed_body_or_id_does_not_verify() -> None:
    # given
    secret = new_signing_secret()
    headers = sign(secret, "evt_5", _now(), BODY)
    # then
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"12.50", b"99.50"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-id": "evt_6"})


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError):
        sign(new_signing_secret(), "evt_7", datetime(2030, 1, 1), BODY)


def test_signing_secrets_are_whsec_base64_of_32_random_bytes() -> None:
    # when
    secrets = {new_signing_secret() for _ in range(50)}
    # then
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith(SECRET_PREFIX)
        assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)) == 32


def test_a_sealed_secret_opens_with_the_same_key_where_it_was_sealed_only() -> None:
    # given
    secret = new_signing_secret().encode()
    box = SecretBox("k" * 40)
    # when
    sealed = box.seal(secret, bound_to="webhook_endpoints/t-1/we_1")
    # then
    assert is_sealed(sealed) and secret not in sealed
    assert box.seal(secret, bound_to="webhook_endpoints/t-1/we_1") != sealed  # fresh nonce
    assert SecretBox("k" * 40).open(sealed, bound_to="webhook_endpoints/t-1/we_1") == secret
    with pytest.raises(WrongSecretKey):
        SecretBox("other" * 8).open(sealed, bound_to="webhook_endpoints/t-1/we_1")
    with pytest.raises(WrongSecretKey):
        box.open(sealed, bound_to="webhook_endpoints/t-2/we_1")
