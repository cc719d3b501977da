"""`completion/complete`: deployment keys for the prompt_config template, from the cached workspace.

MCP prompt arguments are a prompt's {{variables}}: free text with no list of values to offer, so they
complete to nothing rather than to guesses.
"""

from __future__ import annotations

from typing import Any

from mcp_types import Completion

from orq_mcp.orq.errors import OrqError
from orq_mcp.surface.resources import URI_TEMPLATE
from orq_mcp.surface.tenant import Caller, Tenant

MAX_VALUES = 100  # the most MCP lets one completion carry


async def complete(caller: Caller, params: dict[str, Any]) -> Completion:
    ref, argument = params.get("ref") or {}, params.get("argument") or {}
    if not isinstance(caller, Tenant) or ref.get("type") != "ref/resource" or ref.get("uri") != URI_TEMPLATE:
        return Completion(values=[])
    if argument.get("name") != "key":
        return Completion(values=[])
    try:
        keys = [d.key for d in await caller.visible_deployments()]
    except OrqError:
        return Completion(values=[])  # a suggestion list is a nicety: orq being down is reported by real calls
    return ranked(keys, str(argument.get("value") or ""))


def ranked(names: list[str], typed: str) -> Completion:
    """Names starting with what was typed first, then names containing it; case-insensitive."""
    needle = typed.lower()
    starts = [n for n in names if n.lower().startswith(needle)]
    contains = [n for n in names if needle in n.lower() and not n.lower().startswith(needle)]
    matches = starts + contains
    return Completion(values=matches[:MAX_VALUES], total=len(matches), has_more=len(matches) > MAX_VALUES)
