"""The orq emulator as a separate process for the benchmarks: ``python -m bench.emulator --api-key K``.

It is ``orq_mcp.sandbox`` (same app, same state) plus a small control surface on the same loopback port, so one
emulator process can serve every benchmark section and be reconfigured between them:

- ``GET /bench/stats``: requests served, distinct client connections seen, this process's CPU seconds;
- ``POST /bench/reset``: zero those counters and drop the request log;
- ``POST /bench/config?chunk_delay=S&huge_size=N&huge_chunk_size=M&pieces=P``: set the stream pacing and (with
  ``huge_size``) a permanent ``huge_response`` fault on the stream route, or (with ``pieces``) make every stream
  ``P`` word-sized pieces of text (a permanent ``scripted_deltas`` fault, paced like any stream); ``0`` removes it.

Running it out of process keeps its CPU off the benchmark client's GIL and lets the scale section report how busy
it was. Prints ``ORQ_EMULATOR_URL=...`` once listening (like ``python -m orq_mcp.sandbox``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import time
from typing import Any

import uvicorn

from bench.common import stream_pieces
from orq_mcp.sandbox import EmulatorState, Fault, create_app, sample_workspace


class BenchApp:
    """ASGI wrapper: counts connections (by client port) and answers the /bench control routes."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.app = create_app(state)
        self.requests = 0
        self.connections: set[tuple[str, int]] = set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/bench/"):
            await self._control(scope, send)
            return
        self.requests += 1
        client = scope.get("client")
        if client:
            self.connections.add((client[0], client[1]))
        await self.app(scope, receive, send)

    async def _control(self, scope: dict[str, Any], send: Any) -> None:
        path = scope["path"]
        query = dict(part.split("=", 1) for part in scope.get("query_string", b"").decode().split("&") if "=" in part)
        if path == "/bench/stats":
            times = os.times()
            body: dict[str, Any] = {
                "requests": self.requests,
                "connections": len(self.connections),
                "cpu_seconds": times.user + times.system,
                "pid": os.getpid(),
            }
        elif path == "/bench/reset":
            self.requests = 0
            self.connections.clear()
            self.state.clear_log()
            body = {"ok": True}
        elif path == "/bench/config":
            if "chunk_delay" in query:
                self.state.chunk_delay = float(query["chunk_delay"])
            if "pieces" in query:
                self.state.clear_faults()
                count = int(query["pieces"])
                if count > 0:
                    self.state.add_fault(Fault("stream", "scripted_deltas", pieces=stream_pieces(count), times=-1))
            if "huge_size" in query:
                self.state.clear_faults()
                size = int(query["huge_size"])
                if size > 0:
                    chunk = int(query.get("huge_chunk_size", "4096"))
                    self.state.add_fault(Fault("stream", "huge_response", size=size, chunk_size=chunk, times=-1))
            body = {"ok": True, "chunk_delay": self.state.chunk_delay, "faults": len(self.state.pending_faults)}
        else:
            body = {"error": "unknown control route"}
        raw = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": raw})


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield  # our own handlers below stop the server


async def run(args: argparse.Namespace) -> None:
    # A short request log: the benchmarks read counters, not records, and 500 streams must not pile up bodies.
    state = EmulatorState(workspaces={args.api_key: sample_workspace()}, chunk_delay=args.chunk_delay, log_limit=64)
    app = BenchApp(state)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        lifespan="off",
        log_level="warning",
        log_config=None,
        access_log=False,
        ws="none",
        backlog=4096,
        timeout_graceful_shutdown=1,
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    task = loop.create_task(server.serve())
    deadline = time.monotonic() + 20
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            raise SystemExit("the bench emulator failed to start")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    print(f"ORQ_EMULATOR_URL=http://127.0.0.1:{port}", flush=True)
    await task


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.emulator")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
