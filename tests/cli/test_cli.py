"""The command line as a user meets it: `python -m orq_mcp` / `orq-mcp` run as real processes.

Process start-up dominates these tests, so every process the module needs is started at once by the `launched`
fixture, and each test then waits for its own.
"""

from __future__ import annotations

import asyncio
import json
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import IO, Any

import pytest

import orq_mcp
from orq_mcp.cli.main import main
from orq_mcp.sandbox.data import SAMPLE_DEPLOYMENTS
from orq_mcp.serving.http.listen import bind
from tests.conftest import API_KEY
from tests.processes import server_env

PROCESS_TIMEOUT = 30
SAMPLE_KEYS = sorted(d["key"] for d in SAMPLE_DEPLOYMENTS)
MODULE = [sys.executable, "-m", "orq_mcp"]
SCRIPT = Path(sys.executable).parent / "orq-mcp"
# `check` needs a key; serving without one is tested in tests/surface/test_keyless.py.
MISSING_KEY = {
    "module": ([*MODULE, "check"], {}),
    "console-script": ([str(SCRIPT), "check", "-v"], {}),
    "blank-key": ([*MODULE, "check", "--transport", "http", "--port", "0"], {"ORQ_API_KEY": "   "}),  # blank is unset
}
INVALID = [
    ("ORQ_MCP_PORT", "notanumber"),
    ("ORQ_BASE_URL", "ftp://orq.internal.example"),
]


@dataclass
class Run:
    """One short-lived `orq-mcp` invocation; stdout and stderr go to files, stdin stays open and unread."""

    args: list[str]
    env: dict[str, str]
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.directory / "out").open("wb") as out, (self.directory / "err").open("wb") as err:
            self.process = subprocess.Popen(self.args, env=self.env, stdin=subprocess.PIPE, stdout=out, stderr=err)

    def finish(self) -> tuple[int, str, str]:
        """Wait for the exit (without closing stdin: a usage error must not wait for input)."""
        assert self.process is not None
        try:
            code = self.process.wait(timeout=PROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{' '.join(self.args)} did not exit:\n{(self.directory / 'err').read_text()}")
        return code, (self.directory / "out").read_text(), (self.directory / "err").read_text()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=PROCESS_TIMEOUT)
        if self.process.stdin:
            self.process.stdin.close()


@dataclass
class Launched:
    runs: dict[str, Run]
    stdio: subprocess.Popen[bytes]  # `--sandbox -v` on pipes, no key, for the raw protocol test
    stdio_stderr: Path


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launched]:
    planned: dict[str, tuple[list[str], dict[str, str]]] = {"version": ([*MODULE, "--version"], server_env(key=None))}
    for name, (args, extra) in MISSING_KEY.items():
        planned[f"missing-{name}"] = (args, server_env(key=None, **extra))
    for variable, value in INVALID:
        planned[f"invalid-{variable}-{value}"] = (MODULE, server_env(**{variable: value}))
    runs: dict[str, Run] = {}
    stderr_path = tmp_path_factory.mktemp("stdio") / "stderr.log"
    with stderr_path.open("wb") as stderr:
        stdio = subprocess.Popen(
            [*MODULE, "--sandbox", "-v"],
            env=server_env(key=None),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    try:
        for name, (args, env) in planned.items():
            runs[name] = Run(args, env, tmp_path_factory.mktemp("run"))
            if args[0] != str(SCRIPT) or SCRIPT.is_file():
                runs[name].start()
        yield Launched(runs, stdio, stderr_path)
    finally:
        for run in runs.values():
            run.stop()
        if stdio.poll() is None:
            stdio.kill()
        stdio.wait(timeout=PROCESS_TIMEOUT)
        for pipe in (stdio.stdin, stdio.stdout):
            if pipe is not None:
                pipe.close()


# Usage errors -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(MISSING_KEY))
def test_missing_key_is_one_line_and_exit_code_2(launched: Launched, case: str) -> None:
    if case == "console-script" and not SCRIPT.is_file():
        pytest.fail(f"no console script next to {sys.executable}")
    code, out, err = launched.runs[f"missing-{case}"].finish()
    assert code == 2
    assert out == ""  # no protocol traffic at all
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "ORQ_API_KEY" in lines[0]
    assert "--sandbox" in lines[0]


@pytest.mark.parametrize(("variable", "value"), INVALID)
def test_invalid_setting_names_it_but_not_its_value(launched: Launched, variable: str, value: str) -> None:
    code, out, err = launched.runs[f"invalid-{variable}-{value}"].finish()
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert variable in lines[0]
    assert value not in err
    assert API_KEY not in err


def test_version(launched: Launched) -> None:
    code, out, _ = launched.runs["version"].finish()
    assert code == 0
    assert out.strip() == f"orq-mcp {orq_mcp.__version__}"


def test_console_script_entry_point() -> None:
    (entry,) = entry_points(group="console_scripts", name="orq-mcp")
    assert entry.value == "orq_mcp.cli.main:main"
    assert entry.load() is main
    # The installed script itself runs: see test_missing_key_is_one_line_and_exit_code_2[console-script].
    assert SCRIPT.is_file(), f"no console script next to {sys.executable}"


# stdout carries only the protocol -------------------------------------------------------------------------------------


class LineReader:
    """Reads a pipe line by line on a thread, so the test can wait for a line with a timeout."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            self._lines.put(line)
        self._lines.put(None)

    def next(self, timeout: float = PROCESS_TIMEOUT) -> bytes | None:
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail("orq-mcp wrote nothing more to stdout in time")

    def rest(self) -> list[bytes]:
        lines = []
        while (line := self.next()) is not None:
            lines.append(line)
        return lines


def jsonrpc(line: bytes) -> dict[str, Any]:
    """Parse one stdout line, which must be exactly one JSON-RPC 2.0 message."""
    assert line.endswith(b"\n"), line
    message = json.loads(line)
    assert isinstance(message, dict), line
    assert message.get("jsonrpc") == "2.0", line
    is_response = "id" in message and ("result" in message or "error" in message)
    assert is_response or "method" in message, line
    return message


def test_sandbox_over_stdio_needs_no_key_and_stdout_is_only_jsonrpc(launched: Launched) -> None:
    """Raw JSON-RPC, as a host sends it, to `--sandbox -v` with no ORQ_* variable at all.

    The sandbox's own uvicorn and the debug logging run in the same process; none of it may reach stdout.
    """
    process, stderr_path = launched.stdio, launched.stdio_stderr
    assert process.stdin is not None
    assert process.stdout is not None
    reader = LineReader(process.stdout)

    def send(message: dict[str, Any]) -> None:
        assert process.stdin is not None
        process.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
        process.stdin.flush()

    def until_response(request_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        others = []
        while True:
            line = reader.next()
            assert line is not None, f"stdout closed early:\n{stderr_path.read_text()}"
            message = jsonrpc(line)
            if message.get("id") == request_id and "method" not in message:
                return message, others
            others.append(message)

    client_info = {"name": "raw-test", "version": "0"}
    send(
        {
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": client_info},
        }
    )
    initialized, _ = until_response(1)
    assert initialized["result"]["serverInfo"]["name"] == "orq-mcp"
    send({"method": "notifications/initialized"})
    send({"id": 2, "method": "tools/list"})
    tools, _ = until_response(2)
    assert len(tools["result"]["tools"]) == 4
    send({"id": 3, "method": "tools/call", "params": {"name": "list_deployments", "arguments": {"limit": 50}}})
    listed, _ = until_response(3)
    assert listed["result"]["isError"] is False
    page = listed["result"]["structuredContent"]
    assert sorted(d["key"] for d in page["deployments"]) == SAMPLE_KEYS
    assert page["next_cursor"] is None
    send(
        {
            "id": 4,
            "method": "tools/call",
            "params": {
                "name": "invoke_deployment",
                "arguments": {"key": "faq-assistant", "messages": [{"role": "user", "content": "Ship to Norway?"}]},
                "_meta": {"progressToken": "p-1"},
            },
        }
    )
    called, notifications = until_response(4)
    assert called["result"]["isError"] is False
    text = called["result"]["structuredContent"]["text"]
    assert "Ship to Norway?" in text
    assert "sandbox" in text
    assert called["result"]["content"] == [{"type": "text", "text": text}]
    progress = [n for n in notifications if n["method"] == "notifications/progress"]
    assert progress, notifications
    assert all(n["params"]["progressToken"] == "p-1" for n in progress)
    assert "".join(n["params"]["message"] for n in progress) == text

    # Closing stdin is how a host stops a stdio server: it exits cleanly, and anything left on stdout is protocol.
    process.stdin.close()
    assert process.wait(timeout=PROCESS_TIMEOUT) == 0, stderr_path.read_text()
    for line in reader.rest():
        jsonrpc(line)
    log = stderr_path.read_text()
    assert "Sandbox" in log
    assert " DEBUG " in log  # -v really was on, so the quiet stdout is not for lack of logging


# A busy port ----------------------------------------------------------------------------------------------------------


# --workers 2: the supervisor binds the one socket its workers share, the same way (it used uvicorn's binding, which
# logged a raw "[Errno 98]" and exited 3).
@pytest.mark.parametrize(
    "serving", [["--transport", "http"], ["--transport", "sse"], ["--transport", "http", "--workers", "2"]]
)
@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_busy_port_is_one_line_naming_it_and_how_to_choose_another(serving: list[str], how: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        where = ["--port", str(port)] if how == "flag" else []
        env = server_env(**({"ORQ_MCP_PORT": str(port)} if how == "env" else {}))
        done = subprocess.run(
            [*MODULE, *serving, *where],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PROCESS_TIMEOUT,
            check=False,
        )
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert f"port {port} on 127.0.0.1 is already in use" in line
    assert "--port" in line
    assert "ORQ_MCP_PORT" in line
    assert API_KEY not in done.stderr


# Unknown options -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "named", "says"),
    [
        # argparse took the value after the unknown flag for the subcommand: "invalid choice: 'abc'", the key echoed.
        (["--sandbox", "--api-key", "sk-orq-typed-on-the-command-line"], "--api-key", "ORQ_API_KEY"),
        (["--api-key=sk-orq-typed-on-the-command-line", "check"], "--api-key", "ORQ_API_KEY"),
        (["--sandbox", "--transprot", "http"], "--transprot", "--transport"),
        (["check", "--liev", "--deployment", "faq"], "--liev", "--live"),
        (["config", "cursor", "--depolyments", "support-triage"], "--depolyments", "--deployments"),
        (["--record", "out.json", "check"], "--record", "orq-mcp check"),  # an option of `check`, given before it
    ],
)
def test_an_unknown_option_is_named_and_its_value_never_shown(
    capsys: pytest.CaptureFixture[str], argv: list[str], named: str, says: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"unrecognized option {named}" in err, err
    assert says in err
    assert "invalid choice" not in err
    assert "sk-orq-typed-on-the-command-line" not in err  # a value after an unknown flag may be a secret


@pytest.mark.parametrize(
    "argv",
    [
        ["--deployments", "check", "--expose", "config", "config", "cursor"],  # keys that look like commands
        ["--dep", "faq-assistant", "config", "cursor"],  # an abbreviation argparse accepts
        ["-v", "config", "cursor", "--entry"],
    ],
)
def test_a_valid_command_line_is_not_taken_for_an_unknown_option(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main(argv) == 0
    assert "unrecognized option" not in capsys.readouterr().err


def test_after_a_double_dash_argparse_speaks_for_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["config", "cursor", "--", "--not-an-option"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized option" not in err
    assert "unrecognized arguments: --not-an-option" in err


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_connections_on_the_bound_port_send_each_answer_at_once(host: str) -> None:
    """asyncio turns Nagle's algorithm off (TCP_NODELAY) only on connections of a socket made for IPPROTO_TCP.
    With it on, an answer written in two parts (headers, then body) waited for the client's delayed ACK:
    every HTTP request took 40 ms more."""
    try:
        listening = bind(host, 0)
    except OSError as exc:  # no IPv6 on this machine
        pytest.skip(f"cannot bind {host}: {exc}")
    nodelay: list[int] = []

    async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nodelay.append(writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    with listening:
        server = await asyncio.start_server(accepted, sock=listening)
        async with server:
            reader, writer = await asyncio.open_connection(host, listening.getsockname()[1])
            assert await asyncio.wait_for(reader.read(), 10) == b""  # closed once the server has looked
            writer.close()
            await writer.wait_closed()
    assert nodelay == [1]
