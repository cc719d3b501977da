"""Abandoning a handshake-era request whose client hung up, so its upstream orq stream closes at once."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orq_mcp.serving.http.asgi import handshake_era_post, read_body

logger = logging.getLogger(__name__)

SESSION_HEADER = b"mcp-session-id"
# Headers the cancellation carries over from the abandoned request (session, credential, Host/Origin checks).
KEPT_HEADERS = frozenset({b"mcp-session-id", b"mcp-protocol-version", b"authorization", b"host", b"origin"})


class AbandonOnDisconnect:
    """Cancels the requests of a Streamable HTTP POST whose response stream the client dropped.

    On handshake-era protocol versions the SDK keeps serving such a request (a client may resume a
    stream): unless the client comes back with `Last-Event-ID` within the grace (none without an event
    store), the answer is lost and the orq stream behind it would stay open until the session ends. The
    request is then cancelled through the protocol itself, with a `notifications/cancelled` posted into
    the same session. (2026-07-28 requests and legacy SSE already end with their connection.) Nothing
    outside may bound this call's time: the grace is waited out inside it, after the client has gone.
    """

    def __init__(self, app: ASGIApp, grace: float = 0.0) -> None:
        self._app = app
        # With resumable streams (an event store), a client may come back with Last-Event-ID: the request
        # is only abandoned if none does within `grace` seconds.
        self._grace = grace
        # Sessions with a request in flight or in its grace: only their resumes matter, and so are noted.
        self._sessions: dict[str, _Resumes] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._note_resume(scope)
        headers = handshake_era_post(scope)
        if headers is None or "mcp-session-id" not in headers:
            await self._app(scope, receive, send)
            return
        body, replay = await read_body(receive, DEFAULT_MAX_REQUEST_BODY_SIZE)
        request_ids = _request_ids(body)
        if not request_ids:
            await self._app(scope, replay, send)
            return
        hung_up, answered = False, False

        async def watch_receive() -> Message:
            nonlocal hung_up
            message = await replay()
            hung_up = hung_up or (message["type"] == "http.disconnect" and not answered)
            return message

        async def watch_send(message: Message) -> None:
            nonlocal answered
            answered = answered or (message["type"] == "http.response.body" and not message.get("more_body", False))
            await send(message)

        session = headers["mcp-session-id"]
        resumes = self._sessions.setdefault(session, _Resumes())
        resumes.holders += 1
        began = anyio.current_time()
        try:
            await self._app(scope, watch_receive, watch_send)
            if hung_up and not answered and not await self._resumed_since(resumes, began):
                for request_id in request_ids:
                    await self._cancel(scope, request_id)
        finally:
            resumes.holders -= 1
            if not resumes.holders:
                del self._sessions[session]

    async def _resumed_since(self, resumes: _Resumes, began: float) -> bool:
        """Whether the session resumed a stream after `began`, or does within the grace.

        A resume may come before the server has finished with the dropped request (a client that reconnects
        at once): it counts as much as one that comes during the grace.
        """
        if self._grace <= 0:
            return False
        with anyio.move_on_after(self._grace):
            while resumes.last < began:
                await resumes.arrived.wait()
        return resumes.last >= began

    def _note_resume(self, scope: Scope) -> None:
        """A GET carrying Last-Event-ID resumes a session's stream: its abandoned request may live on."""
        if scope["type"] != "http" or scope["method"] != "GET" or not self._sessions:
            return
        headers = Headers(scope=scope)
        resumes = self._sessions.get(headers.get("mcp-session-id", ""))
        if resumes is not None and headers.get("last-event-id"):
            resumes.last = anyio.current_time()
            arrived, resumes.arrived = resumes.arrived, anyio.Event()
            arrived.set()

    async def _cancel(self, scope: Scope, request_id: str | int) -> None:
        notification = {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": request_id, "reason": "The client disconnected; the answer cannot be delivered."},
        }
        body = json.dumps(notification).encode()
        headers = [(name, value) for name, value in scope["headers"] if name in KEPT_HEADERS]
        headers += [
            (b"content-type", b"application/json"),
            (b"accept", b"application/json, text/event-stream"),
            (b"content-length", str(len(body)).encode()),
        ]
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def discard(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 300:
                logger.debug("Cancelling an abandoned request was answered %s", message["status"])

        await self._app({**scope, "headers": headers}, receive, discard)


@dataclass
class _Resumes:
    """When one session last resumed a stream, while any of its requests is in flight or in its grace."""

    holders: int = 0  # such requests
    last: float = -math.inf
    arrived: anyio.Event = field(default_factory=anyio.Event)  # set (and replaced) at each resume


def _request_ids(body: bytes | None) -> list[str | int]:
    """The ids of the JSON-RPC requests in `body` (none for notifications, responses or anything malformed)."""
    try:
        message: Any = json.loads(body) if body else None
    except (ValueError, RecursionError):
        return []
    messages = message if isinstance(message, list) else [message]
    return [
        m["id"]
        for m in messages
        if isinstance(m, dict)
        and "method" in m
        and isinstance(m.get("id"), str | int)
        and not isinstance(m["id"], bool)
    ]
