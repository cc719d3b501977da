"""Issue 19 end to end: real `python -m orq_mcp` processes over stdio and Streamable HTTP, real MCP clients, in
both protocol eras (the handshake era, and 2026-07-28).

- The runtime flow: list agents, invoke one with progress (the pieces concatenate to its text), continue it with
  its task_id, search knowledge, rate the answer on the invocation's trace, read that trace.
- Dynamic toolsets: a server that starts with list_toolsets and enable_toolset; enabling one announces
  tools/list_changed (on the session in the handshake era, to `subscriptions/listen` in 2026-07-28) and its tools
  appear, for that session or caller only.
- Multi-tenant HTTP: what one caller enables never changes another's tools/list, nor reaches its listeners.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from orq_mcp.sandbox import EmulatorState, EmulatorThread, sample_workspace
from tests.conftest import API_KEY
from tests.helpers import ok
from tests.processes import HttpServer, loopback_http_client, server_env

TENANT_B_KEY = "sk-orq-tenant-b-canary-5e1d7a3f90c2"
ERAS = ["legacy", "auto"]  # "auto" negotiates 2026-07-28 with this server, on stdio and HTTP alike
DYNAMIC_START = ["list_toolsets", "enable_toolset"]
AGENT_TOOLS = ["list_agents", "invoke_agent", "get_agent_task"]
ORDER = {"key": "order-assistant", "message": "Where is my order NL-20391?", "variables": {"company_name": "Acme"}}
# How long a listener waits to be sure an announcement is not coming.
QUIET = 1.5


def toolsets_env(base_url: str, **extra: str) -> dict[str, str]:
    return {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": base_url, "ORQ_MCP_PROGRESS_INTERVAL": "0.02", **extra}


class Notes:
    """A message handler that records the methods of the notifications a client receives."""

    def __init__(self) -> None:
        self.methods: list[str] = []

    async def __call__(self, message: Any) -> None:
        method = getattr(getattr(message, "root", message), "method", None)
        if method:
            self.methods.append(method)


@pytest.fixture(scope="module")
def http_servers(emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, HttpServer]]:
    """Streamable HTTP servers: every toolset; dynamic toolsets; dynamic toolsets with one orq key per caller."""
    emulator.state.add_workspace(TENANT_B_KEY, sample_workspace())
    configurations = {
        "all": toolsets_env(emulator.base_url, ORQ_MCP_TOOLSETS="all"),
        "dynamic": toolsets_env(emulator.base_url, ORQ_MCP_DYNAMIC_TOOLSETS="1"),
        "multi": {
            "ORQ_BASE_URL": emulator.base_url,
            "ORQ_MCP_MULTI_TENANT": "1",
            "ORQ_MCP_DYNAMIC_TOOLSETS": "1",
        },
    }
    started: dict[str, HttpServer] = {}
    try:
        for name, env in configurations.items():
            started[name] = HttpServer.start("http", env, tmp_path_factory.mktemp(f"toolsets-{name}"))
        yield {name: server.ready() for name, server in started.items()}
    finally:
        for server in started.values():
            server.stop()


@asynccontextmanager
async def stdio(
    emulator: EmulatorThread, tmp_path: Path, mode: str, notes: Notes | None = None, **env: str
) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "orq_mcp"],
        env=server_env(key=None, **toolsets_env(emulator.base_url, **env)),
    )
    with (tmp_path / f"stdio-{mode}.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode, message_handler=notes) as client:
            yield client


@asynccontextmanager
async def http(
    server: HttpServer, mode: str, notes: Notes | None = None, key: str | None = None
) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}"} if key else None
    async with (
        loopback_http_client(headers) as transport_client,
        Client(
            streamable_http_client(server.url, http_client=transport_client), mode=mode, message_handler=notes
        ) as client,
    ):
        yield client


def connection(
    transport: str, mode: str, emulator: EmulatorThread, tmp_path: Path, servers: dict[str, HttpServer], kind: str
) -> Any:
    notes = Notes()
    if transport == "stdio":
        env = {"ORQ_MCP_TOOLSETS": "all"} if kind == "all" else {"ORQ_MCP_DYNAMIC_TOOLSETS": "1"}
        return stdio(emulator, tmp_path, mode, notes, **env), notes
    return http(servers[kind], mode, notes), notes


async def names(client: Client) -> list[str]:
    return [tool.name for tool in (await client.list_tools()).tools]


# The runtime flow ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_an_agent_runs_continues_cites_is_rated_and_traced(
    emulator: EmulatorThread,
    emulator_state: EmulatorState,
    http_servers: dict[str, HttpServer],
    tmp_path: Path,
    transport: str,
    mode: str,
) -> None:
    opened, _ = connection(transport, mode, emulator, tmp_path, http_servers, "all")
    async with opened as client:
        assert (client.protocol_version == "2026-07-28") == (mode == "auto")
        agents = ok(await client.call_tool("list_agents", {}))["agents"]
        assert "order-assistant" in {agent["key"] for agent in agents}

        pieces: list[str] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            pieces.append(message or "")

        run = ok(await client.call_tool("invoke_agent", ORDER, progress_callback=on_progress))
        assert pieces
        assert "".join(pieces) == run["text"]
        assert "Order NL-20391 is shipped with PostNL" in run["text"]
        assert run["tool_calls"][0]["result"]["carrier"] == "PostNL"

        follow_up = {**ORDER, "message": "When does it arrive?", "task_id": run["task_id"]}
        again = ok(await client.call_tool("invoke_agent", follow_up))
        assert again["task_id"] == run["task_id"]
        assert again["text"].startswith("(Turn 2 of this task")

        found = ok(
            await client.call_tool("search_knowledge", {"knowledge_id_or_key": "acme-help-center", "query": "refund"})
        )
        assert found["chunks"][0]["file_name"] == "returns-and-refunds.md"

        rating = {"trace_id": run["trace_id"], "property": "rating", "value": "good", "product": "agents"}
        stored = ok(await client.call_tool("submit_feedback", rating))
        assert stored["trace_id"] == run["trace_id"]
        assert stored["product"] == "agents"

        trace = ok(await client.call_tool("get_trace", {"trace_id": run["trace_id"]}))
        assert trace["name"] == "agent order-assistant"
        assert "tool lookup_order" in [span["name"] for span in trace["spans"]]
        assert trace["usage"] == run["usage"]
    workspace = emulator_state.workspace_for(API_KEY)
    assert workspace is not None
    assert workspace.feedback[-1]["trace_id"] == run["trace_id"]


# Dynamic toolsets ---------------------------------------------------------------------------------------------------


async def listened_for_change(client: Client, within: float) -> bool:
    """Whether a 2026-07-28 listener hears tools/list_changed within `within` seconds."""
    async with client.listen(tools_list_changed=True) as subscription:
        with anyio.move_on_after(within):
            async for event in subscription:
                if type(event).__name__ == "ToolsListChanged":
                    return True
    return False


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_enabling_a_toolset_announces_the_change_and_its_tools_appear(
    emulator: EmulatorThread,
    emulator_state: EmulatorState,
    http_servers: dict[str, HttpServer],
    tmp_path: Path,
    transport: str,
    mode: str,
) -> None:
    opened, notes = connection(transport, mode, emulator, tmp_path, http_servers, "dynamic")
    async with opened as client:
        assert await names(client) == DYNAMIC_START
        toolsets = ok(await client.call_tool("list_toolsets", {}))["toolsets"]
        assert [t["name"] for t in toolsets] == ["deployments", "agents", "knowledge", "feedback", "traces"]
        assert not any(t["enabled"] for t in toolsets)
        if client.protocol_version == "2026-07-28":
            async with anyio.create_task_group() as group:
                heard: list[bool] = []

                async def listen() -> None:
                    heard.append(await listened_for_change(client, 10))

                group.start_soon(listen)
                await anyio.sleep(0.5)  # the listen stream is open
                enabled = ok(await client.call_tool("enable_toolset", {"name": "agents"}))
            assert heard == [True]
        else:
            enabled = ok(await client.call_tool("enable_toolset", {"name": "agents"}))
            assert "notifications/tools/list_changed" in notes.methods
        assert enabled == {"toolset": "agents", "tools": AGENT_TOOLS, "newly_enabled": True}
        assert await names(client) == DYNAMIC_START + AGENT_TOOLS
        assert ok(await client.call_tool("list_agents", {}))["agents"]
        again = ok(await client.call_tool("enable_toolset", {"name": "agents"}))
        assert again["newly_enabled"] is False


async def test_each_handshake_session_enables_its_own_toolsets(http_servers: dict[str, HttpServer]) -> None:
    first_notes, second_notes = Notes(), Notes()
    async with (
        http(http_servers["dynamic"], "legacy", first_notes) as first,
        http(http_servers["dynamic"], "legacy", second_notes) as second,
    ):
        ok(await first.call_tool("enable_toolset", {"name": "knowledge"}))
        assert await names(first) == [*DYNAMIC_START, "list_knowledge_bases", "search_knowledge"]
        assert await names(second) == DYNAMIC_START
        refused = await second.call_tool("search_knowledge", {"knowledge_id_or_key": "acme-help-center", "query": "x"})
        assert refused.is_error
        assert "call enable_toolset with name 'knowledge'" in refused.content[0].text  # type: ignore[union-attr]
    assert "notifications/tools/list_changed" not in second_notes.methods


async def test_one_callers_toolsets_never_reach_another_tenant(
    emulator_state: EmulatorState, http_servers: dict[str, HttpServer]
) -> None:
    server = http_servers["multi"]
    async with http(server, "auto", key=API_KEY) as caller_a, http(server, "auto", key=TENANT_B_KEY) as caller_b:
        assert caller_a.protocol_version == caller_b.protocol_version == "2026-07-28"
        heard: dict[str, bool] = {}

        async def listen(name: str, client: Client, within: float) -> None:
            heard[name] = await listened_for_change(client, within)

        async with anyio.create_task_group() as group:
            group.start_soon(listen, "a", caller_a, 10)
            group.start_soon(listen, "b", caller_b, QUIET + 1)
            await anyio.sleep(0.5)
            ok(await caller_a.call_tool("enable_toolset", {"name": "agents"}))
        assert heard == {"a": True, "b": False}
        assert await names(caller_a) == DYNAMIC_START + AGENT_TOOLS
        assert await names(caller_b) == DYNAMIC_START
        listed = ok(await caller_b.call_tool("list_toolsets", {}))["toolsets"]
        assert not any(t["enabled"] for t in listed)
        # The same key in a new request (2026-07-28 has no session) is the same caller: its choice holds.
        async with http(server, "auto", key=API_KEY) as caller_a_again:
            assert await names(caller_a_again) == DYNAMIC_START + AGENT_TOOLS
