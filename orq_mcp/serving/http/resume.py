"""Resumable streams over Streamable HTTP: each stream scoped to its MCP session, and how long its events are kept.

A client whose connection drops mid-stream reconnects with `GET` and `Last-Event-ID`; the SDK asks
the store for every event after that one and then joins the stream's live tail. The SDK hands the
store only the stream's id, which is the JSON-RPC request id: "1" in one session is "1" in every
other, so a store keyed by it alone would replay one client's generation to another. Here every
stream is scoped to the MCP session it belongs to (see `SessionScope`), and a `Last-Event-ID` from
another session replays nothing.

The events are kept in memory (memory_events.py), bounded in count and in bytes, per stream and in all, and by
age; or in Redis (redis_events.py), shared by replicas, so a client may resume on any of them. Which store a
server uses, if any, is event_stores.py's to say; both read the session from here.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orq_mcp.config.credentials import caller_credential

logger = logging.getLogger(__name__)

SESSION_HEADER = "mcp-session-id"
MAX_EVENTS_PER_STREAM = 10_000  # a five-minute generation at the default 50 ms progress window is ~6 000
MAX_EVENTS = 50_000
EVENT_TTL = 300.0  # seconds; a client that has been away longer starts over
RETRY_MS = 1_000  # told to clients in each stream's first event: how soon to reconnect
MAX_SESSIONS = 10_000  # the SDK's own default cap on sessions


@dataclass(eq=False)
class SessionCell:
    """One MCP session's identity for the store: a digest of its id (random until the id is known)."""

    key: str = field(default_factory=lambda: secrets.token_hex(16))

    @classmethod
    def of(cls, session_id: str, credential: str) -> SessionCell:
        return cls(key=session_key(session_id, credential))


def session_key(session_id: str, credential: str) -> str:
    """The store's name for a session: every replica derives the same, and only with the same credential.

    The credential (the bearer token and the query-string key: `caller_credential`) binds a stream to
    whoever started it: the session id and an event id are not enough to replay it under another key, nor
    under another tenant's key behind the same gateway token. The store never holds either in the clear.
    """
    return hashlib.sha256(f"{session_id}\0{credential}".encode()).hexdigest()[:32]


# Replays a stream this process does not have, from a shared store: (Last-Event-ID, session key) -> SSE frames.
Follow = Callable[[str, str], AsyncIterator[bytes]]


# The session of the request being served; the SDK's session tasks inherit the value of the
# request that created them (tasks copy their context), so the store sees it in both places.
_current: ContextVar[SessionCell | None] = ContextVar("orq_mcp_session", default=None)


def current_session_key() -> str | None:
    """The store key of the session being served, or None outside any (such events are never replayed)."""
    cell = _current.get()
    return cell.key if cell is not None else None


class SessionScope:
    """Gives each HTTP request the `SessionCell` of the MCP session it belongs to.

    A request without `Mcp-Session-Id` gets a new cell; if its answer creates a session (an
    initialize), the session's id is remembered with that cell, so later requests carrying it
    find the same one.
    """

    def __init__(
        self,
        app: ASGIApp,
        follow: Follow | None = None,
        security: TransportSecuritySettings | None = None,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        self._app = app
        self._follow = follow
        # The SDK checks Host/Origin for what it serves; a replay from the shared store is served here.
        self._security = TransportSecurityMiddleware(security) if security is not None else None
        self._max = max_sessions
        self._cells: OrderedDict[str, SessionCell] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        credential = caller_credential(scope)
        session_id = headers.get(SESSION_HEADER)
        cell = self._cells.get(session_id) if session_id else None
        if session_id and cell is not None:
            self._cells.move_to_end(session_id)
            if cell.key != session_key(session_id, credential):
                cell = SessionCell.of(session_id, credential)  # another key: none of the session's events
        last_event_id = headers.get("last-event-id")
        if session_id and cell is None and last_event_id and self._follow and scope["method"] == "GET":
            # A session another replica created: its stream is in the shared store, not in this process.
            await self._resume_elsewhere(scope, receive, send, last_event_id, session_key(session_id, credential))
            return
        if cell is None:
            cell = SessionCell.of(session_id, credential) if session_id else SessionCell()

        async def remember(message: Message) -> None:
            if message["type"] == "http.response.start" and not session_id:
                created = MutableHeaders(raw=message["headers"]).get(SESSION_HEADER)
                if created:
                    cell.key = session_key(created, credential)
                    self._cells[created] = cell
                    while len(self._cells) > self._max:
                        self._cells.popitem(last=False)
            await send(message)

        token = _current.set(cell)
        try:
            await self._app(scope, receive, remember)
        finally:
            _current.reset(token)

    async def _resume_elsewhere(self, scope: Scope, receive: Receive, send: Send, last_event_id: str, key: str) -> None:
        if self._security is not None:
            refusal = await self._security.validate_request(Request(scope, receive), is_post=False)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        assert self._follow is not None
        await _sse(self._follow(last_event_id, key), send)


async def _sse(frames: AsyncIterator[bytes], send: Send) -> None:
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache, no-transform")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    async for frame in frames:
        await send({"type": "http.response.body", "body": frame, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
