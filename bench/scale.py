"""Scale: throughput and server memory with many concurrent streaming invocations over Streamable HTTP.

For each concurrency level a fresh `python -m orq_mcp --transport http` serves `concurrency` closed-loop workers
(one MCP `Client` connection per 50 workers) until `calls` completions are done. Every call carries a progress
callback (default coalescing interval), as an agent host's would. The emulator is a separate process pacing chunks
`chunk_delay` apart, so streams overlap the way live generations do. A psutil thread samples the server's RSS
every 10 ms; CPU seconds of the server, the emulator and this (client) process come from the OS.

Baseline in the same run: the same concurrency of direct httpx2 streams against the same emulator, which shows
what the emulator (and one client process) can deliver, i.e. that it is not the bottleneck.

Response size: the emulator's `huge_response` fault makes every stream carry N characters (in 4 kB chunks, no
pacing); the server's peak RSS over its idle RSS is reported for 1 and 10 concurrent calls per size, with the
direct-httpx2 latency of the same reply as the baseline.
"""

from __future__ import annotations

import math
import os
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx2
import psutil

from bench.common import (
    INVOKE_ARGS,
    MB,
    REPO,
    UPSTREAM_BODY,
    Budget,
    EmulatorProcess,
    RssSampler,
    cpu_seconds,
    direct_stream,
    http_server,
    median,
    percentile,
    rss,
    server_env,
)

CLIENT_FANOUT = 50  # workers per MCP client connection
CALL_TIMEOUT = 120.0


async def _noop_progress(progress: float, total: float | None, message: str | None) -> None:
    return None


def _mcp_client(url: str) -> Any:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    # No SSE event size cap: a 1 MB completion comes back as one result event of ~2 MB (text + structured copy).
    return Client(streamable_http_client(url, max_sse_event_size=None))


async def _closed_loop(concurrency: int, calls: int, call: Any, budget: Budget) -> dict[str, Any]:
    """`concurrency` workers; each calls `call(worker)` until `calls` completions started or the budget ends."""
    latencies: list[float] = []
    errors: list[str] = []
    remaining = calls

    async def worker(index: int) -> None:
        nonlocal remaining
        while remaining > 0 and not budget.expired:
            remaining -= 1
            started = time.perf_counter()
            try:
                with anyio.fail_after(CALL_TIMEOUT):
                    await call(index)
            except Exception as exc:  # counted, not fatal: the table shows errors
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for index in range(concurrency):
            tg.start_soon(worker, index)
    elapsed = time.perf_counter() - started
    return {
        "completions": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "elapsed": elapsed,
        "throughput": len(latencies) / elapsed if elapsed > 0 else math.nan,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
    }


async def mcp_level(
    emu: EmulatorProcess,
    concurrency: int,
    calls: int,
    budget: Budget,
    *,
    args: dict[str, Any] = INVOKE_ARGS,
    profiler: Any = None,
    profile_label: str = "",
    tree: Path = REPO,
) -> dict[str, Any]:
    """One level against a fresh orq-mcp HTTP server (this checkout's, or the baseline `tree`'s)."""
    env = server_env(emu.url, ORQ_MCP_MAX_RESPONSE_CHARS="5000000")
    me = psutil.Process()
    with http_server(env, tree=tree) as srv:
        server = psutil.Process(srv.pid)
        async with AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(_mcp_client(srv.url))
                for _ in range(math.ceil(concurrency / CLIENT_FANOUT))
            ]
            for client in clients:  # warm-up: one small call per connection
                await client.call_tool("invoke_deployment", INVOKE_ARGS, progress_callback=_noop_progress)
            idle = rss(srv.pid)

            async def call(worker: int) -> None:
                result = await clients[worker // CLIENT_FANOUT].call_tool(
                    "invoke_deployment", args, progress_callback=_noop_progress
                )
                if result.is_error:
                    raise RuntimeError(result.content[0].text if result.content else "tool error")

            cpu_server, cpu_me = cpu_seconds(server), cpu_seconds(me)
            cpu_emu = emu.stats()["cpu_seconds"]
            if profiler is not None:
                profiler.start(srv.pid, profile_label)
            try:
                with RssSampler(srv.pid) as sampler:
                    out = await _closed_loop(concurrency, calls, call, budget)
            finally:
                if profiler is not None:
                    profiler.stop(calls=None)
            done = max(1, out["completions"])
            out.update(
                {
                    "idle_rss_mb": idle / MB,
                    "peak_rss_mb": sampler.peak / MB,
                    "growth_mb": (sampler.peak - idle) / MB,
                    "growth_per_stream_kb": (sampler.peak - idle) / 1024 / concurrency,
                    "server_cpu_ms_per_call": (cpu_seconds(server) - cpu_server) * 1000 / done,
                    "emulator_cpu_ms_per_call": (emu.stats()["cpu_seconds"] - cpu_emu) * 1000 / done,
                    "client_cpu_ms_per_call": (cpu_seconds(me) - cpu_me) * 1000 / done,
                    "server_cpu_util": (cpu_seconds(server) - cpu_server) / out["elapsed"],
                    "emulator_cpu_util": (emu.stats()["cpu_seconds"] - cpu_emu) / out["elapsed"],
                }
            )
    return out


async def direct_level(emu: EmulatorProcess, concurrency: int, calls: int, budget: Budget) -> dict[str, Any]:
    limits = httpx2.Limits(max_connections=concurrency + 10, max_keepalive_connections=concurrency + 10)
    me = psutil.Process()
    async with httpx2.AsyncClient(base_url=emu.url, timeout=CALL_TIMEOUT, limits=limits) as http:
        await direct_stream(http, UPSTREAM_BODY)
        cpu_emu = emu.stats()["cpu_seconds"]
        cpu_me = cpu_seconds(me)
        out = await _closed_loop(concurrency, calls, lambda _w: direct_stream(http, UPSTREAM_BODY), budget)
        done = max(1, out["completions"])
        out["emulator_cpu_ms_per_call"] = (emu.stats()["cpu_seconds"] - cpu_emu) * 1000 / done
        out["emulator_cpu_util"] = (emu.stats()["cpu_seconds"] - cpu_emu) / out["elapsed"]
        out["client_cpu_ms_per_call"] = (cpu_seconds(me) - cpu_me) * 1000 / done
    return out


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-metric median over repeats; counts (completions, errors) are summed."""
    out: dict[str, Any] = {}
    for key, value in runs[0].items():
        if key in ("completions", "errors"):
            out[key] = sum(r[key] for r in runs)
        elif isinstance(value, int | float):
            out[key] = median([r[key] for r in runs])
        else:
            out[key] = next((r[key] for r in runs if r[key]), value)
    return out


async def run_concurrency(
    *,
    levels: dict[int, int],
    repeats: int,
    chunk_delay: float,
    budget_s: float,
    profiler: Any = None,
    profile_calls: int = 0,
    baseline: Path | None = None,
) -> dict[str, Any]:
    """levels: concurrency -> calls per repeat. Per level: orq-mcp, the baseline commit's orq-mcp (if any) and the
    direct baseline, alternated per repeat."""
    budget = Budget(budget_s)
    notes: list[str] = []
    results: dict[int, dict[str, Any]] = {}
    with EmulatorProcess(chunk_delay=chunk_delay) as emu:
        for concurrency, calls in levels.items():
            mcp_runs: list[dict[str, Any]] = []
            base_runs: list[dict[str, Any]] = []
            direct_runs: list[dict[str, Any]] = []
            for repeat in range(repeats):
                if budget.expired:
                    notes.append(f"scale: c={concurrency} stopped after {repeat} of {repeats} repeats (time budget)")
                    break
                slot = Budget(max(20.0, budget.remaining() / max(1, len(levels) * repeats)))
                mcp = await mcp_level(emu, concurrency, calls, slot)
                if baseline is not None:
                    base_runs.append(await mcp_level(emu, concurrency, calls, Budget(slot.seconds), tree=baseline))
                direct = await direct_level(emu, concurrency, calls, Budget(slot.seconds))
                mcp_runs.append(mcp)
                direct_runs.append(direct)
                if mcp["completions"] < calls:
                    notes.append(f"scale: c={concurrency} finished {mcp['completions']} of {calls} calls in its slot")
            if not mcp_runs:
                continue
            ratios = [m["throughput"] / d["throughput"] for m, d in zip(mcp_runs, direct_runs, strict=True)]
            results[concurrency] = {
                "mcp": _median_of(mcp_runs),
                "direct": _median_of(direct_runs),
                "ratio": median(ratios),
                "per_repeat_ratio": ratios,
            }
            if base_runs:
                cpu = [
                    m["server_cpu_ms_per_call"] / b["server_cpu_ms_per_call"]
                    for m, b in zip(mcp_runs, base_runs, strict=True)
                ]
                results[concurrency] |= {"base": _median_of(base_runs), "cpu_over_base": median(cpu)}
        if profiler is not None and profile_calls and not budget.expired:
            # Separate, unmeasured pass: the same 100-concurrency load with py-spy attached to the server.
            await mcp_level(emu, 100, profile_calls, Budget(120), profiler=profiler, profile_label="http-100")
    return {"levels": results, "notes": notes, "chunk_delay_ms": chunk_delay * 1000, "repeats": repeats}


async def run_sizes(
    *, sizes: list[int], concurrencies: list[int], budget_s: float, check_default_client: bool = True
) -> dict[str, Any]:
    """Peak server RSS growth per response size (huge_response fault) and concurrency."""
    budget = Budget(budget_s)
    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    with EmulatorProcess(chunk_delay=0.0) as emu:
        for size in sizes:
            if budget.expired:
                notes.append(f"sizes: skipped {size} characters (time budget)")
                continue
            emu.control("config", huge_size=size)
            try:
                async with httpx2.AsyncClient(base_url=emu.url, timeout=CALL_TIMEOUT) as http:
                    direct_ms = []
                    for _ in range(3):
                        started = time.perf_counter()
                        text = await direct_stream(http, UPSTREAM_BODY)
                        direct_ms.append((time.perf_counter() - started) * 1000)
                    if len(text) != size:
                        raise RuntimeError(f"the emulator sent {len(text)} characters, expected {size}")
                for concurrency in concurrencies:
                    emu.control("config", huge_size=0)  # the warm-up call inside mcp_level is a small one
                    level = _SizedLevel(emu, size)
                    out = await level.run(concurrency, max(3, concurrency), budget)
                    out.update({"size": size, "concurrency": concurrency, "direct_p50_ms": median(direct_ms)})
                    rows.append(out)
                if check_default_client and size >= 1_000_000:
                    notes.append(await _default_client_check(emu, size))
            finally:
                emu.control("config", huge_size=0)
    return {"rows": rows, "notes": notes}


class _SizedLevel:
    """mcp_level, with the emulator switched to `size`-character replies after the warm-up call."""

    def __init__(self, emu: EmulatorProcess, size: int) -> None:
        self.emu = emu
        self.size = size

    async def run(self, concurrency: int, calls: int, budget: Budget) -> dict[str, Any]:
        emu, size = self.emu, self.size
        env = server_env(emu.url, ORQ_MCP_MAX_RESPONSE_CHARS="5000000")
        with http_server(env) as srv:
            async with AsyncExitStack() as stack:
                clients = [
                    await stack.enter_async_context(_mcp_client(srv.url))
                    for _ in range(math.ceil(concurrency / CLIENT_FANOUT))
                ]
                for client in clients:
                    await client.call_tool("invoke_deployment", INVOKE_ARGS, progress_callback=_noop_progress)
                idle = rss(srv.pid)
                emu.control("config", huge_size=size)
                relayed: list[float] = []

                async def call(worker: int) -> None:
                    seen = [0.0]

                    async def progress(value: float, total: float | None, message: str | None) -> None:
                        seen[0] = max(seen[0], value)

                    result = await clients[worker // CLIENT_FANOUT].call_tool(
                        "invoke_deployment", INVOKE_ARGS, progress_callback=progress
                    )
                    if result.is_error:
                        raise RuntimeError(result.content[0].text if result.content else "tool error")
                    relayed.append(seen[0])

                with RssSampler(srv.pid) as sampler:
                    out = await _closed_loop(concurrency, calls, call, budget)
                emu.control("config", huge_size=0)
                # Every character must have been relayed as progress (the result itself may be cut to fit).
                if relayed and set(relayed) != {size}:
                    out["first_error"] = f"relayed {sorted(set(relayed))} characters, expected {size}"
        out.update(
            {
                "idle_rss_mb": idle / MB,
                "peak_rss_mb": sampler.peak / MB,
                "growth_mb": (sampler.peak - idle) / MB,
                "growth_over_reply": (sampler.peak - idle) / max(1, size * concurrency),
            }
        )
        return out


async def _default_client_check(emu: EmulatorProcess, size: int) -> str:
    """Whether a stock MCP SDK client (default 1 MiB SSE event cap) can receive a `size`-character completion."""
    from mcp import Client

    env = server_env(emu.url, ORQ_MCP_MAX_RESPONSE_CHARS="5000000")
    emu.control("config", huge_size=size)
    try:
        with http_server(env) as srv:
            try:
                with anyio.fail_after(20):
                    async with Client(srv.url) as client:
                        result = await client.call_tool("invoke_deployment", INVOKE_ARGS)
                if result.is_error:
                    return f"sizes: a {size:,}-character completion came back as a tool error to a stock MCP client"
                chars = len(result.structured_content["text"])
                return (
                    f"sizes: a stock MCP SDK client (1 MiB SSE event cap) received the result of a {size:,}-character "
                    f"completion over Streamable HTTP (result text: {chars:,} characters)"
                )
            except Exception as exc:
                return (
                    f"sizes: a stock MCP SDK client over Streamable HTTP could NOT receive the result of a "
                    f"{size:,}-character completion ({type(exc).__name__}: {str(exc)[:120]})"
                )
    finally:
        emu.control("config", huge_size=0)


def cpu_count() -> int:
    return os.cpu_count() or 1
