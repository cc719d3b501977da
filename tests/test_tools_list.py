"""The complete `tools/list` an agent reads, pinned: any change to it is a reviewed diff.

The snapshot holds the fixed tools plus one exposed deployment tool, exactly as a client
receives them. After an intended change, regenerate it with
`ORQ_MCP_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_tools_list.py` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from orq_mcp.config.settings import Settings
from tests.conftest import connected

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools_list.json"


async def test_tools_list_matches_the_snapshot(settings: Settings) -> None:
    async with connected(settings.model_copy(update={"expose": ("support-triage",)})) as client:
        tools = (await client.list_tools()).tools
    listed = [tool.model_dump(by_alias=True, mode="json", exclude_none=True) for tool in tools]
    text = json.dumps(listed, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("ORQ_MCP_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8"), (
        "tools/list changed; if intended, regenerate with ORQ_MCP_UPDATE_SNAPSHOTS=1 and review the diff"
    )
