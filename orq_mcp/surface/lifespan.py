"""What the server's lifespan yields: the tenant directory (and the live lists' refresher), built once per server,
however many times the SDK enters the lifespan.

`build_runtime` makes it from the settings and the injected orq HTTP client: one tenant made at start with the
server's own key, a directory of tenants per caller's key, or a keyless stand-in that says where the key goes.

Over Streamable HTTP and stdio the SDK runs the server lifespan once; over legacy SSE it runs it
once per connection. Building the runtime in each would give every SSE client its own caches,
tenant directory and background refresher (N clients, N times the orq traffic). Here the first
lifespan builds it, later ones reuse it, and the last one out closes it. The refresher runs in
exactly one lifespan at a time: whoever holds the lock; when that connection ends, the next
waiting lifespan takes over.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

import anyio
import httpx2
from mcp.server.subscriptions import SubscriptionBus

from orq_mcp.config.settings import Settings
from orq_mcp.orq.client import OrqClient, RetryPolicy
from orq_mcp.surface.listings import snapshot
from orq_mcp.surface.live import LiveLists
from orq_mcp.surface.named_keys import NamedKeysCheck
from orq_mcp.surface.tenants import (
    CALLER_KEY_HINT,
    CONFIG_KEY_HINT,
    OneTenant,
    Redactors,
    TenantPerKey,
    Tenants,
    keyless,
    new_tenant,
)
from orq_mcp.surface.toolsets.exposed import ExposedTools

T = TypeVar("T")
Refresher = Callable[[], Awaitable[None]]
# Builds the runtime; returns it and its refresher, if any.
Build = Callable[[], Awaitable[tuple[T, Refresher | None]]]
# Shortest wait between background refreshes of the lists.
MIN_REFRESH_INTERVAL = 1.0


def build_runtime(
    settings: Settings,
    http: httpx2.AsyncClient,
    *,
    redactors: Redactors,
    bus: SubscriptionBus,
    exposed: ExposedTools,
    retry: RetryPolicy | None = None,
) -> Build[Tenants]:
    """How to build the tenant directory over `http` (the caller's, and closed by it)."""

    async def build() -> tuple[Tenants, Refresher | None]:
        orq = OrqClient(
            http,
            "",
            timeouts=settings.timeouts,
            retry=retry or settings.retry,
            max_response_chars=settings.max_response_chars,
            streams=settings.stream_slots(),
            defaults=settings.request_defaults,
        )
        if settings.per_caller_keys:  # each tenant's lists are fetched on demand; nothing runs in the background
            hint = CONFIG_KEY_HINT if settings.query_config else CALLER_KEY_HINT
            factory = functools.partial(new_tenant, settings, orq, key_hint=hint)
            return TenantPerKey(factory, settings, redactors), None
        if settings.api_key is None:
            return keyless(settings.api_key_stand_in), None
        # The server's own key: the keys its settings name are held against its workspace (named_keys.py).
        key = settings.api_key.get_secret_value()
        tenant = new_tenant(settings, orq, key, redactors.server, on_deployments=NamedKeysCheck(settings))
        tenant.live = LiveLists(bus, functools.partial(snapshot, exposed, tenant))
        if settings.cache_ttl <= 0:  # no cache: every list is fetched fresh, nothing to watch
            return OneTenant(tenant), None
        return OneTenant(tenant), functools.partial(tenant.live.run, max(settings.cache_ttl, MIN_REFRESH_INTERVAL))

    return build


class SharedRuntime(Generic[T]):
    def __init__(self, build: Build[T]) -> None:
        self._build = build
        self._users = 0
        self._guard = anyio.Lock()  # building and closing are not interleaved with each other
        self._refresher_owner = anyio.Lock()
        self._built: tuple[T, Refresher | None] | None = None

    @property
    def users(self) -> int:
        return self._users

    @asynccontextmanager
    async def use(self) -> AsyncIterator[T]:
        async with self._guard:
            if self._built is None:
                self._built = await self._build()
            self._users += 1
        runtime, refresh = self._built
        try:
            async with anyio.create_task_group() as tg:
                if refresh is not None:
                    tg.start_soon(self._refresh_while_owner, refresh)
                yield runtime
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._leave()

    async def _refresh_while_owner(self, refresh: Refresher) -> None:
        async with self._refresher_owner:
            await refresh()

    async def _leave(self) -> None:
        async with self._guard:
            self._users -= 1
            if self._users == 0:
                self._built = None  # the next lifespan builds afresh
