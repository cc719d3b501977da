"""Server-wide choices a client sees: --read-only, the --expose tool budget, the server's identity."""

from __future__ import annotations

import copy
import logging

import pytest
from mcp import Client

from orq_mcp.config.settings import Settings, SettingsError
from orq_mcp.sandbox import EmulatorState
from orq_mcp.surface.toolsets.exposed import TOOL_BUDGET
from tests.conftest import API_KEY, connected


async def test_read_only_offers_no_tool_that_invokes(settings: Settings) -> None:
    async with connected(settings.model_copy(update={"read_only": True})) as client:
        tools = (await client.list_tools()).tools
        assert {t.name for t in tools} == {"list_deployments", "get_deployment_config", "list_prompts"}
        assert all(t.annotations and t.annotations.read_only_hint for t in tools)
        assert "invokes nothing" in (client.instructions or "")
        result = await client.call_tool("invoke_deployment", {"key": "faq-assistant"})
        assert result.is_error


def test_read_only_and_expose_cannot_be_combined() -> None:
    with pytest.raises(SettingsError, match="read-only"):
        Settings.load({"ORQ_API_KEY": API_KEY, "ORQ_MCP_READ_ONLY": "1", "ORQ_EXPOSE": "all"})


async def test_exposing_more_tools_than_clients_handle_warns_once(
    settings: Settings, emulator_state: EmulatorState, caplog: pytest.LogCaptureFixture
) -> None:
    workspace = emulator_state.workspace_for(API_KEY)
    assert workspace is not None
    original = list(workspace.deployments)
    template = workspace.deployment("faq-assistant")
    for i in range(TOOL_BUDGET):
        extra = copy.deepcopy(template)
        assert extra is not None
        extra["id"], extra["key"] = f"00000000-0000-4000-8000-{i:012d}", f"extra-{i}"
        workspace.deployments.append(extra)
    try:
        with caplog.at_level(logging.WARNING, logger="orq_mcp"):
            async with connected(settings.model_copy(update={"expose": ("all",)})) as client:
                tools = (await client.list_tools()).tools
                await client.list_tools()
        assert len(tools) > TOOL_BUDGET
        warnings = [r.getMessage() for r in caplog.records if "--expose offers" in r.getMessage()]
        assert len(warnings) == 1, warnings
        assert f"{len(tools)} tools" in warnings[0]
        assert "--expose key,key" in warnings[0]
    finally:
        workspace.deployments[:] = original


async def test_the_server_shows_an_icon(client: Client) -> None:
    assert client.server_info is not None
    icons = client.server_info.icons or []
    assert icons
    assert icons[0].src.startswith("data:image/svg+xml;base64,")
