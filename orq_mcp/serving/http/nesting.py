"""HTTP request bodies nested deeper than the MCP SDK's JSON parser reads: refused at the edge, on every Python."""

from __future__ import annotations

import pydantic_core
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from mcp_types import PARSE_ERROR
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from orq_mcp.serving.http.asgi import read_body

# Levels of objects and arrays around a value (the message itself is level 1) that pydantic's JSON parser reads.
# The SDK reads stdio, HTTP+SSE and handshake-era Streamable HTTP with it, and answers deeper messages -32700.
MAX_DEPTH = 200
TOO_DEEP = "recursion limit exceeded"  # how pydantic-core's parser says a body is deeper than that


class NestingGuard:
    """Answers -32700 Parse error to a JSON POST nested deeper than MAX_DEPTH, before anything else parses it.

    The SDK's 2026-07-28 entry reads bodies with the stdlib's `json`, whose limit is the interpreter's: about 1,000
    levels on CPython 3.11, 1,500 on 3.12, 10,000 on 3.13 and 65,000 on 3.14, where a 50,000-level body got past
    the parser and was answered -32600 Invalid Request instead. Probing with the parser of the other transports
    gives them all one limit on every Python, and keeps deep values away from the recursive code behind the entry.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        if not Headers(scope=scope).get("content-type", "").lower().startswith("application/json"):
            await self._app(scope, receive, send)
            return
        body, replay = await read_body(receive, DEFAULT_MAX_REQUEST_BODY_SIZE)
        if body is None or not too_deep(body):  # too large: the SDK answers 413
            await self._app(scope, replay, send)
            return
        error = {"code": PARSE_ERROR, "message": f"Parse error: the JSON is nested more than {MAX_DEPTH} levels deep"}
        await JSONResponse({"jsonrpc": "2.0", "id": None, "error": error}, status_code=400)(scope, replay, send)


def too_deep(body: bytes) -> bool:
    """Whether pydantic's parser refuses `body` for its depth (other faults are the SDK's to answer)."""
    try:
        pydantic_core.from_json(body)
    except ValueError as exc:
        return TOO_DEEP in str(exc)
    return False
