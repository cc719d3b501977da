"""Paging a list the server holds (cached or filtered), with the last item's name as the cursor."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


class InvalidCursor(ValueError):
    """The cursor names nothing in the list (stale, or made up)."""


def page_after(
    items: Sequence[T], cursor: str | None, limit: int, name: Callable[[T], str]
) -> tuple[list[T], str | None]:
    """The `limit` items after the one named `cursor`, and the cursor for the page after that."""
    start = 0
    if cursor:
        names = [name(item) for item in items]
        if cursor not in names:
            raise InvalidCursor(cursor)
        start = names.index(cursor) + 1
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return page, name(page[-1]) if more and page else None
