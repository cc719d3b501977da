"""HTTP connections: deadlines for slow clients, a cap below the open-file limit, quiet fd exhaustion.

uvicorn has no deadline for a request's headers (a client that sends a byte now and then holds its
connection forever) and asyncio logs a traceback for every failed accept once files run out.

The header deadline subclasses uvicorn's h11 protocol and reads its internals (`cycle`, `connections`,
`on_response_complete`): uvicorn offers no public option for it (tests/project/test_sdk_gaps.py fails once it does),
and tests/serving/test_attacks_http.py fails if an upgrade breaks the subclass.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import socket
import time
from typing import Any

import anyio
import uvicorn
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from orq_mcp.serving.http.asgi import read_body

logger = logging.getLogger(__name__)

FD_EXHAUSTION = frozenset({errno.EMFILE, errno.ENFILE})
# Open files left for everything but client connections: the upstream pool, logs, the interpreter.
FD_SHARE_FOR_CLIENTS = 0.75
FD_RESERVE = 32
# On SIGTERM (or SIGINT), how long requests in flight may run on before they are ended; a generation is cut
# then, and its client told (the stream ends without an answer), so it can call again elsewhere.
SHUTDOWN_GRACE = 10.0
# uvicorn's own limit, after ours: it cancels what is left (with a traceback each), which should be nothing.
SHUTDOWN_BACKSTOP = SHUTDOWN_GRACE + 5.0
_BUSY_BODY = b'{"error":"busy","error_description":"Too many open connections; retry in a moment."}'
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers and a cap on connections.

    A connection over the cap is answered 503 and closed as soon as it is accepted, which keeps a
    file free for the next accept, so idle connections cannot make the server run out of files.
    """

    request_timeout = 10.0
    max_connections = 1000

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self._headers_deadline: asyncio.TimerHandle | None = None
        if len(self.connections) > self.max_connections:
            transport.write(BUSY)
            transport.close()
            return
        self._await_headers()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._headers_deadline is not None:
            self._headers_deadline.cancel()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        """Close the connection unless the next request's headers are complete within `request_timeout`."""
        if self._headers_deadline is not None:
            self._headers_deadline.cancel()
        served = self.cycle  # a new request replaces it once its headers are in
        self._headers_deadline = self.loop.call_later(self.request_timeout, self._headers_late, served)

    def _headers_late(self, served: object) -> None:
        if self.cycle is served and not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(request_timeout: float, max_connections: int) -> type[GuardedH11Protocol]:
    """The protocol class for `uvicorn.Config(http=...)` with these limits."""
    limits = {"request_timeout": request_timeout, "max_connections": max_connections}
    return type("ConfiguredH11Protocol", (GuardedH11Protocol,), limits)


def connection_cap(configured: int) -> int:
    """`configured`, lowered to fit the process's open-file limit."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to respect
        return configured
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(8, min(configured, int((soft - FD_RESERVE) * FD_SHARE_FOR_CLIENTS)))


class BodyDeadline:
    """Answers 408 to a POST whose body does not arrive within `timeout` seconds of its headers.

    The deadline covers the body's arrival only: the answer may take as long as it takes (a generation streams
    for up to ORQ_MCP_INVOKE_TIMEOUT), and a request's own handling (a resume grace included) is never cut.
    """

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self._app = app
        self._timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        replay: Receive | None = None
        with anyio.move_on_after(self._timeout):
            _, replay = await read_body(receive, DEFAULT_MAX_REQUEST_BODY_SIZE)
        if replay is not None:  # the body arrived in time
            await self._app(scope, replay, send)
            return
        description = f"The request body did not arrive within {self._timeout:g} s; send it all at once."
        response = JSONResponse({"error": "request_timeout", "error_description": description}, status_code=408)
        await response(scope, receive, send)


class Drain:
    """Lets the requests in flight run on for `grace` seconds once the server begins to stop, then ends them.

    uvicorn alone waits for every request to finish (a generation may stream for ten minutes) or, past its
    own timeout, cancels their tasks and logs a traceback for each. Here each request runs in a cancel scope
    whose deadline is set when the stop begins (`begin`), so it ends quietly: its response stream closes,
    and with it the orq stream behind it.
    """

    def __init__(self, app: ASGIApp, grace: float) -> None:
        self._app = app
        self._grace = grace
        self._ends_at = math.inf
        self._requests: set[anyio.CancelScope] = set()

    def begin(self) -> None:
        self._ends_at = anyio.current_time() + self._grace
        for request in self._requests:
            request.deadline = min(request.deadline, self._ends_at)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        with anyio.CancelScope(deadline=self._ends_at) as request:
            self._requests.add(request)
            try:
                await self._app(scope, receive, send)
            finally:
                self._requests.discard(request)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, starting the drain of requests in flight as it begins to shut down."""

    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self._drain = drain

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._drain.begin()
        await super().shutdown(sockets)


class FdExhaustionLog:
    """An asyncio exception handler that reports running out of files in one line a minute, no traceback."""

    def __init__(self, period: float = 60.0) -> None:
        self._period = period
        self._logged_at: float | None = None
        self._unlogged = 0

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        previous = loop.get_exception_handler()

        def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            exc = context.get("exception")
            if isinstance(exc, OSError) and exc.errno in FD_EXHAUSTION:
                self.report()
            elif previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)

        loop.set_exception_handler(handle)

    def report(self) -> None:
        now = time.monotonic()
        if self._logged_at is not None and now - self._logged_at < self._period:
            self._unlogged += 1
            return
        logger.warning(
            "Out of open files, so new connections wait; raise the limit (ulimit -n) or lower "
            "ORQ_MCP_MAX_CONNECTIONS (%d more such errors since the last of these lines)",
            self._unlogged,
        )
        self._logged_at, self._unlogged = now, 0
