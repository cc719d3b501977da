"""Server-sent events: the chunk generator (with fault injection and disconnect tracking) and its response."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncGenerator
from typing import Any, Final

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Send

from .faults import MIDSTREAM_ERROR, Fault
from .model import Completion
from .payloads import Generation
from .state import EmulatorState, RequestRecord
from .validation import DeploymentRequest

DONE: Final = b"data: [DONE]\n\n"
MALFORMED: Final = b"data: {not json\n\n"
ERROR_EVENT: Final = b"event: error\ndata: " + json.dumps(MIDSTREAM_ERROR, separators=(",", ":")).encode() + b"\n\n"
SSE_HEADERS: Final = {"content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no"}


def encode_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def _mark_closed(record: RequestRecord, *, completed: bool) -> None:
    now = time.monotonic()
    if not completed and record.disconnected_at is None:
        record.disconnected_at = now
    if record.finished_at is None:
        record.finished_at = now


async def sse_events(
    state: EmulatorState,
    record: RequestRecord,
    generation: Generation,
    completion: Completion,
    request: DeploymentRequest,
    messages: list[dict[str, Any]],
    *,
    fault: Fault | None = None,
    chunk_size: int | None = None,
) -> AsyncGenerator[bytes, None]:
    """Yield the SSE byte events of one generation: deltas, final chunk, ``[DONE]``.

    When the client goes away the generator is cancelled or closed early; that is recorded as
    ``record.disconnected_at``. ``chunk_size`` (huge responses) switches to fixed-size chunks with no delay.
    """
    completed = False
    try:
        pieces = generation.stream_pieces(completion, chunk_size)
        delay = 0.0 if chunk_size else state.chunk_delay
        started = anyio.current_time()
        inject_at = min(fault.after_chunks, len(pieces)) if fault is not None else -1
        for index in range(len(pieces) + 1):
            if index == inject_at and fault is not None and fault.kind == "stall_mid_stream":
                started += fault.delay  # this chunk and every later one come `delay` seconds late
            elif index == inject_at and fault is not None:
                if fault.kind == "disconnect_mid_stream":
                    completed = True
                    return
                if fault.kind == "error_event":
                    yield ERROR_EVENT
                    completed = True
                    return
                yield MALFORMED
            if index > 0:
                # Paced by absolute deadlines (chunk i at start + i * delay): relative sleeps drift late under
                # load. Even with no delay, yield to the loop so a client disconnect is noticed between chunks.
                await anyio.sleep(max(0.0, started + index * delay - anyio.current_time()))
            chunk = pieces[index] if index < len(pieces) else generation.final_chunk(completion, request, messages)
            yield encode_event(chunk)
            record.chunks_sent += 1
        yield DONE
        completed = True
    finally:
        _mark_closed(record, completed=completed)


async def agent_sse_events(
    state: EmulatorState,
    record: RequestRecord,
    events: list[dict[str, Any]],
    *,
    fault: Fault | None = None,
    failure: dict[str, Any] | None = None,
) -> AsyncGenerator[bytes, None]:
    """Yield an agent response's events, then ``[DONE]``, paced like a generation's chunks.

    A fault cuts in after ``fault.after_chunks`` events: ``disconnect_mid_stream`` ends the body,
    ``error_event`` sends ``failure`` (a `response.failed` event) and ends, ``malformed_chunk`` sends a
    line that is not JSON and goes on.
    """
    completed = False
    try:
        started = anyio.current_time()
        inject_at = min(fault.after_chunks, len(events)) if fault is not None else -1
        for index in range(len(events) + 1):
            if index == inject_at and fault is not None:
                if fault.kind == "disconnect_mid_stream":
                    completed = True
                    return
                if fault.kind == "error_event":
                    yield encode_event(failure or {})
                    yield DONE
                    completed = True
                    return
                yield MALFORMED
            if index == len(events):
                break
            if index > 0:
                await anyio.sleep(max(0.0, started + index * state.chunk_delay - anyio.current_time()))
            yield encode_event(events[index])
            record.chunks_sent += 1
        yield DONE
        completed = True
    finally:
        _mark_closed(record, completed=completed)


class SSEResponse(StreamingResponse):
    """A ``text/event-stream`` response that always closes its generator, so disconnects are seen at once."""

    def __init__(self, events: AsyncGenerator[bytes, None], record: RequestRecord) -> None:
        super().__init__(events, headers=SSE_HEADERS)
        self._events = events
        self._record = record

    async def stream_response(self, send: Send) -> None:
        try:
            await super().stream_response(send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._events.aclose()
            if self._record.finished_at is None:  # the generator never started
                _mark_closed(self._record, completed=False)


def parse_sse(text: str) -> list[tuple[str | None, str]]:
    """Split an SSE transcript into ``(event name or None, data)`` pairs (multi-line data joined by ``\\n``).

    A small reader for tests and benchmarks that need to look at what the emulator sent.
    """
    events: list[tuple[str | None, str]] = []
    name: str | None = None
    data: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line:
            if data:
                events.append((name, "\n".join(data)))
            name, data = None, []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    if data:
        events.append((name, "\n".join(data)))
    return events
