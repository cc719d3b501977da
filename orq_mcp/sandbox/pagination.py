"""Cursor pagination shared by ``GET /v2/deployments``, ``GET /v2/prompts`` and the versions list.

[INFER] What orq answers for an out-of-range ``limit``, an unknown cursor or both cursors at once is not
documented: the emulator refuses each with a 400.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .error_bodies import bad_request

DEFAULT_LIMIT = 10
# The SDK types the agents list's `limit` as a float and sends `10.0`; a whole number written so is accepted [INFER].
_INTEGER = re.compile(r"[+-]?[0-9]+(?:\.0+)?")


def paginate(
    items: Sequence[dict[str, Any]],
    query: Mapping[str, str],
    *,
    id_field: str,
    max_limit: int,
    order_field: str = "created",
    default_limit: int | None = DEFAULT_LIMIT,
) -> dict[str, Any]:
    """Return ``{"object": "list", "data": [...], "has_more": bool}``, newest first by ``order_field``.

    ``starting_after`` returns the items strictly after (older than) the cursor, ``ending_before`` the last
    ``limit`` items strictly before (newer than) it. ``has_more`` looks in the direction of travel.
    ``default_limit`` None: without a ``limit`` every item comes back (the SDK says so of the agents list).
    """
    limit = _parse_limit(query.get("limit"), max_limit, default_limit if default_limit is not None else len(items))
    after, before = query.get("starting_after"), query.get("ending_before")
    if after is not None and before is not None:
        raise bad_request("'starting_after' and 'ending_before' cannot be used together", what="Invalid request")
    ordered = sorted(items, key=lambda item: (item.get(order_field, ""), item.get(id_field, "")), reverse=True)
    ids = [item.get(id_field) for item in ordered]
    if after is not None:
        candidates = ordered[_cursor_index(ids, after, "starting_after") + 1 :]
        page, has_more = candidates[:limit], len(candidates) > limit
    elif before is not None:
        candidates = ordered[: _cursor_index(ids, before, "ending_before")]
        page, has_more = candidates[-limit:], len(candidates) > limit
    else:
        page, has_more = ordered[:limit], len(ordered) > limit
    return {"object": "list", "data": list(page), "has_more": has_more}


def _parse_limit(raw: str | None, max_limit: int, default: int) -> int:
    if raw is None:
        return default
    text = raw.strip()
    if not _INTEGER.fullmatch(text) or not 1 <= int(float(text)) <= max_limit:
        raise bad_request(f"'limit' must be an integer between 1 and {max_limit}", what="Invalid request")
    return int(float(text))


def _cursor_index(ids: list[Any], cursor: str, name: str) -> int:
    try:
        return ids.index(cursor)
    except ValueError:
        raise bad_request(f"'{name}' refers to unknown id '{cursor}'", what="Invalid request") from None
