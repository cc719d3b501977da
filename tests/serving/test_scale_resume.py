"""Resumable streams: a handshake-era client drops its connection mid-generation and resumes with Last-Event-ID.

Driven over raw HTTP against a real `python -m orq_mcp --transport http` process, because the point is the wire:
which events arrive on which connection, with which ids.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

from orq_mcp.sandbox import EmulatorState, EmulatorThread
from tests.conftest import API_KEY
from tests.mcp_wire import Session, assert_every_piece_once, call_and_drop, invoke, messages, resume, sse_events
from tests.processes import HttpServer, loopback_http_client

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHUNK_DELAY = 0.03  # the reply (~50 chunks) streams for over a second: room to drop and resume mid-way


@pytest.fixture(scope="module")
def server(emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url, "ORQ_MCP_PROGRESS_INTERVAL": "0.02"}
    started = HttpServer.start("http", env, tmp_path_factory.mktemp("orq-mcp-resume"))
    try:
        yield started.ready()
    finally:
        started.stop()


async def test_a_dropped_client_resumes_and_gets_every_progress_piece_once(
    server: HttpServer, emulator_state: EmulatorState
) -> None:
    emulator_state.chunk_delay = CHUNK_DELAY
    async with loopback_http_client() as http:
        session = Session(http, server.url)
        await session.open()
        with anyio.fail_after(20):
            before = await call_and_drop(session, 2, after_messages=3)
        priming = before[0]
        # The SSE priming event: an id and no data, with a `retry:` field telling the client when to reconnect.
        assert priming.data == ""
        assert priming.id
        assert priming.retry is not None
        assert all(e.id for e in before)

        with anyio.fail_after(20):
            after = await resume(session, server.url, before[-1].id or "", 2)
    assert_every_piece_once(before, after, 2)


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
