"""The "MCP floor": a minimal MCP server on the same SDK as orq-mcp, for the overhead section.

`python -m bench.floor_server` serves two tools over stdio with `mcp.server.MCPServer`, nothing else:

- `invoke(key, inputs, messages)`: the same upstream request orq-mcp makes for `invoke_deployment` (POST
  /v2/deployments/stream with httpx2, same body, same Authorization/Accept headers, one keep-alive client for the
  process), reads the SSE to [DONE], joins the text and returns it as a plain string: no progress notifications,
  no models, no validation beyond the SDK's own argument parsing, no structured output;
- `constant()`: returns a constant string without any upstream call (the pure MCP round trip).

What `mcp-stdio` costs on top of the `floor` variant is orq-mcp's own code; what `floor` costs on top of direct
httpx2 is what any MCP server on this SDK pays (process hop, JSON-RPC, the SDK's dispatch). Configured like
orq-mcp: ORQ_BASE_URL and ORQ_API_KEY from the environment. Imports nothing from orq_mcp.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp.server import MCPServer

CONSTANT = "pong"  # bench/overhead.py checks for it (FLOOR_CONSTANT)
# Quiet per-request transport logging, exactly as orq-mcp does (orq_mcp/serving/cli.py): a log line per upstream request
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
async def invoke(key: str, inputs: dict[str, Any] | None = None, messages: list[dict[str, Any]] | None = None) -> str:
    """Stream a deployment and return its text."""
    assert _http is not None
    body: dict[str, Any] = {"key": key, "invoke_options": {"include_usage": True}, "stream": True}
    if inputs is not None:
        body["inputs"] = inputs
    if messages is not None:
        body["messages"] = messages
    headers = {"Authorization": f"Bearer {os.environ['ORQ_API_KEY']}", "Accept": "text/event-stream"}
    text: list[str] = []
    async with _http.stream("POST", "/v2/deployments/stream", json=body, headers=headers) as response:
        response.raise_for_status()
        lines = response.aiter_lines()
        async for line in lines:
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                break
            content = json.loads(data)["choices"][0]["message"].get("content")
            if isinstance(content, str):
                text.append(content)
        async for _ in lines:  # drain, so the keep-alive connection goes back to the pool (as orq-mcp does)
            pass
    return "".join(text)


@server.tool(structured_output=False)
async def constant() -> str:
    """Return a constant string (no upstream call)."""
    return CONSTANT


if __name__ == "__main__":
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    server.run("stdio")
