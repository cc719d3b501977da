"""The "MCP floor": a minimal MCP server on the same SDK as orq-mcp, for the overhead section.

`python -m bench.floor_server` serves two tools over stdio with `mcp.server.MCPServer`, nothing else:

- `invoke(key, inputs, messages)`: the same upstream request orq-mcp makes for `invoke_deployment` (POST
  /v2/deployments/stream with httpx2, `bench/upstream.py`, one keep-alive client for the process), reads the SSE
  to [DONE], sends the same progress notifications (coalesced by back-pressure, via the SDK's `report_progress`), and
  returns the text as a plain string: no models, no validation beyond the SDK's own argument parsing, no
  structured output;
- `constant()`: returns a constant string without any upstream call (the pure MCP round trip).

What `mcp-stdio` costs on top of the `floor` variant is orq-mcp's own code; what `floor` costs on top of direct
httpx2 is what any MCP server on this SDK pays (process hop, JSON-RPC, the SDK's dispatch). Configured like
orq-mcp: ORQ_BASE_URL and ORQ_API_KEY from the environment. Imports nothing from orq_mcp.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp.server import MCPServer
from mcp.server.mcpserver import Context

from bench.upstream import stream_text

TRANSPORT_ENV = "BENCH_FLOOR_TRANSPORT"  # "orq-mcp": serve on orq-mcp's stdio transport instead of the SDK's
CONSTANT = "pong"  # bench/overhead.py checks for it (FLOOR_CONSTANT)
# Quiet per-request transport logging, exactly as orq-mcp does (orq_mcp/cli/main.py): a log line per upstream request
# would be a cost orq-mcp does not pay.
QUIET = ("httpx2", "httpcore", "httpcore2", "mcp", "sse_starlette", "uvicorn.access")
_http: httpx2.AsyncClient | None = None


@asynccontextmanager
async def lifespan(_: MCPServer[Any]) -> AsyncIterator[None]:
    global _http
    base_url = os.environ["ORQ_BASE_URL"].rstrip("/").removesuffix("/v2")
    async with httpx2.AsyncClient(base_url=base_url, timeout=httpx2.Timeout(30.0, connect=5.0)) as http:
        _http = http
        yield None
    _http = None


server = MCPServer("mcp-floor", lifespan=lifespan)


@server.tool(structured_output=False)
async def invoke(
    ctx: Context, key: str, inputs: dict[str, Any] | None = None, messages: list[dict[str, Any]] | None = None
) -> str:
    """Stream a deployment and return its text, relaying it as progress notifications."""
    assert _http is not None
    arguments = {"key": key, **{k: v for k, v in (("inputs", inputs), ("messages", messages)) if v is not None}}

    async def notify(chars: int, piece: str) -> None:
        await ctx.report_progress(chars, None, piece)  # a no-op without a progress token

    return await stream_text(_http, arguments, notify)


@server.tool(structured_output=False)
async def constant() -> str:
    """Return a constant string (no upstream call)."""
    return CONSTANT


if __name__ == "__main__":
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    if os.environ.get(TRANSPORT_ENV) == "orq-mcp":
        # The same server on orq-mcp's thread-free stdio transport: separates the SDK's request handling from
        # its threaded transport in the overhead split (the one import from orq_mcp, and only here).
        import anyio

        from orq_mcp.orq.redact import Redactor
        from orq_mcp.serving.stdio.transport import serve_stdio

        anyio.run(serve_stdio, server, Redactor([]))
    else:
        server.run("stdio")
