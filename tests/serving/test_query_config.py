"""Smithery-style hosting (`--query-config`): each connection's orq key arrives in its URL.

Smithery routes a user's MCP traffic to `/mcp` with their configuration in the query string, either
`?config=<base64 JSON>` or one parameter per field. The server must list its tools without any
configuration, serve each connection with its own key, and never write the key to its logs.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client
from mcp_types import TextContent

from orq_mcp.sandbox import EmulatorThread
from tests.conftest import API_KEY
from tests.e2e.test_secrets import assert_clean
from tests.processes import HttpServer, loopback_http_client
from tests.serving.test_exposure import INITIALIZE, MCP_HEADERS


@pytest.fixture
def hosted(emulator: EmulatorThread, tmp_path: Path) -> Iterator[HttpServer]:
    env = {"ORQ_BASE_URL": emulator.base_url, "ORQ_MAX_RETRIES": "0"}
    server = HttpServer.start("http", env, tmp_path, args=["--query-config", "-v"]).ready()
    try:
        yield server
    finally:
        server.stop()


def encoded(config: dict[str, str]) -> str:
    return base64.b64encode(json.dumps(config).encode()).decode()


@pytest.mark.parametrize(
    "query",
    [
        f"config={encoded({'orqApiKey': API_KEY})}",
        f"orqApiKey={API_KEY}",
        # Names may be percent-encoded: the server decodes them, so the log must too.
        f"orq%41piKey={API_KEY}",
        f"%63onfig={encoded({'orqApiKey': API_KEY})}",
        f"ORQ%5FAPI%5FKEY={API_KEY}",
    ],
    ids=["base64-config", "field-parameters", "encoded-field-name", "encoded-config-name", "encoded-env-name"],
)
async def test_each_connection_is_served_with_the_key_in_its_url(
    hosted: HttpServer, emulator: EmulatorThread, query: str
) -> None:
    emulator.state.reset()
    async with Client(f"{hosted.url}?{query}") as client:
        result = await client.call_tool("list_deployments", {"limit": 3})
        assert not result.is_error, result
        assert result.structured_content is not None
        assert len(result.structured_content["deployments"]) == 3
    assert {r.api_key for r in emulator.state.requests} == {API_KEY}
    hosted.stop()
    assert API_KEY in query or API_KEY in base64.b64decode(query.partition("=")[2]).decode()
    assert_clean("server log", hosted.stderr())
    assert query.partition("=")[2] not in hosted.stderr()  # nor the base64 configuration that carries it
    assert "GET /mcp" in hosted.stderr() or "POST /mcp" in hosted.stderr()  # -v logged each request, scrubbed


async def test_without_configuration_tools_are_listed_and_calls_say_what_to_configure(hosted: HttpServer) -> None:
    async with Client(hosted.url) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert "invoke_deployment" in names
        result = await client.call_tool("list_deployments", {})
        assert result.is_error
        block = result.content[0]
        assert isinstance(block, TextContent)
        assert "orqApiKey" in block.text


async def test_the_example_config_key_is_named_a_placeholder_and_orq_is_not_called(
    hosted: HttpServer, emulator: EmulatorThread
) -> None:
    """smithery.yaml's exampleConfig (and the printed HTTP configs) hold `your-orq-api-key`: say so, not a 401."""
    emulator.state.reset()
    async with Client(f"{hosted.url}?config={encoded({'orqApiKey': 'your-orq-api-key'})}") as client:
        assert "invoke_deployment" in {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("list_deployments", {})
        assert result.is_error
        block = result.content[0]
        assert isinstance(block, TextContent)
        assert "orqApiKey is the example placeholder" in block.text, block.text
        assert "Settings > API Keys" in block.text
    assert emulator.state.requests == []


async def test_a_session_is_bound_to_the_key_in_the_url_that_opened_it(hosted: HttpServer) -> None:
    own = f"{hosted.url}?config={encoded({'orqApiKey': API_KEY})}"
    other = f"{hosted.url}?config={encoded({'orqApiKey': 'sk-orq-someone-else-0123456789abcdef'})}"
    async with loopback_http_client() as http:
        opened = await http.post(own, json=INITIALIZE, headers=MCP_HEADERS)
        assert opened.status_code == 200
        session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"}
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        foreign = await http.post(other, json=listing, headers={**MCP_HEADERS, **session})
        assert foreign.status_code == 404
        unconfigured = await http.post(hosted.url, json=listing, headers={**MCP_HEADERS, **session})
        assert unconfigured.status_code == 404
        await http.post(
            own, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers={**MCP_HEADERS, **session}
        )
        mine = await http.post(own, json=listing, headers={**MCP_HEADERS, **session})
        assert mine.status_code == 200
