"""Short-lived caches of a workspace's deployments, prompts and agents.

orq has no "get one deployment" endpoint (docs/orq-api.md, Endpoints), and tools/list, resources/list and
prompts/list should not cost an orq call each, so these lists are kept for `ttl` seconds.
One refresh pages through the whole list; concurrent callers share it.

Memory is bounded: at most `MAX_ITEMS` are kept. A workspace with more, or an upstream whose cursors
go round in a loop, leaves the catalog `complete = False`, so that a miss is not reported as certain.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import anyio

from orq_mcp.orq.agent_models import Agent
from orq_mcp.orq.client import OrqClient
from orq_mcp.orq.errors import BodyTooLargeError
from orq_mcp.orq.models import Deployment, Page, Prompt

T = TypeVar("T", Deployment, Prompt, Agent)
FetchPage = Callable[[str | None, int], Awaitable[Page[T]]]  # (cursor, page size)
logger = logging.getLogger(__name__)

# A miss may mean the item was just created, but unknown names must not trigger a refresh each.
MISS_REFRESH_INTERVAL = 5.0
# The most items one catalog keeps (~1 kB each): a larger workspace is cached in part, and says so.
MAX_ITEMS = 10_000
# A page that only repeats known items still costs a request: a hostile orq gets this many at most.
MAX_PAGES = 1_000


class Catalog(Generic[T]):
    def __init__(
        self,
        fetch_page: FetchPage[T],
        name_of: Callable[[T], str],
        page_size: int,
        ttl: float = 60.0,
        clock: Callable[[], float] = anyio.current_time,
        on_list: Callable[[list[T], bool], None] | None = None,
    ) -> None:
        self._fetch_page = fetch_page
        # Told each list fetched, and whether it is complete (the surface checks configured names against it).
        self._on_list = on_list
        self._name_of = name_of
        self._page_size = page_size
        self._ttl = ttl
        self._clock = clock
        self._items: list[T] | None = None
        # False when the last refresh stopped before orq's end of the list (too many items, or a cursor loop).
        self.complete = True
        self._fetched_at = 0.0
        self._lock = anyio.Lock()

    async def all(self, *, refresh: bool = False) -> list[T]:
        """Every item, newest first; at most one upstream refresh per `ttl` seconds."""
        async with self._lock:
            if refresh or self._items is None or self._clock() - self._fetched_at >= self._ttl:
                self._items, self.complete = await self._fetch_all()
                self._fetched_at = self._clock()
                if self._on_list is not None:
                    self._on_list(self._items, self.complete)
            return self._items

    async def shown(self) -> list[T]:
        """Every item as last fetched, however old: what callers were last shown (fetched if never)."""
        return self._items if self._items is not None else await self.all()

    async def get(self, name: str) -> T | None:
        """The item with this name; a miss refreshes (rate-limited) in case it is new."""
        found = self._find(await self.all(), name)
        if found is None and self._clock() - self._fetched_at >= MISS_REFRESH_INTERVAL:
            found = self._find(await self.all(refresh=True), name)
        return found

    def _find(self, items: list[T], name: str) -> T | None:
        return next((item for item in items if self._name_of(item) == name), None)

    async def _fetch_all(self) -> tuple[list[T], bool]:
        """Every item up to MAX_ITEMS, each once, and whether that is orq's whole list."""
        items: dict[str, T] = {}  # by name, first (newest) wins: one name must not stand for two items
        seen: set[str | None] = {None}
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await self._fetch_page_that_fits(cursor)
            for item in page.data:
                items.setdefault(self._name_of(item), item)
            more = page.has_more and bool(page.data)
            if len(items) > MAX_ITEMS or (more and len(items) == MAX_ITEMS):
                logger.warning("Caching only the first %d items of a larger orq workspace.", MAX_ITEMS)
                return list(items.values())[:MAX_ITEMS], False
            if not more:  # an empty page that claims more cannot be followed, nor trusted to be the end
                return list(items.values()), not page.has_more
            cursor = page.data[-1].id
            if cursor in seen:  # orq pointed back to a page already read: following it would never end
                logger.warning("orq's list cursors went round in a loop; stopped after %d items.", len(items))
                return list(items.values()), False
            seen.add(cursor)
        logger.warning("orq's list went on for %d pages; stopped after %d items.", MAX_PAGES, len(items))
        return list(items.values()), False

    async def _fetch_page_that_fits(self, cursor: str | None) -> Page[T]:
        """One page; a page too large to read is asked for again with half as many items, and so on."""
        while True:
            try:
                return await self._fetch_page(cursor, self._page_size)
            except BodyTooLargeError:
                if self._page_size == 1:
                    raise
                self._page_size //= 2  # kept: the next refresh starts at a size that fits
                logger.info("orq's page was too large to read; asking for %d items a page.", self._page_size)


def deployment_catalog(
    orq: OrqClient,
    ttl: float,
    on_list: Callable[[list[Deployment], bool], None] | None = None,
    clock: Callable[[], float] = anyio.current_time,
) -> Catalog[Deployment]:
    async def fetch(cursor: str | None, size: int) -> Page[Deployment]:
        return await orq.list_deployments(limit=size, starting_after=cursor)

    return Catalog(fetch, lambda d: d.key, page_size=50, ttl=ttl, clock=clock, on_list=on_list)  # orq's largest page


def prompt_catalog(orq: OrqClient, ttl: float, clock: Callable[[], float] = anyio.current_time) -> Catalog[Prompt]:
    async def fetch(cursor: str | None, size: int) -> Page[Prompt]:
        return await orq.list_prompts(limit=size, starting_after=cursor)

    return Catalog(fetch, lambda p: p.id, page_size=200, ttl=ttl, clock=clock)


def agent_catalog(orq: OrqClient, ttl: float, clock: Callable[[], float] = anyio.current_time) -> Catalog[Agent]:
    async def fetch(cursor: str | None, size: int) -> Page[Agent]:
        return await orq.list_agents(limit=size, starting_after=cursor)

    return Catalog(fetch, lambda a: a.key, page_size=200, ttl=ttl, clock=clock)  # orq's largest page of agents
