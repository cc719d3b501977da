"""HTTP sessions (Streamable HTTP and legacy SSE): each bound to the credential that opened it, capped per address."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from mcp_types import INVALID_REQUEST, ErrorData, JSONRPCError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.datastructures import Headers, QueryParams
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orq_mcp.config.credentials import caller_credential
from orq_mcp.serving.http.throttle import client_address

SESSION_HEADER = "mcp-session-id"
# The SDK's SSE transport names the session in its first event: `data: /messages/?session_id=<hex>`.
SSE_SESSION_ID = re.compile(rb"session_id=([0-9a-f]{32})")
# The SDK closes a session idle for its timeout; ours is forgotten a little later, never earlier.
FORGET_SLACK = 1.0


@dataclass
class _Session:
    owner: bytes  # SHA-256 of the bearer credential that opened it
    address: str
    in_flight: int = 0
    last_active: float = 0.0


def _is_resume(scope: Scope) -> bool:
    return scope["method"] == "GET" and "last-event-id" in Headers(scope=scope)


def owner_digest(scope: Scope) -> bytes:
    """What a session is bound to: the SHA-256 of the request's credentials (see `caller_credential`)."""
    return hashlib.sha256(caller_credential(scope).encode()).digest()


def too_many_sessions(per_client: int, what_next: str) -> Response:
    message = f"Too many open sessions from your address ({per_client}). {what_next}"
    return jsonrpc_error(message, 429)


class SessionGuard:
    """Only the credential that opened a session may use it; a client address opens at most `per_client`.

    The session id is read from the response to the request that opened the session. A request for a
    session with another credential (or for one not opened through here) is answered exactly like one
    for an unknown session, so a stolen or guessed id reveals nothing and drives nothing. Sessions are
    forgotten when deleted, when the SDK no longer knows them, and once idle past its timeout.
    """

    def __init__(
        self,
        app: ASGIApp,
        per_client: int,
        idle_timeout: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        shared_resumes: bool = False,
    ) -> None:
        self._app = app
        # A Redis event store lets a client resume, on any replica, a stream another replica served: such a
        # GET (with Last-Event-ID) for a session unknown here goes on to the store, which checks its owner.
        self._shared_resumes = shared_resumes
        self._per_client = per_client
        self._idle_timeout = idle_timeout
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._per_address: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else Headers()
        if scope["type"] != "http" or headers.get("mcp-protocol-version") in MODERN_PROTOCOL_VERSIONS:
            await self._app(scope, receive, send)  # 2026-07-28 has no sessions
            return
        owner = owner_digest(scope)
        session_id = headers.get(SESSION_HEADER)
        if session_id is not None:
            await self._in_session(session_id, owner, scope, receive, send)
        elif scope["method"] == "POST":
            await self._opening(owner, scope, receive, send)
        else:
            await self._app(scope, receive, send)

    async def _opening(self, owner: bytes, scope: Scope, receive: Receive, send: Send) -> None:
        """A request that may open a session: refused past the address's cap, else its new id is recorded."""
        self._forget_idle()
        address = client_address(scope)
        if self._per_address[address] >= self._per_client:
            what_next = (
                "End the sessions you no longer use (DELETE with their Mcp-Session-Id), or wait: idle ones close "
                f"after {self._idle_timeout:.0f} s."
            )
            await too_many_sessions(self._per_client, what_next)(scope, receive, send)
            return

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                session_id = Headers(raw=message.get("headers", [])).get(SESSION_HEADER)
                if session_id is not None and session_id not in self._sessions:
                    self._sessions[session_id] = _Session(owner, address, last_active=self._clock())
                    self._per_address[address] += 1
            await send(message)

        await self._app(scope, receive, record)

    async def _in_session(self, session_id: str, owner: bytes, scope: Scope, receive: Receive, send: Send) -> None:
        session = self._sessions.get(session_id)
        if session is None and self._shared_resumes and _is_resume(scope):
            await self._app(scope, receive, send)
            return
        if session is None or not hmac.compare_digest(session.owner, owner):
            await jsonrpc_error("Session not found", 404)(scope, receive, send)
            return
        status: int | None = None

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        session.in_flight += 1
        try:
            await self._app(scope, receive, watch)
        finally:
            session.in_flight -= 1
            session.last_active = self._clock()
            ended = status == 404 or (scope["method"] == "DELETE" and status is not None and status < 300)
            if ended:
                self._forget(session_id)

    def _forget_idle(self) -> None:
        cutoff = self._clock() - self._idle_timeout - FORGET_SLACK
        for session_id in [s for s, v in self._sessions.items() if not v.in_flight and v.last_active < cutoff]:
            self._forget(session_id)

    def _forget(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            self._per_address[session.address] -= 1
            if self._per_address[session.address] <= 0:
                del self._per_address[session.address]


class SseSessionGuard:
    """The same promises for legacy SSE: a session (one `GET /sse` stream) takes messages only from the
    credential that opened it, and an address holds at most `per_client` streams.

    A message for another credential's session, or for one that is not open, is answered like the
    SDK answers an unknown session, before the SDK sees it (it would log a warning for each).
    """

    def __init__(self, app: ASGIApp, per_client: int, stream_path: str = "/sse") -> None:
        self._app = app
        self._per_client = per_client
        self._stream_path = stream_path
        self._owners: dict[str, bytes] = {}
        self._streams: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
        elif scope["method"] == "GET" and scope["path"] == self._stream_path:
            await self._stream(scope, receive, send)
        elif scope["method"] == "POST" and scope["path"] != self._stream_path:
            await self._message(scope, receive, send)
        else:
            await self._app(scope, receive, send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        address, owner = client_address(scope), owner_digest(scope)
        if self._streams[address] >= self._per_client:
            what_next = "Close the SSE streams you no longer use."
            await too_many_sessions(self._per_client, what_next)(scope, receive, send)
            return
        opened: list[str] = []

        async def record(message: Message) -> None:
            if not opened and message["type"] == "http.response.body":
                found = SSE_SESSION_ID.search(message.get("body", b""))
                if found is not None:
                    opened.append(found.group(1).decode())
                    self._owners[opened[0]] = owner
            await send(message)

        self._streams[address] += 1
        try:
            await self._app(scope, receive, record)
        finally:
            self._streams[address] -= 1
            if self._streams[address] <= 0:
                del self._streams[address]
            for session_id in opened:
                self._owners.pop(session_id, None)

    async def _message(self, scope: Scope, receive: Receive, send: Send) -> None:
        session_id = _sse_session_id(scope)
        owner = self._owners.get(session_id) if session_id is not None else None
        if session_id is not None and (owner is None or not hmac.compare_digest(owner, owner_digest(scope))):
            await Response("Could not find session", status_code=404)(scope, receive, send)
            return
        await self._app(scope, receive, send)


def _sse_session_id(scope: Scope) -> str | None:
    """The `session_id` query parameter read as the SDK reads it (the same parser, any UUID spelling), or None."""
    value = QueryParams(scope.get("query_string", b"")).get("session_id")
    try:
        return uuid.UUID(hex=value).hex if value is not None else None
    except ValueError:
        return None


def jsonrpc_error(message: str, status: int) -> Response:
    """The SDK's own shape for a transport-level refusal (no request id), byte for byte."""
    body = JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=INVALID_REQUEST, message=message))
    return Response(body.model_dump_json(by_alias=True, exclude_unset=True), status, media_type="application/json")
