"""`--workers N`: several server processes on one port, driven by several real MCP clients at once."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import psutil
import pytest
from mcp import Client

from orq_mcp.sandbox import EmulatorState, EmulatorThread
from orq_mcp.serving.http.throttle import FAILURE_BURST, FAILURES_PER_MINUTE
from tests.conftest import API_KEY
from tests.helpers import ok
from tests.processes import MODULE, HttpServer, loopback_http_client, server_env
from tests.serving.test_exposure import INITIALIZE, MCP_HEADERS, TOKEN

pytestmark = pytest.mark.asyncio(loop_scope="module")

CLIENTS = 4
CALLS_PER_CLIENT = 12


@pytest.fixture(scope="module")
def server(emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url, "ORQ_MCP_PROGRESS_INTERVAL": "0.02"}
    started = HttpServer.start("http", env, tmp_path_factory.mktemp("orq-mcp-workers"), args=["--workers", "2"])
    try:
        yield started.ready()
    finally:
        started.stop()


def worker_pids(server: HttpServer) -> set[int]:
    """The spawned workers (not multiprocessing's resource tracker, also a child)."""
    children = psutil.Process(server.process.pid).children()
    return {child.pid for child in children if any("spawn_main" in part for part in child.cmdline())}


async def serving_pids(server: HttpServer, probes: int = 40) -> set[int]:
    """Which processes answer /healthz, one fresh connection per probe (the kernel spreads connections)."""
    pids = set()
    for _ in range(probes):
        async with loopback_http_client() as http:
            response = await http.get(f"http://127.0.0.1:{server.port}/healthz")
        assert response.status_code == 200
        pids.add(response.json()["pid"])
    return pids


async def test_two_workers_answer_on_one_port(server: HttpServer) -> None:
    with anyio.fail_after(30):
        answered = await serving_pids(server)
    assert len(worker_pids(server)) >= 2
    assert answered <= worker_pids(server)  # the workers answer, not the supervising parent


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_many_calls_from_several_clients_all_succeed(
    server: HttpServer, emulator_state: EmulatorState, mode: str
) -> None:
    """Each client is its own connection pool, so its requests land on either worker; none may notice."""
    failures: list[str] = []
    replies = 0

    async def one_client(n: int) -> None:
        nonlocal replies
        async with Client(server.url, mode=mode) as client:  # type: ignore[arg-type]
            for i in range(CALLS_PER_CLIENT):
                if i % 3 == 0:
                    assert ok(await client.call_tool("list_deployments", {"limit": 2}))["deployments"]
                    continue
                progress: list[float] = []

                async def on_progress(value: float, total: float | None, message: str | None) -> None:
                    progress.append(value)  # noqa: B023 - consumed before the next iteration

                result = await client.call_tool(
                    "invoke_deployment", {"key": "faq-assistant"}, progress_callback=on_progress
                )
                if result.is_error or not progress:
                    failures.append(f"client {n} call {i}: {result}")
                replies += 1

    with anyio.fail_after(90):
        async with anyio.create_task_group() as tg:
            for n in range(CLIENTS):
                tg.start_soon(one_client, n)
    assert failures == []
    assert replies == CLIENTS * (CALLS_PER_CLIENT - CALLS_PER_CLIENT // 3)
    assert len(emulator_state.requests_for("stream")) == replies


@asynccontextmanager
async def two_workers(
    emulator: EmulatorThread, log_dir: Path
) -> AsyncIterator[tuple[HttpServer, list[psutil.Process]]]:
    """A fresh `--workers 2` server, serving, and its children; nothing is left running afterwards."""
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url}
    started = HttpServer.start("http", env, log_dir, args=["--workers", "2"])
    children: list[psutil.Process] = []
    try:
        started.ready()
        with anyio.fail_after(30):
            await serving_pids(started, probes=2)
        assert len(worker_pids(started)) == 2
        children = psutil.Process(started.process.pid).children()
        yield started, children
    finally:
        started.stop()
        _, alive = psutil.wait_procs(children, timeout=10)
        for leftover in alive:  # never leave a worker behind, even when the test fails
            leftover.kill()


async def test_stopping_the_parent_stops_every_worker(
    emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> None:
    async with two_workers(emulator, tmp_path_factory.mktemp("orq-mcp-stop")) as (started, children):
        started.stop()
        _, alive = psutil.wait_procs(children, timeout=10)
    assert started.process.returncode == 0, started.stderr()
    assert alive == []
    log = started.stderr()
    assert "Traceback" not in log, log
    assert API_KEY not in log


async def test_workers_exit_when_the_parent_is_killed(
    emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> None:
    async with two_workers(emulator, tmp_path_factory.mktemp("orq-mcp-orphans")) as (started, children):
        started.process.kill()  # no chance to stop them: the kernel tells them (PR_SET_PDEATHSIG)
        started.process.wait(timeout=10)
        _, alive = psutil.wait_procs(children, timeout=15)
    assert alive == []


async def test_workers_still_starting_exit_when_the_parent_is_killed(
    emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Killed while its workers are still importing (a second or more): they must not go on to serve, orphaned."""
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url}
    started = HttpServer.start("http", env, tmp_path_factory.mktemp("orq-mcp-early-orphans"), args=["--workers", "2"])
    workers: list[psutil.Process] = []
    try:
        with anyio.fail_after(30):
            while len(worker_pids(started)) < 2:  # noqa: ASYNC110 - another process: nothing to wait on but its state
                await anyio.sleep(0.01)
        # Spawned: each is an interpreter still importing, a second or more before it could serve.
        workers = [psutil.Process(pid) for pid in worker_pids(started)]
        started.process.kill()
        started.process.wait(timeout=10)
        _, alive = psutil.wait_procs(workers, timeout=30)
        assert alive == [], started.stderr()
        assert "serving http" not in started.stderr()
    finally:
        started.stop()
        for leftover in workers:
            with contextlib.suppress(psutil.NoSuchProcess):
                leftover.kill()


async def test_workers_refuse_transports_whose_connections_live_in_one_process() -> None:
    for transport in ("sse", "stdio"):
        with anyio.fail_after(30):
            done = await anyio.run_process(
                [*MODULE, "--transport", transport, "--workers", "2"], env=server_env(), check=False
            )
        assert done.returncode == 2
        assert b"--workers needs --transport http" in done.stderr
        assert done.stdout == b""


async def test_sandbox_workers_share_the_parents_emulator_and_print_nothing(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    started = HttpServer.start(
        "http", {}, tmp_path_factory.mktemp("orq-mcp-sandbox-workers"), ["--sandbox", "--workers", "2"]
    )
    try:
        started.ready()
        with anyio.fail_after(60):
            for _ in range(4):  # fresh connections: both workers answer, from the one emulator
                async with Client(started.url) as client:
                    assert ok(await client.call_tool("list_deployments", {"limit": 1}))["deployments"]
    finally:
        started.stop()
    assert started.stdout() == ""  # nothing on stdout, the emulator's access log included
    assert "Traceback" not in started.stderr()


# The token throttle is shared by the workers: four workers allow the guesses of one process, not four times that.

GUESSES = 100
WORKERS = 4


async def guess(url: str, token: str) -> int:
    """One initialize with `token`, on a connection of its own (so the kernel may hand it to any worker)."""
    async with loopback_http_client(timeout=10) as http:
        headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
        return (await http.post(url, json=INITIALIZE, headers=headers)).status_code


async def test_workers_share_one_guessing_budget(
    emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url, "ORQ_MCP_AUTH_TOKEN": TOKEN}
    server = HttpServer.start("http", env, tmp_path_factory.mktemp("orq-mcp-guesses"), ["--workers", str(WORKERS)])
    try:
        server.ready()
        with anyio.fail_after(60):  # every worker is accepting, so the guesses below spread over all of them
            answering: set[int] = set()
            while len(answering) < WORKERS:
                answering |= await serving_pids(server, probes=20)
        started = time.monotonic()
        statuses = [await guess(server.url, f"{TOKEN[:-4]}{n:04d}") for n in range(GUESSES)]
        right_token = await guess(server.url, TOKEN)
        elapsed = time.monotonic() - started
        # Several workers still accept. The kernel hands a connection to whichever worker accepts first, so on a
        # busy machine 20 probes in a row may all reach one: probe until two answer, as before the guesses.
        with anyio.fail_after(60):
            spread: set[int] = set()
            while len(spread) < 2:
                spread |= await serving_pids(server, probes=20)
    finally:
        server.stop()
    # Exactly one process's budget (20 at once), plus what the clock earned back meanwhile (10 a minute).
    earned = int(elapsed * FAILURES_PER_MINUTE / 60)
    assert FAILURE_BURST <= statuses.count(401) <= FAILURE_BURST + earned, (statuses, elapsed)
    assert statuses[:FAILURE_BURST] == [401] * FAILURE_BURST
    assert right_token == 429  # throttled on every worker, whatever it sends
    assert "Traceback" not in server.stderr()
    assert TOKEN not in server.stderr()
