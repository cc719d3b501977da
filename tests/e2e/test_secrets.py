"""The orq API key never leaves the server: not in results, errors, progress, resources, logs or stdout.

The server runs as a real process (stdio and Streamable HTTP) with debug logging on, against the emulator, which is
told to fail in every way it can, often with error bodies and headers that echo the key back. Everything the server
sends or logs is collected and searched for the canary key, and for its middle (a cut-off key is still a leak).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent

from orq_mcp.sandbox import EmulatorState, EmulatorThread, Fault
from orq_mcp.sandbox.data import SAMPLE_DEPLOYMENTS
from tests.conftest import API_KEY
from tests.processes import HttpServer, read_log, server_env

MIDDLE = API_KEY[len(API_KEY) // 2 - 6 : len(API_KEY) // 2 + 6]
# Any 12 consecutive characters of the key count as a leak (a cut-off key is still a key); the middle is one of them.
FRAGMENTS = [API_KEY, *(API_KEY[i : i + 12] for i in range(len(API_KEY) - 11))]
STATUSES = [400, 401, 403, 404, 422, 429, 500, 502, 503]
ECHO_HEADERS = {"x-request-key": API_KEY, "www-authenticate": f'Bearer realm="orq", key="{API_KEY}"'}
TRIAGE_INPUTS = {
    "company_name": "Acme Bikes",
    "language": "English",
    "customer_name": "Priya",
    "ticket_body": "My bike has not arrived.",
}
FAQ = {"key": "faq-assistant", "messages": [{"role": "user", "content": "Do you ship to Norway?"}]}
PROMPT_CONFIG = "orq://deployments/{}/prompt_config"


def echo_body(status: int, variant: int) -> Any:
    """An error body that quotes the key, in one of the shapes orq uses (and one it should not)."""
    bodies: list[Any] = [
        {"message": f"Invalid API key {API_KEY}"},
        {"error": {"code": "echo", "message": f"Rejected Authorization: Bearer {API_KEY}", "doc_url": "x"}},
        {"id": "0f3e", "code": status, "error": f"key {API_KEY} may not do this", "source": "system"},
        f"plain text: the key {API_KEY} was refused",
    ]
    return bodies[variant % len(bodies)]


def assert_clean(where: str, text: str) -> None:
    assert MIDDLE in FRAGMENTS
    for needle in FRAGMENTS:
        at = text.find(needle)
        assert at < 0, f"{where} leaks the key: ...{text[max(0, at - 80) : at + 80]}..."


# Servers ------------------------------------------------------------------------------------------------------------


@dataclass
class Served:
    """A server process with debug logging and where its stdout and stderr went."""

    transport: str
    connect: Callable[[], Any]
    stderr_path: Path
    stdout_path: Path


# What the servers run with beyond the key and the emulator.
SETTINGS = {
    "ORQ_MAX_RETRIES": "0",  # each failure is reported at once: fast, and one upstream request per call
    "ORQ_TIMEOUT": "1",  # makes a hung orq cheap to test
    "ORQ_MCP_CACHE_TTL": "0",  # where the server caches the deployment list, every resource read goes to orq
}


@pytest.fixture(scope="module")
def http_server(emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    """The HTTP server, started with the module so that it boots while the stdio test runs."""
    server = HttpServer.start(
        "http", server_env(emulator.base_url, **SETTINGS), tmp_path_factory.mktemp("http"), args=["-v"]
    )
    try:
        yield server
    finally:
        server.stop()
    # What it logged while shutting down counts too.
    assert_clean("http server stderr", server.stderr())
    assert_clean("http server stdout", server.stdout())


@pytest.fixture(params=["stdio", "http"])
def served(
    request: pytest.FixtureRequest,
    emulator: EmulatorThread,
    http_server: HttpServer,
    tmp_path: Path,
) -> Iterator[Served]:
    if request.param == "stdio":
        stderr_path, stdout_path = tmp_path / "stderr.log", tmp_path / "stdout.log"
        # A copy of the server's stdout goes to a file through tee; the client reads the protocol as usual.
        params = StdioServerParameters(
            command="/bin/sh",
            args=["-c", '"$0" -m orq_mcp -v | tee "$1"', sys.executable, str(stdout_path)],
            env=server_env(emulator.base_url, **SETTINGS),
        )
        with stderr_path.open("w") as errlog:
            yield Served("stdio", lambda: stdio_client(params, errlog=errlog), stderr_path, stdout_path)
        return
    http_server.ready()
    yield Served("http", lambda: http_server.url, http_server.stderr_path, http_server.log_dir / "stdout.log")


# Collecting everything the server says ------------------------------------------------------------------------------


@dataclass
class Recorder:
    """Calls the server and keeps every answer (results, errors, progress messages) as text."""

    client: Client
    outputs: list[tuple[str, str]] = field(default_factory=list)

    def keep(self, what: str, text: str) -> None:
        self.outputs.append((what, text))

    async def tool(self, name: str, arguments: dict[str, Any]) -> CallToolResult | None:
        async def progress(value: float, total: float | None, message: str | None) -> None:
            self.keep(f"progress of {name}", json.dumps([value, total, message]))

        try:
            result = await self.client.call_tool(name, arguments, progress_callback=progress)
        except MCPError as exc:
            self.keep(f"{name} error", f"{exc} {exc.error.model_dump_json()}")
            return None
        self.keep(f"{name}({arguments})", result.model_dump_json())
        return result

    async def failing_tool(self, name: str, arguments: dict[str, Any]) -> str:
        result = await self.tool(name, arguments)
        assert result is not None
        assert result.is_error, (name, arguments, result)
        block = result.content[0]
        assert isinstance(block, TextContent)
        return block.text

    async def list_resources(self) -> None:
        try:
            listed = await self.client.list_resources(cache_mode="bypass")
        except MCPError as exc:
            self.keep("resources/list error", f"{exc} {exc.error.model_dump_json()}")
        else:
            self.keep("resources/list", listed.model_dump_json())

    async def read_resource(self, uri: str) -> None:
        try:
            read = await self.client.read_resource(uri)
        except MCPError as exc:
            self.keep(f"read {uri} error", f"{exc} {exc.error.model_dump_json()}")
        else:
            self.keep(f"read {uri}", read.model_dump_json())


async def exercise(rec: Recorder, state: EmulatorState, *, hang: bool) -> None:
    """Every tool and resource: failing upstream in every way, on the happy path, and with bad input."""
    triage_uri = PROMPT_CONFIG.format("support-triage")

    # Resources failing: each status in turn on the deployment list they are built from.
    for i, status in enumerate(STATUSES):
        state.clear_faults()
        body = echo_body(status, i)
        state.add_fault(Fault("list_deployments", "status", times=-1, status=status, body=body, headers=ECHO_HEADERS))
        for operation in (rec.list_resources, lambda: rec.read_resource(triage_uri)):
            before = len(state.requests_for("list_deployments"))
            await operation()
            assert len(state.requests_for("list_deployments")) > before, "a resource call did not reach orq"
    state.clear_faults()

    # The happy path.
    cursor = None
    for _ in range(5):
        page = await rec.tool("list_deployments", {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor})
        assert page is not None
        assert page.structured_content is not None
        cursor = page.structured_content["next_cursor"]
        if cursor is None:
            break
    await rec.tool("list_prompts", {"limit": 2})
    await rec.tool("get_deployment_config", {"key": "support-triage", "inputs": TRIAGE_INPUTS})
    reply = await rec.tool("invoke_deployment", FAQ)
    assert reply is not None
    assert not reply.is_error
    order = {**TRIAGE_INPUTS, "ticket_body": "Where is order NL-20391?"}
    asked = await rec.tool("invoke_deployment", {"key": "support-triage", "inputs": order})
    assert asked is not None
    assert asked.structured_content is not None
    (call,) = asked.structured_content["tool_calls"]
    followup = [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": '{"status": "shipped"}'},
    ]
    await rec.tool("invoke_deployment", {"key": "support-triage", "inputs": order, "messages": followup})
    await rec.list_resources()
    for deployment in SAMPLE_DEPLOYMENTS:
        await rec.read_resource(PROMPT_CONFIG.format(deployment["key"]))

    # Every status on every route, with the key echoed in the body and the headers.
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("list_deployments", "list_deployments", {"limit": 5}),
        ("list_deployments", "list_deployments", {"cursor": SAMPLE_DEPLOYMENTS[0]["id"]}),
        ("get_config", "get_deployment_config", {"key": "support-triage", "inputs": TRIAGE_INPUTS}),
        ("stream", "invoke_deployment", FAQ),
        ("list_prompts", "list_prompts", {}),
    ]
    for i, status in enumerate(STATUSES):
        for j, (route, tool, arguments) in enumerate(calls):
            body = echo_body(status, i + j)
            # Until cleared, so that no other request of the server's (a cache refresh, say) can take it instead.
            state.add_fault(Fault(route, "status", times=-1, status=status, body=body, headers=ECHO_HEADERS))
            await rec.failing_tool(tool, arguments)
            state.clear_faults()

    # Broken streams and bodies, and an orq that never answers.
    for kind in ("error_event", "disconnect_mid_stream", "malformed_chunk"):
        state.add_fault(Fault("stream", kind, after_chunks=3))
        await rec.failing_tool("invoke_deployment", FAQ)
    for route, tool, arguments in calls[2:4]:
        state.add_fault(Fault(route, "non_json_body", headers=ECHO_HEADERS))
        await rec.failing_tool(tool, arguments)
    if hang:  # one transport is enough for this slow one (it waits out ORQ_TIMEOUT)
        state.add_fault(Fault("get_config", "hang"))
        await rec.failing_tool("get_deployment_config", {"key": "faq-assistant"})
    assert not state.pending_faults, "a fault was never met"

    # Unknown names.
    await rec.failing_tool("invoke_deployment", {"key": "support-triag"})
    await rec.failing_tool("get_deployment_config", {"key": "no-such-deployment"})
    await rec.read_resource(PROMPT_CONFIG.format("no-such-deployment"))
    await rec.failing_tool("delete_all_deployments", {})

    # Bad arguments.
    for tool, arguments in [
        ("list_deployments", {"limit": 0}),
        ("list_deployments", {"limit": "many"}),
        ("list_deployments", {"cursor": "not-a-deployment-id"}),
        ("list_deployments", {"api_key": "guess"}),
        ("list_prompts", {"cursor": "x" * 300}),
        ("get_deployment_config", {}),
        ("invoke_deployment", {"key": ""}),
        ("invoke_deployment", {"key": "faq-assistant", "inputs": "not-an-object"}),
        ("invoke_deployment", {"key": "faq-assistant", "messages": [{"role": "robot", "content": "hi"}]}),
        ("invoke_deployment", {"key": "support-triage", "context": {"environments": "nowhere"}}),
    ]:
        await rec.failing_tool(tool, arguments)


def jsonrpc_lines(text: str) -> list[dict[str, Any]]:
    messages = []
    for line in text.splitlines():
        message = json.loads(line)  # a non-JSON line on stdout would corrupt the protocol
        assert isinstance(message, dict)
        assert message.get("jsonrpc") == "2.0", line
        messages.append(message)
    return messages


# Tests --------------------------------------------------------------------------------------------------------------


async def test_the_key_never_leaves_the_server(served: Served, emulator_state: EmulatorState) -> None:
    async with Client(served.connect()) as client:
        rec = Recorder(client)
        await exercise(rec, emulator_state, hang=served.transport == "stdio")

    # The key really was in play: orq got it on every request, and echoed it into what the server read.
    requests = emulator_state.requests
    assert len(requests) > 60
    assert {r.api_key for r in requests} == {API_KEY}
    assert any("[redacted]" in text for _, text in rec.outputs), "no echoed key reached a result"

    for what, text in rec.outputs:
        assert_clean(what, text)
    stderr = read_log(served.stderr_path)
    assert " DEBUG " in stderr  # -v was on: the most talkative logging is what was checked
    assert_clean("stderr", stderr)
    stdout = read_log(served.stdout_path)
    assert_clean("stdout", stdout)
    if served.transport == "stdio":
        # stdout is the protocol, and only the protocol (the progress notifications included).
        messages = jsonrpc_lines(stdout)
        assert any(m.get("method") == "notifications/progress" for m in messages)
    else:
        assert stdout == ""


# Leaks found and fixed ----------------------------------------------------------------------------------------------


async def test_streamed_text_is_scrubbed_like_the_result(served: Served, emulator_state: EmulatorState) -> None:
    pieces: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        pieces.append(message or "")

    # The emulated model quotes the user's message back, so its reply contains the key.
    question = f"Why does my integration send {API_KEY} to you?"
    async with Client(served.connect()) as client:
        result = await client.call_tool(
            "invoke_deployment",
            {"key": "faq-assistant", "messages": [{"role": "user", "content": question}]},
            progress_callback=on_progress,
        )
    assert not result.is_error
    assert result.structured_content is not None
    assert "[redacted]" in result.structured_content["text"]  # the result is scrubbed...
    assert_clean("result", result.model_dump_json())
    assert pieces
    assert_clean("progress messages", "".join(pieces))  # ...and the same text streamed live must be too


async def test_a_piece_ending_in_key_characters_reaches_the_client_with_its_piece(
    served: Served, emulator_state: EmulatorState
) -> None:
    """Issue 18: no streamed piece waits for the next. A piece ending in what could begin the key (9 characters:
    ordinary text by the rule) goes out with its piece; the piece that makes it a run of 12 is replaced, and what
    the client saw never holds 12 of the key's characters in a row. The result replaces the run whole."""
    pieces = ("Your key starts ", API_KEY[:9], API_KEY[9:] + " and ends.", " Bye.")
    emulator_state.chunk_delay = 0.5  # far apart: each piece is its own notification on a busy machine too
    emulator_state.add_fault(Fault("stream", "scripted_deltas", pieces=pieces))
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")

    async with Client(served.connect()) as client:
        result = await client.call_tool("invoke_deployment", FAQ, progress_callback=on_progress)
    streamed = "".join(messages)
    assert streamed == f"Your key starts {API_KEY[:9]}[redacted] and ends. Bye."
    assert_clean("progress messages", streamed)
    # The key's first characters went out with their piece, half a second before the piece that followed.
    assert any(message.endswith(API_KEY[:9]) for message in messages), messages
    assert result.structured_content is not None
    assert result.structured_content["text"] == "Your key starts [redacted] and ends. Bye."


async def test_a_long_echo_cut_inside_the_key_leaks_none_of_it(client: Client, emulator_state: EmulatorState) -> None:
    body = {"message": "Request rejected. " + "Details follow. " * 15 + f"Offending key: {API_KEY}"}
    start = body["message"].index(API_KEY)
    assert start < 300 - 21 < start + len(API_KEY)  # the 300-character cut falls inside the key, after its middle
    emulator_state.add_fault(Fault("get_config", "status", status=401, body=body))
    result = await client.call_tool("get_deployment_config", {"key": "faq-assistant"})
    assert result.is_error
    assert_clean("error result", result.model_dump_json())


async def test_the_key_in_a_clients_input_is_not_echoed_back(served: Served, emulator_state: EmulatorState) -> None:
    """Error answers quote what the client sent (a name, a key, an unknown argument): the exit scrubs those too."""
    async with Client(served.connect()) as client:
        rec = Recorder(client)
        await rec.failing_tool("invoke_deployment", {"key": API_KEY})
        await rec.failing_tool("get_deployment_config", {"key": f"x-{API_KEY}"})
        await rec.failing_tool("list_deployments", {API_KEY: 1})
        await rec.failing_tool("list_deployments", {"cursor": API_KEY})
        await rec.failing_tool(f"tool-{API_KEY}", {})
        await rec.read_resource(PROMPT_CONFIG.format(API_KEY))
        try:
            await client.get_prompt(f"prompt-{API_KEY}", {})
        except MCPError as exc:
            rec.keep("prompts/get error", f"{exc} {exc.error.model_dump_json()}")
    assert len(rec.outputs) == 7
    assert sum("[redacted]" in text for _, text in rec.outputs) >= 5
    for what, text in rec.outputs:
        assert_clean(what, text)
