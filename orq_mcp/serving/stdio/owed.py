"""stdio at EOF: every request read before stdin closed is answered before the server exits.

The SDK's dispatcher cancels every request in flight the moment its input ends, and a request
whose task has not started yet is cancelled before it can even write its "connection closed"
error: a client that writes its requests and closes stdin (`orq-mcp < requests.jsonl`, or a
pipelined initialize + tools/list) got some of them answered and the rest never. So the
dispatcher's input is held open after EOF until each request read has been answered. A request
the server sends the client after EOF (an elicitation form) can never be answered, since the
client has nothing left to write with: it is answered here, at once, with a "connection closed"
error, so the call that asked ends with that error instead of waiting for a reply.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable

import anyio
from mcp.shared.message import SessionMessage
from mcp_types import (
    CONNECTION_CLOSED,
    ErrorData,
    JSONRPCError,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    RequestId,
)

from orq_mcp.serving.outbound import MessageSink, SinkWrapper

CLIENT_GONE = "The client closed its input (stdin), so it cannot answer this request."


class OwedAnswers:
    """The ids of the client's requests not yet answered, and of the server's requests not yet answered."""

    def __init__(self) -> None:
        self._owed: Counter[RequestId] = Counter()  # a client may reuse an id; each use is owed an answer
        self._asked: set[RequestId] = set()
        self._changed = anyio.Event()

    def read(self, message: JSONRPCMessage) -> None:
        """A message from the client, about to be dispatched."""
        if isinstance(message, JSONRPCRequest):
            self._owed[message.id] += 1
        elif isinstance(message, JSONRPCNotification) and message.method == "notifications/cancelled":
            # The SDK never answers a request its client cancelled: nothing is owed for it any more.
            request_id = (message.params or {}).get("requestId")
            if isinstance(request_id, str | int) and not isinstance(request_id, bool):
                self._settle(request_id)
        elif isinstance(message, JSONRPCResponse | JSONRPCError) and message.id is not None:
            self._asked.discard(message.id)

    def written(self, message: JSONRPCMessage) -> None:
        """A message from the server, handed to the transport."""
        if isinstance(message, JSONRPCRequest):
            self._asked.add(message.id)
        elif isinstance(message, JSONRPCResponse | JSONRPCError) and message.id is not None:
            self._settle(message.id)
        else:
            return
        self._changed.set()

    async def settle(self, answer: Callable[[JSONRPCError], Awaitable[None]]) -> None:
        """Return once every request read has been answered; meanwhile answer the server's own requests."""
        while True:
            for request_id in sorted(self._asked, key=str):
                self._asked.discard(request_id)
                error = ErrorData(code=CONNECTION_CLOSED, message=CLIENT_GONE)
                await answer(JSONRPCError(jsonrpc="2.0", id=request_id, error=error))
            if not self._owed:
                return
            self._changed = anyio.Event()
            if not self._asked:
                await self._changed.wait()

    def _settle(self, request_id: RequestId) -> None:
        if self._owed[request_id] > 1:
            self._owed[request_id] -= 1
        else:
            self._owed.pop(request_id, None)


class Recorded(SinkWrapper):
    """The write stream handed to the dispatcher: each message sent is noted in `owed`."""

    def __init__(self, stream: MessageSink, owed: OwedAnswers) -> None:
        super().__init__(stream)
        self._owed = owed

    async def send(self, item: SessionMessage, /) -> None:
        await self._stream.send(item)
        self._owed.written(item.message)
