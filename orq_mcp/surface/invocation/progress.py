"""Relaying streamed text as MCP progress notifications: scrub, coalesce, send.

Contract: `progress` counts the characters sent so far and strictly increases, `message` is exactly
the text since the previous notification (so the messages concatenate to the final text, scrubbed: a
key run that a later piece completes shows its first characters, never 12, before its `[redacted]`,
where the result replaces the run whole; see orq/redact.py StreamRedactor), the first
piece goes out before `add` returns, a later one that arrives while nothing is in flight goes out at
once, and nothing is sent once the relay has closed. Coalescing is by back-pressure, not by a timer:
what arrives while a notification is being sent rides along in the next one, so a slow client gets
fewer, larger messages and a fast one gets every piece as it comes. `interval`, when above 0,
additionally keeps notifications that far apart.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Protocol

import anyio

logger = logging.getLogger(__name__)

SendProgress = Callable[[float, str], Awaitable[None]]


class Scrub(Protocol):
    """Removes secrets from text that arrives in pieces, passing each on at once (orq_mcp.orq.redact.StreamRedactor)."""

    def feed(self, text: str) -> str: ...


class ProgressRelay:
    def __init__(self, send: SendProgress, interval: float = 0.0, scrub: Scrub | None = None) -> None:
        self._send = send
        self._interval = interval
        self._scrub = scrub
        self._pending: list[str] = []
        self._sent_chars = 0
        self._last_sent = -float("inf")
        self._wake = anyio.Event()
        self._closed = anyio.Event()
        self._closing = False

    async def add(self, text: str) -> None:
        """Queue text for the client; the sender picks it up as soon as it is free.

        The very first piece is sent before this returns: first-token latency matters most, and on a
        busy loop the stream's reader could otherwise run through a backlog of chunks before the
        sender task gets a turn, and the client would see nothing until the end.
        """
        if self._closing:
            return
        if self._scrub is not None:
            text = self._scrub.feed(text)
        if text:
            self._pending.append(text)
            if self._sent_chars == 0:
                await self._flush()
            else:
                self._wake.set()

    async def run(self) -> None:
        """The sender: one notification at a time, each carrying everything pending."""
        while not (self._closing and not self._pending):
            await self._wake.wait()
            self._wake = anyio.Event()  # pieces added during the send below set the new one
            if self._interval and not self._closing:
                # Closing ends the wait, so the last piece never waits out the spacing.
                with anyio.move_on_after(self._last_sent + self._interval - anyio.current_time()):
                    await self._closed.wait()
            await self._flush()

    async def _flush(self) -> None:
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._sent_chars += len(text)
        self._last_sent = anyio.current_time()
        try:
            await self._send(self._sent_chars, text)
        except Exception:
            # Progress is a courtesy: a client that cannot take it must not fail the invocation.
            logger.debug("Dropping progress notifications: sending failed", exc_info=True)
            self._send = _discard

    def close(self) -> None:
        """Send what is pending, then stop; `add` is ignored from here on."""
        self._stop()

    def abandon(self) -> None:
        """Stop without sending anything more (the call was cancelled: nobody is waiting for it)."""
        self._pending.clear()
        self._stop()

    def _stop(self) -> None:
        self._closing = True
        self._closed.set()
        self._wake.set()


@asynccontextmanager
async def relay_progress(
    send: SendProgress, interval: float = 0.0, scrub: Scrub | None = None
) -> AsyncIterator[ProgressRelay]:
    """Run a relay for the duration of the block; on exit everything added has been sent.

    If the block raises an error, pending text is still flushed before the error propagates, so the
    client sees everything streamed before the failure. On cancellation nothing more is sent.
    """
    relay = ProgressRelay(send, interval, scrub)
    error: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(relay.run)
        try:
            yield relay
        except Exception as exc:
            # Held until the sender has drained: raising inside the task group would cancel it
            # (losing the pending text) and wrap the error in an ExceptionGroup.
            error = exc
            relay.close()
        except BaseException:
            relay.abandon()
            raise
        else:
            relay.close()
    if error is not None:
        raise error


async def _discard(progress: float, message: str) -> None:
    return None
