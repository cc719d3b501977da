"""The plain relay: the floor for server CPU per streamed call over HTTP (`bench/streamed.py`).

`python -m bench.plain_relay --port P [--scrub]` serves the same HTTP POST as orq-mcp's Streamable HTTP endpoint
(`/mcp`, JSON-RPC in the body) with no MCP SDK: a bare ASGI callable on uvicorn with the same HTTP implementation
orq-mcp runs on (h11, the asyncio loop, access log off). A `tools/call` of `invoke_deployment` makes the same
upstream request as orq-mcp (`bench/upstream.py`: POST /v2/deployments/stream with httpx2 on one keep-alive
client, each SSE event's JSON parsed) and answers with an SSE response: one `notifications/progress` event per
piece of text (coalesced by back-pressure exactly as orq-mcp's relay is, so it sends as many), then the result.
Other requests get just enough MCP for the SDK's `Client` (`bench/asyncio_floor.answer`).

So it does the network work a server must do for the call (accept the POST, read and parse the orq stream, write
one event per piece) and nothing else. With `--scrub` it also does what orq-mcp must do besides, making it the
second floor: every piece passes a stream redactor built from the key (orq_mcp.orq.redact, the same code orq-mcp
scrubs with), every outgoing event's JSON is scanned for the key and scrubbed if it holds one (as orq-mcp's one
exit does), and the result is structured like orq-mcp's (`content` plus `structuredContent` with the text, finish
reason, model, id and usage of the final event). Not done by either: validating chunks with models, sessions,
resumability (the event store), the SDK's header and schema checks, middlewares, tracing.

Serves on `http://HOST:PORT/mcp`. Configured like orq-mcp: ORQ_BASE_URL and ORQ_API_KEY from the environment.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import httpx2
import uvicorn

from bench.asyncio_floor import answer
from bench.upstream import stream_text

PATH = "/mcp"
TOOLS = [{"name": "invoke_deployment", "inputSchema": {"type": "object"}}]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache, no-transform")]
JSON_HEADERS = [(b"content-type", b"application/json")]

Scope = dict[str, Any]


class PlainRelay:
    def __init__(self, scrub: bool) -> None:
        self.http: httpx2.AsyncClient | None = None
        self.redactor: Any = None
        if scrub:
            from orq_mcp.orq.redact import Redactor  # no MCP imports: the key's redactor, as orq-mcp builds it

            self.redactor = Redactor([os.environ["ORQ_API_KEY"]])

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "http":
            await self.request(scope, receive, send)

    async def lifespan(self, receive: Any, send: Any) -> None:
        base_url = os.environ["ORQ_BASE_URL"].rstrip("/").removesuffix("/v2")
        async with httpx2.AsyncClient(base_url=base_url, timeout=httpx2.Timeout(30.0, connect=5.0)) as http:
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.http = http
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def request(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["method"] != "POST" or scope["path"] != PATH:
            status = 200 if scope["method"] == "DELETE" else 405  # DELETE: the client ending its session
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        message = json.loads(b"".join(chunks))
        request_id, method = message.get("id"), message.get("method")
        if request_id is None:  # a notification
            await send({"type": "http.response.start", "status": 202, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        elif method == "tools/call":
            await self.call(request_id, message.get("params") or {}, send)
        else:
            body = self.dump({"jsonrpc": "2.0", **answer(method, request_id, message.get("params") or {}, TOOLS)})
            await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
            await send({"type": "http.response.body", "body": body})

    async def call(self, request_id: Any, params: dict[str, Any], send: Any) -> None:
        assert self.http is not None
        token = (params.get("_meta") or {}).get("progressToken")
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})

        async def event(message: dict[str, Any]) -> None:
            data = self.dump({"jsonrpc": "2.0", **message})
            body = b"event: message\ndata: " + data + b"\n\n"
            await send({"type": "http.response.body", "body": body, "more_body": True})

        async def notify(chars: int, piece: str) -> None:
            params = {"progressToken": token, "progress": chars, "message": piece}
            await event({"method": "notifications/progress", "params": params})

        last: dict[str, Any] = {}
        scrub = self.redactor.stream() if self.redactor is not None else None
        text = await stream_text(self.http, params["arguments"], notify if token is not None else None, scrub, last)
        result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": False}
        result["resultType"] = "complete"  # what a 2026-07-28 result carries
        if self.redactor is not None:
            usage = last.get("usage")
            choice = (last.get("choices") or [{}])[0]
            result["structuredContent"] = {
                "text": text,
                "finish_reason": choice.get("finish_reason"),
                "model": last.get("model"),
                "id": last.get("id"),
                "usage": usage,
            }
        await event({"id": request_id, "result": result})
        await send({"type": "http.response.body", "body": b""})

    def dump(self, message: dict[str, Any]) -> bytes:
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        if self.redactor is not None and not (self.redactor.literal_in_json and not self.redactor.found_in(text)):
            # What orq-mcp's exit does with a message that holds a piece of the key: parse, scrub, write again.
            text = json.dumps(self.redactor.value(json.loads(text)), ensure_ascii=False, separators=(",", ":"))
        return text.encode()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.plain_relay")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scrub", action="store_true", help="also scrub and structure the result (second floor)")
    args = parser.parse_args()
    config = uvicorn.Config(
        PlainRelay(args.scrub),
        host=args.host,
        port=args.port,
        http="h11",  # what orq-mcp's server runs (a subclass of uvicorn's H11Protocol)
        lifespan="on",
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=5,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
