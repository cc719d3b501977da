"""orq-mcp's stdio transport, over real pipes: stray writes, large messages, EOF, a closed stdout, SIGINT.

Raw JSON-RPC through `StdioPeer` (tests/serving/test_protocol_abuse.py), so every byte on stdout is checked.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp_types import JSONRPCError, JSONRPCNotification, JSONRPCRequest, JSONRPCResponse

from orq_mcp.sandbox import EmulatorState, EmulatorThread
from orq_mcp.serving.stdio.owed import OwedAnswers
from tests.conftest import API_KEY
from tests.paths import TESTS
from tests.processes import MODULE, STARTUP_TIMEOUT, server_env, stop_process
from tests.serving.test_protocol_abuse import ENVELOPE, INITIALIZE, TRACEBACK, StdioPeer, jsonrpc_message

APP = [sys.executable, str(TESTS / "stdio_app.py")]
STRAY = ("stray print", "stray unflushed print", "stray raw write", "stray child output")
MEGABYTE = 1024 * 1024
# A streaming call slow enough to be in flight for the whole test (the sample replies run to 30+ chunks).
SLOW_CHUNK_DELAY = 1.0
# A stream in flight at EOF that ends within seconds (its answer is awaited).
EOF_CHUNK_DELAY = 0.05
# A clean stop takes under a second on a quiet machine and several on a loaded one; the bugs guarded against
# never exit at all, so a generous bound tells them apart without failing under load.
EXIT_WITHIN = 20.0
INVOKE = {"name": "invoke_deployment", "arguments": {"key": "faq-assistant", "inputs": {"question": "Norway?"}}}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[StdioPeer]:
    peer = StdioPeer("stdio-app", {}, tmp_path, command=APP)
    try:
        peer.handshake()
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def orq_mcp(emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path) -> Iterator[StdioPeer]:
    peer = StdioPeer("orq-mcp", {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url}, tmp_path)
    try:
        peer.handshake()
        yield peer
    finally:
        peer.stop()


def call(peer: StdioPeer, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    answer = peer.request("tools/call", {"name": name, "arguments": arguments})
    assert answer["result"]["isError"] is False, answer
    return answer["result"]


def start_stream(peer: StdioPeer, emulator_state: EmulatorState, chunk_delay: float = SLOW_CHUNK_DELAY) -> int:
    """Start an invocation; its request id, once its first progress notification has arrived."""
    emulator_state.chunk_delay = chunk_delay
    request_id: int = peer.send_request("tools/call", {**INVOKE, "_meta": {"progressToken": "p"}})
    while peer.next(timeout=20).get("method") != "notifications/progress":
        pass
    return request_id


def stopped(peer: StdioPeer) -> int:
    try:
        return peer.process.wait(timeout=EXIT_WITHIN)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {EXIT_WITHIN}s later:\n{peer.stderr()}")


def test_stray_writes_to_stdout_never_reach_the_protocol(app: StdioPeer) -> None:
    assert call(app, "shout", {})["content"][0]["text"] == "shouted"
    code, rest = app.close()  # every line read off stdout went through the JSON-RPC check
    assert code == 0, app.stderr()
    assert rest == []
    log = app.stderr()
    assert all(stray in log for stray in STRAY), log  # diverted to stderr, not lost


def test_a_megabyte_crosses_both_ways(app: StdioPeer) -> None:
    text = ("Grüße, 世界! " * (MEGABYTE // 12))[:MEGABYTE]
    result = call(app, "echo", {"text": text})
    assert result["content"][0]["text"] == text
    assert call(app, "echo", {"text": "still serving"})["content"][0]["text"] == "still serving"


def test_eof_on_stdin_answers_the_stream_in_flight_then_exits(
    orq_mcp: StdioPeer, emulator_state: EmulatorState
) -> None:
    """Closing stdin means no more requests, not "drop the answers": the generation in flight still completes."""
    request_id = start_stream(orq_mcp, emulator_state, EOF_CHUNK_DELAY)
    assert orq_mcp.process.stdin is not None
    orq_mcp.process.stdin.close()
    answer = orq_mcp.response(request_id, timeout=60)
    assert answer["result"]["isError"] is False, answer
    assert answer["result"]["structuredContent"]["text"]
    assert stopped(orq_mcp) == 0, orq_mcp.stderr()
    assert TRACEBACK not in orq_mcp.stderr()
    (streamed,) = emulator_state.requests_for("stream")
    assert streamed.disconnected_at is None  # the upstream stream ran to its end


def test_a_closed_stdout_stops_the_server(emulator: EmulatorThread, tmp_path: Path) -> None:
    """The client stops reading before the first answer: that write meets EPIPE and the server stops quietly."""
    stderr_path = tmp_path / "stderr.log"
    env = server_env(emulator.base_url)
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(MODULE, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        process.stdout.close()
        request = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE}
        process.stdin.write(json.dumps(request).encode() + b"\n")
        process.stdin.flush()  # stdin stays open: only the failed write can end the process
        assert process.wait(timeout=STARTUP_TIMEOUT + EXIT_WITHIN) == 0, stderr_path.read_text()
    finally:
        stop_process(process)
        process.stdin.close()
    assert TRACEBACK not in stderr_path.read_text()


def test_a_socketpair_on_stdin_and_stdout_serves_a_stream(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path
) -> None:
    """Some hosts (Node's child_process) give the server one socket for stdin and stdout, not two pipes."""
    ours, theirs = socket.socketpair()
    stderr_path = tmp_path / "stderr.log"
    env = server_env(emulator.base_url)
    with stderr_path.open("wb") as stderr, theirs:
        process = subprocess.Popen([*MODULE, "-v"], env=env, stdin=theirs, stdout=theirs, stderr=stderr)
    ours.settimeout(STARTUP_TIMEOUT)  # bounds every read below
    lines = ours.makefile("rb")
    try:

        def request(request_id: int, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
            ours.sendall(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode())
            ours.sendall(b"\n")
            received = [json.loads(lines.readline())]
            while received[-1].get("id") != request_id:
                received.append(json.loads(lines.readline()))
            return received

        request(1, "initialize", INITIALIZE)
        ours.sendall(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        *notes, answer = request(2, "tools/call", {**INVOKE, "_meta": {"progressToken": "p"}})
        text = answer["result"]["structuredContent"]["text"]
        assert "".join(n["params"]["message"] for n in notes if n["method"] == "notifications/progress") == text
        ours.shutdown(socket.SHUT_WR)  # EOF on the server's stdin
        assert process.wait(timeout=STARTUP_TIMEOUT) == 0, stderr_path.read_text()
    finally:
        stop_process(process)
        lines.close()
        ours.close()
    log = stderr_path.read_text()
    assert TRACEBACK not in log
    assert "threaded transport" not in log  # served on the socket itself (-v would log the fallback)


# What each signal may exit with: SIGINT ends the serving loop cleanly; SIGTERM's default action ends the process.
STOPPED_BY = {"SIGINT": (0, 130), "SIGTERM": (0, -signal.SIGTERM, 128 + signal.SIGTERM)}


@pytest.mark.parametrize("name", sorted(STOPPED_BY))
def test_sigint_with_a_stream_in_flight_exits_promptly(
    orq_mcp: StdioPeer, emulator_state: EmulatorState, name: str
) -> None:
    """Issue 11 item 12: it used to stop answering yet stay up while stdin was open, then crash on the next line."""
    start_stream(orq_mcp, emulator_state)  # streams for 30 s or more: only the signal can end the process sooner
    orq_mcp.process.send_signal(getattr(signal, name))
    assert stopped(orq_mcp) in STOPPED_BY[name], orq_mcp.stderr()  # stdin is still open: the signal alone ends it
    assert TRACEBACK not in orq_mcp.stderr()
    (streamed,) = emulator_state.requests_for("stream")
    deadline = time.monotonic() + EXIT_WITHIN  # the emulator notices the closed connection on its own thread
    while streamed.disconnected_at is None and streamed.finished_at is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert streamed.disconnected_at is not None  # stopped mid-stream, not after the stream ended by itself


# Issue 15 item 12: every request read before stdin closes is answered ------------------------------------------------

CONNECTION_CLOSED = -32000
PIPELINED = 60  # requests in one write
ROUNDS = 10  # writes of PIPELINED requests each, on one connection
STARTS = 3  # processes, each pipelining its handshake with its first request
# Cheap requests of every kind the dispatcher runs concurrently, one invocation among them.
MIXED = [
    ("ping", None),
    ("tools/list", None),
    ("prompts/list", None),
    ("resources/list", None),
    ("tools/call", {"name": "list_deployments", "arguments": {"limit": 2}}),
    ("tools/call", {"name": "invoke_deployment", "arguments": {"key": "faq-assistant"}}),
]


def line(request_id: Any, method: str, params: dict[str, Any] | None = None) -> bytes:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message).encode() + b"\n"


def opening(request_id: Any = "init") -> bytes:
    """A handshake-era opening, pipelined: initialize and its initialized notification in one write."""
    return line(request_id, "initialize", INITIALIZE) + b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'


def batch(first: int, count: int, modern: bool = False) -> tuple[bytes, list[int]]:
    """`count` requests (ids from `first`), cycling through MIXED; with `modern`, each carries the envelope."""
    ids = list(range(first, first + count))
    lines = []
    for request_id in ids:
        method, params = MIXED[request_id % len(MIXED)]
        if modern:
            params = {**(params or {}), "_meta": ENVELOPE}
            method = "server/discover" if method == "ping" else method  # 2026-07-28 has no ping
        lines.append(line(request_id, method, params))
    return b"".join(lines), ids


def answers_in(stdout: bytes) -> dict[Any, dict[str, Any]]:
    """Every response on `stdout` by id (each line checked as JSON-RPC; server notifications skipped)."""
    messages = [jsonrpc_message(raw) for raw in stdout.splitlines()]
    responses = [m for m in messages if "method" not in m]
    ids = [m["id"] for m in responses]
    assert len(ids) == len(set(ids)), "a request was answered twice"
    return {m["id"]: m for m in responses}


def assert_all_results(answers: dict[Any, dict[str, Any]], ids: list[Any]) -> None:
    missing = [i for i in ids if i not in answers]
    assert not missing, f"{len(missing)} of {len(ids)} requests were never answered: {missing[:10]}"
    errors = {i: answers[i] for i in ids if "result" not in answers[i] or answers[i]["result"].get("isError")}
    assert not errors, list(errors.values())[:3]


@pytest.mark.slow  # three server starts, each answering 60 requests at once: 10-16 s on a busy 2-core machine
@pytest.mark.parametrize("era", ["handshake", "2026-07-28"])
def test_requests_written_then_stdin_closed_are_all_answered(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path, era: str
) -> None:
    """A client writes everything at once and closes stdin: every request gets its answer before the exit."""
    env = server_env(emulator.base_url)
    modern = era != "handshake"
    requests, ids = batch(1, PIPELINED, modern)
    written = requests if modern else opening() + requests
    for start in range(STARTS):
        stderr_path = tmp_path / f"stderr-{start}.log"
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(MODULE, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
            try:
                stdout, _ = process.communicate(written, timeout=STARTUP_TIMEOUT + 30)  # writes, closes stdin, reads
            finally:
                stop_process(process)
        assert process.returncode == 0, stderr_path.read_text()
        answers = answers_in(stdout)
        assert_all_results(answers, ids if modern else ["init", *ids])
        assert TRACEBACK not in stderr_path.read_text()


def test_a_file_of_requests_is_answered_in_full(tmp_path: Path) -> None:
    """`orq-mcp --sandbox < requests.jsonl` (initialize, initialized, tools/list) answers every request."""
    requests = tmp_path / "requests.jsonl"
    requests.write_bytes(opening(1) + line(2, "tools/list"))
    with requests.open("rb") as stdin:
        done = subprocess.run(
            [*MODULE, "--sandbox"],
            env=server_env(key=None),
            stdin=stdin,
            capture_output=True,
            timeout=STARTUP_TIMEOUT + 30,
        )
    assert done.returncode == 0, done.stderr.decode()
    answers = answers_in(done.stdout)
    assert_all_results(answers, [1, 2])
    assert {tool["name"] for tool in answers[2]["result"]["tools"]} >= {"invoke_deployment", "list_deployments"}


@pytest.mark.slow  # three server starts, each answering 600 pipelined requests: ~15 s on a busy 2-core machine
def test_pipelined_requests_are_all_answered_while_stdin_stays_open(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path
) -> None:
    """The thread-free transport loses nothing: handshake and requests in one write, then rounds of many at once."""
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url}
    for start in range(STARTS):
        peer = StdioPeer(f"pipelined-{start}", env, tmp_path)
        try:
            peer.write(opening() + line("first", "tools/list"))
            assert peer.response("first")["result"]["tools"], "the request behind the handshake was not answered"
            for round_ in range(ROUNDS):
                requests, ids = batch(1000 * (round_ + 1), PIPELINED)
                peer.write(requests)
                answers = {}
                while len(answers) < len(ids):
                    message = peer.next(timeout=30)
                    if "method" not in message:
                        answers[message["id"]] = message
                assert_all_results(answers, ids)
        finally:
            peer.stop()
        assert TRACEBACK not in peer.stderr()


def test_a_request_the_server_asks_after_eof_does_not_hold_the_exit(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path
) -> None:
    """A call that asks the user (elicitation) after stdin closed is answered at once: nobody can reply."""
    env = server_env(emulator.base_url)
    initialize = {**INITIALIZE, "capabilities": {"elicitation": {"form": {}}}}
    call = {"name": "invoke_deployment", "arguments": {"key": "support-triage", "inputs": {"language": "English"}}}
    written = line(1, "initialize", initialize) + b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
    written += line(2, "tools/call", call)
    started = time.monotonic()
    with (tmp_path / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen(MODULE, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr)
        try:
            stdout, _ = process.communicate(written, timeout=STARTUP_TIMEOUT + 30)
        finally:
            stop_process(process)
    assert process.returncode == 0
    messages = [jsonrpc_message(raw) for raw in stdout.splitlines()]
    assert [m["method"] for m in messages if "method" in m] == ["elicitation/create"]  # asked, but nobody can answer
    (answer,) = [m for m in messages if m.get("id") == 2 and "method" not in m]
    assert answer["error"]["code"] == CONNECTION_CLOSED, answer
    assert "closed its input" in answer["error"]["message"]
    assert time.monotonic() - started < STARTUP_TIMEOUT + 10


# What is owed at EOF (serving/stdio/owed.py) --------------------------------------------------------------------------


def request(request_id: Any, method: str = "tools/list") -> JSONRPCRequest:
    return JSONRPCRequest(jsonrpc="2.0", id=request_id, method=method)


def result(request_id: Any) -> JSONRPCResponse:
    return JSONRPCResponse(jsonrpc="2.0", id=request_id, result={})


async def settled_within(owed: OwedAnswers, seconds: float, answered: list[JSONRPCError] | None = None) -> bool:
    async def answer(error: JSONRPCError) -> None:
        (answered if answered is not None else []).append(error)

    with anyio.move_on_after(seconds):
        await owed.settle(answer)
        return True
    return False


async def test_settling_waits_for_each_request_read_even_a_reused_id() -> None:
    owed = OwedAnswers()
    for message in (request(1), request(1), request("a")):
        owed.read(message)
    owed.written(result(1))
    owed.written(result("a"))
    assert not await settled_within(owed, 0.05)  # the second request 1 is still owed
    owed.written(result(1))
    assert await settled_within(owed, 1)


async def test_a_cancelled_request_is_owed_nothing() -> None:
    """The SDK never answers a request its client cancelled: waiting for its answer would hold the exit."""
    owed = OwedAnswers()
    owed.read(request(7))
    cancelled = JSONRPCNotification(jsonrpc="2.0", method="notifications/cancelled", params={"requestId": 7})
    owed.read(cancelled)
    assert await settled_within(owed, 1)


async def test_the_servers_own_requests_are_answered_while_settling() -> None:
    owed = OwedAnswers()
    owed.read(request(1, "tools/call"))
    owed.written(request(100, "elicitation/create"))  # before EOF, unanswered
    answered: list[JSONRPCError] = []
    settled: list[bool] = []

    async def settle() -> None:
        settled.append(await settled_within(owed, 5, answered))

    async with anyio.create_task_group() as tg:
        tg.start_soon(settle)
        await anyio.wait_all_tasks_blocked()
        assert [e.id for e in answered] == [100]
        owed.written(request(101, "elicitation/create"))  # after EOF: answered at once too
        await anyio.wait_all_tasks_blocked()
        assert [e.id for e in answered] == [100, 101]
        assert all(e.error.code == CONNECTION_CLOSED for e in answered)
        owed.written(result(1))
    assert settled == [True]


def test_the_sdks_threaded_transport_also_answers_everything_read_before_eof(
    emulator: EmulatorThread, emulator_state: EmulatorState
) -> None:
    """One socket for stdin, stdout and stderr cannot be made non-blocking for the protocol alone, so the server
    falls back to the SDK's threaded transport (as on Windows): the answers owed at EOF do not depend on ours."""
    ours, theirs = socket.socketpair()
    env = server_env(emulator.base_url)
    with theirs:
        process = subprocess.Popen([*MODULE, "-v"], env=env, stdin=theirs, stdout=theirs, stderr=theirs)
    requests, ids = batch(1, PIPELINED)
    try:
        ours.sendall(opening() + requests)
        ours.shutdown(socket.SHUT_WR)  # EOF on the server's stdin, right after the last request
        ours.settimeout(STARTUP_TIMEOUT + 30)
        received = b""
        while chunk := ours.recv(1 << 16):
            received += chunk
        assert process.wait(timeout=STARTUP_TIMEOUT) == 0
    finally:
        stop_process(process)
        ours.close()
    lines = received.splitlines()
    log = b"\n".join(line for line in lines if not line.startswith(b"{")).decode(errors="replace")
    assert "using the SDK's threaded transport" in log  # logged on the shared socket with -v
    assert TRACEBACK not in log
    assert_all_results(answers_in(b"\n".join(line for line in lines if line.startswith(b"{"))), ["init", *ids])
