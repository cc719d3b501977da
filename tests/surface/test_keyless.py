"""Started without ORQ_API_KEY (a GUI host hides stderr; Smithery lists tools before configuring):
the server still starts and lists what it offers, and every call that needs orq says where the key goes."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_types import TextContent

from tests.processes import MODULE, read_log, server_env

FIXED_TOOLS = {"list_deployments", "get_deployment_config", "invoke_deployment", "list_prompts"}


async def test_without_a_key_the_server_lists_its_tools_and_each_call_says_where_the_key_goes(
    tmp_path: Path,
) -> None:
    params = StdioServerParameters(command=MODULE[0], args=[*MODULE[1:], "--expose", "all"], env=server_env(key=None))
    errlog = tmp_path / "stderr.log"
    with errlog.open("w") as err:
        async with Client(stdio_client(params, errlog=err)) as client:
            assert {tool.name for tool in (await client.list_tools()).tools} == FIXED_TOOLS
            assert (await client.list_prompts()).prompts == []
            assert (await client.list_resources()).resources == []
            for tool, arguments in [
                ("list_deployments", {}),
                ("invoke_deployment", {"key": "faq-assistant"}),
                ("list_prompts", {}),
                ("get_deployment_config", {"key": "faq-assistant"}),
            ]:
                result = await client.call_tool(tool, arguments)
                assert result.is_error, tool
                block = result.content[0]
                assert isinstance(block, TextContent)
                for needle in ("ORQ_API_KEY", "claude_desktop_config.json", ".cursor/mcp.json", "--sandbox"):
                    assert needle in block.text, (tool, block.text)
                # Not `uvx orq-mcp`: before the first release it finds nothing, and it is not how this runs.
                assert "uvx" not in block.text
                assert "`orq-mcp config <client>` prints" in block.text
    warnings = [line for line in read_log(errlog).splitlines() if "WARNING" in line]
    assert len(warnings) == 1, warnings
    assert "ORQ_API_KEY is not set" in warnings[0]


@pytest.mark.parametrize(
    ("placeholder", "says"),
    [
        ("your-orq-api-key", "example placeholder"),  # what `orq-mcp config` prints, pasted unchanged
        ("${ORQ_KEY}", "unexpanded variable reference"),  # a client that does not expand variables
        ("<your orq api key>", "example placeholder"),
    ],
)
async def test_a_placeholder_key_serves_the_tool_list_and_each_call_says_what_to_replace(
    tmp_path: Path, placeholder: str, says: str
) -> None:
    """Exiting on a placeholder left GUI hosts with "Connection closed" and nothing else to go on."""
    params = StdioServerParameters(command=MODULE[0], args=MODULE[1:], env=server_env(key=placeholder))
    errlog = tmp_path / "stderr.log"
    with errlog.open("w") as err:
        async with Client(stdio_client(params, errlog=err)) as client:
            assert {tool.name for tool in (await client.list_tools()).tools} == FIXED_TOOLS
            assert (await client.list_resources()).resources == []
            for tool, arguments in [("list_deployments", {}), ("invoke_deployment", {"key": "faq-assistant"})]:
                result = await client.call_tool(tool, arguments)
                assert result.is_error, tool
                block = result.content[0]
                assert isinstance(block, TextContent)
                assert f"ORQ_API_KEY is {'an' if says[0] == 'u' else 'the'} {says}" in block.text, block.text
                for needle in ("Replace", "Settings > API Keys", "claude_desktop_config.json", "--sandbox"):
                    assert needle in block.text, (tool, block.text)
                assert placeholder not in block.text  # its class is named, never the value (it could be a key)
    warnings = [line for line in read_log(errlog).splitlines() if "WARNING" in line]
    assert len(warnings) == 1, warnings
    assert f"ORQ_API_KEY is {'an' if says[0] == 'u' else 'the'} {says}" in warnings[0]
    assert placeholder not in read_log(errlog)
