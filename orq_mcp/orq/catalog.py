"""Short-lived caches of a workspace's deployments and prompts.

orq has no "get one deployment" endpoint (reference §1), and tools/list, resources/list and
prompts/list should not cost an orq call each, so these lists are kept for `ttl` seconds.
One refresh pages through the whole list; concurrent callers share it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import anyio

from orq_mcp.orq.client import OrqClient
from orq_mcp.orq.models import Deployment, Page, Prompt

T = TypeVar("T", Deployment, Prompt)
FetchPage = Callable[[str | None], Awaitable[Page[T]]]

# A miss may mean the item was just created, but unknown names must not trigger a refresh each.
MISS_REFRESH_INTERVAL = 5.0
# Beyond this many pages (or with a cursor that stops advancing) orq is misbehaving.
MAX_PAGES = 200


class Catalog(Generic[T]):
    def __init__(
        self,
        fetch_page: FetchPage[T],
        name_of: Callable[[T], str],
        ttl: float = 60.0,
        clock: Callable[[], float] = anyio.current_time,
    ) -> None:
        self._fetch_page = fetch_page
        self._name_of = name_of
        self._ttl = ttl
        self._clock = clock
        self._items: list[T] | None = None
        self._fetched_at = 0.0
        self._lock = anyio.Lock()

    async def all(self, *, refresh: bool = False) -> list[T]:
        """Every item, newest first; at most one upstream refresh per `ttl` seconds."""
        async with self._lock:
            if refresh or self._items is None or self._clock() - self._fetched_at >= self._ttl:
                self._items = await self._fetch_all()
                self._fetched_at = self._clock()
            return self._items

    async def get(self, name: str) -> T | None:
        """The item with this name; a miss refreshes (rate-limited) in case it is new."""
        found = self._find(await self.all(), name)
        if found is None and self._clock() - self._fetched_at >= MISS_REFRESH_INTERVAL:
            found = self._find(await self.all(refresh=True), name)
        return found

    def _find(self, items: list[T], name: str) -> T | None:
        return next((item for item in items if self._name_of(item) == name), None)

    async def _fetch_all(self) -> list[T]:
        items: list[T] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await self._fetch_page(cursor)
            items.extend(page.data)
            if not page.has_more or not page.data or page.data[-1].id == cursor:
                break
            cursor = page.data[-1].id
        return items


def deployment_catalog(orq: OrqClient, ttl: float) -> Catalog[Deployment]:
    async def fetch(cursor: str | None) -> Page[Deployment]:
        return await orq.list_deployments(limit=50, starting_after=cursor)  # orq's largest page

    return Catalog(fetch, lambda d: d.key, ttl)


def prompt_catalog(orq: OrqClient, ttl: float) -> Catalog[Prompt]:
    async def fetch(cursor: str | None) -> Page[Prompt]:
        return await orq.list_prompts(limit=200, starting_after=cursor)

    return Catalog(fetch, lambda p: p.id, ttl)
