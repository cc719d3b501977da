"""The failure throttle's buckets in memory shared by every worker of one server (`--workers N`).

Each worker is a process of its own; with buckets per process a client would get N times the guesses,
spreading its connections over the workers. The supervising parent makes one fixed table in shared
memory and hands it to every worker it spawns (and respawns), so all of them count against one budget
per address. The table has `slots` entries (an address is looked for in `PROBES` consecutive ones, at a
place keyed with a secret of this server, so addresses cannot be chosen to collide); when all of those
are taken, the least recently refused address among them is forgotten, like the single-process LRU.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.context import BaseContext
from typing import Any

logger = logging.getLogger(__name__)

PROBES = 8
# A worker killed inside the (microseconds-long) critical section would leave the lock held: after this long
# the others go on without it rather than stall; a refusal might then be counted a little short, never twice.
LOCK_WAIT = 0.05


class _Slot(ctypes.Structure):
    _fields_ = (
        ("used", ctypes.c_bool),
        ("key_high", ctypes.c_uint64),
        ("key_low", ctypes.c_uint64),
        ("tokens", ctypes.c_double),
        ("at", ctypes.c_double),
    )


class SharedBuckets:
    """(tokens, time) per address, in shared memory; pass it to `context.Process` to share it with a worker."""

    def __init__(self, context: BaseContext, slots: int) -> None:
        self._lock: Any = context.Lock()
        self._table: Any = context.RawArray(_Slot, slots)  # zeroed: every slot unused
        self._secret = secrets.token_bytes(16)
        self._warned = False

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Exclusive use of the table, across workers, for one read-modify-write."""
        acquired = self._lock.acquire(timeout=LOCK_WAIT)
        if not acquired and not self._warned:
            self._warned = True
            logger.warning("The workers' shared throttle stayed locked (a worker died holding it); going on without")
        try:
            yield
        finally:
            if acquired:
                self._lock.release()

    def get(self, address: str) -> tuple[float, float] | None:
        slot = self._find(address)
        return (slot.tokens, slot.at) if slot is not None else None

    def put(self, address: str, tokens: float, at: float) -> None:
        slot = self._find(address) or self._claim(address)
        slot.tokens, slot.at = tokens, at

    @property
    def tracked(self) -> int:
        return sum(1 for slot in self._table if slot.used)

    def _find(self, address: str) -> Any:
        high, low = self._key(address)
        for slot in self._window(high):
            if slot.used and slot.key_high == high and slot.key_low == low:
                return slot
        return None

    def _claim(self, address: str) -> Any:
        """An unused slot of the address's window, else the one refused longest ago (forgetting that address)."""
        high, low = self._key(address)
        window = self._window(high)
        slot = next((s for s in window if not s.used), None) or min(window, key=lambda s: s.at)
        slot.used, slot.key_high, slot.key_low = True, high, low
        return slot

    def _window(self, high: int) -> list[Any]:
        start = high % len(self._table)
        return [self._table[(start + offset) % len(self._table)] for offset in range(PROBES)]

    def _key(self, address: str) -> tuple[int, int]:
        digest = hashlib.blake2b(address.encode(), key=self._secret, digest_size=16).digest()
        return int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:], "big")
