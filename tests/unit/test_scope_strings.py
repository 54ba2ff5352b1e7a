"""Scope strings (RFC 6749 §3.3): scope-tokens separated by the ASCII space, nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auth.scopes import ALL_SCOPES, UnknownScope, granted_scopes, parse_scopes, split_scope


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        pytest.param("customers:read catalog:read", ["customers:read", "catalog:read"], id="sp"),
        pytest.param("  customers:read   catalog:read ", ["customers:read", "catalog:read"]),
        pytest.param("x\u00a0customers:read", ["x\u00a0customers:read"], id="no-break-space"),
        pytest.param("customers:read\tcatalog:read", ["customers:read\tcatalog:read"], id="tab"),
        pytest.param("customers:read\u3000x", ["customers:read\u3000x"], id="ideographic-space"),
        pytest.param("", [], id="empty"),
        pytest.param(None, [], id="none"),
    ],
)
def test_a_scope_string_splits_on_ascii_spaces_only(text: str | None, pieces: list[str]) -> None:
    # then
    assert split_scope(text) == pieces


def test_a_token_is_granted_the_scopes_it_names_that_are_ours() -> None:
    # then
    assert granted_scopes("customers:read unknown:scope openid") == {"customers:read"}
    assert granted_scopes("x\u00a0customers:read") == frozenset()


def test_a_request_naming_a_scope_joined_by_other_whitespace_is_refused() -> None:
    # then
    with pytest.raises(UnknownScope, match="'customers:read\\\\tcatalog:read'"):
        parse_scopes("customers:read\tcatalog:read")


@given(st.lists(st.sampled_from(ALL_SCOPES)), st.integers(min_value=1, max_value=3))
def test_our_scopes_joined_by_runs_of_spaces_are_each_granted(
    scopes: list[str], spaces: int
) -> None:
    # given
    text = (" " * spaces).join(scopes)
    # then
    assert granted_scopes(text) == frozenset(scopes)
    assert parse_scopes(text) == sorted(set(scopes))


@given(st.text())
def test_a_granted_scope_is_always_one_of_ours(text: str) -> None:
    # then
    assert granted_scopes(text) <= set(ALL_SCOPES)
    assert all(piece and " " not in piece for piece in split_scope(text))
