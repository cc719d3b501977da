"""The README's tool examples are what the sandbox really returns.

Each example is a JSON block preceded by `<!-- live: TOOL {arguments} [volatile=a,b] -->`: the tool is called
with those arguments against the sample workspace, and its structured result must equal the block, except the
`volatile` fields (ids that are new on every call), which must only be present.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from mcp import Client

from tests.paths import REPO

README = REPO / "README.md"
EXAMPLE = re.compile(r"<!-- live: (\w+) (\{.*?\})(?: volatile=([\w,]+))? -->\n```json\n(.*?)\n```", re.DOTALL)


def examples() -> list[tuple[str, dict[str, Any], list[str], Any]]:
    found = [
        (tool, json.loads(arguments), volatile.split(",") if volatile else [], json.loads(block))
        for tool, arguments, volatile, block in EXAMPLE.findall(README.read_text(encoding="utf-8"))
    ]
    assert len(found) >= 4, "the README's live examples went missing"
    return found


@pytest.mark.parametrize(("tool", "arguments", "volatile", "shown"), examples(), ids=lambda v: str(v)[:30])
async def test_the_readme_example_is_what_the_tool_returns(
    client: Client, tool: str, arguments: dict[str, Any], volatile: list[str], shown: Any
) -> None:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result
    live = result.structured_content
    assert live is not None
    for name in volatile:
        assert live.get(name), f"{tool}: {name} is missing"
        live[name] = shown[name]
    assert live == shown
