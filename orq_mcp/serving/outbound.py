"""The one exit: everything the server sends a client passes here, scrubbed with that caller's redactor.

Over HTTP that is the ASGI `send` of every response: both Streamable HTTP eras, legacy SSE, and the
server's own refusals. Over stdio it is the stream of messages the SDK writes. Whatever a message is
(a result, an error, a progress or log notification, a server-to-client request such as
`elicitation/create`), it leaves through one of the two. What the SDK keeps to replay a dropped stream
(the event store, in memory or in Redis) is written before the HTTP exit, so the store is wrapped too.

JSON is looked at as text first: a key can only appear in it literally (orq keys are made of characters
JSON never escapes; a redactor says whether its secrets all are), so text with no piece of a key goes
out as it is, for the cost of one scan (orq/redact.py). Text with one is parsed, scrubbed string by
string (escapes undone) and serialised again, so the answer stays valid JSON. What cannot be scrubbed
is not sent: a buffered answer becomes an error, a stream ends (fail closed).

Response headers are not scrubbed: they are made here or by the SDK, never from orq's data or the
client's input.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextvars import ContextVar
from types import TracebackType
from typing import Protocol, Self

from mcp.server.streamable_http import EventCallback, EventId, EventStore, StreamId
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCMessage
from pydantic import TypeAdapter
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orq_mcp.orq.redact import Redactor

logger = logging.getLogger(__name__)

WITHHELD = (
    "orq-mcp could not make this answer safe to send, so it was withheld. Retry; if it persists, check the server log."
)
WITHHELD_BODY = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32603, "message": WITHHELD}}).encode()
_MESSAGE = TypeAdapter[JSONRPCMessage](JSONRPCMessage)

# The redactor of the request being served, for what the SDK stores from it (its session's tasks, started
# while serving the request that opened the session, inherit the value: tasks copy their context).
_caller: ContextVar[Callable[[], Redactor]] = ContextVar("orq_mcp_caller_redactor")


def scrub_json(text: str, redactor: Redactor) -> str:
    """`text`, a JSON document (or any text), with every secret scrubbed from each string in it."""
    if not redactor or (redactor.literal_in_json and not redactor.found_in(text)):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return redactor.text(text)  # not JSON (an SSE comment, a plain-text body): scrubbed as text
    return json.dumps(redactor.value(value), ensure_ascii=False, separators=(",", ":"))


def scrub_message(message: JSONRPCMessage, redactor: Redactor) -> JSONRPCMessage:
    """A JSON-RPC message with every secret scrubbed; the same object when it holds none."""
    if not redactor:
        return message
    text = message.model_dump_json(by_alias=True, exclude_unset=True)
    scrubbed = scrub_json(text, redactor)
    return message if scrubbed is text else _MESSAGE.validate_json(scrubbed)


class ScrubbedResponses:
    """The HTTP exit: each response's body scrubbed with the redactor of the caller who asked for it.

    `redactor_for(scope)` finds it from the request's credentials; it is asked once, when the response
    starts, and a request refused before that asks nothing (no work for a key the gate turned away).
    A JSON or text answer is held until complete, scrubbed, and sent with its new length; a stream
    (`text/event-stream`) is scrubbed line by line as it goes.
    """

    def __init__(self, app: ASGIApp, redactor_for: Callable[[Scope], Redactor]) -> None:
        self._app = app
        self._redactor_for = redactor_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        resolved: list[Redactor] = []

        def redactor() -> Redactor:
            if not resolved:
                resolved.append(self._redactor_for(scope))
            return resolved[0]

        token = _caller.set(redactor)
        try:
            await self._app(scope, receive, _Response(send, redactor).send)
        finally:
            _caller.reset(token)


class _Response:
    """One response on its way out: buffered and scrubbed whole, or (a stream) scrubbed line by line."""

    def __init__(self, send: Send, redactor: Callable[[], Redactor]) -> None:
        self._send = send
        self._redactor = redactor
        self._start: Message | None = None
        self._body: list[bytes] = []
        self._lines: _Lines | None = None

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            content_type = MutableHeaders(raw=message.get("headers", [])).get("content-type", "")
            if content_type.startswith("text/event-stream"):
                self._lines = _Lines(self._redactor())
                await self._send(message)
            else:
                self._start = message
        elif kind == "http.response.body" and self._lines is not None:
            more = message.get("more_body", False)
            body = self._lines.feed(message.get("body", b""), final=not more)
            await self._send({**message, "body": body})
        elif kind == "http.response.body" and self._start is not None:
            self._body.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._send_whole(self._start, b"".join(self._body))
        else:
            await self._send(message)

    async def _send_whole(self, start: Message, body: bytes) -> None:
        headers = MutableHeaders(raw=list(start.get("headers", [])))
        try:
            text = body.decode("utf-8", "surrogateescape")
            scrubbed = scrub_json(text, self._redactor())
            body = scrubbed.encode("utf-8", "surrogateescape") if scrubbed is not text else body
        except (RecursionError, ValueError):  # too deep to scrub is too deep to send
            logger.warning("Withheld an answer that could not be scrubbed")
            start, body = {**start, "status": 500}, WITHHELD_BODY
            headers["content-type"] = "application/json"
        headers["content-length"] = str(len(body))
        await self._send({**start, "headers": headers.raw})
        await self._send({"type": "http.response.body", "body": body})


class _Lines:
    """An event stream scrubbed a line at a time: each `data:` line as JSON, any other as text.

    A line is sent once complete (the SDK writes whole events, so nothing waits in practice); what a
    chunk ends with is held until its line ends, so a key split across chunks is still one line.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._held = b""

    def feed(self, chunk: bytes, *, final: bool) -> bytes:
        data = self._held + chunk
        cut = len(data) if final else data.rfind(b"\n") + 1
        self._held = data[cut:]
        # Split at "\n" only: JSON may hold a raw U+2028 that str.splitlines would also break at.
        lines = data[:cut].decode("utf-8", "surrogateescape").split("\n")
        return "\n".join(self._line(line) for line in lines).encode("utf-8", "surrogateescape")

    def _line(self, line: str) -> str:
        if not line.startswith("data:"):
            return self._redactor.text(line)
        ending = "\r" if line.endswith("\r") else ""
        payload = line[5 : len(line) - len(ending)]
        space = " " if payload.startswith(" ") else ""
        return f"data:{space}{scrub_json(payload[len(space) :], self._redactor)}{ending}"


class ScrubbedEventStore(EventStore):
    """An event store that keeps each message scrubbed, with the redactor of the caller whose stream it is."""

    def __init__(self, store: EventStore, fallback: Redactor) -> None:
        self._store = store
        self._fallback = fallback  # outside any request (never, in practice): the server's own

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        redactor = _caller.get(lambda: self._fallback)()
        return await self._store.store_event(stream_id, scrub_message(message, redactor) if message else None)

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        return await self._store.replay_events_after(last_event_id, send_callback)


class MessageSink(Protocol):
    """Where a transport takes the SDK's outgoing messages: anyio's send streams and the SDK's own alike."""

    async def send(self, item: SessionMessage, /) -> None: ...

    async def aclose(self) -> None: ...


class SinkWrapper:
    """A write stream that hands each message on to `stream` (what it does on the way is the subclass's `send`),
    closing it with itself: the shape the SDK's dispatcher writes to."""

    def __init__(self, stream: MessageSink) -> None:
        self._stream = stream

    async def send(self, item: SessionMessage, /) -> None:
        await self._stream.send(item)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, exc_tb: TracebackType | None
    ) -> bool | None:
        await self.aclose()
        return None


class ScrubbedWriteStream(SinkWrapper):
    """The stdio exit: the SDK's outgoing messages, each scrubbed before the transport writes it."""

    def __init__(self, stream: MessageSink, redactor: Redactor) -> None:
        super().__init__(stream)
        self._redactor = redactor

    async def send(self, item: SessionMessage, /) -> None:
        message = scrub_message(item.message, self._redactor)  # raises rather than send what it cannot scrub
        await self._stream.send(item if message is item.message else SessionMessage(message, item.metadata))
