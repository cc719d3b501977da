"""The subscription bus of 2026-07-28 listeners (`subscriptions/listen`): an event for every listener, or for one
caller's listeners only.

The SDK's listen handler subscribes each stream to the bus with a bare callback. A change one caller made for
itself (a toolset it enabled, dynamic.py) must not be announced to another tenant's listeners, so each listener is
filed under whoever opened it: the request edge (listings.py) runs the listen request inside `listening_as(scope)`,
and `subscribe`, called from that request, reads it. `publish` reaches every listener (the live lists' changes of
the one workspace), `publish_to(scope, ...)` only that scope's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import anyio.lowlevel
from mcp.server.subscriptions import ServerEvent

logger = logging.getLogger(__name__)

# The scope of the listen request being served (none outside one).
_listening_as: ContextVar[object | None] = ContextVar("orq_mcp_listening_as", default=None)


class CallersBus:
    """An in-process `SubscriptionBus` whose listeners each belong to a scope (a caller, or a connection)."""

    def __init__(self) -> None:
        # Keyed by a token per subscription, so one callable may be registered twice.
        self._listeners: dict[object, tuple[Callable[[ServerEvent], None], object | None]] = {}

    @contextmanager
    def listening_as(self, scope: object) -> Iterator[None]:
        """File the listeners subscribed within the block under `scope`."""
        token = _listening_as.set(scope)
        try:
            yield
        finally:
            _listening_as.reset(token)

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        token = object()
        self._listeners[token] = (listener, _listening_as.get())

        def unsubscribe() -> None:
            self._listeners.pop(token, None)

        return unsubscribe

    async def publish(self, event: ServerEvent) -> None:
        """Deliver `event` to every listener."""
        await self._deliver(event, lambda scope: True)

    async def publish_to(self, scope: object, event: ServerEvent) -> None:
        """Deliver `event` to the listeners of `scope` only."""
        await self._deliver(event, lambda filed: filed is scope)

    async def _deliver(self, event: ServerEvent, chosen: Callable[[object | None], bool]) -> None:
        for listener, scope in list(self._listeners.values()):
            if not chosen(scope):
                continue
            try:
                listener(event)
            except Exception:  # one listener's failure must not starve the others
                logger.exception("A subscription listener raised; continuing")
        # Let the listen streams drain between a burst of events rather than overflow unread.
        await anyio.lowlevel.checkpoint()
