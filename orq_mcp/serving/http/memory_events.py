"""The event store in memory (ORQ_MCP_EVENT_STORE=memory, the default): resumable streams of one process.

Bounded in count, in bytes and by age, per stream and in all; the oldest events go first. What an event
costs is its JSON (kept serialized, the form it is replayed in) plus a fixed overhead for its bookkeeping,
so the byte caps bound the memory the store really holds.

An event id names its stream and its place in it (`<stream token>-<sequence>`; the token is keyed with a
secret of this process, so ids cannot be guessed), which gives a resume that asks for an evicted event a
clear answer instead of silence:
- events after it were dropped, but not the answer: a warning notice that some are missing (the progress
  text has a gap), then every event still kept, then the live tail (the answer still arrives);
- the stream's events are all gone, its answer too: an error for the request saying its answer is no
  longer kept and to send it again.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp_types import (
    INTERNAL_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCResponse,
    RequestId,
    jsonrpc_message_adapter,
)

from orq_mcp.serving.http.resume import EVENT_TTL, MAX_EVENTS, MAX_EVENTS_PER_STREAM, current_session_key
from orq_mcp.serving.http.throttle import Lru

logger = logging.getLogger(__name__)

MIB = 2**20
# A stream's whole answer at default settings fits: a 1,000,000-character generation streamed as progress
# (1.1 MB of JSON in English, up to 3 MB in scripts of 3-byte characters) or the largest result (20,000
# characters of text twice, plus 3.75 MiB of images: 5.3 MB of JSON).
MAX_STREAM_BYTES = 8 * MIB
# In all: 30 s of resume grace for thousands of streams at a model's pace (~400 bytes/s each), or four
# streams of the largest answers; a small share of a 512 MB container.
MAX_BYTES = 32 * MIB
# What keeping an event costs beyond its JSON: its id, its record, its place in two indexes; and what a stream
# with events costs (its record, its queue, its index entry). Measured with tracemalloc (~330 and ~1,060 bytes)
# and checked by tests/serving/test_scale_events.py, so that many short streams stay within the byte cap too.
EVENT_OVERHEAD = 340
STREAM_OVERHEAD = 1100
# Streams whose events are all gone, remembered (~1 KB each: 4 MiB at most) so a late resume gets a clear answer.
MAX_GONE_STREAMS = 4096


@dataclass(eq=False)
class _Stream:
    session: str
    stream_id: StreamId
    token: str
    events: deque[_Event] = field(default_factory=deque)
    bytes: int = 0
    next_seq: int = 0
    answer: RequestId | None = None  # the id of the request's answer, once it is kept
    answered: bool = False


@dataclass(eq=False, slots=True)
class _Event:
    id: str  # `<stream token>-<seq>`: the same string object is the store's key, so it costs one pointer here
    stream: _Stream
    seq: int
    body: bytes | None  # None: the SDK's priming event, which carries no message
    size: int
    at: float


class MemoryEventStore(EventStore):
    """Events per (session, stream), bounded per stream and in total, in count and in bytes, and by age."""

    def __init__(
        self,
        per_stream: int = MAX_EVENTS_PER_STREAM,
        total: int = MAX_EVENTS,
        ttl: float = EVENT_TTL,
        per_stream_bytes: int = MAX_STREAM_BYTES,
        total_bytes: int = MAX_BYTES,
    ) -> None:
        self._per_stream = per_stream
        self._total = total
        self._ttl = ttl
        self._per_stream_bytes = per_stream_bytes
        self._total_bytes = total_bytes
        self._secret = secrets.token_bytes(16)
        self._events: OrderedDict[EventId, _Event] = OrderedDict()  # oldest first
        self._streams: dict[str, _Stream] = {}  # by token: the streams with events kept
        self._gone: Lru[_Stream] = Lru(MAX_GONE_STREAMS)  # by token: the streams whose events are all gone
        self._bytes = 0

    @property
    def size(self) -> int:
        # Not __len__: the SDK tests the store for truth, and an empty store must still count as one.
        return len(self._events)

    @property
    def bytes(self) -> int:
        """What the kept events cost: their JSON and their bookkeeping."""
        return self._bytes

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        session = current_session_key()
        if session is None:
            return "unscoped-" + secrets.token_hex(12)  # outside any session: nothing can resume it
        stream = self._stream(session, stream_id)
        if not stream.events:  # a new stream, or one coming back from gone: it costs its own bookkeeping
            stream.bytes += STREAM_OVERHEAD
            self._bytes += STREAM_OVERHEAD
        body = message.model_dump_json(by_alias=True, exclude_unset=True).encode() if message is not None else None
        seq = stream.next_seq
        stream.next_seq += 1
        event = _Event(f"{stream.token}-{seq}", stream, seq, body, len(body or b"") + EVENT_OVERHEAD, time.monotonic())
        if message is None:  # a priming event starts a request: one that reuses an answered request's id
            stream.answered = False
        if isinstance(message, JSONRPCResponse | JSONRPCError) and str(message.id) == stream_id:
            stream.answer, stream.answered = message.id, True
        self._events[event.id] = event
        stream.events.append(event)
        stream.bytes += event.size
        self._bytes += event.size
        while len(stream.events) > 1 and (
            len(stream.events) > self._per_stream or stream.bytes > self._per_stream_bytes
        ):
            self._forget(stream.events[0])
        self._expire()
        return event.id

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        self._expire()
        token, _, seq = last_event_id.rpartition("-")
        stream = self._streams.get(token) or self._gone.get(token)
        if stream is None or not seq.isdigit():
            logger.info("A client resumed after an event this server no longer has (expired, or another process)")
            return None
        if stream.session != current_session_key():
            logger.warning("Refused to replay a stream to a client of another session")
            return None
        last = int(seq)
        first_kept = stream.events[0].seq if stream.events else stream.next_seq
        if last + 1 < first_kept:
            if not stream.events and stream.answered:
                logger.info("A client resumed a stream whose answer this server no longer keeps")
                await send_callback(EventMessage(_lost_answer(stream.answer, self._limits()), None))
                return None
            dropped = first_kept - last - 1
            notice = _gap_notice(dropped, self._limits())
            await send_callback(EventMessage(notice, f"{stream.token}-{first_kept - 1}"))
        for event in list(stream.events):
            if event.seq > last and event.body is not None:
                await send_callback(EventMessage(jsonrpc_message_adapter.validate_json(event.body), event.id))
        return stream.stream_id

    def _stream(self, session: str, stream_id: StreamId) -> _Stream:
        key = hashlib.blake2b(f"{session}\0{stream_id}".encode(), key=self._secret, digest_size=12).hexdigest()
        stream = self._streams.get(key) or self._gone.pop(key, None) or _Stream(session, stream_id, key)
        self._streams[key] = stream
        return stream

    def _expire(self) -> None:
        oldest = time.monotonic() - self._ttl
        while self._events:
            event = next(iter(self._events.values()))
            if len(self._events) <= self._total and self._bytes <= self._total_bytes and event.at >= oldest:
                return
            self._forget(event)

    def _forget(self, event: _Event) -> None:
        """Drop `event`, the oldest of its stream; a stream left without events is remembered as gone."""
        stream = event.stream
        del self._events[event.id]
        stream.events.popleft()
        stream.bytes -= event.size
        self._bytes -= event.size
        if not stream.events:
            stream.bytes -= STREAM_OVERHEAD
            self._bytes -= STREAM_OVERHEAD
            del self._streams[stream.token]
            self._gone.touch(stream.token, stream)

    def _limits(self) -> str:
        return (
            f"it keeps a stream's events for {self._ttl:.0f} s, {self._per_stream_bytes // MIB} MiB per stream and "
            f"{self._total_bytes // MIB} MiB in all"
        )


def _gap_notice(dropped: int, limits: str) -> JSONRPCNotification:
    text = (
        f"orq-mcp no longer had {dropped:,} event(s) of this stream after the last one you received ({limits}): "
        "progress text in between is missing. The rest follows, and the answer is complete."
    )
    params = {"level": "warning", "logger": "orq-mcp", "data": text}
    return JSONRPCNotification(jsonrpc="2.0", method="notifications/message", params=params)


def _lost_answer(request_id: RequestId | None, limits: str) -> JSONRPCError:
    text = (
        f"orq-mcp no longer keeps the answer to this request ({limits}), and it was dropped before you came "
        "back for it. Send the request again."
    )
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=INTERNAL_ERROR, message=text))
