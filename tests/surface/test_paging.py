"""Unit tests of orq_mcp/surface/paging.py: a list the server holds, paged with the last item's name as cursor."""

from __future__ import annotations

import pytest

from orq_mcp.surface.paging import InvalidCursor, page_after

ITEMS = [{"key": k} for k in "abcde"]


def key(item: dict[str, str]) -> str:
    return item["key"]


def keys(items: list[dict[str, str]]) -> list[str]:
    return [key(i) for i in items]


def test_the_first_page_starts_at_the_first_item() -> None:
    page, cursor = page_after(ITEMS, None, 2, key)
    assert keys(page) == ["a", "b"]
    assert cursor == "b"


def test_an_empty_cursor_is_the_first_page() -> None:
    page, cursor = page_after(ITEMS, "", 2, key)
    assert keys(page) == ["a", "b"]
    assert cursor == "b"


def test_a_cursor_continues_after_the_item_it_names() -> None:
    page, cursor = page_after(ITEMS, "b", 2, key)
    assert keys(page) == ["c", "d"]
    assert cursor == "d"


def test_the_last_page_has_no_cursor() -> None:
    page, cursor = page_after(ITEMS, "d", 2, key)
    assert keys(page) == ["e"]
    assert cursor is None


def test_a_last_page_that_is_exactly_full_has_no_cursor() -> None:
    page, cursor = page_after(ITEMS[:4], "b", 2, key)
    assert keys(page) == ["c", "d"]
    assert cursor is None


def test_a_list_that_fits_one_page_has_no_cursor() -> None:
    page, cursor = page_after(ITEMS, None, 5, key)
    assert keys(page) == list("abcde")
    assert cursor is None


def test_following_the_cursors_visits_every_item_once() -> None:
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page, cursor = page_after(ITEMS, cursor, 2, key)
        seen += keys(page)
        if cursor is None:
            break
    assert seen == list("abcde")


def test_a_cursor_naming_the_last_item_gives_an_empty_last_page() -> None:
    assert page_after(ITEMS, "e", 2, key) == ([], None)


def test_an_empty_list_is_one_empty_page() -> None:
    assert page_after([], None, 2, key) == ([], None)


def test_an_unknown_cursor_raises_invalid_cursor() -> None:
    with pytest.raises(InvalidCursor) as caught:
        page_after(ITEMS, "zz", 2, key)
    assert isinstance(caught.value, ValueError)
    assert caught.value.args == ("zz",)


def test_a_cursor_of_an_item_since_removed_raises_invalid_cursor() -> None:
    _, cursor = page_after(ITEMS, None, 2, key)
    assert cursor is not None
    with pytest.raises(InvalidCursor):
        page_after([i for i in ITEMS if key(i) != cursor], cursor, 2, key)


def test_the_page_is_a_new_list() -> None:
    page, _ = page_after(ITEMS, None, 2, key)
    page.append({"key": "z"})
    assert keys(ITEMS) == list("abcde")
