"""Customer search through its trigram postings finds exactly what a scan finds.

The postings (migration 0006) only narrow the candidates; the substring is rechecked on
them. So a search must answer the same customers with and without the postings, whatever
the text: case, LIKE wildcards, repeats, non-ASCII, searches shorter than a trigram. The
reference is the same read with `search_trigrams` answering none: the plain scan that
served search before.
"""

from __future__ import annotations

import random
import secrets

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.customers import CustomerChanges, CustomerDraft
from domain.queries import CustomerFilter, CustomerSort, PageRequest
from domain.services.customers import create_customer, update_customer
from infra.db import tenant_transaction
from infra.reads import SqlReads
from infra.repositories import customers as customer_repository
from infra.repositories.accounts import ensure_account
from infra.uow import SqlUnitOfWork

ALPHABET = "abcAB c%_\\-@.0123ßİΣσé"
EVERYONE = PageRequest(limit=100)


def _text(rng: random.Random, low: int, high: int, alphabet: str = ALPHABET) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


@pytest.fixture(scope="module")
async def corpus(engine: AsyncEngine) -> tuple[str, list[str]]:
    """A tenant of 60 customers with names, emails and external ids from a small alphabet,
    so that searches share trigrams with many of them."""
    tenant_id = "t-" + secrets.token_hex(6)
    rng = random.Random(20261129)
    async with engine.begin() as conn:
        await ensure_account(conn, tenant_id, "Search merchant")
    texts: list[str] = []
    async with tenant_transaction(engine, tenant_id) as db:
        for i in range(60):
            draft = CustomerDraft(
                name=_text(rng, 1, 12) or "x",
                currency="EUR",
                email=f"{_text(rng, 1, 6, 'abcAB0123-')}@{i}.example" if i % 3 else None,
                external_id=_text(rng, 3, 8) if i % 2 else None,
            )
            await create_customer(SqlUnitOfWork(db), draft)
            texts += [draft.name, draft.email or "", draft.external_id or ""]
    return tenant_id, texts


async def _found(engine: AsyncEngine, tenant_id: str, search: str) -> tuple[list[str], int]:
    where = CustomerFilter(search=search)
    async with tenant_transaction(engine, tenant_id) as db:
        reads = SqlReads(db).customers
        page = await reads.page(where, CustomerSort.CREATED_AT, False, EVERYONE)
        return [customer.id for customer in page], await reads.count(where)


def searches(texts: list[str]) -> st.SearchStrategy[str]:
    """Pieces of the stored texts with their case flipped here and there, and free text."""

    @st.composite
    def piece(draw: st.DrawFn) -> str:
        text = draw(st.sampled_from([t for t in texts if t]))
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        flips = draw(st.lists(st.booleans(), min_size=end - start, max_size=end - start))
        return "".join(
            c.swapcase() if flip else c for c, flip in zip(text[start:end], flips, strict=True)
        )

    return piece() | st.text(alphabet=ALPHABET, min_size=1, max_size=10)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
async def test_search_through_the_postings_finds_what_a_scan_finds(
    engine: AsyncEngine,
    corpus: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    data: st.DataObject,
) -> None:
    # given
    tenant_id, texts = corpus
    search = data.draw(searches(texts))

    # when
    through_postings = await _found(engine, tenant_id, search)
    with monkeypatch.context() as patch:
        patch.setattr(customer_repository, "search_trigrams", lambda _search: [])
        by_scan = await _found(engine, tenant_id, search)

    # then
    assert through_postings == by_scan


async def test_a_renamed_customer_is_found_by_its_new_name_only(engine: AsyncEngine) -> None:
    # given
    tenant_id = "t-" + secrets.token_hex(6)
    async with engine.begin() as conn:
        await ensure_account(conn, tenant_id, "Rename merchant")
    async with tenant_transaction(engine, tenant_id) as db:
        customer = await create_customer(
            SqlUnitOfWork(db), CustomerDraft(name="Quokka Supplies", currency="EUR")
        )

    # when
    async with tenant_transaction(engine, tenant_id) as db:
        await update_customer(
            SqlUnitOfWork(db),
            customer.id,
            CustomerChanges(name="Wombat Works", email="Ops@Numbat.example"),
        )

    # then
    assert (await _found(engine, tenant_id, "quokka"))[1] == 0
    assert (await _found(engine, tenant_id, "WOMBAT"))[0] == [customer.id]
    assert (await _found(engine, tenant_id, "numbat.ex"))[0] == [customer.id]


async def test_postings_of_another_tenant_find_nothing(engine: AsyncEngine) -> None:
    # given two tenants with the same customer name
    tenants = ["t-" + secrets.token_hex(6) for _ in range(2)]
    ids = []
    for tenant_id in tenants:
        async with engine.begin() as conn:
            await ensure_account(conn, tenant_id, "Twin merchant")
        async with tenant_transaction(engine, tenant_id) as db:
            draft = CustomerDraft(name="Platypus Partners", currency="EUR")
            ids.append((await create_customer(SqlUnitOfWork(db), draft)).id)

    # when
    found = [await _found(engine, tenant_id, "platypus") for tenant_id in tenants]

    # then each finds its own only
    assert found == [([ids[0]], 1), ([ids[1]], 1)]
