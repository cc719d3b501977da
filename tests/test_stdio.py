"""orq-mcp's stdio transport, over real pipes: stray writes, large messages, EOF, a closed stdout, SIGINT.

Raw JSON-RPC through `StdioPeer` (tests/test_protocol_abuse.py), so every byte on stdout is checked.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orq_mcp.sandbox import EmulatorState, EmulatorThread
from tests.conftest import API_KEY
from tests.processes import MODULE, STARTUP_TIMEOUT, clean_env, stop_process
from tests.test_protocol_abuse import INITIALIZE, TRACEBACK, StdioPeer

APP = [sys.executable, str(Path(__file__).with_name("stdio_app.py"))]
STRAY = ("stray print", "stray unflushed print", "stray raw write", "stray child output")
MEGABYTE = 1024 * 1024
# A streaming call slow enough to be in flight for the whole test (the sample replies run to 30+ chunks).
SLOW_CHUNK_DELAY = 0.5
EXIT_WITHIN = 3.0  # a clean stop takes well under a second; the bug being guarded against never exits
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


def start_stream(peer: StdioPeer, emulator_state: EmulatorState) -> None:
    """Start an invocation and return once its first progress notification has arrived."""
    emulator_state.chunk_delay = SLOW_CHUNK_DELAY
    peer.send_request("tools/call", {**INVOKE, "_meta": {"progressToken": "p"}})
    while peer.next(timeout=20).get("method") != "notifications/progress":
        pass


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


def test_eof_on_stdin_exits_cleanly_with_a_stream_in_flight(orq_mcp: StdioPeer, emulator_state: EmulatorState) -> None:
    start_stream(orq_mcp, emulator_state)
    assert orq_mcp.process.stdin is not None
    orq_mcp.process.stdin.close()
    assert stopped(orq_mcp) == 0, orq_mcp.stderr()
    assert TRACEBACK not in orq_mcp.stderr()


def test_a_closed_stdout_stops_the_server(emulator: EmulatorThread, tmp_path: Path) -> None:
    """The client stops reading before the first answer: that write meets EPIPE and the server stops quietly."""
    stderr_path = tmp_path / "stderr.log"
    env = clean_env(ORQ_API_KEY=API_KEY, ORQ_BASE_URL=emulator.base_url)
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
    env = clean_env(ORQ_API_KEY=API_KEY, ORQ_BASE_URL=emulator.base_url)
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


def test_sigint_with_a_stream_in_flight_exits_promptly(orq_mcp: StdioPeer, emulator_state: EmulatorState) -> None:
    """Issue 11 item 12: it used to stop answering yet stay up while stdin was open, then crash on the next line."""
    start_stream(orq_mcp, emulator_state)
    orq_mcp.process.send_signal(signal.SIGINT)
    assert stopped(orq_mcp) in (0, 130), orq_mcp.stderr()  # stdin is still open: the signal alone ends it
    assert TRACEBACK not in orq_mcp.stderr()
