"""Running the real `python -m orq_mcp` as a process, for the tests that cross a process or a socket."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.conftest import API_KEY

STARTUP_TIMEOUT = 30.0
MODULE = [sys.executable, "-m", "orq_mcp"]
PATHS = {"http": "/mcp", "sse": "/sse"}


# What the tests' own environment must not pass on: a developer's orq key or URL would change what the server
# does, and uv's variables (UV_CACHE_DIR) what `orq-mcp config` prints.
NOT_PASSED_ON = ("ORQ_", "UV_")


def server_env(orq_url: str | None = None, key: str | None = API_KEY, **settings: str) -> dict[str, str]:
    """The environment of an `orq-mcp` process (a server, or a command such as `check`), the one way to build it.

    This process's environment without any ORQ_* or UV_* variable; then the canary `key` as ORQ_API_KEY (`None`:
    no key) and `orq_url` as ORQ_BASE_URL when given; then `settings` (ORQ_* names), which win over both.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_PASSED_ON)}
    if key is not None:
        env["ORQ_API_KEY"] = key
    if orq_url is not None:
        env["ORQ_BASE_URL"] = orq_url
    env.update(settings)
    return env


@asynccontextmanager
async def stdio_session(log: Path, **env: str) -> AsyncIterator[Client]:
    """A real MCP client talking to `python -m orq_mcp` over stdio, its stderr kept in `log`."""
    params = StdioServerParameters(command=MODULE[0], args=MODULE[1:], env=server_env(key=None, **env))
    with log.open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class HttpServer:
    """A `--transport http|sse` server process on a loopback port, its output in `log_dir`."""

    transport: str
    process: subprocess.Popen[bytes]
    port: int
    log_dir: Path

    @classmethod
    def start(
        cls, transport: str, env: dict[str, str], log_dir: Path, args: Sequence[str] = (), host: str = "127.0.0.1"
    ) -> HttpServer:
        """Spawn the server (without waiting: call `ready()` before the first request)."""
        port = free_port()
        command = [*MODULE, *args, "--transport", transport, "--host", host, "--port", str(port)]
        with (log_dir / "stdout.log").open("wb") as out, (log_dir / "stderr.log").open("wb") as err:
            process = subprocess.Popen(
                command, env=server_env(key=None, **env), stdin=subprocess.DEVNULL, stdout=out, stderr=err
            )
        return cls(transport, process, port, log_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATHS[self.transport]}"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / "stderr.log"

    def stderr(self) -> str:
        return read_log(self.stderr_path)

    def stdout(self) -> str:
        return read_log(self.log_dir / "stdout.log")

    def ready(self) -> HttpServer:
        """Wait until the port accepts connections; fail with the server's stderr if it never does."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"orq-mcp exited with {self.process.returncode} before serving:\n{self.stderr()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"orq-mcp did not listen on {self.port} within {STARTUP_TIMEOUT}s:\n{self.stderr()}")
                time.sleep(0.05)

    def stop(self) -> None:
        stop_process(self.process)


class ServerGroup:
    """The servers one test (or one module) starts, each logging under `log_root/<name>`; see `server_group`."""

    def __init__(self, log_root: Path) -> None:
        self.log_root = log_root
        self.started: list[HttpServer] = []

    def start(self, name: str, transport: str, env: dict[str, str], args: Sequence[str] = ()) -> HttpServer:
        """Spawn one server (without waiting: call `ready()` before the first request)."""
        log_dir = self.log_root / name
        log_dir.mkdir(parents=True)
        self.started.append(HttpServer.start(transport, env, log_dir, args=args))
        return self.started[-1]


@contextmanager
def server_group(log_root: Path, check_logs: bool = True) -> Iterator[ServerGroup]:
    """Servers stopped together when the block ends, however it ends; then, with `check_logs`, none may have
    logged a traceback (a server that crashed while a test passed is still a failure)."""
    group = ServerGroup(log_root)
    try:
        yield group
    finally:
        for server in group.started:
            server.stop()
    if check_logs:
        for server in group.started:
            assert "Traceback" not in server.stderr(), server.stderr()[-3000:]


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def start_on_default_host(transport: str, env: dict[str, str], log_dir: Path, args: Sequence[str] = ()) -> HttpServer:
    """Like `HttpServer.start`, but without `--host`: the server binds wherever it does by default."""
    port = free_port()
    command = [*MODULE, *args, "--transport", transport, "--port", str(port)]
    with (log_dir / "stdout.log").open("wb") as out, (log_dir / "stderr.log").open("wb") as err:
        process = subprocess.Popen(
            command, env=server_env(key=None, **env), stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
    return HttpServer(transport, process, port, log_dir)


def listening_addresses(pid: int, port: int) -> set[str]:
    """The local IP addresses process `pid` listens on at TCP `port`."""
    import psutil

    return {
        conn.laddr.ip
        for conn in psutil.Process(pid).net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port
    }


def rss_bytes(pid: int) -> int:
    """Resident set size of process `pid`."""
    import psutil

    return psutil.Process(pid).memory_info().rss


_TLS_CONTEXT: ssl.SSLContext | None = None


def loopback_http_client(
    headers: dict[str, str] | None = None,
    timeout: httpx2.Timeout | float | None = None,
    auth: httpx2.Auth | None = None,
) -> httpx2.AsyncClient:
    """An httpx2 client for plain-HTTP loopback servers, cheap to make.

    Every `httpx2.AsyncClient()` loads the CA bundle into a new TLS context (~60 ms of CPU); these clients never
    use TLS, so they share one context. The signature fits the MCP SDK's `httpx_client_factory` (`sse_client`).
    """
    global _TLS_CONTEXT
    if _TLS_CONTEXT is None:
        _TLS_CONTEXT = ssl.create_default_context()
    timeout = timeout if timeout is not None else httpx2.Timeout(30, read=300)  # the MCP SDK's defaults
    return httpx2.AsyncClient(headers=headers, timeout=timeout, auth=auth, verify=_TLS_CONTEXT)
