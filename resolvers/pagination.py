"""Relay cursors over keyset pages: opaque to callers, a sort value and an id inside."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import orjson

from domain.queries import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Keyset, PageRequest
from resolvers.errors import bad_user_input

T = TypeVar("T")


def encode_cursor(sort: str, value: Any, item_id: str) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = orjson.dumps([sort, value, item_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    cursor: str, sort: str, *, is_datetime: bool, parse: Callable[[str], Any] | None = None
) -> Keyset:
    """The cursor's key; its value parsed by `parse` when given (a ValueError there makes
    the cursor invalid, as any other malformed one)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, value, item_id = orjson.loads(raw)
        if cursor_sort != sort or not isinstance(item_id, str) or not isinstance(value, str):
            raise ValueError
        if "\x00" in value or "\x00" in item_id:
            raise ValueError
        if parse is not None:
            return Keyset(parse(value), item_id)
        if not is_datetime:
            return Keyset(value, item_id)
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError
        return Keyset(moment.astimezone(UTC), item_id)
    except (ValueError, TypeError, OverflowError, orjson.JSONDecodeError):
        raise bad_user_input(
            "The cursor is not valid for this list and order; "
            "use a cursor returned by the same query."
        ) from None


def page_request(
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    sort: str,
    is_datetime: bool,
    parse: Callable[[str], Any] | None = None,
) -> PageRequest:
    if first is not None and last is not None:
        raise bad_user_input("Pass `first` or `last`, not both.")
    size = last if last is not None else first if first is not None else DEFAULT_PAGE_SIZE
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise bad_user_input(f"Page size is 1 to {MAX_PAGE_SIZE}.")
    return PageRequest(
        limit=size,
        backwards=last is not None,
        after=decode_cursor(after, sort, is_datetime=is_datetime, parse=parse) if after else None,
        before=decode_cursor(before, sort, is_datetime=is_datetime, parse=parse)
        if before
        else None,
    )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, in the order shown: each item with its cursor, whether more
    items lie either side, and the total across pages (counted only when asked)."""

    items: list[tuple[str, T]]
    has_next_page: bool
    has_previous_page: bool
    count_total: Callable[[], Awaitable[int]]


def build_page(
    rows: Sequence[T],
    page: PageRequest,
    *,
    cursor_of: Callable[[T], str],
    count_total: Callable[[], Awaitable[int]],
) -> Page[T]:
    """The page from a keyset window fetched with one extra row (which tells of more)."""
    more = len(rows) > page.limit
    rows = list(rows[: page.limit])
    if page.backwards:
        rows.reverse()
    return Page(
        items=[(cursor_of(row), row) for row in rows],
        has_next_page=more if not page.backwards else page.before is not None,
        has_previous_page=more if page.backwards else page.after is not None,
        count_total=count_total,
    )
