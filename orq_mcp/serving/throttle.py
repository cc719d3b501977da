"""Per-address budgets for refused requests: how many guesses a client gets, and how many log lines."""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from starlette.types import Scope

V = TypeVar("V")

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


@dataclass
class _Bucket:
    tokens: float
    at: float


class FailureThrottle:
    """A token bucket per client address: `burst` failures at once, then `per_minute` a minute.

    An address whose bucket is empty is refused (429) before its credential is even looked at, right
    or wrong, so guessing costs a minute per `per_minute` guesses instead of a round trip each.
    """

    def __init__(self, burst: int = 20, per_minute: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._burst = burst
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: Lru[_Bucket] = Lru()

    def retry_after(self, address: str) -> int:
        """Whole seconds until `address` may try again; 0 when it may try now."""
        bucket = self._refilled(address)
        return 0 if bucket is None or bucket.tokens >= 1 else math.ceil((1 - bucket.tokens) / self._rate)

    @property
    def tracked(self) -> int:
        """How many addresses are remembered."""
        return len(self._buckets)

    def failed(self, address: str) -> None:
        bucket = self._refilled(address) or _Bucket(float(self._burst), self._clock())
        bucket.tokens = max(0.0, bucket.tokens - 1)
        self._buckets.touch(address, bucket)

    def _refilled(self, address: str) -> _Bucket | None:
        bucket = self._buckets.get(address)
        if bucket is not None:
            now = self._clock()
            bucket.tokens = min(float(self._burst), bucket.tokens + (now - bucket.at) * self._rate)
            bucket.at = now
        return bucket


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
