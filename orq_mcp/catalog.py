"""A short-lived cache of the workspace's deployments.

orq has no "get one deployment" endpoint (reference §1), so anything that needs a single
deployment's template (its variables, its prompt_config resource, a "did you mean" hint)
looks it up here. One refresh pages through the whole list; concurrent callers share it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import anyio

from orq_mcp.client import OrqClient
from orq_mcp.models import Deployment

PAGE_SIZE = 50  # orq's maximum
# A miss may mean the deployment was just created, but unknown keys must not trigger a refresh each.
MISS_REFRESH_INTERVAL = 5.0
# 10,000 deployments; beyond that (or a cursor that stops advancing) orq is misbehaving.
MAX_PAGES = 200


class DeploymentCatalog:
    def __init__(self, orq: OrqClient, ttl: float = 60.0, clock: Callable[[], float] = anyio.current_time) -> None:
        self._orq = orq
        self._ttl = ttl
        self._clock = clock
        self._deployments: list[Deployment] | None = None
        self._fetched_at = 0.0
        self._lock = anyio.Lock()

    async def all(self, *, refresh: bool = False) -> list[Deployment]:
        """Every deployment, newest first; at most one upstream refresh per `ttl` seconds."""
        async with self._lock:
            if refresh or self._deployments is None or self._clock() - self._fetched_at >= self._ttl:
                self._deployments = await self._fetch_all()
                self._fetched_at = self._clock()
            return self._deployments

    async def get(self, key: str) -> Deployment | None:
        """The deployment with this key; a miss refreshes (rate-limited) in case it is new."""
        found = _find(await self.all(), key)
        if found is None and self._clock() - self._fetched_at >= MISS_REFRESH_INTERVAL:
            found = _find(await self.all(refresh=True), key)
        return found

    async def suggestions(self, key: str, limit: int = 3) -> list[str]:
        keys = [d.key for d in await self.all()]
        return difflib.get_close_matches(key, keys, n=limit, cutoff=0.5)

    async def _fetch_all(self) -> list[Deployment]:
        deployments: list[Deployment] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await self._orq.list_deployments(limit=PAGE_SIZE, starting_after=cursor)
            deployments.extend(page.data)
            if not page.has_more or not page.data or page.data[-1].id == cursor:
                break
            cursor = page.data[-1].id
        return deployments


def _find(deployments: list[Deployment], key: str) -> Deployment | None:
    return next((d for d in deployments if d.key == key), None)
