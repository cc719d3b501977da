"""End to end: a real `python -m orq_mcp` process per transport (stdio, Streamable HTTP, SSE) against the emulator.

Each transport's server process (and one auto-mode client connection to it) lives for the whole module; the tests
share it, which is also how an agent host uses a server. `emulator_state` resets the emulator around every test.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import pytest_asyncio
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, TextResourceContents

from orq_mcp.sandbox import EmulatorState, EmulatorThread
from orq_mcp.sandbox.data import SAMPLE_DEPLOYMENTS
from tests.conftest import API_KEY, held_open
from tests.helpers import names, ok, text_of, wait_until
from tests.processes import STARTUP_TIMEOUT, HttpServer, server_env

pytestmark = pytest.mark.asyncio(loop_scope="module")

TRANSPORTS = ["stdio", "http", "sse"]
TOOL_NAMES = {"list_deployments", "get_deployment_config", "invoke_deployment", "list_prompts"}
READ_ONLY_TOOLS = {"list_deployments", "get_deployment_config", "list_prompts"}
TRIAGE_INPUTS = {
    "company_name": "Acme Bikes",
    "language": "Dutch",
    "customer_name": "Priya",
    "ticket_body": "The front brake squeaks since yesterday.",
}
TRIAGE_VARIABLES = ["company_name", "language", "customer_name", "ticket_body"]
FAQ_QUESTION = (
    "How long does shipping to Germany take, and can I still return a bike after a test ride in the rain "
    "if the frame has a small scratch?"
)
# Pace of the emulator's stream while a test watches progress: long enough for several notifications.
WATCHED_CHUNK_DELAY = 0.01
# Pace for the cancellation tests: the canned reply (~50 chunks) then streams for about five seconds.
SLOW_CHUNK_DELAY = 0.1


# Processes ----------------------------------------------------------------------------------------------------------


# What the servers run with beyond the key and the emulator: a short progress window so streams show several pieces.
SETTINGS = {"ORQ_MCP_PROGRESS_INTERVAL": "0.02"}


@dataclass
class Server:
    """A running server and how to open a new client connection to it."""

    transport: str
    connect: Callable[[], Any]  # a fresh `Client` target: URL, stdio or SSE transport
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


# Fixtures -----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_servers(emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, HttpServer]]:
    """The Streamable HTTP and SSE servers, both started with the module: they boot while the stdio tests run."""
    env = server_env(emulator.base_url, **SETTINGS)
    servers: dict[str, HttpServer] = {}
    try:
        for transport in ("http", "sse"):
            servers[transport] = HttpServer.start(transport, env, tmp_path_factory.mktemp(f"orq-mcp-{transport}"))
        yield servers
    finally:
        for started in servers.values():
            started.stop()


@pytest.fixture(scope="module", params=TRANSPORTS)
def server(
    request: pytest.FixtureRequest,
    emulator: EmulatorThread,
    http_servers: dict[str, HttpServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    transport: str = request.param
    if transport == "stdio":
        stderr_path = tmp_path_factory.mktemp("orq-mcp-stdio") / "stderr.log"
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "orq_mcp"], env=server_env(emulator.base_url, **SETTINGS)
        )
        with stderr_path.open("w") as errlog:
            # Every connection spawns its own process; the module's shared connection is the one server.
            yield Server(transport, lambda: stdio_client(params, errlog=errlog), stderr_path)
        return
    started = http_servers[transport].ready()
    if transport == "http":
        url = f"http://127.0.0.1:{started.port}/mcp"
        yield Server(transport, lambda: url, started.stderr_path)
    else:
        url = f"http://127.0.0.1:{started.port}/sse"
        yield Server(transport, lambda: sse_client(url), started.stderr_path)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(server: Server) -> AsyncIterator[Client]:
    """The module's one auto-mode connection to the transport's server."""
    connection = held_open(Client(server.connect()))
    try:
        with anyio.fail_after(STARTUP_TIMEOUT):
            connected = await connection.__aenter__()
    except Exception as exc:
        pytest.fail(f"could not connect over {server.transport}: {exc!r}\n{server.stderr()}")
    try:
        yield connected
    finally:
        await connection.__aexit__(None, None, None)


# Helpers ------------------------------------------------------------------------------------------------------------


@dataclass
class ProgressLog:
    """A progress callback that timestamps every notification."""

    events: list[tuple[float, float, float | None, str | None]] = field(default_factory=list)
    first: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.events.append((time.monotonic(), progress, total, message))
        self.first.set()


async def emulator_reply(base_url: str, body: dict[str, Any]) -> str:
    """The emulator's own non-streamed answer to `body`: what the streamed invocation must add up to."""
    async with httpx2.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.post("/v2/deployments/invoke", json=body, headers={"Authorization": f"Bearer {API_KEY}"})
    response.raise_for_status()
    return response.json()["choices"][0]["message"]["content"]


async def invoke_and_check_progress(client: Client, emulator: EmulatorThread, arguments: dict[str, Any]) -> None:
    """Invoke with a progress callback and check the streaming contract against the emulator's answer."""
    expected = await emulator_reply(emulator.base_url, {k: v for k, v in arguments.items() if k != "metadata"})
    log = ProgressLog()
    result = await client.call_tool("invoke_deployment", arguments, progress_callback=log)
    returned_at = time.monotonic()
    seen_at_return = len(log.events)
    structured = ok(result)

    assert structured["text"] == expected
    assert text_of(result) == expected
    assert structured["finish_reason"] == "stop"
    assert structured["tool_calls"] is None
    assert len(log.events) >= 3, log.events
    # Every notification was delivered before the result (they travel ahead of it on the same stream)...
    assert log.events[-1][0] <= returned_at
    await anyio.sleep(0.2)
    # ...and none trails it.
    assert len(log.events) == seen_at_return
    progress = [event[1] for event in log.events]
    messages = [event[3] for event in log.events]
    assert all(isinstance(m, str) and m for m in messages), messages
    assert all(later > earlier for earlier, later in itertools.pairwise(progress)), progress
    assert all(event[2] is None for event in log.events)
    for i, value in enumerate(progress):
        assert value == len("".join(messages[: i + 1]))  # type: ignore[arg-type]
    assert "".join(messages) == expected  # type: ignore[arg-type]


async def cancel_mid_stream(client: Client, state: EmulatorState) -> None:
    """Start a slow invocation, cancel it at the first progress notification, and check orq saw the disconnect."""
    state.chunk_delay = SLOW_CHUNK_DELAY
    log = ProgressLog()
    arguments = {"key": "faq-assistant", "messages": [{"role": "user", "content": FAQ_QUESTION}]}
    finished = False
    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                nonlocal finished
                await client.call_tool("invoke_deployment", arguments, progress_callback=log)
                finished = True

            tg.start_soon(call)
            await log.first.wait()
            cancelled_at = time.monotonic()
            tg.cancel_scope.cancel()
    assert not finished
    streams = state.requests_for("stream")
    assert len(streams) == 1
    record = streams[0]
    assert await wait_until(lambda: record.disconnected_at is not None, within=2.5), (
        f"orq never saw the stream closed (chunks sent: {record.chunks_sent})"
    )
    assert record.disconnected_at is not None
    assert record.disconnected_at - cancelled_at <= 2.0
    assert record.chunks_sent < 20  # it stopped early: the whole reply is ~50 chunks
    state.chunk_delay = 0.002

    # The server is fine afterwards: the connection still answers, including another invocation.
    page = ok(await client.call_tool("list_deployments", {"limit": 1}))
    assert len(page["deployments"]) == 1
    reply = ok(await client.call_tool("invoke_deployment", {"key": "faq-assistant"}))
    assert reply["text"]


# Tests --------------------------------------------------------------------------------------------------------------


async def test_negotiates_the_modern_protocol(client: Client) -> None:
    assert client.protocol_version == "2026-07-28"
    assert client.server_info is not None
    assert client.server_info.name == "orq-mcp"
    assert client.instructions
    assert "invoke_deployment" in client.instructions


async def test_lists_exactly_the_four_tools(client: Client) -> None:
    tools = (await client.list_tools()).tools
    assert sorted(tool.name for tool in tools) == sorted(TOOL_NAMES)
    for tool in tools:
        assert tool.description, tool.name
        assert tool.description.strip(), tool.name
        assert tool.title, tool.name
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema.get("additionalProperties") is False, tool.name
        assert tool.output_schema is not None, tool.name
        assert tool.output_schema.get("properties"), tool.name
        assert tool.annotations is not None, tool.name
        assert tool.annotations.read_only_hint is (tool.name in READ_ONLY_TOOLS), tool.name
    invoke = next(tool for tool in tools if tool.name == "invoke_deployment")
    assert invoke.input_schema["required"] == ["key"]
    assert {"key", "inputs", "messages", "context", "metadata"} <= set(invoke.input_schema["properties"])
    assert {"text", "finish_reason", "tool_calls"} <= set(invoke.output_schema["properties"])  # type: ignore[index]


async def test_list_deployments_paginates(
    client: Client, emulator: EmulatorThread, emulator_state: EmulatorState
) -> None:
    async with httpx2.AsyncClient(base_url=emulator.base_url, timeout=10) as http:
        listed = await http.get("/v2/deployments?limit=50", headers={"Authorization": f"Bearer {API_KEY}"})
    expected = [d["key"] for d in listed.json()["data"]]
    assert sorted(expected) == sorted(d["key"] for d in SAMPLE_DEPLOYMENTS)
    emulator_state.clear_log()

    keys: list[str] = []
    summaries: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    pages = 0
    while True:
        arguments: dict[str, Any] = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        result = await client.call_tool("list_deployments", arguments)
        page = ok(result)
        assert json.loads(text_of(result)) == page
        assert 1 <= len(page["deployments"]) <= 2
        for summary in page["deployments"]:
            keys.append(summary["key"])
            summaries[summary["key"]] = summary
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages <= len(expected), "next_cursor never became null"
    assert keys == expected
    assert pages == -(-len(expected) // 2)
    assert names(summaries["support-triage"]["variables"]) == TRIAGE_VARIABLES
    assert summaries["support-triage"]["model"] == "gpt-4o-mini"
    assert summaries["faq-assistant"]["variables"] == []
    # Each page was one upstream call with the key and the cursor passed through.
    calls = [c for c in emulator_state.requests_for("list_deployments") if c.query.get("limit") == "2"]
    assert len(calls) == pages
    assert "starting_after" not in calls[0].query
    assert [c.query.get("starting_after") for c in calls[1:]] == [d["id"] for d in listed.json()["data"][1:-1:2]]
    assert all(c.api_key == API_KEY for c in calls)


async def test_get_deployment_config_renders_inputs(client: Client, emulator_state: EmulatorState) -> None:
    result = await client.call_tool("get_deployment_config", {"key": "support-triage", "inputs": TRIAGE_INPUTS})
    config = ok(result)
    assert json.loads(text_of(result)) == config
    assert config["key"] == "support-triage"
    assert (config["provider"], config["model"], config["version"]) == ("openai", "gpt-4o-mini", "v4")
    assert names(config["variables"]) == TRIAGE_VARIABLES
    assert config["messages"] == [
        {
            "role": "system",
            "content": "You are the support assistant for Acme Bikes. Answer in Dutch. Be brief and polite.",
        },
        {"role": "user", "content": "Ticket from Priya:\nThe front brake squeaks since yesterday."},
    ]
    assert config["parameters"]["temperature"] == 0.2
    assert [tool["function"]["name"] for tool in config["tools"]] == ["lookup_order"]
    (call,) = emulator_state.requests_for("get_config")
    assert call.body == {"key": "support-triage", "inputs": TRIAGE_INPUTS, "stream": False}  # as the SDK sends it


async def test_invoke_streams_text_as_progress(
    client: Client, emulator: EmulatorThread, emulator_state: EmulatorState
) -> None:
    emulator_state.chunk_delay = WATCHED_CHUNK_DELAY
    arguments = {
        "key": "faq-assistant",
        "messages": [{"role": "user", "content": FAQ_QUESTION}],
        "metadata": {"ticket": "T-1"},
    }
    await invoke_and_check_progress(client, emulator, arguments)
    (stream,) = emulator_state.requests_for("stream")
    assert stream.api_key == API_KEY
    assert stream.body["messages"] == arguments["messages"]
    assert stream.body["metadata"] == {"ticket": "T-1"}
    assert stream.disconnected_at is None


async def test_invoke_returns_tool_calls(client: Client, emulator_state: EmulatorState) -> None:
    inputs = {**TRIAGE_INPUTS, "ticket_body": "Where is order NL-20391?"}
    result = await client.call_tool("invoke_deployment", {"key": "support-triage", "inputs": inputs})
    reply = ok(result)
    assert reply["finish_reason"] == "tool_calls"
    (call,) = reply["tool_calls"]
    assert call["name"] == "lookup_order"
    assert call["arguments"] == {"order_number": "NL-20391"}
    assert "lookup_order" in text_of(result)


async def test_unknown_deployment_is_a_tool_error_and_the_connection_survives(
    client: Client, emulator_state: EmulatorState
) -> None:
    for tool in ("invoke_deployment", "get_deployment_config"):
        result = await client.call_tool(tool, {"key": "support-triag"})
        assert result.is_error
        text = text_of(result)
        assert "'support-triag'" in text
        assert "list_deployments" in text
        assert "'support-triage'" in text  # the "did you mean" suggestion
    result = await client.call_tool("invoke_deployment", {"key": "no-such-deployment-anywhere"})
    assert result.is_error
    assert "'no-such-deployment-anywhere'" in text_of(result)
    assert "list_deployments" in text_of(result)

    page = ok(await client.call_tool("list_deployments", {"limit": 50}))
    assert len(page["deployments"]) == len(SAMPLE_DEPLOYMENTS)


async def test_resources_expose_each_prompt_config(client: Client, emulator_state: EmulatorState) -> None:
    listed = await client.list_resources()
    assert listed.next_cursor is None
    by_key = {d["key"]: d for d in SAMPLE_DEPLOYMENTS}
    uris = [str(resource.uri) for resource in listed.resources]
    assert sorted(uris) == sorted(f"orq://deployments/{key}/prompt_config" for key in by_key)
    for resource in listed.resources:
        assert resource.mime_type == "application/json"
    for key, deployment in by_key.items():
        read = await client.read_resource(f"orq://deployments/{key}/prompt_config")
        (contents,) = read.contents
        assert isinstance(contents, TextResourceContents)
        assert json.loads(contents.text) == deployment["prompt_config"], key
    with pytest.raises(MCPError) as unknown:
        await client.read_resource("orq://deployments/support-triag/prompt_config")
    assert unknown.value.code == INVALID_PARAMS
    assert "'support-triag'" in unknown.value.message


async def test_cancelling_an_invocation_closes_the_upstream_stream(
    client: Client, emulator_state: EmulatorState
) -> None:
    await cancel_mid_stream(client, emulator_state)


async def test_legacy_handshake_streams_progress_and_cancels(
    server: Server, emulator: EmulatorThread, emulator_state: EmulatorState
) -> None:
    async with Client(server.connect(), mode="legacy") as legacy:
        assert legacy.protocol_version == "2025-11-25"
        emulator_state.chunk_delay = WATCHED_CHUNK_DELAY
        arguments = {"key": "support-triage", "inputs": TRIAGE_INPUTS}
        await invoke_and_check_progress(legacy, emulator, arguments)
        emulator_state.clear_log()
        await cancel_mid_stream(legacy, emulator_state)


async def test_the_server_logged_no_traceback_and_no_key(client: Client, server: Server) -> None:
    # Runs last for each transport: everything above (cancellations included) went through this server.
    log = server.stderr()
    assert "orq-mcp" in log  # the startup line: this is the right file
    assert "Traceback" not in log, log
    assert API_KEY not in log
