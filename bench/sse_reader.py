"""Time orq-mcp's SSE reader against httpx2's built-in `EventSource` on the same inputs.

`python -m bench.sse_reader` (about 30 s; `--quick` for a few seconds). No network: each reader gets the same
bytes from an in-memory async iterator, cut into reads of a fixed size, so the figures compare parsing only.
Variants are interleaved within each repeat and the median of the repeats is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx2

from orq_mcp.orq.sse import EventTooLarge, read_events

CAP = 20 * 1024 * 1024  # the size cap both readers are given (orq-mcp's stream cap is of this order)


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    read_size: int


def cases(quick: bool) -> list[Case]:
    scale = 10 if quick else 1
    small = b"".join(b'data: {"choices":[{"message":{"content":"tok%06d"}}]}\n\n' % i for i in range(20_000 // scale))
    big = b"data: " + b"x" * (5_000_000 // scale) + b"\n\n"
    endless = b"data: " + b"y" * (50_000_000 // scale)  # one line, never terminated: must be refused
    return [
        Case("many small events, 4 KB reads", small, 4096),
        Case("many small events, 7-byte reads", small[: len(small) // 4], 7),
        Case(f"one {len(big) / 1e6:.1f} MB event, 64 KB reads", big, 65536),
        Case(f"one {len(big) / 1e6:.1f} MB event, 1 KB reads", big, 1024),
        Case(f"{len(endless) / 1e6:.0f} MB line without newline (cap {CAP // 2**20} MB)", endless, 65536),
    ]


async def pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def ours(case: Case, cap: int) -> int:
    count = 0
    try:
        async for _ in read_events(pieces(case.body, case.read_size), cap):
            count += 1
    except EventTooLarge:
        return -1
    return count


async def httpx2_event_source(case: Case, cap: int) -> int:
    response = httpx2.Response(
        200,
        headers={"content-type": "text/event-stream"},
        content=pieces(case.body, case.read_size),
        request=httpx2.Request("POST", "http://127.0.0.1/v2/deployments/stream"),
    )
    count = 0
    try:
        async for _ in httpx2.EventSource(response, max_event_size=cap):
            count += 1
    except httpx2.SSEError:
        return -1
    return count


READERS: dict[str, Callable[[Case, int], Awaitable[int]]] = {"orq-mcp": ours, "httpx2.EventSource": httpx2_event_source}


async def measure(case: Case, repeats: int, budget: float) -> dict[str, tuple[float, int]]:
    times: dict[str, list[float]] = {name: [] for name in READERS}
    counts: dict[str, int] = {}
    deadline = time.monotonic() + budget
    for _ in range(repeats):
        for name, reader in READERS.items():
            start = time.perf_counter()
            counts[name] = await reader(case, CAP)
            times[name].append(time.perf_counter() - start)
        if time.monotonic() > deadline:  # a quadratic reader must not hold the run for minutes
            break
    return {name: (statistics.median(values), counts[name]) for name, values in times.items()}


async def main(quick: bool) -> None:
    repeats = 3 if quick else 5
    print("| input | " + " | ".join(f"{name} (median s)" for name in READERS) + " | events (-1: refused) |")
    print("|---|" + "---|" * (len(READERS) + 1))
    for case in cases(quick):
        results = await measure(case, repeats, budget=60.0)
        cells = " | ".join(f"{seconds:.3f}" for seconds, _ in results.values())
        counts = ", ".join(str(count) for _, count in results.values())
        print(f"| {case.name} | {cells} | {counts} |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="inputs a tenth of the size, 3 repeats")
    asyncio.run(main(parser.parse_args().quick))
