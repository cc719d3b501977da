"""Replicas behind a real load balancer (HAProxy, as the README configures it), one of them killed mid-run.

Three `--stateless` replicas serve one emulator; several MCP clients keep slow invocations in flight through
HAProxy while one replica is SIGKILLed. The calls it was serving fail with a clear error, every other call
(before, during and after) succeeds, and nothing hangs.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import anyio
import pytest
from mcp import Client

from orq_mcp.sandbox import EmulatorState, EmulatorThread
from tests.conftest import API_KEY
from tests.helpers import ok, wait_until
from tests.processes import HttpServer, server_group
from tests.scale_tools import haproxy

REPLICAS = 3
CLIENTS = 6
CALLS_PER_CLIENT = 4
CHUNK_DELAY = 0.03  # each reply streams for about 1.5 s: several are in flight on every replica at any time
CALL_BOUND = 30.0  # seconds; a call still open after this counts as hung
# How a call in flight on the killed replica ends: the MCP SDK's words for a stream cut short, HAProxy's 502, or (seen
# once in a CI run on a busy machine) HAProxy closing the client's connection without an answer. Each tells the
# client that its call ended unanswered and can be retried; what else may fail is held by the checks around it.
CUT_SHORT = {
    "MCPError: SSE stream ended without a response",
    "MCPError: Server returned an error response",
    "RemoteProtocolError: Server disconnected without sending a response.",
}


@dataclass
class Outcome:
    started: float
    ended: float
    error: str | None = None


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)


async def _ignore(progress: float, total: float | None, message: str | None) -> None:
    return None


def describe(exc: BaseException) -> str:
    """The innermost error of a (possibly grouped) exception, as a person would read it."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


@pytest.fixture
def replicas(emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[HttpServer]]:
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url, "ORQ_MCP_PROGRESS_INTERVAL": "0.05"}
    # A replica is killed mid-run on purpose: what it leaves in its log is no failure here.
    with server_group(tmp_path_factory.mktemp("orq-mcp-replicas"), check_logs=False) as group:
        started = [group.start(f"replica{i}", "http", env, args=["--stateless"]) for i in range(REPLICAS)]
        yield [server.ready() for server in started]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_replica_killed_mid_run_fails_only_its_own_calls(
    replicas: list[HttpServer],
    emulator_state: EmulatorState,
    tmp_path_factory: pytest.TempPathFactory,
    mode: str,
) -> None:
    emulator_state.chunk_delay = CHUNK_DELAY
    run = Run()
    victim = replicas[1]

    async def client_loop(url: str) -> None:
        # One connection per call: the SDK's Client ends all its calls when one transport request breaks, and
        # an agent host reconnects; what matters here is which calls the replica's death costs.
        for _ in range(CALLS_PER_CLIENT):
            outcome = Outcome(started=time.monotonic(), ended=0.0)
            run.outcomes.append(outcome)
            try:
                with anyio.fail_after(CALL_BOUND):
                    async with Client(url, mode=mode) as client:  # type: ignore[arg-type]
                        result = await client.call_tool(
                            "invoke_deployment", {"key": "faq-assistant"}, progress_callback=_ignore
                        )
                ok(result)
            except TimeoutError:
                outcome.error = "hung"
            except Exception as exc:
                outcome.error = describe(exc)
            outcome.ended = time.monotonic()

    with haproxy(replicas, tmp_path_factory.mktemp("haproxy")) as port:
        url = f"http://127.0.0.1:{port}/mcp"
        with anyio.fail_after(CALL_BOUND * CALLS_PER_CLIENT + 30):
            async with anyio.create_task_group() as tg:
                for _ in range(CLIENTS):
                    tg.start_soon(client_loop, url)
                # Kill when every client is mid-call and some calls have already completed.
                assert await wait_until(lambda: sum(o.ended > 0 for o in run.outcomes) >= CLIENTS, within=30)
                await anyio.sleep(CHUNK_DELAY * 10)
                victim.process.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()

    failed = [o for o in run.outcomes if o.error]
    assert len(run.outcomes) == CLIENTS * CALLS_PER_CLIENT
    assert [o.error for o in failed if o.error == "hung"] == []
    # Only calls in flight at the kill failed: at most those one replica of three was serving...
    assert all(o.started < killed_at < o.ended for o in failed), (killed_at, failed)
    # Least connections keeps the open streams spread, so the dead replica held about a third of them, never most.
    assert 1 <= len(failed) <= CLIENTS // 2, failed
    # ...and every call that started after it succeeded: HAProxy moved on to the live replicas.
    after = [o for o in run.outcomes if o.started > killed_at]
    assert after
    assert all(o.error is None for o in after)
    # The client is told its call ended without an answer, and can retry: in the MCP SDK's words for a stream cut
    # short, or for the 502 HAProxy answers when the replica died before its answer began (on a busy machine, where
    # a replica is slow to start answering, that happens to a call in flight).
    assert all(o.error in CUT_SHORT for o in failed), failed
    for survivor in (replicas[0], replicas[2]):
        assert "Traceback" not in survivor.stderr()
        assert API_KEY not in survivor.stderr()
