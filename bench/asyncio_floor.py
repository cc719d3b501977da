"""The plain-asyncio floor: the least any stdio server can do for `invoke_deployment`, for the overhead section.

`python -m bench.asyncio_floor` speaks just enough MCP over stdio for the SDK's `Client` (`server/discover`,
or `initialize` for a handshake-era client, `ping`, `tools/list` and `tools/call`) with no MCP SDK on the server
side: asyncio's own pipe transports, `json`, and httpx2. Its `invoke` tool makes the same upstream request as orq-mcp
(`bench/upstream.py`, one keep-alive client) and sends **the same progress notifications**, when the call
carries a progress token: the new text as `message`, the characters so far as `progress`, coalesced by
back-pressure as orq-mcp's relay does. `constant` answers without an upstream call.

`mcp-stdio minus floor-asyncio` is everything orq-mcp and the SDK add on top of moving the same bytes; the issue's
goal is that it stays under 2 ms at p50. Configured like orq-mcp: ORQ_BASE_URL and ORQ_API_KEY from the
environment. Imports nothing from orq_mcp or mcp.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import httpx2

from bench.upstream import stream_text

VERSION = "2026-07-28"
LINE_LIMIT = 64 * 1024 * 1024
CONSTANT = "pong"
SERVER_INFO = {"name": "asyncio-floor", "version": "0"}
TOOLS = [{"name": name, "inputSchema": {"type": "object"}} for name in ("invoke", "constant")]
CACHE = {"resultType": "complete", "ttlMs": 0, "cacheScope": "private"}  # what 2026-07-28 list results carry
DISCOVER = {
    "supportedVersions": [VERSION],
    "capabilities": {"tools": {}},
    **CACHE,
    "_meta": {"io.modelcontextprotocol/serverInfo": SERVER_INFO},
}


def answer(method: str, request_id: Any, params: dict[str, Any], tools: list[dict[str, Any]] = TOOLS) -> dict[str, Any]:
    """The response to any request but `tools/call`: just enough of MCP for the SDK's `Client` (also used by the
    plain relay over HTTP, `bench/plain_relay.py`)."""
    if method == "server/discover":
        return {"id": request_id, "result": DISCOVER}
    if method == "initialize":
        result = {"protocolVersion": params["protocolVersion"], "capabilities": {"tools": {}}}
        return {"id": request_id, "result": {**result, "serverInfo": SERVER_INFO}}
    if method == "tools/list":  # the SDK client lists tools once, to validate results against their schemas
        return {"id": request_id, "result": {"tools": tools, **CACHE}}
    if method == "ping":
        return {"id": request_id, "result": {}}
    return {"id": request_id, "error": {"code": -32601, "message": f"no method {method}"}}


class Floor:
    def __init__(self, writer: asyncio.StreamWriter, http: httpx2.AsyncClient) -> None:
        self.writer = writer
        self.http = http
        self.tasks: set[asyncio.Task[None]] = set()

    def send(self, message: dict[str, Any]) -> None:
        self.writer.write(json.dumps({"jsonrpc": "2.0", **message}, separators=(",", ":")).encode() + b"\n")

    def dispatch(self, line: bytes) -> None:
        message = json.loads(line)
        method, request_id = message.get("method"), message.get("id")
        if request_id is None:
            return  # notifications (initialized, cancelled): nothing to do
        params = message.get("params") or {}
        if method == "tools/call":
            task = asyncio.create_task(self.call(request_id, params))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        else:
            self.send(answer(method, request_id, params))

    async def call(self, request_id: Any, params: dict[str, Any]) -> None:
        token = (params.get("_meta") or {}).get("progressToken")
        if params["name"] == "constant":
            text = CONSTANT
        else:
            text = await self.invoke(params["arguments"], token)
        result = {"content": [{"type": "text", "text": text}], "isError": False, "resultType": "complete"}
        self.send({"id": request_id, "result": result})
        await self.writer.drain()

    async def invoke(self, arguments: dict[str, Any], token: Any) -> str:
        async def notify(chars: int, piece: str) -> None:
            progress = {"progressToken": token, "progress": chars, "message": piece}
            self.send({"method": "notifications/progress", "params": progress})
            await self.writer.drain()

        return await stream_text(self.http, arguments, notify if token is not None else None)


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, sys.stdout)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    base_url = os.environ["ORQ_BASE_URL"].rstrip("/").removesuffix("/v2")
    async with httpx2.AsyncClient(base_url=base_url, timeout=httpx2.Timeout(30.0, connect=5.0)) as http:
        floor = Floor(writer, http)
        while line := await reader.readline():
            if line.strip():
                floor.dispatch(line)


if __name__ == "__main__":
    asyncio.run(main())
