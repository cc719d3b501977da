"""Server CPU per streamed `invoke_deployment` call over Streamable HTTP, against floors and the release (issue 18).

The headline workload is **paced** like a model's tokens: every stream is 40 word-sized pieces the emulator sends
20 ms apart (absolute deadlines), so a server relays one progress notification per piece, as it does for a user.
The secondary workload is **unpaced**: the canned 30-chunk reply written at once, which the servers coalesce into
a few notifications. Each runs at concurrency 1 and 50.

Variants, each a real process on loopback started once and kept warm, all against one emulator process:

- `server`: this checkout's `python -m orq_mcp --transport http` at its defaults;
- `release`: the same, running the release's `orq_mcp/` (`--baseline`, default 17d3dee, exported with git archive)
  with ORQ_MCP_PROGRESS_INTERVAL=0, so it sends as many notifications as `server` (the goal compares at the same
  number); `release-defaults`: the release at its defaults (50 ms spacing, fewer notifications);
- `relay`: the plain relay (`bench/plain_relay.py`): the same POST, the same upstream stream read with httpx2 and
  parsed, one SSE progress event per piece written back, on uvicorn/h11 with no MCP SDK: the network-work floor;
- `relay-scrub`: the plain relay also scrubbing with the key's redactor and returning a structured result: the
  floor of what the server must do;
- `direct`: the same request made with httpx2 from this process straight to the emulator (no server): the time a
  call takes with nothing in between, against which milliseconds over the floor are also stated.

Every call is the `tools/call` the MCP SDK's `Client` sends over Streamable HTTP, replayed by `LightClient`, which
counts the notifications received (`Variants.check` compares it with the SDK's `Client` first). A round runs every
variant once, in a shuffled order, `calls` calls each at the level's concurrency (closed loop); its server's CPU
time (user + system, psutil, i.e. the kernel's per-process accounting in clock ticks of 10 ms) is read before and
after, so the figure is CPU per call over those calls. Ratios are taken per round (the variants ran minutes apart at
most, under the same machine load) and the median of the rounds' ratios is reported; the pooled figure (all rounds'
CPU over all their calls) has a resolution of one tick over all the calls.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import psutil

from bench.common import (
    INVOKE_ARGS,
    PACED_DELAY,
    PACED_PIECES,
    UPSTREAM_BODY,
    Budget,
    EmulatorProcess,
    direct_stream,
    http_server,
    median,
    percentile,
    server_env,
    stream_pieces,
    wait_listening,
)
from bench.overhead import Counted

SERVER_VARIANTS = ("server", "release", "release-defaults", "relay", "relay-scrub")
VARIANTS = (*SERVER_VARIANTS, "direct")
CLIENT_FANOUT = 50  # concurrent calls per MCP client connection
CALL_TIMEOUT = 120.0
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 10.0
# (numerator, denominator) of the CPU ratios reported per round.
RATIOS = (
    ("server", "relay"),
    ("server", "relay-scrub"),
    ("server", "release"),
    ("server", "release-defaults"),
    ("release", "relay"),
    ("relay-scrub", "relay"),
)


@dataclass(frozen=True)
class Workload:
    name: str
    pieces: int  # 0: the canned reply (30 chunks)
    chunk_delay: float
    label: str


PACED = Workload("paced", PACED_PIECES, PACED_DELAY, f"{PACED_PIECES} pieces {PACED_DELAY * 1000:g} ms apart")
UNPACED = Workload("unpaced", 0, 0.0, "the canned reply, 30 chunks written at once")


def cpu_times(process: psutil.Process) -> tuple[float, float]:
    times = process.cpu_times()
    return times.user, times.system


async def closed_loop(
    concurrency: int, calls: int, call: Callable[[], Awaitable[str]], expected: str
) -> dict[str, Any]:
    """`concurrency` workers calling until `calls` calls have started; per-call latency, errors, wrong answers."""
    latencies: list[float] = []
    errors: list[str] = []
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            try:
                with anyio.fail_after(CALL_TIMEOUT):
                    text = await call()
            except Exception as exc:  # counted: the table shows errors
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            if text != expected:
                errors.append(f"wrong text: {text[:80]!r}")
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return {"latencies": latencies, "errors": errors, "elapsed": time.perf_counter() - started}


class LightClient:
    """A minimal MCP client over Streamable HTTP: replays the bytes the SDK's `Client` sends for a `tools/call`
    (2026-07-28: one self-contained POST, headers included) and reads the SSE answer, counting progress
    notifications. The server does the same work as for the SDK's client, and the bench process (which shares the
    2 cores with the servers) spends a fraction of the SDK client's CPU per notification, so at 50 concurrent calls
    the client is not what stretches the streams. `Variants.check` compares it with the SDK's `Client`."""

    def __init__(self, url: str, concurrency: int) -> None:
        limits = httpx2.Limits(max_connections=concurrency + 10, max_keepalive_connections=concurrency + 10)
        self.http = httpx2.AsyncClient(timeout=CALL_TIMEOUT, limits=limits)
        self.url = url
        self.ids = iter(range(1, 10**9))
        self.notifications = 0

    async def call(self, arguments: dict[str, Any]) -> str:
        request_id = next(self.ids)
        meta = {**CLIENT_META, "progressToken": request_id}
        params = {"name": "invoke_deployment", "arguments": arguments, "_meta": meta}
        body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params})
        async with self.http.stream("POST", self.url, content=body, headers=CALL_HEADERS) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("method") == "notifications/progress":
                    self.notifications += 1
                elif message.get("id") == request_id:
                    result = message.get("result") or {}
                    if "error" in message or result.get("isError"):
                        raise RuntimeError(str(message.get("error") or result.get("content"))[:200])
                    return result["content"][0]["text"]  # type: ignore[no-any-return]
        raise RuntimeError("the stream ended without the result")


# What the SDK's `Client` (mcp 2.x, protocol 2026-07-28) sends with a `tools/call`, as captured from it.
CLIENT_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "mcp", "version": "0.1.0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
CALL_HEADERS = {
    "accept": "application/json, text/event-stream",
    "content-type": "application/json",
    "mcp-protocol-version": "2026-07-28",
    "mcp-method": "tools/call",
    "mcp-name": "invoke_deployment",
}


class Variants:
    """The processes and clients of every variant, started once for the whole section."""

    def __init__(self, emu: EmulatorProcess, release: Path | None) -> None:
        self.emu = emu
        self.release = release
        self.procs: dict[str, psutil.Process] = {}
        self.urls: dict[str, str] = {}
        self.clients: dict[str, LightClient] = {}
        self.http: httpx2.AsyncClient | None = None
        self.names = [v for v in VARIANTS if not v.startswith("release") or release is not None]

    async def start(self, stack: AsyncExitStack, max_concurrency: int) -> None:
        env = server_env(self.emu.url)
        starts: dict[str, dict[str, Any]] = {
            "server": {},
            # At the same number of notifications as this checkout (one per piece): no 50 ms spacing.
            "release": {"tree": self.release, "env": {**env, "ORQ_MCP_PROGRESS_INTERVAL": "0"}},
            "release-defaults": {"tree": self.release},
            "relay": {"module": "bench.plain_relay"},
            "relay-scrub": {"module": "bench.plain_relay", "extra": ["--scrub"]},
        }
        servers = {}
        for name in (n for n in self.names if n in starts):
            options = dict(starts[name])
            servers[name] = stack.enter_context(http_server(options.pop("env", env), wait=False, **options))
        for name, srv in servers.items():
            wait_listening(srv)
            self.procs[name] = psutil.Process(srv.pid)
            self.urls[name] = srv.url
            self.clients[name] = LightClient(srv.url, max_concurrency)
            await stack.enter_async_context(self.clients[name].http)
        limits = httpx2.Limits(max_connections=max_concurrency + 10, max_keepalive_connections=max_concurrency + 10)
        self.http = await stack.enter_async_context(
            httpx2.AsyncClient(base_url=self.emu.url, timeout=CALL_TIMEOUT, limits=limits)
        )

    async def check(self, expected: str, paced: bool) -> None:
        """Each server answers the SDK's own `Client` with the expected text and, on a paced stream, as many
        notifications as the light client gets (one call each; a difference of 2 is tolerated: on a busy machine
        two pieces may arrive together)."""
        from mcp import Client

        for name, url in self.urls.items():
            counter = Counted()
            async with Client(url) as client:
                result = await client.call_tool("invoke_deployment", INVOKE_ARGS, progress_callback=counter)
            light = self.clients[name]
            light.notifications = 0
            text = await light.call(INVOKE_ARGS)
            if result.content[0].text != expected or text != expected:  # type: ignore[union-attr]
                raise RuntimeError(f"{name}: unexpected text from the SDK client or the light client")
            if paced and abs(counter.count - light.notifications) > 2:
                got = f"{counter.count} notifications to the SDK's client, {light.notifications} to the light one"
                raise RuntimeError(f"{name}: {got}")

    def call(self, name: str) -> Callable[[], Awaitable[str]]:
        if name == "direct":
            assert self.http is not None
            http = self.http
            return lambda: direct_stream(http, UPSTREAM_BODY)
        client = self.clients[name]
        return lambda: client.call(INVOKE_ARGS)

    async def measure(self, name: str, concurrency: int, calls: int, expected: str) -> dict[str, Any]:
        proc = self.procs.get(name)
        me = psutil.Process()
        before = cpu_times(proc) if proc else (math.nan, math.nan)
        emu_before, me_before = self.emu.stats()["cpu_seconds"], sum(cpu_times(me))
        client = self.clients.get(name)
        if client is not None:
            client.notifications = 0
        out = await closed_loop(concurrency, calls, self.call(name), expected)
        after = cpu_times(proc) if proc else (math.nan, math.nan)
        done = max(1, len(out["latencies"]))
        return {
            "calls": len(out["latencies"]),
            "errors": len(out["errors"]),
            "first_error": out["errors"][0] if out["errors"] else None,
            "cpu_user_s": after[0] - before[0],
            "cpu_sys_s": after[1] - before[1],
            "cpu_ms_per_call": (after[0] + after[1] - before[0] - before[1]) * 1000 / done,
            "notifications_per_call": client.notifications / done if client is not None else math.nan,
            "p50_ms": percentile(out["latencies"], 50),
            "p99_ms": percentile(out["latencies"], 99),
            "emulator_cpu_ms_per_call": (self.emu.stats()["cpu_seconds"] - emu_before) * 1000 / done,
            "client_cpu_ms_per_call": (sum(cpu_times(me)) - me_before) * 1000 / done,
            "elapsed_s": out["elapsed"],
        }


def direct_calls(concurrency: int, calls: int) -> int:
    """The direct reference only sets the wall time of a call: a quarter of the calls (at least one wave)."""
    return max(concurrency, calls // 4)


async def run(
    *,
    levels: dict[int, int],
    unpaced_levels: dict[int, int],
    rounds: int,
    budget_s: float,
    release: Path | None = None,
    profiler: Any = None,
    profile_calls: int = 0,
    profile_relay: bool = True,
) -> dict[str, Any]:
    """levels: concurrency -> calls per variant per round (paced); unpaced_levels the same for the unpaced stream."""
    notes: list[str] = []
    budget = Budget(budget_s)
    load_start = os.getloadavg()
    results: dict[str, Any] = {}
    with EmulatorProcess(chunk_delay=0.0) as emu:
        variants = Variants(emu, release)
        async with AsyncExitStack() as stack:
            await variants.start(stack, max([*levels, *unpaced_levels]))
            rng = random.Random(18)
            for workload, plan in ((PACED, levels), (UNPACED, unpaced_levels)):
                emu.control("config", chunk_delay=workload.chunk_delay, pieces=workload.pieces)
                expected = await direct_stream(variants.http, UPSTREAM_BODY)  # type: ignore[arg-type]
                if workload.pieces and expected != "".join(stream_pieces(workload.pieces)):
                    raise RuntimeError(f"the emulator streamed {expected!r}, not the {workload.pieces} pieces")
                await variants.check(expected, paced=workload.pieces > 0)
                for name in variants.names:  # warm-up (after the check's calls): connections, imports, caches
                    await variants.call(name)()
                out: dict[str, Any] = {}
                for concurrency, calls in plan.items():
                    per_round: list[dict[str, Any]] = []
                    for index in range(rounds):
                        if budget.expired and index > 0:
                            notes.append(
                                f"streamed {workload.name} c={concurrency}: {index} of {rounds} rounds (time budget)"
                            )
                            break
                        order = list(variants.names)
                        rng.shuffle(order)
                        one: dict[str, Any] = {}
                        for name in order:
                            n = direct_calls(concurrency, calls) if name == "direct" else calls
                            one[name] = await variants.measure(name, concurrency, n, expected)
                        per_round.append(one)
                    out[str(concurrency)] = summarize(per_round, variants.names, calls)
                results[workload.name] = {"label": workload.label, "levels": out}
            emu.control("config", chunk_delay=PACED.chunk_delay, pieces=PACED.pieces)
            if profiler is not None and profile_calls:
                # Separate, unmeasured passes with py-spy attached: the paced call one at a time (this checkout's
                # server; in a full run also the plain relay, for comparison), and 50 at a time.
                passes = [("http-paced-c1", "server", 1, profile_calls)]
                if profile_relay:
                    passes.append(("http-paced-c1-relay", "relay", 1, profile_calls))
                passes.append(("http-paced-c50", "server", 50, max(100, profile_calls * 5)))
                for label, name, concurrency, calls in passes:
                    profiler.start(variants.procs[name].pid, label)
                    measured: dict[str, Any] = {}
                    try:
                        measured = await variants.measure(name, concurrency, calls, "".join(stream_pieces()))
                    finally:
                        profiler.stop(calls=measured.get("calls"), context=profile_context(measured))
    results["load"] = {"start": load_start, "end": os.getloadavg()}
    results["tick_ms"] = TICK_MS
    results["release"] = str(release) if release else None
    results["notes"] = notes
    return results


def profile_context(measured: dict[str, Any]) -> str:
    """The psutil figures of a profiled pass, for the profile's header (py-spy slows the process: shares only)."""
    if not measured:
        return ""
    cpu = measured["cpu_user_s"] + measured["cpu_sys_s"]
    return (
        f"psutil over the same pass: {measured['cpu_ms_per_call']:.1f} ms CPU per call while profiled, "
        f"{measured['cpu_sys_s'] / cpu * 100 if cpu else math.nan:.0f}% of it system time (syscalls, not sampled "
        f"with --gil); {measured['notifications_per_call']:.1f} notifications per call received"
    )


def summarize(per_round: list[dict[str, Any]], names: list[str], calls: int) -> dict[str, Any]:
    out: dict[str, Any] = {"rounds": len(per_round), "calls_per_round": calls, "variants": {}}
    for name in names:
        runs = [r[name] for r in per_round if name in r]
        total_calls = sum(r["calls"] for r in runs)
        user, system = sum(r["cpu_user_s"] for r in runs), sum(r["cpu_sys_s"] for r in runs)
        out["variants"][name] = {
            "calls": total_calls,
            "errors": sum(r["errors"] for r in runs),
            "first_error": next((r["first_error"] for r in runs if r["first_error"]), None),
            "cpu_ms_per_call": median([r["cpu_ms_per_call"] for r in runs]),
            "cpu_ms_per_call_pooled": (user + system) * 1000 / max(1, total_calls),
            "cpu_sys_share": system / (user + system) if user + system > 0 else math.nan,
            "per_round_cpu_ms": [r["cpu_ms_per_call"] for r in runs],
            "notifications_per_call": median([r["notifications_per_call"] for r in runs]),
            "notifications_range": [
                min((r["notifications_per_call"] for r in runs), default=math.nan),
                max((r["notifications_per_call"] for r in runs), default=math.nan),
            ],
            "p50_ms": median([r["p50_ms"] for r in runs]),
            "p99_ms": median([r["p99_ms"] for r in runs]),
            "emulator_cpu_ms_per_call": median([r["emulator_cpu_ms_per_call"] for r in runs]),
            "client_cpu_ms_per_call": median([r["client_cpu_ms_per_call"] for r in runs]),
            "resolution_ms_per_round": TICK_MS / max(1, min((r["calls"] for r in runs), default=1)),
            "resolution_ms_pooled": TICK_MS / max(1, total_calls),
        }
    ratios: dict[str, Any] = {}
    for a, b in RATIOS:
        if a in names and b in names:
            values = [
                r[a]["cpu_ms_per_call"] / r[b]["cpu_ms_per_call"] for r in per_round if r[b]["cpu_ms_per_call"] > 0
            ]
            pooled = out["variants"][a]["cpu_ms_per_call_pooled"] / out["variants"][b]["cpu_ms_per_call_pooled"]
            ratios[f"{a}/{b}"] = {"median": median(values), "per_round": values, "pooled": pooled}
    out["ratios"] = ratios
    # Wall time a call takes over the floor's, per round, and that as a share of a direct call's time.
    over: dict[str, Any] = {}
    for name in (n for n in ("server", "release", "relay-scrub") if n in names):
        for floor in ("relay", "direct"):
            diffs = [r[name]["p50_ms"] - r[floor]["p50_ms"] for r in per_round]
            shares = [(r[name]["p50_ms"] - r[floor]["p50_ms"]) / r["direct"]["p50_ms"] for r in per_round]
            over[f"{name}-minus-{floor}"] = {"ms": median(diffs), "of_direct": median(shares)}
    out["over_floor"] = over
    return out
