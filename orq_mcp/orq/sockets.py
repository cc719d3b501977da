"""The sockets under the connection pool to orq: httpcore2's pool on connections read straight from the event loop.

httpx2's transport reads through httpcore2's anyio backend, which on every read of a socket enters a cancel scope
for the read timeout (two generator context managers and a timer armed and cancelled) and resumes, then pauses, the
transport's reading (two `epoll_ctl` system calls). A stream is one read per chunk: reading this way instead cut the
server's CPU per paced streamed call by about a tenth (0.89x-0.90x at 1 and 0.84x-0.89x at 50 concurrent calls,
interleaved A/B). Here a connection is an asyncio protocol that reads whenever data comes (paused only past a
high-water mark, so memory stays bounded when the reader is slow), and a read waits on one future. The read timeout
is one timer per connection, armed once and moved only when it fires before the current deadline.

`PoolTransport` puts httpcore2's connection pool on these sockets behind httpx2's transport interface (httpx2's own
transport takes no network backend); only public httpx2 and httpcore2 names are used. Nothing here knows about MCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import ssl
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import Any

import anyio
import httpcore2
import httpx2

# Bytes a connection buffers before it stops reading the socket (a data_received may bring up to 256 KiB more).
HIGH_WATER = 64 * 1024
# httpcore2's exceptions and httpx2's of the same name: what httpx2's own transport raises for each.
_MAPPED: tuple[tuple[type[Exception], type[httpx2.TransportError]], ...] = (
    (httpcore2.ConnectTimeout, httpx2.ConnectTimeout),
    (httpcore2.ReadTimeout, httpx2.ReadTimeout),
    (httpcore2.WriteTimeout, httpx2.WriteTimeout),
    (httpcore2.PoolTimeout, httpx2.PoolTimeout),
    (httpcore2.TimeoutException, httpx2.TimeoutException),
    (httpcore2.ConnectError, httpx2.ConnectError),
    (httpcore2.ReadError, httpx2.ReadError),
    (httpcore2.WriteError, httpx2.WriteError),
    (httpcore2.NetworkError, httpx2.NetworkError),
    (httpcore2.ProxyError, httpx2.ProxyError),
    (httpcore2.UnsupportedProtocol, httpx2.UnsupportedProtocol),
    (httpcore2.LocalProtocolError, httpx2.LocalProtocolError),
    (httpcore2.RemoteProtocolError, httpx2.RemoteProtocolError),
    (httpcore2.ProtocolError, httpx2.ProtocolError),
)


class _Connection(asyncio.Protocol):
    """One socket's incoming bytes, buffered as they come, and the state a read or a write waits on."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.eof = False
        self.error: BaseException | None = None
        self._reading_paused = False
        self._writing_paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # asyncio.Protocol ------------------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Called again with the TLS transport once start_tls has shaken hands.
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > HIGH_WATER and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self.eof = True
        self._wake()
        return None  # the transport closes itself: an HTTP/1.1 client has nothing to send after the server's EOF

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = self.error or exc
        self._wake()
        self._wake_writer()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake_writer()

    # reading ---------------------------------------------------------------------------------------------------------

    def take(self, max_bytes: int) -> bytes:
        data = self.chunks.popleft()
        if len(data) > max_bytes:
            data, rest = data[:max_bytes], data[max_bytes:]
            self.chunks.appendleft(rest)
        self.buffered -= len(data)
        if self._reading_paused and self.buffered <= HIGH_WATER // 2 and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    async def readable(self, within: float | None) -> None:
        """Wait until data or the end has come; TimeoutError after `within` seconds without either."""
        waiter = self.loop.create_future()
        self._waiter = waiter
        self._deadline = math.inf if within is None else self.loop.time() + within
        if within is not None:
            if self._timer is not None and self._timer.when() > self._deadline:
                self._timer.cancel()  # armed for a later deadline than this read's
                self._timer = None
            if self._timer is None:
                self._timer = self.loop.call_at(self._deadline, self._check_deadline)
        try:
            await waiter
        finally:
            self._waiter = None

    def _check_deadline(self) -> None:
        """The timer: fail the read waiting past its deadline, or move on to the deadline of the read now waiting."""
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # no read waits: the next one arms the timer again
        if self.loop.time() < self._deadline:
            if self._deadline < math.inf:
                self._timer = self.loop.call_at(self._deadline, self._check_deadline)
            return
        waiter.set_exception(TimeoutError())

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # writing ---------------------------------------------------------------------------------------------------------

    @property
    def writing_paused(self) -> bool:
        return self._writing_paused

    async def drained(self) -> None:
        while self._writing_paused and self.error is None and not self.eof:
            self._drained = self.loop.create_future()
            try:
                await self._drained
            finally:
                self._drained = None

    def _wake_writer(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)


class LoopStream(httpcore2.AsyncNetworkStream):
    """One connection as httpcore2 reads and writes it."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 - httpcore2's
        connection = self._connection
        if not connection.chunks and not connection.eof:
            try:
                await connection.readable(timeout)
            except TimeoutError:
                raise httpcore2.ReadTimeout("timed out reading from orq") from None
        if connection.chunks:
            return connection.take(max_bytes)
        if connection.error is not None:
            raise httpcore2.ReadError(str(connection.error)) from connection.error
        return b""  # the end of the stream

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109 - httpcore2's
        if not buffer:
            return
        connection = self._connection
        transport = connection.transport
        if transport is None or transport.is_closing() or connection.error is not None:
            raise httpcore2.WriteError("the connection is closed")
        transport.write(buffer)
        if connection.writing_paused:  # the kernel's buffer is full: wait for it to take the rest
            try:
                with anyio.fail_after(timeout):
                    await connection.drained()
            except TimeoutError:
                raise httpcore2.WriteTimeout("timed out writing to orq") from None
        if connection.error is not None:
            raise httpcore2.WriteError(str(connection.error)) from connection.error

    async def aclose(self) -> None:
        transport = self._connection.transport
        if transport is not None:
            transport.abort()  # what anyio's stream does: nothing left to say to a server we are done with

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore2's signature
    ) -> httpcore2.AsyncNetworkStream:
        connection = self._connection
        assert connection.transport is not None
        with _errors(httpcore2.ConnectTimeout, httpcore2.ConnectError):
            with anyio.fail_after(timeout):
                tls = await connection.loop.start_tls(
                    connection.transport, connection, ssl_context, server_hostname=server_hostname
                )
        if tls is None:  # the connection closed during the handshake
            raise httpcore2.ConnectError("the connection closed during the TLS handshake")
        connection.transport = tls
        return self

    def get_extra_info(self, info: str) -> Any:
        transport = self._connection.transport
        if transport is None:
            return None
        if info == "ssl_object":
            return transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return transport.get_extra_info("sockname")
        if info == "server_addr":
            return transport.get_extra_info("peername")
        if info == "socket":
            return transport.get_extra_info("socket")
        if info == "is_readable":
            # The pool asks before reusing an idle connection: anything read or the end means the server spoke (or
            # left) out of turn, so it is closed rather than reused.
            connection = self._connection
            return bool(connection.chunks) or connection.eof or transport.is_closing()
        return None


class LoopBackend(httpcore2.AsyncNetworkBackend):
    """httpcore2's network backend on the running asyncio loop's transports."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore2's signature
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        with _errors(httpcore2.ConnectTimeout, httpcore2.ConnectError):
            with anyio.fail_after(timeout):
                transport, connection = await loop.create_connection(
                    lambda: _Connection(loop),
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                    happy_eyeballs_delay=0.25,  # RFC 8305, as anyio's connect does
                )
        _apply(transport, socket_options)
        return LoopStream(connection)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore2's signature
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        with _errors(httpcore2.ConnectTimeout, httpcore2.ConnectError):
            with anyio.fail_after(timeout):
                transport, connection = await loop.create_unix_connection(lambda: _Connection(loop), path)
        _apply(transport, socket_options)
        return LoopStream(connection)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


def _apply(transport: asyncio.BaseTransport, options: Iterable[httpcore2.SOCKET_OPTION] | None) -> None:
    sock: socket.socket | None = transport.get_extra_info("socket")
    for option in options or ():
        assert sock is not None
        if len(option) == 4:
            sock.setsockopt(option[0], option[1], None, option[3])
        else:
            sock.setsockopt(option[0], option[1], option[2])


@contextlib.contextmanager
def _errors(timeout: type[Exception], failure: type[Exception]) -> Iterator[None]:
    """Connecting: a timeout as `timeout`, any socket error (refused, unreachable, DNS, TLS) as `failure`."""
    try:
        yield
    except TimeoutError:
        raise timeout("timed out connecting to orq") from None
    except (OSError, ssl.SSLError) as exc:
        raise failure(str(exc)) from exc


class PoolTransport(httpx2.AsyncBaseTransport):
    """httpx2's transport interface on httpcore2's connection pool over `LoopBackend` (HTTP/1.1, no proxy: a proxy
    keeps httpx2's own transport)."""

    def __init__(self, limits: httpx2.Limits, verify: ssl.SSLContext | bool = True, trust_env: bool = True) -> None:
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(verify=verify, trust_env=trust_env),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=LoopBackend(),
        )

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        assert isinstance(request.stream, httpx2.AsyncByteStream)
        url = request.url
        core = httpcore2.Request(
            method=request.method,
            url=httpcore2.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _mapped():
            response = await self._pool.handle_async_request(core)
        assert isinstance(response.stream, AsyncIterable)
        return httpx2.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_Body(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class _Body(httpx2.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            with _mapped():
                await close()


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    """httpcore2's errors as httpx2's (the most specific of the same name), as httpx2's own transport raises them."""
    try:
        yield
    except Exception as exc:
        for source, target in _MAPPED:
            if isinstance(exc, source):
                raise target(str(exc)) from exc
        raise
