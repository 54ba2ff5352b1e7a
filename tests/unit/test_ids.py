"""Identifiers are prefixed, opaque and unguessable; prefix_of reads only well-formed ones."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.ids import PREFIXES, new_id, prefix_of

BASE62 = string.digits + string.ascii_letters


@pytest.mark.parametrize("prefix", sorted(PREFIXES))
def test_new_id_is_the_prefix_then_22_base62_characters(prefix: str) -> None:
    # when
    identifier = new_id(prefix)
    # then
    head, separator, body = identifier.partition("_")
    assert (head, separator) == (prefix, "_")
    assert len(body) == 22
    assert set(body) <= set(BASE62)
    assert prefix_of(identifier) == prefix


def test_known_prefixes_include_those_of_the_spine() -> None:
    # then
    assert {"acct", "cus", "evt", "cli"} <= set(PREFIXES)


@pytest.mark.parametrize("prefix", ["", "customer", "CUS", "cus_", "foo"])
def test_new_id_refuses_an_unknown_prefix(prefix: str) -> None:
    # when / then
    with pytest.raises(ValueError, match="prefix"):
        new_id(prefix)


def test_new_ids_do_not_repeat() -> None:
    # when
    identifiers = [new_id("cus") for _ in range(10_000)]
    # then
    assert len(set(identifiers)) == len(identifiers)


def test_new_ids_use_the_whole_alphabet_at_every_position() -> None:
    # when: enough ids that every base62 character shows up at each position
    bodies = [new_id("evt").partition("_")[2] for _ in range(3_000)]
    # then
    for position in range(22):
        assert {body[position] for body in bodies} == set(BASE62), position


@pytest.mark.parametrize(
    ("identifier", "prefix"),
    [
        ("cus_a", "cus"),
        ("cus_" + "Z9" * 32, "cus"),
        ("evt_4fG7hJ2kL9mN3pQ8rS1tUv", "evt"),
        ("acct_demo1", "acct"),
        ("cli_X", "cli"),
    ],
)
def test_prefix_of_a_well_formed_identifier(identifier: str, prefix: str) -> None:
    # when / then
    assert prefix_of(identifier) == prefix


@pytest.mark.parametrize(
    "identifier",
    [
        "",
        "cus",
        "cus_",
        "_abc",
        "CUS_abc",
        "foo_abc",
        "cus__abc",
        "cus_ab_c",
        "cus_ab-c",
        "cus_ab c",
        "cus_abc\n",
        "cus_é",
        "cus_١٢٣",
        "cus_" + "a" * 65,
        " cus_abc",
        "cus-abc",
    ],
    ids=repr,
)
def test_prefix_of_a_malformed_identifier_is_none(identifier: str) -> None:
    # when / then
    assert prefix_of(identifier) is None


@given(text=st.text())
def test_prefix_of_any_text_never_raises_and_names_only_a_known_prefix(text: str) -> None:
    # when
    prefix = prefix_of(text)
    # then
    if prefix is not None:
        assert prefix in PREFIXES
        body = text.removeprefix(prefix + "_")
        assert text == f"{prefix}_{body}"
        assert 1 <= len(body) <= 64 and set(body) <= set(BASE62)


@given(
    prefix=st.sampled_from(sorted(PREFIXES)),
    body=st.text(alphabet=BASE62, min_size=1, max_size=64),
)
def test_prefix_of_reads_any_prefix_with_a_base62_body(prefix: str, body: str) -> None:
    # when / then
    assert prefix_of(f"{prefix}_{body}") == prefix
