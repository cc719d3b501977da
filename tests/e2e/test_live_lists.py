"""Across real processes: per-deployment tools, MCP prompts and live change notifications."""

from __future__ import annotations

import copy
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from orq_mcp.sandbox import EmulatorState, EmulatorThread
from tests.conftest import API_KEY, held_open
from tests.helpers import wait_until
from tests.processes import HttpServer, loopback_http_client, server_env
from tests.serving.test_protocol_abuse import (
    ENVELOPE,
    INITIALIZE,
    LEGACY_HEADERS,
    LEGACY_VERSION,
    MODERN_VERSION,
    messages_in,
    modern_headers,
)

TICKET = {"company_name": "Acme Bikes", "language": "English", "customer_name": "Priya", "ticket_body": "Hi"}
NEW_KEY = "returns-helper"


SETTINGS = {"ORQ_EXPOSE": "all", "ORQ_MCP_CACHE_TTL": "1"}


@pytest.fixture
def stdio_params(emulator: EmulatorThread, emulator_state: EmulatorState) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "orq_mcp"], env=server_env(emulator.base_url, **SETTINGS)
    )


@pytest.fixture
def http_server(emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path) -> Iterator[HttpServer]:
    server = HttpServer.start("http", server_env(emulator.base_url, **SETTINGS), tmp_path)
    try:
        yield server.ready()
    finally:
        server.stop()


@pytest.fixture
def added_deployment(emulator_state: EmulatorState) -> Iterator[Any]:
    """`await add()` adds a deployment to the workspace once the server has refreshed its lists since what the test
    listed; the deployment is removed afterwards.

    Waiting for that refetch makes each test see a refresh that compares two fetched lists; the first refresh, which
    compares with what clients were shown before it, is held to announcing too in tests/surface/test_live_refresh.py.
    """
    workspace = emulator_state.workspace_for(API_KEY)
    assert workspace is not None
    added: list[dict[str, Any]] = []

    async def add() -> None:
        listed = emulator_state.last_request("list_deployments")
        assert await wait_until(lambda: emulator_state.last_request("list_deployments") is not listed, within=30), (
            "the server did not fetch the deployments again"
        )
        deployment = copy.deepcopy(next(d for d in workspace.deployments if d["key"] == "faq-assistant"))
        deployment.update(key=NEW_KEY, id="5f0c0e1e-0000-4000-8000-0000000000e2", created="2026-11-01T00:00:00.000Z")
        workspace.deployments.append(deployment)
        added.append(deployment)

    yield add
    for deployment in added:
        workspace.deployments.remove(deployment)


@pytest.fixture
async def stdio_client_legacy(stdio_params: StdioServerParameters, tmp_path: Path) -> AsyncIterator[Any]:
    """A handshake-era client over stdio that records the notifications it is sent."""
    seen: list[str] = []
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        method = getattr(getattr(message, "root", message), "method", None)
        if method:
            seen.append(method)
        if {"notifications/tools/list_changed", "notifications/resources/list_changed"} <= set(seen):
            changed.set()

    with (tmp_path / "stderr.log").open("w") as errlog:
        client = Client(stdio_client(stdio_params, errlog=errlog), mode="legacy", message_handler=on_message)
        async with held_open(client) as connected:
            yield connected, seen, changed


async def test_exposed_tool_and_prompts_over_stdio(stdio_client_legacy: Any, emulator_state: EmulatorState) -> None:
    client, _, _ = stdio_client_legacy
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert tools["support_triage"].input_schema["required"] == list(TICKET)
    pieces: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        pieces.append(message or "")

    result = await client.call_tool("support_triage", TICKET, progress_callback=on_progress)
    assert not result.is_error
    assert "".join(pieces) == result.structured_content["text"]
    assert emulator_state.requests_for("stream")[-1].body["inputs"] == TICKET
    refused = await client.call_tool("support_triage", {"company_name": "Acme"})
    assert refused.is_error
    assert "orq was not called" in refused.content[0].text

    prompts = {p.name for p in (await client.list_prompts()).prompts}
    assert "ticket-summariser" in prompts
    rendered = await client.get_prompt("ticket-summariser", {"product_line": "e-bikes", "ticket_body": "It rattles"})
    assert rendered.messages[-1].content.text == "It rattles"


async def test_a_new_deployment_is_announced_over_stdio(stdio_client_legacy: Any, added_deployment: Any) -> None:
    client, _, changed = stdio_client_legacy
    before = {t.name for t in (await client.list_tools()).tools}
    await added_deployment()
    with anyio.fail_after(15):
        await changed.wait()  # both tools/list_changed and resources/list_changed arrived
    after = {t.name for t in (await client.list_tools()).tools}
    assert after == before | {"returns_helper"}
    assert not (await client.call_tool("returns_helper", {})).is_error


async def test_a_new_deployment_is_announced_to_2026_listeners_over_http(
    http_server: HttpServer, added_deployment: Any
) -> None:
    async with held_open(Client(http_server.url)) as client:
        assert client.protocol_version == "2026-07-28"
        await client.list_tools()
        async with client.listen(tools_list_changed=True, resources_list_changed=True) as subscription:
            await added_deployment()
            kinds: set[str] = set()
            with anyio.fail_after(15):
                async for event in subscription:
                    kinds.add(type(event).__name__)
                    if {"ToolsListChanged", "ResourcesListChanged"} <= kinds:
                        break
        assert "returns_helper" in {t.name for t in (await client.list_tools()).tools}


# Cache hints (2026-07-28): list results say how long a client may reuse them ------------------------------------

CACHED_LISTS = {
    "tools/list": {},
    "resources/list": {},
    "resources/templates/list": {},
    "prompts/list": {},
    "resources/read": {"uri": "orq://deployments/faq-assistant/prompt_config"},
}


async def answers(url: str, version: str) -> dict[str, dict[str, Any]]:
    """Each cached list's raw result, asked at protocol `version` over HTTP (a session opened first when needed)."""
    results: dict[str, dict[str, Any]] = {}
    async with loopback_http_client(timeout=20) as http:
        session: dict[str, str] = {}
        if version != MODERN_VERSION:
            opened = await http.post(
                url, json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INITIALIZE}
            )
            session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": version}
            await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session)
        for i, (method, params) in enumerate(CACHED_LISTS.items(), start=1):
            if version == MODERN_VERSION:
                body = {"jsonrpc": "2.0", "id": i, "method": method, "params": {**params, "_meta": ENVELOPE}}
                headers = modern_headers(method, params.get("uri"))
            else:
                body = {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
                headers = {**LEGACY_HEADERS, **session}
            (message,) = messages_in(await http.post(url, json=body, headers=headers))
            assert "result" in message, message
            results[method] = message["result"]
    return results


@pytest.mark.parametrize(("cache_ttl", "ttl_ms"), [(None, 60_000), ("0", 0), ("2.5", 2_500)])
async def test_list_results_carry_the_cache_ttl_as_their_freshness_hint(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path, cache_ttl: str | None, ttl_ms: int
) -> None:
    """At its default (60 s) the lists may be reused for a minute, as the server itself reuses them; a client that
    listens hears of a change sooner (list_changed). Handshake-era results carry no hint: that era has none."""
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url, "ORQ_EXPOSE": "all"}
    if cache_ttl is not None:
        env["ORQ_MCP_CACHE_TTL"] = cache_ttl
    server = HttpServer.start("http", env, tmp_path).ready()
    try:
        modern = await answers(server.url, MODERN_VERSION)
        legacy = await answers(server.url, LEGACY_VERSION)
    finally:
        server.stop()
    assert {method: result.get("ttlMs") for method, result in modern.items()} == dict.fromkeys(CACHED_LISTS, ttl_ms)
    assert {result.get("cacheScope") for result in modern.values()} == {"private"}  # workspace data, per caller
    assert {method: "ttlMs" in result for method, result in legacy.items()} == dict.fromkeys(CACHED_LISTS, False)
    assert "support_triage" in {tool["name"] for tool in modern["tools/list"]["tools"]}
