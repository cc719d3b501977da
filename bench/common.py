"""Shared plumbing: processes (emulator, orq-mcp servers), statistics, RSS sampling, loop bounds.

Everything listens on and talks to 127.0.0.1 only. Every process started here is stopped by the code that
started it (by its own handle, never by name).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import psutil

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
API_KEY = "bench-key-0123456789"
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 30.0

# The invocation every latency benchmark makes: a deployment whose canned reply is short and deterministic
# (same messages -> same text): 153 characters in 30 stream chunks plus the final chunk.
INVOKE_ARGS: dict[str, Any] = {
    "key": "faq-assistant",
    "inputs": {"question": "hi"},
    "messages": [{"role": "user", "content": "Hi"}],
}
# What orq-mcp sends upstream for INVOKE_ARGS (the direct clients send the same body).
UPSTREAM_BODY: dict[str, Any] = {**INVOKE_ARGS, "invoke_options": {"include_usage": True}}

# The headline stream (issue 18): a model's answer of 40 token-sized pieces, paced 20 ms apart by the emulator,
# as users stream. Served by the emulator's `scripted_deltas` fault (`python -m bench.emulator`'s `pieces=`).
PACED_PIECES = 40
PACED_DELAY = 0.02
_WORDS = ("Our", "standard", "shipping", "within", "the", "EU", "takes", "two", "to", "four", "working", "days")


def stream_pieces(count: int = PACED_PIECES) -> tuple[str, ...]:
    """`count` word-sized pieces of text (each a word with its leading space, ~5 characters, like model tokens)."""
    return tuple(" " + _WORDS[i % len(_WORDS)] for i in range(count))


# -- statistics ---------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100), like numpy's default."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def spread(values: Sequence[float]) -> str:
    """`min..max` of per-repeat figures, for the notes."""
    if not values:
        return "-"
    return f"{min(values):.2f}..{max(values):.2f}"


# -- loop bounds --------------------------------------------------------------------------------------------------


@dataclass
class Budget:
    """A wall-clock budget for one section; loops check `expired` so nothing runs unbounded."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    @property
    def expired(self) -> bool:
        return time.monotonic() - self.started > self.seconds

    def remaining(self) -> float:
        return max(0.0, self.seconds - (time.monotonic() - self.started))


# -- processes ----------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def base_env() -> dict[str, str]:
    """The current environment without any ORQ_* setting (each server gets exactly the ones it needs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORQ_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def server_env(base_url: str, progress_interval: float | None = None, **extra: str) -> dict[str, str]:
    env = base_env()
    env.update({"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": base_url})
    if progress_interval is not None:
        env["ORQ_MCP_PROGRESS_INTERVAL"] = repr(progress_interval)
    env.update(extra)
    return env


def stop_process(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


class EmulatorProcess:
    """`python -m bench.emulator` on a free loopback port."""

    def __init__(self, chunk_delay: float = 0.0) -> None:
        self.chunk_delay = chunk_delay
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.ps: psutil.Process | None = None

    def __enter__(self) -> EmulatorProcess:
        args = [sys.executable, "-m", "bench.emulator", "--api-key", API_KEY, "--chunk-delay", str(self.chunk_delay)]
        self.process = subprocess.Popen(
            args, cwd=REPO, env=base_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=None, text=True
        )
        line = _read_line_with_timeout(self.process, STARTUP_TIMEOUT)
        if not line.startswith("ORQ_EMULATOR_URL="):
            stop_process(self.process)
            raise RuntimeError(f"the bench emulator did not start: {line!r}")
        self.url = line.strip().split("=", 1)[1]
        self.ps = psutil.Process(self.process.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            stop_process(self.process)

    def control(self, route: str, **params: Any) -> dict[str, Any]:
        method = "GET" if route == "stats" else "POST"
        response = httpx2.request(method, f"{self.url}/bench/{route}", params=params, timeout=10)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        return self.control("stats")


def _read_line_with_timeout(process: subprocess.Popen[str], timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    return result[0] if result else ""


@dataclass
class HttpServer:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/mcp"

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def http_server(
    env: dict[str, str],
    transport: str = "http",
    *,
    wait: bool = True,
    tree: Path = REPO,
    module: str = "orq_mcp",
    extra: Sequence[str] = (),
) -> Iterator[HttpServer]:
    """`python -m orq_mcp --transport http` (or another `module` taking --host/--port, such as the plain relay,
    with `extra` arguments) as a real process.

    With `wait` (the default) this yields once the port accepts connections; without it, at once (start other
    processes meanwhile, then call `wait_listening`).
    """
    port = free_port()
    log_dir = Path(tempfile.mkdtemp(prefix="orq-mcp-bench-"))
    log_path = log_dir / "stderr.log"
    args = [sys.executable, "-m", module, "--host", HOST, "--port", str(port), *extra]
    if module == "orq_mcp":
        args += ["--transport", transport]
    with log_path.open("wb") as stderr:
        process = subprocess.Popen(
            args, cwd=tree, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
        )
    server = HttpServer(process, port, log_path)
    try:
        if wait:
            wait_listening(server)
        yield server
    finally:
        stop_process(process)


def wait_listening(server: HttpServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"orq-mcp exited with {server.process.returncode}:\n{server.log()}")
        try:
            with socket.create_connection((HOST, server.port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"orq-mcp did not listen within {STARTUP_TIMEOUT}s:\n{server.log()}") from None
            time.sleep(0.02)


def stdio_params(env: dict[str, str], tree: Path = REPO) -> Any:
    from mcp import StdioServerParameters

    # cwd=tree: `python -m` puts the cwd first on sys.path, so the server is that tree's orq_mcp (this checkout's,
    # or the baseline's exported by `baseline_tree`).
    return StdioServerParameters(command=sys.executable, args=["-m", "orq_mcp"], env=env, cwd=str(tree))


def asyncio_floor_params(env: dict[str, str]) -> Any:
    """The plain-asyncio floor (`bench/asyncio_floor.py`): no MCP SDK on the server side."""
    from mcp import StdioServerParameters

    return StdioServerParameters(command=sys.executable, args=["-m", ASYNCIO_FLOOR_MODULE], env=env, cwd=str(REPO))


ASYNCIO_FLOOR_MODULE = "bench.asyncio_floor"


@contextlib.contextmanager
def baseline_tree(ref: str) -> Iterator[Path]:
    """`orq_mcp/` as of git `ref`, exported to a temporary directory: servers started there run that code
    (with this environment's packages), so a before/after comparison runs interleaved in one bench run."""
    with tempfile.TemporaryDirectory(prefix="orq-mcp-baseline-") as tmp:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", ref, "orq_mcp"], cwd=REPO, capture_output=True, check=True, timeout=60
        )
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True, timeout=60)
        yield Path(tmp)


def floor_params(env: dict[str, str], transport: str = "sdk") -> Any:
    """The minimal MCP server on the same SDK (`bench/floor_server.py`), started over stdio like orq-mcp, on the
    SDK's stdio transport or (`transport="orq-mcp"`) on orq-mcp's."""
    from mcp import StdioServerParameters

    env = {**env, "BENCH_FLOOR_TRANSPORT": transport}
    return StdioServerParameters(command=sys.executable, args=["-m", FLOOR_MODULE], env=env, cwd=str(REPO))


FLOOR_MODULE = "bench.floor_server"


def find_stdio_server(module: str = "orq_mcp") -> psutil.Process:
    """The `python -m <module>` child the MCP stdio client spawned (newest first)."""
    candidates = [p for p in psutil.Process().children(recursive=True) if _cmdline(p)[-2:] == ["-m", module]]
    if not candidates:
        raise RuntimeError(f"no {module} stdio child process found")
    return max(candidates, key=lambda p: p.create_time())


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class RssSampler:
    """Samples a process's RSS on a background thread; `peak` is the largest value seen."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")
        self.peak = 0
        self.samples = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self._process.memory_info().rss
            except psutil.Error:
                return
            self.peak = max(self.peak, rss)
            self.samples += 1
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self.peak = self._process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def rss(pid: int) -> int:
    return psutil.Process(pid).memory_info().rss


MB = 1024 * 1024


# -- MCP clients --------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def mcp_client(target: Any) -> AsyncIterator[Any]:
    from mcp import Client

    async with Client(target) as client:
        yield client


async def invoke_text(client: Any, args: dict[str, Any], progress: Any = None) -> str:
    result = await client.call_tool("invoke_deployment", args, progress_callback=progress)
    if result.is_error or not result.structured_content:
        text = result.content[0].text if result.content else repr(result)
        raise RuntimeError(f"invoke_deployment failed: {text}")
    return result.structured_content["text"]


async def floor_text(client: Any, tool: str, args: dict[str, Any], progress: Any = None) -> str:
    """Call a tool of the floor server (plain-text result, no structured content)."""
    result = await client.call_tool(tool, args, progress_callback=progress)
    if result.is_error or not result.content:
        raise RuntimeError(f"floor {tool} failed: {result!r}")
    return result.content[0].text


# -- direct clients (the baselines) ---------------------------------------------------------------------------------


async def direct_stream(http: httpx2.AsyncClient, body: dict[str, Any]) -> str:
    """POST /v2/deployments/stream with httpx2 and read the SSE to [DONE]: the minimal client, as a baseline.

    After [DONE] the (already arrived) end of the chunked body is drained so the connection goes back to the
    pool, as a careful client would do.
    """
    text: list[str] = []
    headers = {"Authorization": f"Bearer {API_KEY}", "Accept": "text/event-stream"}
    async with http.stream("POST", "/v2/deployments/stream", json={**body, "stream": True}, headers=headers) as r:
        r.raise_for_status()
        lines = r.aiter_lines()
        async for line in lines:
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                break
            content = json.loads(data)["choices"][0]["message"].get("content")
            if isinstance(content, str):
                text.append(content)
        async for _ in lines:  # drain: keeps the keep-alive connection reusable
            pass
    return "".join(text)


def sdk_client(base_url: str) -> Any:
    from orq_ai_sdk import Orq

    return Orq(api_key=API_KEY, server_url=base_url)


async def sdk_stream(orq: Any, body: dict[str, Any]) -> str:
    """The official orq-ai-sdk client's async stream of the same request."""
    text: list[str] = []
    stream = await orq.deployments.stream_async(
        key=body["key"],
        inputs=body.get("inputs"),
        messages=body.get("messages"),
        invoke_options={"include_usage": True},
    )
    async with stream as events:
        async for event in events:
            data = getattr(event, "data", None)
            choices = getattr(data, "choices", None) or []
            message = getattr(choices[0], "message", None) if choices else None
            content = getattr(message, "content", None)
            if isinstance(content, str):
                text.append(content)
    return "".join(text)


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)
