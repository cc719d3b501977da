"""Shared fixtures: the orq emulator on a real loopback port, and servers/clients wired to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any, TypeVar

import httpx2
import pytest
from mcp import Client
from pydantic import SecretStr

from orq_mcp.config.settings import Settings
from orq_mcp.orq.client import OrqClient, RetryPolicy, Timeouts, create_http_client
from orq_mcp.sandbox import EmulatorState, EmulatorThread, sample_workspace
from orq_mcp.serving.upstream import orq_http
from orq_mcp.surface.server import OrqMCPServer, create_server
from tests.sdk_schema import sdk_violation

# The suite's order under pytest-xdist (tests/scheduling.py).
pytest_plugins = ["tests.scheduling"]

T = TypeVar("T")

# A recognisable canary: any test may grep output for it and must never find it.
API_KEY = "sk-orq-canary-7f3b9c2e41d04a8b"
FAST_RETRY = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.05, max_retry_after=1.0)


SESSION_CHUNK_DELAY = 0.002  # the session emulator's pace, which every test finds and leaves


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorThread]:
    """One emulator for the session, as strict as the SDK; `emulator_state` resets it around every test."""
    state = EmulatorState(
        workspaces={API_KEY: sample_workspace()}, chunk_delay=SESSION_CHUNK_DELAY, check_body=sdk_violation
    )
    with EmulatorThread(state) as thread:
        yield thread


@contextmanager
def fresh_state(state: EmulatorState) -> Iterator[EmulatorState]:
    """`state` reset for one test and reset again after it, however it ends.

    The pace is put back too: a module whose servers outlive one test (a module-scoped fixture on
    the bare `emulator`) would otherwise stream at whatever pace the last test of another file on
    the same worker left, e.g. a 3 s trickle, and time out.
    """
    state.reset()
    state.chunk_delay = SESSION_CHUNK_DELAY
    try:
        yield state
    finally:
        violations = state.take_violations()
        state.reset()
        state.chunk_delay = SESSION_CHUNK_DELAY
    assert not violations, f"orq-mcp sent bodies the SDK's request models reject: {violations}"


@pytest.fixture
def emulator_state(emulator: EmulatorThread) -> Iterator[EmulatorState]:
    with fresh_state(emulator.state) as state:
        yield state


@pytest.fixture
def settings(emulator: EmulatorThread, emulator_state: EmulatorState) -> Settings:
    return Settings(api_key=SecretStr(API_KEY), base_url=emulator.base_url, progress_interval=0.02)


@pytest.fixture
async def http_client(settings: Settings) -> AsyncIterator[httpx2.AsyncClient]:
    async with create_http_client(settings.base_url, Timeouts(connect=2, read=5, stream=10)) as http:
        yield http


@pytest.fixture
def orq(http_client: httpx2.AsyncClient) -> OrqClient:
    return OrqClient(http_client, API_KEY, timeouts=Timeouts(connect=2, read=5, stream=10), retry=FAST_RETRY)


@asynccontextmanager
async def served(settings: Settings, retry: RetryPolicy = FAST_RETRY) -> AsyncIterator[OrqMCPServer]:
    """A server over its own connection to orq, made as `orq-mcp` makes it (serving/upstream.py), closed after."""
    async with orq_http(settings) as http:
        yield create_server(settings, http_client=http, retry=retry)


@asynccontextmanager
async def connected(settings: Settings, retry: RetryPolicy = FAST_RETRY, **options: Any) -> AsyncIterator[Client]:
    """An in-memory SDK client of a server built by `served`."""
    async with served(settings, retry) as server, Client(server, **options) as client:
        yield client


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    async with held_open(connected(settings, raise_exceptions=True)) as opened:
        yield opened


@pytest.fixture
async def connect(settings: Settings) -> AsyncIterator[Any]:
    """Open in-memory clients to servers built with extra settings."""
    opened: list[held_open[Client]] = []

    async def open_client(mode: str = "auto", **changes: Any) -> Client:
        messages = changes.pop("message_handler", None)
        changed = settings.model_copy(update=changes)
        holder = held_open(connected(changed, raise_exceptions=True, mode=mode, message_handler=messages))
        opened.append(holder)
        return await holder.__aenter__()

    yield open_client
    for holder in reversed(opened):
        await holder.__aexit__(None, None, None)


class held_open(AbstractAsyncContextManager[T]):
    """Enter and exit `cm` in one dedicated task.

    pytest-asyncio runs an async fixture's setup and teardown in different tasks, while the
    SDK's Client (an anyio task group) must be exited by the task that entered it.
    """

    def __init__(self, cm: AbstractAsyncContextManager[T]) -> None:
        self._cm = cm
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> T:
        entered: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        async def hold() -> None:
            try:
                async with self._cm as value:
                    entered.set_result(value)
                    await self._stop.wait()
            except BaseException as exc:
                if not entered.done():
                    entered.set_exception(exc)
                raise

        self._task = asyncio.create_task(hold())
        return await entered

    async def __aexit__(self, *exc_info: object) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task
