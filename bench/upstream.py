"""The upstream call both floors make: the same request as orq-mcp, its text relayed as orq-mcp relays it.

POST /v2/deployments/stream with httpx2 (same body and headers as orq-mcp), SSE read to [DONE]. The text goes to
`send` by the same rule as orq-mcp's relay, in a few lines of plain asyncio: sent at once when no notification is
in flight, and what arrives during a send goes out together in the next. So the floors send as many progress
notifications as orq-mcp does (the overhead table shows the counts) rather than one per chunk, which would make
them slower than the code they are a floor for. Imports nothing from orq_mcp.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import httpx2

Send = Callable[[int, str], Awaitable[None]]  # (characters so far, new text)


class Scrub(Protocol):
    """Text arriving in pieces, scrubbed and passed on at once (orq_mcp.orq.redact.StreamRedactor)."""

    def feed(self, text: str) -> str: ...


async def stream_text(
    http: httpx2.AsyncClient,
    arguments: dict[str, Any],
    send: Send | None,
    scrub: Scrub | None = None,
    last: dict[str, Any] | None = None,
) -> str:
    """The text of the stream, relayed to `send` as it arrives; `scrub` (a stream redactor) sees every piece
    before it is relayed, and `last`, if given, receives the final event's JSON (usage, model, finish)."""
    body = {**arguments, "invoke_options": {"include_usage": True}, "stream": True}
    headers = {"Authorization": f"Bearer {os.environ['ORQ_API_KEY']}", "Accept": "text/event-stream"}
    text: list[str] = []
    relay = Relay(send) if send is not None else None
    sender = asyncio.create_task(relay.run()) if relay is not None else None
    try:
        async with http.stream("POST", "/v2/deployments/stream", json=body, headers=headers) as response:
            response.raise_for_status()
            async for content in contents(response, last):
                text.append(content)
                if relay is not None:
                    relay.add(scrub.feed(content) if scrub is not None else content)
    finally:
        if relay is not None and sender is not None:
            relay.close()
            await sender
    return "".join(text)


async def contents(response: httpx2.Response, last: dict[str, Any] | None = None) -> AsyncIterator[str]:
    """The text of each chunk of an orq SSE stream, to [DONE]; then drained, so the connection is pooled again.
    `last`, if given, is updated with each event's JSON, so it ends holding the final one."""
    lines = response.aiter_lines()
    async for line in lines:
        if not line.startswith("data: "):
            continue
        if line == "data: [DONE]":
            break
        event = json.loads(line[6:])
        if last is not None:
            last.update(event)
        content = event["choices"][0]["message"].get("content")
        if isinstance(content, str) and content:
            yield content
    async for _ in lines:
        pass


class Relay:
    def __init__(self, send: Send) -> None:
        self.send = send
        self.pending: list[str] = []
        self.chars = 0
        self.wake = asyncio.Event()
        self.closed = False

    def add(self, text: str) -> None:
        if text:  # a piece that only continues a key run already replaced comes out of the scrub empty
            self.pending.append(text)
            self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.wake.set()

    async def run(self) -> None:
        while not (self.closed and not self.pending):
            await self.wake.wait()
            self.wake.clear()
            if self.pending:
                piece = "".join(self.pending)
                self.pending.clear()
                self.chars += len(piece)
                await self.send(self.chars, piece)
