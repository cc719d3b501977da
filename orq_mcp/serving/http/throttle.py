"""Per-address budgets for refused requests: how many guesses a client gets, and how many log lines."""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol, TypeVar

from starlette.types import Scope

V = TypeVar("V")

# Refused requests an address may make at once, then how many a minute it earns back.
FAILURE_BURST = 20
FAILURES_PER_MINUTE = 10.0
# Addresses remembered at once; the least recently seen are forgotten first, so memory stays bounded.
MAX_TRACKED_ADDRESSES = 4096


class Lru(OrderedDict[str, V]):
    """An ordered dict that forgets its least recently touched keys past `limit`."""

    def __init__(self, limit: int = MAX_TRACKED_ADDRESSES) -> None:
        super().__init__()
        self._limit = limit

    def touch(self, key: str, value: V) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self._limit:
            self.popitem(last=False)


class Buckets(Protocol):
    """Where a throttle keeps each address's bucket, (tokens, when they were counted): this process's memory,
    or memory shared by every worker (shared_buckets.py)."""

    def hold(self) -> AbstractContextManager[object]: ...
    def get(self, address: str) -> tuple[float, float] | None: ...
    def put(self, address: str, tokens: float, at: float) -> None: ...
    @property
    def tracked(self) -> int: ...


class LocalBuckets:
    """The buckets of one process, the least recently refused addresses forgotten first."""

    def __init__(self, limit: int = MAX_TRACKED_ADDRESSES) -> None:
        self._buckets: Lru[tuple[float, float]] = Lru(limit)

    def hold(self) -> AbstractContextManager[object]:
        return nullcontext()  # one event loop: nothing else runs between a read and its write

    def get(self, address: str) -> tuple[float, float] | None:
        return self._buckets.get(address)

    def put(self, address: str, tokens: float, at: float) -> None:
        self._buckets.touch(address, (tokens, at))

    @property
    def tracked(self) -> int:
        return len(self._buckets)


class FailureThrottle:
    """A token bucket per client address: `burst` failures at once, then `per_minute` a minute.

    An address whose bucket is empty is refused (429) before its credential is even looked at, right
    or wrong, so guessing costs a minute per `per_minute` guesses instead of a round trip each. With
    `--workers N` every worker counts in the same buckets (shared memory), so N workers allow exactly
    the guesses of one process.
    """

    def __init__(
        self,
        burst: int = FAILURE_BURST,
        per_minute: float = FAILURES_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
        buckets: Buckets | None = None,
    ) -> None:
        self._burst = burst
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: Buckets = buckets if buckets is not None else LocalBuckets()

    def retry_after(self, address: str) -> int:
        """Whole seconds until `address` may try again; 0 when it may try now."""
        with self._buckets.hold():
            tokens = self._tokens(address)
        return 0 if tokens is None or tokens >= 1 else math.ceil((1 - tokens) / self._rate)

    @property
    def tracked(self) -> int:
        """How many addresses are remembered."""
        return self._buckets.tracked

    def failed(self, address: str) -> None:
        with self._buckets.hold():
            tokens = self._tokens(address)
            left = max(0.0, (float(self._burst) if tokens is None else tokens) - 1)
            self._buckets.put(address, left, self._clock())

    def _tokens(self, address: str) -> float | None:
        """The address's tokens now (earned back since they were counted), or None for an address never refused."""
        bucket = self._buckets.get(address)
        if bucket is None:
            return None
        tokens, at = bucket
        return min(float(self._burst), tokens + (self._clock() - at) * self._rate)


class RefusalLog:
    """Logs at most one refusal per address per `period`, and a summary line of what it left out.

    Refusals are what an attacker controls, so without a budget they could fill the disk.
    """

    def __init__(
        self, logger: logging.Logger, period: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._logger = logger
        self._period = period
        self._clock = clock
        self._last: Lru[float] = Lru()
        self._unlogged = 0
        self._unlogged_from: set[str] = set()
        self._summary_at = clock()

    def refused(self, address: str, message: str, *args: object) -> None:
        now = self._clock()
        last = self._last.get(address)
        if last is None or now - last >= self._period:
            self._last.touch(address, now)
            self._logger.info(message, *args)
        else:
            self._unlogged += 1
            if len(self._unlogged_from) < MAX_TRACKED_ADDRESSES:
                self._unlogged_from.add(address)
        if self._unlogged and now - self._summary_at >= self._period:
            self._logger.warning(
                "Refused %d more HTTP requests from %d client address(es) in the last %.0f s (not logged one by one)",
                self._unlogged,
                len(self._unlogged_from),
                now - self._summary_at,
            )
            self._unlogged, self._unlogged_from, self._summary_at = 0, set(), now


def client_address(scope: Scope) -> str:
    """The peer's IP address (the same for every connection a client opens), or "unknown"."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
