"""Keeping tool results inside the model's context budget (`ORQ_MCP_MAX_RESULT_CHARS`).

Text is cut with a notice that says so; lists are shortened so the rest is one page away;
structured values have their longest strings shortened until the whole fits.
"""

from __future__ import annotations

import json
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


def _replace(value: Any, path: tuple[Any, ...], new: str) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: _replace(v, rest, new) if k == head else v for k, v in value.items()}
    return [_replace(v, rest, new) if i == head else v for i, v in enumerate(value)]
