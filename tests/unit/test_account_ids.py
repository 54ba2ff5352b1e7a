"""The account id format: what `clients create --tenant` accepts and a token's tenant may be."""

from __future__ import annotations

import secrets
import string
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.accounts import InvalidAccountId, check_account_id, is_account_id
from domain.ids import new_id
from infra.seed import DEMO_TENANT

SLUG_CHARACTERS = string.ascii_lowercase + string.digits + "-_"
BASE62 = string.digits + string.ascii_letters

IDS_IN_USE = [
    pytest.param(DEMO_TENANT, id="seeded-demo"),
    pytest.param("bench", id="benchmark"),
    pytest.param("usage-bench-" + uuid.uuid4().hex[:6], id="usage-benchmark"),
    pytest.param("t-" + secrets.token_hex(6), id="test-tenant"),
    pytest.param("e2e-" + secrets.token_hex(5), id="e2e-tenant"),
    pytest.param("acct_test", id="underscore"),
    pytest.param(new_id("acct"), id="acct-id"),
    pytest.param(str(uuid.uuid4()), id="uuid"),
    pytest.param("7", id="one-digit"),
    pytest.param("a" * 63, id="63-characters"),
]

NOT_ACCOUNT_IDS = [
    pytest.param("", id="empty"),
    pytest.param("a" * 64, id="64-characters"),
    pytest.param("acct_" + "A" * 65, id="acct-id-too-long"),
    pytest.param("t-1\x00", id="nul"),
    pytest.param("t 1", id="space"),
    pytest.param("demo\n", id="trailing-newline"),
    pytest.param("\tdemo", id="leading-tab"),
    pytest.param("-demo", id="leading-hyphen"),
    pytest.param("_demo", id="leading-underscore"),
    pytest.param("Demo", id="uppercase-slug"),
    pytest.param("org_W8Kl7eXvxCoaZgIZ", id="mixed-case-not-acct"),
    pytest.param("acct_A-b", id="acct-id-with-hyphen"),
    pytest.param("d\u00e9mo", id="non-ascii-letter"),
    pytest.param("\u0661\u0662", id="non-ascii-digits"),
    pytest.param("acct_\u0661", id="acct-id-with-non-ascii-digit"),
    pytest.param("demo\u00a0", id="no-break-space"),
    pytest.param("a.b", id="dot"),
    pytest.param("a/b", id="slash"),
    pytest.param("a'b", id="quote"),
]


@pytest.mark.parametrize("account_id", IDS_IN_USE)
def test_ids_in_use_have_the_account_id_format(account_id: str) -> None:
    # then
    assert is_account_id(account_id)
    assert check_account_id(account_id) == account_id


@pytest.mark.parametrize("text", NOT_ACCOUNT_IDS)
def test_text_outside_the_format_is_not_an_account_id(text: str) -> None:
    # then
    assert not is_account_id(text)
    with pytest.raises(InvalidAccountId, match="1 to 63 lowercase ASCII letters"):
        check_account_id(text)


@pytest.mark.parametrize("value", [None, 42, b"demo", ["demo"]])
def test_a_value_that_is_not_text_is_not_an_account_id(value: object) -> None:
    # then
    assert not is_account_id(value)


@given(st.text(max_size=80))
def test_an_account_id_is_a_short_ascii_slug_or_an_acct_id(text: str) -> None:
    # then
    if is_account_id(text):
        slug = 1 <= len(text) <= 63 and set(text) <= set(SLUG_CHARACTERS) and text[0].isalnum()
        body = text.removeprefix("acct_")
        acct_id = text.startswith("acct_") and 1 <= len(body) <= 64 and set(body) <= set(BASE62)
        assert slug or acct_id


@given(st.text(alphabet=SLUG_CHARACTERS, min_size=1, max_size=63))
def test_a_lowercase_slug_starting_with_a_letter_or_digit_is_an_account_id(text: str) -> None:
    # then
    assert is_account_id(text) == (text[0] not in "-_")


@given(st.text(alphabet=BASE62, min_size=1, max_size=64))
def test_acct_and_a_base62_body_is_an_account_id(body: str) -> None:
    # then
    assert is_account_id("acct_" + body)
