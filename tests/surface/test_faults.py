"""Issue #3's fault table: every upstream failure, through the MCP server, against orq on a real socket.

For each fault: the tool answers `isError` with a message that says what to do, text already
streamed is reported, the number of upstream requests matches the retry rules, and the next call
on the same server succeeds.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from mcp import Client

from orq_mcp.config.settings import Settings
from orq_mcp.orq.client import RetryPolicy
from orq_mcp.sandbox import EmulatorState, EmulatorThread, Fault
from tests.conftest import API_KEY, connected, held_open
from tests.helpers import text_of
from tests.processes import free_port

RETRY = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.02, max_retry_after=2.0)
# orq's silence that counts as stopped responding: short where a case is about that (a slow first byte), and
# long enough elsewhere that a loaded machine's pause mid-stream (0.5 s was seen in CI) is no false timeout.
SHORT_TIMEOUT, TIMEOUT = 0.5, 10.0
INVOKE = ("invoke_deployment", {"key": "faq-assistant"})
LIST = ("list_deployments", {})


@dataclass
class Case:
    fault: Fault
    call: tuple[str, dict]
    expected: str  # part of the message the agent reads
    requests: int  # upstream requests the call makes (retries included)
    partial: bool = False  # text was streamed before the failure and must be reported
    timeout: float = TIMEOUT  # connect, read and stream timeouts


CASES = {
    "400": Case(Fault("stream", "status", status=400), INVOKE, "Check the arguments", 1),
    "401": Case(Fault("stream", "status", status=401), INVOKE, "ORQ_API_KEY", 1),
    "403": Case(Fault("stream", "status", status=403), INVOKE, "use a key from the workspace", 1),
    "404": Case(Fault("stream", "status", status=404), INVOKE, "Call list_deployments", 1),
    "422": Case(Fault("stream", "status", status=422), INVOKE, "`context`", 1),
    "429 then ok": Case(Fault("stream", "status", status=429, retry_after=0), INVOKE, "", 2),
    "429 always": Case(
        Fault("stream", "status", status=429, retry_after=1, times=-1), INVOKE, "Retry after 1 second", 3
    ),
    "429 too long": Case(Fault("stream", "status", status=429, retry_after=90, times=-1), INVOKE, "Retry after 90", 1),
    "500 invoke": Case(Fault("stream", "status", status=500, times=-1), INVOKE, "retry in a few seconds", 1),
    "502 invoke": Case(Fault("stream", "status", status=502, times=-1), INVOKE, "retry in a few seconds", 1),
    "503 invoke": Case(Fault("stream", "status", status=503, times=-1), INVOKE, "retry in a few seconds", 1),
    "504 invoke": Case(Fault("stream", "status", status=504, times=-1), INVOKE, "retry in a few seconds", 1),
    "500 list": Case(Fault("list_deployments", "status", status=500, times=-1), LIST, "retry in a few seconds", 3),
    "502 list": Case(Fault("list_deployments", "status", status=502, times=-1), LIST, "retry in a few seconds", 3),
    "503 then ok": Case(Fault("list_deployments", "status", status=503, times=2), LIST, "", 3),
    "504 list": Case(Fault("list_deployments", "status", status=504, times=-1), LIST, "retry in a few seconds", 3),
    "slow first byte invoke": Case(
        Fault("stream", "slow_first_byte", delay=2.0),
        INVOKE,
        "stopped responding before the request timed out",
        1,
        timeout=SHORT_TIMEOUT,
    ),
    "slow first byte list": Case(
        Fault("list_deployments", "slow_first_byte", delay=2.0, times=-1),
        LIST,
        "stopped responding",
        3,
        timeout=SHORT_TIMEOUT,
    ),
    "cut mid-stream": Case(Fault("stream", "disconnect_mid_stream", after_chunks=4), INVOKE, "incomplete", 1, True),
    "error mid-stream": Case(Fault("stream", "error_event", after_chunks=4), INVOKE, "provider_error", 1, True),
    "malformed chunk": Case(Fault("stream", "malformed_chunk", after_chunks=4), INVOKE, "malformed", 1, True),
    "non-JSON body invoke": Case(Fault("stream", "non_json_body", status=502), INVOKE, "HTTP 502", 1),
    "non-JSON 200 list": Case(Fault("list_deployments", "non_json_body", status=200, times=-1), LIST, "not JSON", 1),
    "huge response": Case(Fault("stream", "huge_response", size=3_000_000), INVOKE, "grew past 200,000", 1, True),
}


@asynccontextmanager
async def connect(settings: Settings) -> AsyncIterator[Client]:
    async with held_open(connected(settings, RETRY, raise_exceptions=True)) as client:
        yield client


def with_timeouts(settings: Settings, timeout: float) -> Settings:
    timeouts = {"connect_timeout": timeout, "read_timeout": timeout, "stream_timeout": timeout}
    return settings.model_copy(update={**timeouts, "max_response_chars": 200_000})


@pytest.fixture
def fault_settings(settings: Settings) -> Settings:
    """For the faults below HTTP: a connection that never completes must time out quickly."""
    return with_timeouts(settings, SHORT_TIMEOUT)


@pytest.mark.parametrize("name", list(CASES))
async def test_upstream_fault(name: str, settings: Settings, emulator_state: EmulatorState) -> None:
    case = CASES[name]
    tool, arguments = case.call
    route = case.fault.route
    emulator_state.add_fault(case.fault)
    async with connect(with_timeouts(settings, case.timeout)) as client:
        streamed: list[str] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            streamed.append(message or "")

        result = await client.call_tool(tool, arguments, progress_callback=on_progress)
        assert len(emulator_state.requests_for(route)) == case.requests
        if case.expected:
            assert result.is_error, text_of(result)
            assert case.expected in text_of(result)
            assert API_KEY not in text_of(result)
        else:  # a transient failure the retries absorbed
            assert not result.is_error, text_of(result)
        if case.partial:
            assert streamed
            assert "Text generated before the failure" in text_of(result)
            assert "".join(streamed)[:200] in text_of(result)

        emulator_state.clear_faults()
        again = await client.call_tool(tool, arguments)
        assert not again.is_error, text_of(again)


# -- faults below HTTP: nothing listens, or nothing accepts ----------------------------------------


class Switchboard:
    """A loopback port that refuses, black-holes, or forwards to the emulator, on demand."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.port = free_port()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextmanager
    def black_hole(self) -> Iterator[None]:
        """Listening with a full backlog: a connect is never answered, so it times out."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(0)
        fillers = []
        try:
            for _ in range(4):
                filler = socket.socket()
                filler.setblocking(False)
                with suppress(BlockingIOError):  # the connect completes (or not) in the background
                    filler.connect(("127.0.0.1", self.port))
                fillers.append(filler)
            yield
        finally:
            for filler in fillers:
                filler.close()
            listener.close()

    async def forward(self) -> None:
        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except ConnectionError:
                pass
            finally:
                writer.close()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

        self._server = await asyncio.start_server(handle, "127.0.0.1", self.port, reuse_address=True)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def switchboard(emulator: EmulatorThread) -> AsyncIterator[Switchboard]:
    board = Switchboard(emulator.base_url)
    yield board
    await board.close()


async def test_connection_refused_then_orq_comes_back(
    fault_settings: Settings, switchboard: Switchboard, emulator_state: EmulatorState
) -> None:
    async with connect(fault_settings.model_copy(update={"base_url": switchboard.url})) as client:
        result = await client.call_tool(*INVOKE)
        assert result.is_error
        assert "Could not connect to orq" in text_of(result)
        assert "ORQ_BASE_URL" in text_of(result)
        assert str(switchboard.port) not in text_of(result)  # no URL in the error text
        await switchboard.forward()
        assert not (await client.call_tool(*INVOKE)).is_error
        assert len(emulator_state.requests_for("stream")) == 1  # the refused attempts never reached orq


async def test_connect_timeout_then_orq_comes_back(
    fault_settings: Settings, switchboard: Switchboard, emulator_state: EmulatorState
) -> None:
    async with connect(fault_settings.model_copy(update={"base_url": switchboard.url})) as client:
        with switchboard.black_hole():
            result = await client.call_tool(*INVOKE)
        assert result.is_error
        assert "Timed out connecting to orq" in text_of(result)
        await switchboard.forward()
        assert not (await client.call_tool(*INVOKE)).is_error
        assert len(emulator_state.requests_for("stream")) == 1
