"""JSON-RPC lines over non-blocking descriptors, served by the event loop itself (no worker threads).

The SDK's stdio transport hands every read, write and flush to a worker thread, which costs
about a millisecond and a half per message exchange; here a read or write is tried at once and
the loop waits for readiness only when the descriptor says it would block.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage

logger = logging.getLogger(__name__)

READ_SIZE = 256 * 1024
# How long messages already queued may take to reach a client that closed its end of stdin.
DRAIN_TIMEOUT = 5.0

Incoming = MemoryObjectReceiveStream[SessionMessage | Exception]
Outgoing = MemoryObjectSendStream[SessionMessage]


@asynccontextmanager
async def line_streams(wire_in: int, wire_out: int) -> AsyncIterator[tuple[Incoming, Outgoing]]:
    """Streams shaped like the SDK's `stdio_server()`: parsed messages (or the error) in, messages out.

    The block ends the transport; so does the client closing stdout, which ends the block.
    """
    read_send, read_receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_send, write_receive = anyio.create_memory_object_stream[SessionMessage](0)
    async with anyio.create_task_group() as tg:
        reading, writing = anyio.CancelScope(), anyio.CancelScope()
        tg.start_soon(_reader, wire_in, read_send, reading)
        tg.start_soon(_writer, wire_out, write_receive, writing, tg.cancel_scope)
        try:
            yield read_receive, write_send
        finally:
            reading.cancel()
            write_send.close()  # the writer sends what is queued, then ends
            writing.deadline = anyio.current_time() + DRAIN_TIMEOUT


async def _reader(fd: int, send: MemoryObjectSendStream[SessionMessage | Exception], scope: anyio.CancelScope) -> None:
    with scope, send:
        try:
            async for line in read_lines(fd):
                await send.send(parse_line(line))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return  # the session has ended; nobody reads what comes next


async def _writer(
    fd: int,
    receive: MemoryObjectReceiveStream[SessionMessage],
    scope: anyio.CancelScope,
    transport: anyio.CancelScope,
) -> None:
    with scope, receive:
        async for message in receive:
            data = message.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
            try:
                await write_all(fd, data)
            except OSError as exc:
                # EPIPE and its kin: the client is gone, so nobody can receive an answer. Stop serving.
                logger.info("stdout was closed (%s); stopping", exc.strerror or type(exc).__name__)
                transport.cancel()
                return


def parse_line(line: bytes) -> SessionMessage | Exception:
    """A message, or the exception saying why the line is not one (answered by the caller)."""
    text = line.decode("utf-8", errors="replace")  # as the SDK's transport reads it
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(text, by_name=False))
    except Exception as exc:
        return exc


async def read_lines(fd: int) -> AsyncIterator[bytes]:
    """Each newline-terminated line (without the newline), then an unterminated rest at EOF."""
    buffer = bytearray()
    while True:
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            await anyio.wait_readable(fd)
            continue
        except OSError as exc:
            logger.info("stdin failed (%s); treating it as closed", exc.strerror or type(exc).__name__)
            data = b""
        if not data:
            if buffer:
                yield bytes(buffer)
            return
        searched = len(buffer)  # only new bytes can hold a newline not yet seen: linear in a long line
        buffer += data
        start = 0
        while (end := buffer.find(b"\n", searched)) != -1:
            yield bytes(buffer[start:end])
            start = searched = end + 1
        del buffer[:start]


async def write_all(fd: int, data: bytes) -> None:
    """Write every byte, waiting whenever the pipe is full; OSError (EPIPE) if the reader is gone."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            await anyio.wait_writable(fd)
            continue
        view = view[written:]
