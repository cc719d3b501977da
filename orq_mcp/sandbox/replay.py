"""Serving a recorded transcript (``orq-mcp check --live --record FILE``) back, byte for byte.

A request is answered with the recorded exchange that has the same method, path and JSON body,
else the first one with the same method and path; anything else is a 404. This lets the client be
tested against what the real orq API sent, without a key or a network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def replay_app(transcript: Mapping[str, Any]) -> Starlette:
    exchanges = [e for e in transcript.get("exchanges", []) if isinstance(e, dict)]

    async def answer(request: Request) -> Response:
        path, body = request.url.path, _json(await request.body())
        same_route = [e for e in exchanges if e["method"] == request.method and _path(e) == path]
        recorded = next((e for e in same_route if e.get("request") == body), same_route[0] if same_route else None)
        if recorded is None:
            return JSONResponse({"message": "No recorded exchange for this request."}, status_code=404)
        return Response(recorded["body"], status_code=recorded["status"], media_type=recorded["content_type"] or None)

    return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])


def _path(exchange: Mapping[str, Any]) -> str:
    return str(exchange["path"]).partition("?")[0]


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
