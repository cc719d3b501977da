"""Keeping tool results inside the model's context budget (`ORQ_MCP_MAX_RESULT_CHARS`).

Text is cut with a notice that says so; lists are shortened so the rest is one page away;
structured values have their longest strings shortened until the whole fits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
MIN_STRING = 200  # strings are never cut below this while shrinking a structure


def compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def fit_text(text: str, limit: int, hint: str, announced: int | None = None) -> str:
    """`text` unchanged when it fits, else its start and a notice, `limit` characters in all.

    The notice names `announced` (the whole result's limit) when the text gets only part of it.
    """
    if len(text) <= limit:
        return text
    shown = announced if announced is not None else limit
    notice = f"\n\n[orq-mcp cut this result: it has {len(text):,} characters, the limit is {shown:,}. {hint}]"
    return text[: max(0, limit - len(notice))] + notice


def fit_count(items: Sequence[T], render: Callable[[Sequence[T]], str], limit: int) -> int:
    """How many leading items render within `limit` (at least one, so a page always advances)."""
    if len(render(items)) <= limit:
        return len(items)
    low, high = 1, len(items) - 1  # the largest count that fits lies in [1, high]
    while low < high:
        middle = (low + high + 1) // 2
        if len(render(items[:middle])) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def shrink_strings(value: Any, limit: int) -> Any:
    """A copy of a JSON value whose longest strings are shortened until its JSON fits `limit`."""
    while len(compact_json(value)) > limit:
        path, longest = _longest_string(value)
        if longest is None or len(longest) <= MIN_STRING:
            return value  # nothing left worth cutting: the numbers and keys alone are this large
        keep = max(MIN_STRING, len(longest) // 2)
        shorter = f"{longest[:keep]}… [{len(longest) - keep:,} characters cut by orq-mcp]"
        if len(shorter) >= len(longest):
            return value  # the longest string is as short as cutting makes it: nothing more to gain
        value = _replace(value, path, shorter)
    return value


_CUT_ITEMS = re.compile(r"\[(\d[\d,]*) more items cut by orq-mcp\]")


def fit_json(value: Any, limit: int) -> Any:
    """A copy of a JSON value that fits `limit`: the larger of its largest list and its longest string gives way
    first (a list keeps its first half and a last item saying how many went; a string is shortened), until it
    fits or nothing is left worth cutting."""
    while len(compact_json(value)) > limit:
        largest = _Largest()
        largest.walk(value, ())
        string = largest.string
        if string is not None and len(string) > MIN_STRING and len(string) >= largest.list_size:
            cut = shrink_strings(value, max(limit, len(compact_json(value)) - len(string) // 2))
            if cut != value:
                value = cut
                continue
        if largest.list_path is None:
            return value
        excess = len(compact_json(value)) - limit
        value = _replace(value, largest.list_path, _trimmed(_at(value, largest.list_path), excess))
    return value


class _Largest:
    """One walk over a JSON value: its longest string and its largest list of two or more items (by size)."""

    def __init__(self) -> None:
        self.string: str | None = None
        self.list_path: tuple[Any, ...] | None = None
        self.list_size = 0

    def walk(self, value: Any, path: tuple[Any, ...]) -> int:
        """The compact JSON size of `value` (escapes aside), noting what it holds along the way."""
        if isinstance(value, str):
            if self.string is None or len(value) > len(self.string):
                self.string = value
            return len(value) + 2
        if isinstance(value, dict):
            return 1 + sum(len(str(k)) + 4 + self.walk(v, (*path, k)) for k, v in value.items())
        if isinstance(value, list):
            size = 1 + sum(1 + self.walk(v, (*path, i)) for i, v in enumerate(value))
            if len(value) - _was_cut(value) > 1 and size > self.list_size:
                self.list_path, self.list_size = path, size
            return size
        return len(json.dumps(value))


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def _trimmed(items: list[Any], excess: int) -> list[Any]:
    """`items` without enough of its last items to save `excess` characters (keeping at least one), then one
    string saying how many were cut (counting earlier cuts)."""
    earlier = 0
    if _was_cut(items):
        items, earlier = items[:-1], int(items[-1][1:].partition(" ")[0].replace(",", ""))
    keep, saved = len(items), -len(_cut_note(len(items)))  # the note costs a little of what is saved
    while keep > 1 and saved < excess:
        keep -= 1
        saved += len(compact_json(items[keep])) + 1
    return [*items[:keep], _cut_note(len(items) - keep + earlier)]


def _was_cut(items: list[Any]) -> bool:
    return bool(items) and isinstance(items[-1], str) and _CUT_ITEMS.fullmatch(items[-1]) is not None


def _cut_note(count: int) -> str:
    return f"[{count:,} more items cut by orq-mcp]"


def _longest_string(value: Any, path: tuple[Any, ...] = ()) -> tuple[tuple[Any, ...], str | None]:
    if isinstance(value, str):
        return path, value
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    best: tuple[tuple[Any, ...], str | None] = ((), None)
    for key, child in children:
        found = _longest_string(child, (*path, key))
        if found[1] is not None and (best[1] is None or len(found[1]) > len(best[1])):
            best = found
    return best


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: _replace(v, rest, new) if k == head else v for k, v in value.items()}
    return [_replace(v, rest, new) if i == head else v for i, v in enumerate(value)]
