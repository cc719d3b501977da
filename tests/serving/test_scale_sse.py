"""Legacy SSE runs the server lifespan once per connection: the connections must still share one runtime.

One SSE server process, several SSE clients at once: the deployment list is fetched from orq once for all of
them (one cache), and one background refresher runs while any connection is open, handed over when the
connection that ran it closes, and stopped when the last one does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AsyncExitStack

import anyio
import pytest
from mcp import Client
from mcp.client.sse import sse_client

from orq_mcp.sandbox import EmulatorState, EmulatorThread
from tests.conftest import API_KEY, held_open
from tests.helpers import ok
from tests.processes import HttpServer, loopback_http_client

pytestmark = pytest.mark.asyncio(loop_scope="module")

CLIENTS = 3
REFRESH = 1  # seconds between background refreshes (ORQ_MCP_CACHE_TTL, at its floor)


def start(emulator: EmulatorThread, log_dir: object, cache_ttl: int) -> HttpServer:
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url, "ORQ_MCP_CACHE_TTL": str(cache_ttl)}
    # With an allow-list, list_deployments pages through the cached list (without, it passes orq's pages on).
    env["ORQ_DEPLOYMENTS"] = "faq-assistant,support-triage"
    return HttpServer.start("sse", env, log_dir).ready()  # type: ignore[arg-type]


@pytest.fixture
def server(emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    started = start(emulator, tmp_path_factory.mktemp("orq-mcp-sse-shared"), cache_ttl=60)
    try:
        yield started
    finally:
        started.stop()
    assert "Traceback" not in started.stderr()
    assert API_KEY not in started.stderr()


def connect(url: str) -> Client:
    return Client(sse_client(url, httpx_client_factory=loopback_http_client))


async def test_sse_connections_share_one_cache(server: HttpServer, emulator_state: EmulatorState) -> None:
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(connect(server.url)) for _ in range(CLIENTS)]
        with anyio.fail_after(30):
            first = ok(await clients[0].call_tool("list_deployments", {}))
            fetched = len(emulator_state.requests_for("list_deployments"))
            for client in clients[1:]:
                assert ok(await client.call_tool("list_deployments", {})) == first
    assert fetched >= 1
    assert len(emulator_state.requests_for("list_deployments")) == fetched  # the others were served from it


async def test_one_refresher_runs_while_any_connection_is_open(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = start(emulator, tmp_path_factory.mktemp("orq-mcp-sse-refresh"), cache_ttl=REFRESH)
    refreshes = lambda: len(emulator_state.requests_for("list_prompts"))  # noqa: E731 - every refresh lists prompts
    try:
        with anyio.fail_after(60):
            async with AsyncExitStack() as stack:
                first = await stack.enter_async_context(connect(server.url))
                for _ in range(CLIENTS - 1):
                    await stack.enter_async_context(connect(server.url))
                await first.list_tools()
                start_count = refreshes()
                await anyio.sleep(REFRESH * 4.5)
                # One refresher: about four refreshes, where one per connection would make about twelve.
                assert 2 <= refreshes() - start_count <= 6, refreshes() - start_count
            # Every connection is closed now: nothing refreshes any more.
            await anyio.sleep(REFRESH * 0.5)
            settled = refreshes()
            await anyio.sleep(REFRESH * 2.5)
            assert refreshes() == settled

            # The connection running the refresher closes while another stays open: that one takes over.
            # (Each client lives in a task of its own, so they can close in any order.)
            owner = held_open(connect(server.url))
            await (await owner.__aenter__()).list_tools()
            async with connect(server.url) as heir:
                await heir.list_tools()
                await owner.__aexit__(None, None, None)
                before = refreshes()
                await anyio.sleep(REFRESH * 2.5)
                assert refreshes() > before
                await heir.list_tools()  # and the shared runtime still serves it
    finally:
        server.stop()
    assert "Traceback" not in server.stderr()
