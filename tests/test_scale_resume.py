"""Resumable streams: a handshake-era client drops its connection mid-generation and resumes with Last-Event-ID.

Driven over raw HTTP against a real `python -m orq_mcp --transport http` process, because the point is the wire:
which events arrive on which connection, with which ids.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest

from orq_mcp.sandbox import EmulatorState, EmulatorThread
from tests.conftest import API_KEY
from tests.processes import HttpServer, loopback_http_client

pytestmark = pytest.mark.asyncio(loop_scope="module")

VERSION = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
CHUNK_DELAY = 0.03  # the reply (~50 chunks) streams for over a second: room to drop and resume mid-way
QUESTION = "How long does shipping to Germany take, and can I return a bike after a test ride?"


@dataclass(frozen=True)
class Sse:
    id: str | None
    data: str
    retry: int | None


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[Sse]:
    event_id, data, retry = None, [], None
    async for line in lines:
        if line == "":
            if event_id is not None or data:
                yield Sse(event_id, "\n".join(data), retry)
            event_id, data, retry = None, [], None
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            event_id = value
        elif name == "data":
            data.append(value)
        elif name == "retry":
            retry = int(value)


@pytest.fixture(scope="module")
def server(emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url, "ORQ_MCP_PROGRESS_INTERVAL": "0.02"}
    started = HttpServer.start("http", env, tmp_path_factory.mktemp("orq-mcp-resume"))
    try:
        yield started.ready()
    finally:
        started.stop()


class Session:
    """One handshake-era MCP session spoken by hand."""

    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url
        self.id = ""

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Accept": ACCEPT, "MCP-Protocol-Version": VERSION, "Mcp-Session-Id": self.id, **extra}

    async def open(self) -> None:
        params = {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "resume-test", "version": "1"}}
        message = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
        response = await self.http.post(self.url, json=message, headers={"Accept": ACCEPT})
        assert response.status_code == 200, response.text
        self.id = response.headers["mcp-session-id"]
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await self.http.post(self.url, json=initialized, headers=self.headers())).status_code == 202


def invoke(request_id: int) -> dict[str, Any]:
    arguments = {"key": "faq-assistant", "messages": [{"role": "user", "content": QUESTION}]}
    params = {"name": "invoke_deployment", "arguments": arguments, "_meta": {"progressToken": "p"}}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def messages(events: list[Sse]) -> list[dict[str, Any]]:
    return [json.loads(e.data) for e in events if e.data]


async def test_a_dropped_client_resumes_and_gets_every_progress_piece_once(
    server: HttpServer, emulator_state: EmulatorState
) -> None:
    emulator_state.chunk_delay = CHUNK_DELAY
    async with loopback_http_client() as http:
        session = Session(http, server.url)
        await session.open()
        before: list[Sse] = []
        with anyio.fail_after(20):
            async with http.stream("POST", server.url, json=invoke(2), headers=session.headers()) as response:
                assert response.status_code == 200
                async for event in sse_events(response.aiter_lines()):
                    before.append(event)
                    if sum(1 for e in before if e.data) >= 3:
                        break  # leaving the block drops the connection mid-generation
        priming = before[0]
        # The SSE priming event: an id and no data, with a `retry:` field telling the client when to reconnect.
        assert priming.data == ""
        assert priming.id
        assert priming.retry is not None
        assert all(e.id for e in before)

        after: list[Sse] = []
        resume = session.headers(**{"Last-Event-ID": before[-1].id or ""})
        with anyio.fail_after(20):
            async with http.stream("GET", server.url, headers=resume) as response:
                assert response.status_code == 200
                async for event in sse_events(response.aiter_lines()):
                    after.append(event)
                    if any(m.get("id") == 2 for m in messages([event])):
                        break

    received = messages(before) + messages(after)
    progress = [m["params"] for m in received if m.get("method") == "notifications/progress"]
    result = next(m["result"] for m in received if m.get("id") == 2)
    text = result["structuredContent"]["text"]
    values = [p["progress"] for p in progress]
    assert all(later > earlier for earlier, later in itertools.pairwise(values)), values  # none twice
    assert "".join(p["message"] for p in progress) == text  # none missing
    assert len(messages(after)) >= 2  # the drop happened mid-way: some pieces came only after resuming


async def test_another_session_cannot_resume_someone_elses_stream(
    server: HttpServer, emulator_state: EmulatorState
) -> None:
    emulator_state.chunk_delay = 0.002
    async with loopback_http_client() as http:
        owner, intruder = Session(http, server.url), Session(http, server.url)
        await owner.open()
        await intruder.open()
        with anyio.fail_after(20):
            async with http.stream("POST", server.url, json=invoke(2), headers=owner.headers()) as response:
                first = [e async for e in sse_events(response.aiter_lines())]
        assert any(m.get("id") == 2 for m in messages(first))
        # The intruder's request ids are the same ("2"); the owner's first event id must still replay nothing.
        resume = intruder.headers(**{"Last-Event-ID": first[0].id or ""})
        with anyio.fail_after(10):
            async with http.stream("GET", server.url, headers=resume) as response:
                replayed = [e async for e in sse_events(response.aiter_lines())]
        assert messages(replayed) == []
    assert "Traceback" not in server.stderr()
    assert API_KEY not in server.stderr()
