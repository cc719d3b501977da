"""Live lists: refresh the cached workspace and tell clients what changed.

Every `cache_ttl` seconds the deployments and prompts are fetched again and compared with
what clients were last shown. A change is announced on both channels MCP has:
- 2026-07-28 clients listen on `subscriptions/listen`: events go on the subscription bus;
- handshake-era clients get `notifications/*/list_changed` on their connection, and
  `notifications/resources/updated` for the prompt_config URIs they `resources/subscribe`d to.
"""

from __future__ import annotations

import hashlib
import json
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import SubscriptionBus
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ResourceUpdated, ToolsListChanged
from mcp_types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

from orq_mcp.orq.errors import OrqError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """What clients have been shown, reduced to what a change notification is about."""

    tools: str  # digest of the per-deployment tool definitions
    resources: str  # digest of what resources/list shows
    configs: dict[str, str] = field(default_factory=dict)  # prompt_config URI -> digest of its content
    prompts: str = ""  # digest of what prompts/list shows


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


class LiveLists:
    """Owns the refresh loop, the handshake-era connections it notifies, and their subscriptions."""

    def __init__(self, bus: SubscriptionBus, snapshot: Callable[[bool], Awaitable[Snapshot]]) -> None:
        self._bus = bus
        self._take_snapshot = snapshot
        self._last: Snapshot | None = None
        # Connection -> a session on it; weak, so a closed connection drops out by itself.
        self._sessions: weakref.WeakKeyDictionary[Any, ServerSession] = weakref.WeakKeyDictionary()
        self._subscribed: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()

    # -- handshake-era connections ---------------------------------------------------------------

    def remember(self, session: ServerSession) -> None:
        """Called for each request: a later notification goes to the connection's standalone stream."""
        self._sessions[connection_of(session)] = session

    async def subscribe(self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams) -> EmptyResult:
        self.remember(ctx.session)
        self._subscribed.setdefault(connection_of(ctx.session), set()).add(str(params.uri))
        return EmptyResult()

    async def unsubscribe(self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams) -> EmptyResult:
        self._subscribed.get(connection_of(ctx.session), set()).discard(str(params.uri))
        return EmptyResult()

    # -- refreshing ------------------------------------------------------------------------------

    async def run(self, interval: float) -> None:
        """Refresh every `interval` seconds until cancelled with the server."""
        while True:
            await anyio.sleep(interval)
            try:
                await self.refresh()
            except OrqError as exc:  # logged, and tried again next time
                logger.warning("Could not refresh the workspace lists: %s", exc.message)

    async def refresh(self) -> None:
        """Fetch the lists afresh and announce whatever differs from what clients were shown."""
        # The first time, what clients were shown is whatever the caches hold (fetched on a miss).
        previous = self._last if self._last is not None else await self._take_snapshot(False)
        current = self._last = await self._take_snapshot(True)
        if current.tools != previous.tools:
            await self._announce(ToolsListChanged(), lambda s: s.send_tool_list_changed())
        if current.resources != previous.resources:
            await self._announce(ResourcesListChanged(), lambda s: s.send_resource_list_changed())
        if current.prompts != previous.prompts:
            await self._announce(PromptsListChanged(), lambda s: s.send_prompt_list_changed())
        for uri in sorted(current.configs.keys() & previous.configs.keys()):
            if current.configs[uri] != previous.configs[uri]:
                await self._announce(ResourceUpdated(uri=uri), lambda s, u=uri: s.send_resource_updated(u), uri=uri)

    async def _announce(
        self, event: Any, legacy: Callable[[ServerSession], Awaitable[None]], uri: str | None = None
    ) -> None:
        logger.info("Workspace changed: announcing %s", type(event).__name__ + (f" for {uri}" if uri else ""))
        await self._bus.publish(event)
        for connection, session in list(self._sessions.items()):
            if uri is not None and uri not in self._subscribed.get(connection, set()):
                continue
            try:
                await legacy(session)
            except Exception:  # a client that went away must not stop the others hearing about it
                logger.debug("Could not notify a client", exc_info=True)


def connection_of(session: ServerSession) -> Any:
    # ServerSession is per request; the connection behind it is what lasts. SDK gap (mcp 2.3; not yet filed
    # upstream, this machine has no network): ServerSession exposes no public connection, so fall back to the
    # session itself (then a client may hear a change twice). tests/project/test_sdk_gaps.py fails once one exists.
    return getattr(session, "_connection", session)
