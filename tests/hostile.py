"""A tiny misbehaving orq on a loopback port, and a meter of event-loop stalls.

The upstream runs its own event loop in a thread, so what it does costs the test's loop nothing but
the GIL. Each request is answered by `handler(request)` with a `Reply`: a status, a content type and
the body as pieces (bytes, or floats meaning "sleep this long"), sent close-delimited.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import anyio

Piece = bytes | float


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]


@dataclass
class Reply:
    status: int = 200
    content_type: str = "application/json"
    body: Iterable[Piece] = ()


@dataclass
class Upstream:
    base_url: str
    requests: list[Request] = field(default_factory=list)

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)


@contextmanager
def hostile_upstream(handler: Callable[[Request], Reply]) -> Iterator[Upstream]:
    """Serve `handler` on 127.0.0.1 until the block ends."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    upstream = Upstream("")

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader)
            upstream.requests.append(request)
            reply = handler(request)
            writer.write(f"HTTP/1.1 {reply.status} X\r\ncontent-type: {reply.content_type}\r\n".encode())
            writer.write(b"connection: close\r\n\r\n")
            for piece in reply.body:
                if isinstance(piece, float):
                    await asyncio.sleep(piece)
                    continue
                writer.write(piece)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away (often the point), or the upstream is shutting down
        finally:
            writer.close()

    stop = asyncio.Event()

    async def main() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        upstream.base_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        started.set()
        await stop.wait()
        server.close()
        handlers = asyncio.all_tasks() - {asyncio.current_task()}
        for task in handlers:  # a reply may be sleeping mid-trickle
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the hostile upstream did not start")
    try:
        yield upstream
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


async def _read_request(reader: asyncio.StreamReader) -> Request:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    method, target, _ = head.split("\r\n", 1)[0].split(" ", 2)
    length = 0
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    url = urlsplit(target)
    return Request(method, url.path, {k: v[0] for k, v in parse_qs(url.query).items()})


@asynccontextmanager
async def stall_meter(tick: float = 0.005) -> AsyncIterator[list[float]]:
    """Yields a list that ends up holding the longest gap between the loop's ticks, beyond `tick`.

    A gap counts only the time this process spent computing (`time.process_time`, every thread: a parse in a worker
    thread that holds the GIL stalls the loop too), never more than the wall time between the ticks. A busy machine
    that leaves the process waiting for a core stretches the wall time, not the work that blocked the loop: under
    the load of parallel test runs, a wall-clock gap of 0.87 s was measured around one of these refusals. A loop
    blocked on a wait rather than on work (a synchronous read) is not seen: that is not what the tests measure.
    """
    longest = [0.0]
    last_wall, last_cpu = time.perf_counter(), time.process_time()

    def gap() -> None:
        nonlocal last_wall, last_cpu
        wall, cpu = time.perf_counter(), time.process_time()
        longest[0] = max(longest[0], min(wall - last_wall, cpu - last_cpu) - tick)
        last_wall, last_cpu = wall, cpu

    async def ticker() -> None:
        while True:
            await anyio.sleep(tick)
            gap()

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        yield longest
        gap()  # a stall that ends the block is seen here: the ticker gets no turn after it
        tg.cancel_scope.cancel()
