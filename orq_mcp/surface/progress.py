"""Relaying streamed text as MCP progress notifications.

Contract (issue #2): `progress` counts characters received so far and strictly increases,
`message` is exactly the text since the previous notification (so the messages concatenate
to the final text), the first piece goes out at once, bursts are coalesced to at most one
notification per `interval`, and nothing is sent once the relay has closed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio

logger = logging.getLogger(__name__)

SendProgress = Callable[[float, str], Awaitable[None]]


class ProgressRelay:
    def __init__(self, send: SendProgress, interval: float) -> None:
        self._send = send
        self._interval = interval
        self._pending: list[str] = []
        self._sent_chars = 0
        self._last_sent = -float("inf")
        self._wake = anyio.Event()
        self._closed = anyio.Event()
        self._sending = anyio.Lock()
        self._closing = False

    async def add(self, text: str) -> None:
        """Queue text for the client. Only the very first piece is sent before returning."""
        if not text or self._closing:
            return
        self._pending.append(text)
        if self._sent_chars == 0:
            await self._flush()  # first token latency matters most: no coalescing wait
        else:
            self._wake.set()

    async def run(self) -> None:
        """The background sender for everything after the first piece."""
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            if not self._closing:
                # Pieces arriving during this wait ride along in one notification; closing ends the
                # wait, so the last piece of a stream never waits out the coalescing window.
                with anyio.move_on_after(self._last_sent + self._interval - anyio.current_time()):
                    await self._closed.wait()
            await self._flush()
            if self._closing and not self._pending:
                return

    async def _flush(self) -> None:
        async with self._sending:  # one notification at a time keeps them in order
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
        """Send what is pending now, then stop; `add` is ignored from here on."""
        self._closing = True
        self._closed.set()
        self._wake.set()


@asynccontextmanager
async def relay_progress(send: SendProgress, interval: float) -> AsyncIterator[ProgressRelay]:
    """Run a relay for the duration of the block; on exit everything added has been sent.

    If the block raises an error, pending text is still flushed before the error propagates,
    so the client sees everything that was streamed before the failure. On cancellation
    nothing more is sent.
    """
    relay = ProgressRelay(send, interval)
    error: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(relay.run)
        try:
            yield relay
        except Exception as exc:
            # Held until the sender has drained: raising inside the task group would cancel it
            # (losing the pending text) and wrap the error in an ExceptionGroup.
            error = exc
        finally:
            relay.close()
    if error is not None:
        raise error


async def _discard(progress: float, message: str) -> None:
    return None
