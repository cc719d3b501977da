"""The sockets under the pool to orq (orq/sockets.py): TLS, the read timeout, bounded buffering, stale connections.

The pool reads orq's streams through connections of its own on the event loop (issue 18: about a tenth less server
CPU per streamed call than httpcore2's anyio backend). These check what that backend must keep from the one it
replaced: TLS with certificate checks (orq is HTTPS), a read timeout that fires on silence and never on a stream that
keeps talking, memory bounded when nobody reads, a keep-alive connection the server closed never reused and one still
open reused, the exceptions httpx2's own transport raises, and a cancelled read that gives its connection up.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx2
import pytest
import trustme
import uvicorn
from mcp import Client

from orq_mcp.orq.client import POOL_LIMITS, OrqClient, Timeouts, create_http_client
from orq_mcp.orq.errors import OrqConnectionError, OrqTimeoutError
from orq_mcp.orq.sockets import HIGH_WATER, LoopBackend, PoolTransport
from orq_mcp.sandbox import sample_state
from orq_mcp.sandbox.app import create_app
from tests.conftest import API_KEY, FAST_RETRY
from tests.helpers import ok, wait_until
from tests.hostile import Reply, hostile_upstream
from tests.processes import HttpServer, free_port

CHUNK = b'data: {"choices":[{"index":0,"message":{"role":"assistant","content":"ab"}}]}\n\n'
FINAL = b'data: {"choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"stop"}],'
FINAL += b'"is_final":true}\n\ndata: [DONE]\n\n'
INVOKE = {"key": "faq-assistant", "inputs": {"question": "Do you ship to Norway?"}}


@contextlib.contextmanager
def tls_emulator(certificate: trustme.LeafCert) -> Iterator[str]:
    """The emulator served over HTTPS on a loopback port, with `certificate`; yields its base URL."""
    port = free_port()
    with certificate.private_key_pem.tempfile() as key, certificate.cert_chain_pems[0].tempfile() as cert:
        config = uvicorn.Config(
            create_app(sample_state(API_KEY)),
            host="127.0.0.1",
            port=port,
            ssl_keyfile=key,
            ssl_certfile=cert,
            log_level="warning",
            log_config=None,
            lifespan="off",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            assert wait_listening(port)
            yield f"https://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(5)


def wait_listening(port: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
        time.sleep(0.02)
    return False


async def test_a_generation_streams_over_tls_to_the_client(tmp_path: Path) -> None:
    """The real server, its upstream an HTTPS emulator whose CA it is told of the standard way (SSL_CERT_FILE)."""
    ca = trustme.CA()
    with ca.cert_pem.tempfile() as ca_file, tls_emulator(ca.issue_cert("127.0.0.1")) as base_url:
        env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": base_url, "SSL_CERT_FILE": ca_file}
        server = HttpServer.start("http", env, tmp_path)
        try:
            server.ready()
            messages: list[str] = []

            async def progress(value: float, total: float | None, message: str | None) -> None:
                messages.append(message or "")

            async with Client(server.url) as client:
                for _ in range(2):  # the second call on the pooled TLS connection
                    messages.clear()
                    result = await client.call_tool("invoke_deployment", INVOKE, progress_callback=progress)
                    text = ok(result)["text"]
                    assert text
                    assert "".join(messages) == text
        finally:
            server.stop()


async def test_a_certificate_nobody_vouches_for_is_refused_as_a_connection_error() -> None:
    with tls_emulator(trustme.CA().issue_cert("127.0.0.1")) as base_url:
        async with create_http_client(base_url) as http:
            orq = OrqClient(http, API_KEY, retry=FAST_RETRY)
            with pytest.raises(OrqConnectionError) as caught:
                await orq.invoke(INVOKE)
    assert "connect" in caught.value.message.lower()


async def test_a_stream_that_keeps_talking_never_times_out_however_long_it_lasts() -> None:
    """Each read may wait at most the stream timeout; the whole stream may take many times that."""
    body = [CHUNK, *[piece for _ in range(12) for piece in (0.1, CHUNK)], FINAL]
    timeouts = Timeouts(connect=2, read=2, stream=0.4, invoke=30)
    with hostile_upstream(lambda request: Reply(content_type="text/event-stream", body=body)) as upstream:
        async with create_http_client(upstream.base_url, timeouts) as http:
            completion = await OrqClient(http, API_KEY, timeouts=timeouts, retry=FAST_RETRY).invoke(INVOKE)
    assert completion.text == "ab" * 13  # 1.2 s of stream against a 0.4 s read timeout


async def test_a_stream_that_falls_silent_times_out_at_the_stream_timeout() -> None:
    body = [CHUNK, 0.1, CHUNK, 5.0, CHUNK, FINAL]
    timeouts = Timeouts(connect=2, read=2, stream=0.4, invoke=30)
    with hostile_upstream(lambda request: Reply(content_type="text/event-stream", body=body)) as upstream:
        async with create_http_client(upstream.base_url, timeouts) as http:
            orq = OrqClient(http, API_KEY, timeouts=timeouts, retry=FAST_RETRY)
            started = anyio.current_time()
            with pytest.raises(OrqTimeoutError) as caught:
                await orq.invoke(INVOKE)
    assert 0.4 <= anyio.current_time() - started < 3.0
    assert caught.value.partial_text == "abab"  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def flood(size: int) -> AsyncIterator[int]:
    """A loopback server that writes `size` bytes to whoever connects, as fast as the socket takes them."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            writer.write(b"x" * size)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_a_connection_nobody_reads_stops_reading_past_the_high_water_mark() -> None:
    size = 8 * 1024 * 1024
    async with flood(size) as port:
        stream = await LoopBackend().connect_tcp("127.0.0.1", port, timeout=2)
        connection = stream._connection  # the buffer is what this test is about
        await anyio.sleep(0.3)  # the server writes all it can meanwhile
        assert 0 < connection.buffered <= HIGH_WATER + 256 * 1024
        received = 0
        while chunk := await stream.read(64 * 1024, timeout=5):
            received += len(chunk)
            assert connection.buffered <= HIGH_WATER + 256 * 1024
        await stream.aclose()
    assert received == size


async def test_a_keep_alive_connection_the_server_closed_is_not_reused() -> None:
    """uvicorn closes an idle keep-alive connection after its timeout; the next request must not be sent on it."""
    app = create_app(sample_state(API_KEY))
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", log_config=None, lifespan="off")
    config.timeout_keep_alive = 0.2  # type: ignore[assignment]
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        assert await wait_until(lambda: server.started, within=5)
        transport = PoolTransport(limits=POOL_LIMITS)
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", transport=transport) as http:
            headers = {"Authorization": f"Bearer {API_KEY}"}
            first = await http.get("/v2/deployments", headers=headers)
            await anyio.sleep(0.6)  # the server has closed the idle connection by now
            second = await http.get("/v2/deployments", headers=headers)
        assert first.status_code == second.status_code == 200
    finally:
        server.should_exit = True
        await task


async def test_a_refused_connection_is_an_error_that_says_no_request_was_sent() -> None:
    async with create_http_client(f"http://127.0.0.1:{free_port()}") as http:
        with pytest.raises(OrqConnectionError) as caught:
            await OrqClient(http, API_KEY, retry=FAST_RETRY).list_deployments()
    assert not caught.value.request_sent  # so it may be retried


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawServer:
    port: int
    connections: int = 0
    closed: int = 0  # connections whose client went away (EOF or reset)


@contextlib.asynccontextmanager
async def raw_server(script: Script) -> AsyncIterator[RawServer]:
    """A loopback server running `script` on every connection; it counts connections and client hang-ups."""
    state = RawServer(0)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        try:
            await script(reader, writer)
            await reader.read()  # until the client closes its end
        except ConnectionError:
            pass
        finally:
            state.closed += 1
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()


async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every request on the connection with a small body, keeping the connection open."""
    while await reader.readuntil(b"\r\n\r\n"):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()


def script_of(reply: bytes, hang_up: bool = False) -> Script:
    """Answer the first request with `reply`, then hang up or say nothing more (wait for the client to leave)."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()
        if hang_up:
            writer.close()

    return script


async def test_requests_made_in_turn_share_one_connection() -> None:
    async with raw_server(keep_alive) as server:
        transport = PoolTransport(limits=POOL_LIMITS)
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", transport=transport) as http:
            for _ in range(5):
                assert (await http.get("/")).text == "ok"
    assert server.connections == 1


# Each fault, and what httpx2's own transport raises for it: the pool on the loop's sockets must raise the same, so
# the orq client's error mapping (and its retry decisions) see no difference.
FAULTS: dict[str, tuple[bytes, bool]] = {
    "not HTTP": (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", False),
    "silent after the headers": (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", False),
    "body cut short": (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..", True),
    "no reply at all": (b"", True),
}


@pytest.mark.parametrize("fault", [*FAULTS, "refused"])
async def test_a_fault_raises_the_exception_httpx2s_own_transport_raises(fault: str) -> None:
    async def attempt(transport: httpx2.AsyncBaseTransport, port: int) -> BaseException:
        timeout = httpx2.Timeout(2, read=0.3)
        async with httpx2.AsyncClient(transport=transport, timeout=timeout) as http:
            try:
                await http.get(f"http://127.0.0.1:{port}/")
            except httpx2.TransportError as exc:
                return exc
        raise AssertionError(f"{fault}: no error")

    raised: list[BaseException] = []
    for transport in (PoolTransport(limits=POOL_LIMITS), httpx2.AsyncHTTPTransport()):
        if fault == "refused":
            raised.append(await attempt(transport, free_port()))
            continue
        async with raw_server(script_of(*FAULTS[fault])) as server:
            raised.append(await attempt(transport, server.port))
    ours, theirs = raised
    assert type(ours) is type(theirs), (ours, theirs)


async def test_a_read_cancelled_mid_stream_closes_its_connection_and_the_pool_serves_on() -> None:
    """A call cancelled while its stream waits (the agent hung up) leaves no connection checked out or reused."""
    body = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n"
    async with raw_server(script_of(body)) as server:
        transport = PoolTransport(limits=POOL_LIMITS)
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", transport=transport) as http:
            received: list[bytes] = []
            with anyio.move_on_after(0.5) as scope:
                async with http.stream("GET", "/") as response:
                    async for part in response.aiter_raw():
                        received.append(part)
            assert scope.cancelled_caught
            assert received == [b"first"]
            assert await wait_until(lambda: server.closed == 1, within=5)  # the server saw the connection go
            with anyio.fail_after(5):  # a new request gets a new connection, not the abandoned one
                async with http.stream("GET", "/") as response:
                    assert await anext(aiter(response.aiter_raw())) == b"first"
    assert server.connections == 2


async def test_a_certificate_for_another_name_is_refused_as_httpx2s_own_transport_refuses_it() -> None:
    ca = trustme.CA()
    with tls_emulator(ca.issue_cert("orq.example")) as base_url:
        raised: list[type[BaseException]] = []
        for transport in (
            PoolTransport(limits=POOL_LIMITS, verify=trusting(ca)),
            httpx2.AsyncHTTPTransport(verify=trusting(ca)),
        ):
            async with httpx2.AsyncClient(base_url=base_url, transport=transport) as http:
                with pytest.raises(httpx2.ConnectError) as caught:
                    await http.get("/v2/deployments")
                raised.append(type(caught.value))
    assert raised == [httpx2.ConnectError, httpx2.ConnectError]


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context
