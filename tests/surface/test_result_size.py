"""The whole tool result (text block plus structured content) stays within ORQ_MCP_MAX_RESULT_CHARS.

Many hosts forward both to the model, so a result that carries its text twice must count it twice.
"""

from __future__ import annotations

from typing import Any

import pytest

from orq_mcp.sandbox import EmulatorState, Fault
from orq_mcp.surface.invocation.fitted import result_size


@pytest.mark.parametrize(("size", "limit"), [(100_000, 20_000), (50_000, 5_000), (30_000, 1_000)])
async def test_a_long_completion_fits_whole(connect: Any, emulator_state: EmulatorState, size: int, limit: int) -> None:
    client = await connect(max_result_chars=limit)
    emulator_state.add_fault(Fault("stream", "huge_response", size=size, chunk_size=4096))
    result = await client.call_tool("invoke_deployment", {"key": "faq-assistant"})
    assert not result.is_error
    assert result_size(result) <= limit
    if limit >= 5_000:  # cut to fit, not to nothing (at 1,000 the notice and the metadata are most of it)
        assert result_size(result) > limit * 0.9
    assert result.structured_content is not None
    assert f"it has {size:,} characters" in result.structured_content["text"]


@pytest.mark.parametrize("tool", ["list_deployments", "list_prompts", "list_agents", "list_knowledge_bases"])
async def test_a_long_page_fits_whole(connect: Any, tool: str) -> None:
    client = await connect(max_result_chars=1_000, toolsets=("deployments", "agents", "knowledge"))
    result = await client.call_tool(tool, {"limit": 50})
    assert not result.is_error
    assert result_size(result) <= 1_000
    page = result.structured_content
    assert page is not None
    items = next(iter(page.values()))  # a page's first field is its list
    assert items  # cut to fit, not to nothing: the rest is one call away
    assert page["next_cursor"]
