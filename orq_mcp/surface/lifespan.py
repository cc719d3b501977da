"""One runtime per server, however many times the SDK enters the lifespan.

Over Streamable HTTP and stdio the SDK runs the server lifespan once; over legacy SSE it runs it
once per connection. Building the runtime in each would give every SSE client its own caches,
tenant directory and background refresher (N clients, N times the orq traffic). Here the first
lifespan builds it, later ones reuse it, and the last one out closes it. The refresher runs in
exactly one lifespan at a time: whoever holds the lock; when that connection ends, the next
waiting lifespan takes over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Generic, TypeVar

import anyio

T = TypeVar("T")
# Builds the runtime, entering whatever it must close into the stack; returns it and its refresher, if any.
Build = Callable[[AsyncExitStack], Awaitable[tuple[T, Callable[[], Awaitable[None]] | None]]]


class SharedRuntime(Generic[T]):
    def __init__(self, build: Build[T]) -> None:
        self._build = build
        self._users = 0
        self._guard = anyio.Lock()  # building and closing are not interleaved with each other
        self._refresher_owner = anyio.Lock()
        self._stack: AsyncExitStack | None = None
        self._built: tuple[T, Callable[[], Awaitable[None]] | None] | None = None

    @property
    def users(self) -> int:
        return self._users

    @asynccontextmanager
    async def use(self) -> AsyncIterator[T]:
        async with self._guard:
            if self._built is None:
                self._stack = AsyncExitStack()
                self._built = await self._build(self._stack)
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

    async def _refresh_while_owner(self, refresh: Callable[[], Awaitable[None]]) -> None:
        async with self._refresher_owner:
            await refresh()

    async def _leave(self) -> None:
        async with self._guard:
            self._users -= 1
            if self._users == 0 and self._stack is not None:
                stack, self._stack, self._built = self._stack, None, None
                await stack.aclose()
