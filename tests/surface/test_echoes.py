"""Issue 15, item 4: error answers quote what the client sent; a megabyte sent must not come back, nor stall anyone.

A 1 MB URI came back twice in the `resources/read` error (message and data): 2 MB to scrub at about 1 s per MB on
the event loop, 2.4 s per request, `/healthz` blocked as long. Now every echo is cut to a few hundred characters
(at most MAX_ERROR_TEXT for the SDK's own messages) and scrubbing is linear and cheap (bench/scrub.py). Through a
real client against the real server, at default settings.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from orq_mcp.sandbox import EmulatorThread
from orq_mcp.surface.edge import MAX_ERROR_TEXT
from orq_mcp.surface.tool_errors import MAX_QUOTED
from tests.conftest import API_KEY
from tests.helpers import error_text
from tests.processes import HttpServer
from tests.serving.test_caller_keys import FAST, HEALTH_STALL, health_watched

MEGABYTE = 1_000_000
# A 2026-07-28 client repeats a tool's, resource's or prompt's name in an `Mcp-Name` header, and the server reads
# 16 KiB of headers at most: there the names are as long as a header allows, the argument still a megabyte.
HEADER_SIZED = 10_000


@pytest.fixture
def server(emulator: EmulatorThread, tmp_path: Path) -> Iterator[HttpServer]:
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url}
    started = HttpServer.start("http", env, tmp_path).ready()
    try:
        yield started
    finally:
        started.stop()


@pytest.mark.parametrize("mode", ["legacy", "auto"], ids=["handshake-era", "2026-07-28"])
async def test_a_megabyte_sent_is_not_a_megabyte_answered(server: HttpServer, mode: str) -> None:
    answers: dict[str, tuple[str, float]] = {}
    named = MEGABYTE if mode == "legacy" else HEADER_SIZED
    async with Client(server.url, mode=mode) as client, health_watched(server) as health:
        for name in ("resource", "tool", "argument", "prompt"):
            started = time.monotonic()
            try:
                if name == "resource":
                    await client.read_resource("orq://deployments/" + "r" * named + "/prompt_config")
                elif name == "tool":
                    answer = error_text(await client.call_tool("t" * named, {}))
                elif name == "argument":
                    answer = error_text(await client.call_tool("list_deployments", {"a" * MEGABYTE: 1}))
                else:
                    await client.get_prompt("p" * named, {})
            except MCPError as exc:
                answer = exc.error.model_dump_json()
            answers[name] = (answer, time.monotonic() - started)
    for name, (answer, took) in answers.items():
        assert len(answer) < 2 * MAX_ERROR_TEXT + 200, f"{name}: {len(answer):,} characters answered"
        assert name[0] * 50 in answer, f"{name}: the answer should still show what was sent"
        # Ours quote MAX_QUOTED characters; the SDK's "Unknown resource" is cut to MAX_ERROR_TEXT (message and data).
        quoted = answer.count(name[0] * 10) * 10
        assert quoted <= (2 * MAX_ERROR_TEXT if name == "resource" else MAX_QUOTED), f"{name}: {quoted} quoted"
        assert "characters cut" in answer
        assert took < FAST, f"{name}: answered in {took:.1f} s"
    assert health.worst < HEALTH_STALL, f"/healthz waited {health.worst:.2f} s"
