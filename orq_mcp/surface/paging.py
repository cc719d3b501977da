"""Paging: a list the server holds (cached or filtered) cut after the item a cursor names, and the cursor argument
and its errors, alike for every list tool."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from orq_mcp.orq.errors import BadRequestError, NotFoundError, OrqError
from orq_mcp.surface.fit import fit_count
from orq_mcp.surface.results import page_json
from orq_mcp.surface.tool_errors import Subject, tool_error

T = TypeVar("T")
P = TypeVar("P", bound=BaseModel)

Cursor = Annotated[
    str | None,
    Field(max_length=256, description="The previous page's next_cursor."),
]


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


def fitted_page(
    page: type[P], summaries: list[Any], next_cursor: str | None, cursor_at: Callable[[int], str], budget: int
) -> P:
    """A page of `summaries` within `budget` characters: what does not fit is one call away (the cursor names the
    last item kept, `cursor_at(index)`) rather than cut mid-list. A page's first field is its list."""
    count = fit_count(summaries, lambda s: page_json(page, list(s)), budget)
    if count < len(summaries):
        summaries, next_cursor = summaries[:count], cursor_at(count - 1)
    return page.model_validate({next(iter(page.model_fields)): summaries, "next_cursor": next_cursor})


def list_error(exc: OrqError, cursor: str | None, tool: str, subject: Subject) -> ToolError:
    """orq's failure for a page of `tool`: a stale cursor (orq's own, or ours) says to start over."""
    if cursor and isinstance(exc, BadRequestError | NotFoundError):
        return bad_cursor(tool, exc.message)
    return tool_error(exc, subject)


def bad_cursor(tool: str, reason: str) -> ToolError:
    return ToolError(f"The cursor is not valid ({reason}). Call {tool} again without `cursor`.")
