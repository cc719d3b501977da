"""Tool arguments refused in words an agent can act on: unknown names, bad values, unsendable JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import Tool
from pydantic import ValidationError

from orq_mcp.surface.tool_errors import quoted


def refuse_unknown(tool: Tool, arguments: dict[str, Any]) -> None:
    """Refuse an argument `tool`'s input schema does not name: every tool, fixed or per deployment, alike."""
    allowed = tool.input_schema.get("properties", {})
    if unknown := sorted(set(arguments) - set(allowed)):
        raise _unknown_arguments(tool.name, unknown, allowed)


def _unknown_arguments(tool: str, unknown: list[str], allowed: Iterable[str]) -> ToolError:
    """An argument the tool does not take is a mistake to report, not something to drop silently."""
    return ToolError(
        f"Invalid arguments for {tool}: unknown argument(s) {quoted(', '.join(map(repr, sorted(unknown))))}. "
        f"Valid arguments: {', '.join(sorted(allowed)) or 'none'}."
    )


def invalid_arguments(tool: str, error: ValidationError) -> str:
    """Each problem where it is (`messages.1.role: ...`); a rule across arguments names them itself."""
    problems = [
        f"{where}: {e['msg']}" if (where := _location(e["loc"])) else e["msg"]
        for e in error.errors(include_url=False, include_input=False)
    ]
    return f"Invalid arguments for {tool}: " + "; ".join(problems) + ". Fix them and call again."


def require_plain_json(tool: str, arguments: dict[str, Any]) -> None:
    """Refuse what JSON-RPC can carry but orq's JSON body cannot, before it fails deep in the request.

    Python's JSON reader accepts NaN, Infinity and 1e999 (as infinity) and lone surrogates
    ("\\ud800"); neither can be sent on to orq.
    """
    try:
        json.dumps(arguments, ensure_ascii=False, allow_nan=False).encode()
    except UnicodeEncodeError:
        problem = "text contains an unpaired surrogate (\\ud800-\\udfff), which is not valid Unicode"
    except RecursionError:
        problem = "values are nested too deeply"
    except ValueError:
        problem = "numbers must be finite (NaN, Infinity and out-of-range values such as 1e999 cannot be sent)"
    else:
        return
    raise ToolError(f"Invalid arguments for {tool}: {problem}. Fix them and call again.")


def _location(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc)
