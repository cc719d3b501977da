"""A bounded, fair share of the connection pool for streams (invocations).

A stream holds a pooled connection for as long as the model writes, minutes at worst, while a read
(list, get_config) needs one for milliseconds. With no bound, enough slow or abandoned invocations
take every connection and every read then waits for the pool until it times out. So streams may
use at most `total` connections (fewer than the pool has), and one API key at most `per_key` of
them, so one tenant cannot take every slot. A call over a cap waits briefly for a slot, then fails
with a clear error rather than queueing for minutes.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from orq_mcp.orq.errors import TooManyStreamsError

# The pool (client.POOL_LIMITS) has 200 connections; these leave 50 for reads in every case.
DEFAULT_TOTAL = 150
DEFAULT_PER_KEY = 100
# Long enough to ride out a burst of short calls, short enough that nobody waits for minutes.
DEFAULT_WAIT = 10.0


class StreamSlots:
    def __init__(self, total: int = DEFAULT_TOTAL, per_key: int = DEFAULT_PER_KEY, wait: float = DEFAULT_WAIT) -> None:
        if total < 1 or per_key < 1:
            raise ValueError("stream caps must be at least 1")
        self.total = total
        self.per_key = min(per_key, total)
        self._wait = wait
        self._in_use = 0
        self._by_key: dict[str, int] = {}  # only keys with a stream open: at most `total` entries
        self._freed: anyio.Event | None = None  # made when someone waits (an Event needs a running loop)

    @staticmethod
    def key_id(api_key: str) -> str:
        """What the slots are counted under: a digest, so no key is kept here in the clear."""
        return hashlib.sha256(api_key.encode()).hexdigest()

    @property
    def in_use(self) -> int:
        return self._in_use

    @asynccontextmanager
    async def hold(self, key_id: str) -> AsyncIterator[None]:
        """Hold one stream slot for `key_id` while the block runs."""
        with anyio.move_on_after(self._wait):
            while not self._free_for(key_id):
                if self._freed is None:
                    self._freed = anyio.Event()
                await self._freed.wait()
        if not self._free_for(key_id):
            raise TooManyStreamsError(self._refusal(key_id))
        self._in_use += 1
        self._by_key[key_id] = self._by_key.get(key_id, 0) + 1
        try:
            yield
        finally:
            self._release(key_id)

    def _free_for(self, key_id: str) -> bool:
        return self._in_use < self.total and self._by_key.get(key_id, 0) < self.per_key

    def _release(self, key_id: str) -> None:
        self._in_use -= 1
        left = self._by_key[key_id] - 1
        if left:
            self._by_key[key_id] = left
        else:
            del self._by_key[key_id]
        # Wake every waiter to re-check (a freed slot may suit one key's waiter and not another's).
        if self._freed is not None:
            self._freed.set()
            self._freed = None

    def _refusal(self, key_id: str) -> str:
        if self._by_key.get(key_id, 0) >= self.per_key:
            return (
                f"Too many concurrent invocations for this API key (the limit is {self.per_key}); "
                "retry shortly, once some have finished."
            )
        return (
            f"The server is running its maximum of {self.total} concurrent invocations; "
            "retry shortly, once some have finished."
        )
