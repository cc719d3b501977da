"""Call overhead: `invoke_deployment` through orq-mcp versus the same request made directly.

The variants make the same request (`floor-const` excepted) against one emulator process (chunk_delay=0, the short
canned reply):

- `mcp-stdio`: the MCP SDK client -> `python -m orq_mcp` over stdio -> emulator;
- `mcp-http`: the same over Streamable HTTP (`python -m orq_mcp --transport http`);
- `httpx2`: POST /v2/deployments/stream with httpx2, reading the SSE to [DONE] (the baseline);
- `sdk`: the official orq-ai-sdk's `deployments.stream_async`;
- `mcp-stdio-i0`: `mcp-stdio` with ORQ_MCP_PROGRESS_INTERVAL=0, which shows what the coalescing window costs;
- `floor`: the "MCP floor", `python -m bench.floor_server` over stdio: a minimal MCPServer on the same SDK whose one
  tool makes the same upstream request (httpx2, SSE read to [DONE]) and returns the text as a plain string (no
  progress, no validation, no structured output). `mcp-stdio minus floor` is the overhead of orq-mcp's own code;
  `floor minus httpx2` is what any MCP server on this SDK pays for the same call;
- `floor-const`: the same floor process type, calling a tool that returns a constant string with no upstream call:
  the pure MCP round trip over stdio.

Each round calls every variant once in a shuffled order (drift and noise hit all variants alike); a repeat is
`iterations` rounds after a warm-up. Per repeat we take each variant's p50/p99 and the differences against the
baselines; the table shows the median over repeats. The servers run with the default progress interval and the
calls carry a progress callback, as an agent host's would. Server CPU per call (psutil) comes from the same repeats;
a short probe afterwards counts the new upstream TCP connections each variant opens per call.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx2
import psutil

from bench.common import (
    FLOOR_MODULE,
    INVOKE_ARGS,
    UPSTREAM_BODY,
    Budget,
    EmulatorProcess,
    cpu_seconds,
    direct_stream,
    find_stdio_server,
    floor_params,
    floor_text,
    http_server,
    invoke_text,
    mcp_client,
    median,
    percentile,
    sdk_client,
    sdk_stream,
    server_env,
    stdio_params,
    wait_listening,
)

VARIANTS = ("mcp-stdio", "mcp-http", "mcp-stdio-i0", "floor", "floor-const", "httpx2", "sdk")
MIN_ITERATIONS = 10  # rounds per repeat even when the time budget has run out
MCP_VARIANTS = ("mcp-stdio", "mcp-http", "mcp-stdio-i0")
FLOOR_VARIANTS = ("floor", "floor-const")
SERVER_VARIANTS = MCP_VARIANTS + FLOOR_VARIANTS
# What bench/floor_server.py's `constant` tool returns (not imported: building its MCPServer here would configure
# this process's logging).
FLOOR_CONSTANT = "pong"


async def _noop_progress(progress: float, total: float | None, message: str | None) -> None:
    return None


async def run(
    *,
    iterations: int,
    repeats: int,
    warmup: int,
    budget_s: float,
    profiler: Any = None,
    profile_calls: int = 300,
    probe_calls: int = 20,
    interval_zero: bool = True,
) -> dict[str, Any]:
    """Returns {"repeats": [...per-repeat stats...], "summary": {...}, "notes": [...]}."""
    notes: list[str] = []
    with EmulatorProcess(chunk_delay=0.0) as emu:
        env = server_env(emu.url)
        async with AsyncExitStack() as stack:
            http_srv = stack.enter_context(http_server(env, wait=False))  # starts while the stdio servers do
            stdio = await stack.enter_async_context(mcp_client(stdio_params(env)))
            stdio_proc = find_stdio_server()
            variants = VARIANTS if interval_zero else tuple(v for v in VARIANTS if v != "mcp-stdio-i0")
            if interval_zero:
                stdio_i0 = await stack.enter_async_context(mcp_client(stdio_params(server_env(emu.url, 0.0))))
                stdio_i0_proc = find_stdio_server()
            floor = await stack.enter_async_context(mcp_client(floor_params(env)))
            floor_proc = find_stdio_server(FLOOR_MODULE)
            floor_const = await stack.enter_async_context(mcp_client(floor_params(env)))
            floor_const_proc = find_stdio_server(FLOOR_MODULE)
            wait_listening(http_srv)
            http_mcp = await stack.enter_async_context(mcp_client(http_srv.url))
            http = await stack.enter_async_context(httpx2.AsyncClient(base_url=emu.url, timeout=30))
            orq = sdk_client(emu.url)
            calls: dict[str, Callable[[], Awaitable[str]]] = {
                "mcp-stdio": lambda: invoke_text(stdio, INVOKE_ARGS, _noop_progress),
                "mcp-http": lambda: invoke_text(http_mcp, INVOKE_ARGS, _noop_progress),
                "httpx2": lambda: direct_stream(http, UPSTREAM_BODY),
                "sdk": lambda: sdk_stream(orq, UPSTREAM_BODY),
                # The floors are called exactly like mcp-stdio: same client, same progress callback (token).
                "floor": lambda: floor_text(floor, "invoke", INVOKE_ARGS, _noop_progress),
                "floor-const": lambda: floor_text(floor_const, "constant", {}, _noop_progress),
            }
            procs = {
                "mcp-stdio": stdio_proc,
                "mcp-http": psutil.Process(http_srv.pid),
                "floor": floor_proc,
                "floor-const": floor_const_proc,
            }
            if interval_zero:
                calls["mcp-stdio-i0"] = lambda: invoke_text(stdio_i0, INVOKE_ARGS, _noop_progress)
                procs["mcp-stdio-i0"] = stdio_i0_proc
            expected_text = await calls["httpx2"]()
            expected = dict.fromkeys(calls, expected_text)
            expected["floor-const"] = FLOOR_CONSTANT
            for name, call in calls.items():  # warm-up: imports, pools, caches, JIT-free but allocator-warm
                for _ in range(warmup):
                    text = await call()
                    if text != expected[name]:
                        raise RuntimeError(f"{name} returned {text!r}, expected {expected[name]!r}")

            budget = Budget(budget_s)  # for the measurements; process start-up is bounded by its own timeout
            rng = random.Random(5)
            repeats_out: list[dict[str, Any]] = []
            for repeat in range(repeats):
                if budget.expired:
                    notes.append(f"overhead: stopped after {repeat} of {repeats} repeats (time budget)")
                    break
                samples: dict[str, list[float]] = {name: [] for name in variants}
                cpu = {name: cpu_seconds(proc) for name, proc in procs.items()}
                counts = dict.fromkeys(variants, 0)
                for index in range(iterations):
                    if budget.expired and index >= MIN_ITERATIONS:
                        break
                    order = list(variants)
                    rng.shuffle(order)
                    for name in order:
                        started = time.perf_counter()
                        text = await calls[name]()
                        samples[name].append((time.perf_counter() - started) * 1000)
                        counts[name] += 1
                        if text != expected[name]:
                            raise RuntimeError(f"{name} returned {text!r}, expected {expected[name]!r}")
                stats: dict[str, Any] = {"n": len(samples["httpx2"])}
                for name in variants:
                    stats[name] = {"p50": percentile(samples[name], 50), "p99": percentile(samples[name], 99)}
                stats["server_cpu_ms"] = {
                    name: (cpu_seconds(proc) - cpu[name]) * 1000 / max(1, counts[name]) for name, proc in procs.items()
                }
                repeats_out.append(stats)
            if profiler is not None and not budget.expired:
                # A separate pass (the measurements above ran unprofiled): the stdio server under the same calls.
                profiled = 0
                profiler.start(stdio_proc.pid, "stdio-overhead")
                try:
                    for _ in range(profile_calls):
                        await calls["mcp-stdio"]()
                        profiled += 1
                finally:
                    profiler.stop(calls=profiled)
                # The floor under the same calls, for comparison (same rate, same count).
                profiled = 0
                profiler.start(floor_proc.pid, "stdio-floor")
                try:
                    for _ in range(profile_calls):
                        await calls["floor"]()
                        profiled += 1
                finally:
                    profiler.stop(calls=profiled)
            # Connection reuse: new upstream TCP connections per call, counted by the emulator per variant.
            connections: dict[str, float] = {}
            for name in variants:
                emu.control("reset")
                for _ in range(probe_calls):
                    await calls[name]()
                connections[name] = emu.stats()["connections"] / probe_calls
    summary = summarize(repeats_out, variants)
    summary["connections_per_call"] = connections
    return {"repeats": repeats_out, "summary": summary, "notes": notes, "expected_chars": len(expected_text)}


def summarize(repeats: list[dict[str, Any]], variants: tuple[str, ...] = VARIANTS) -> dict[str, Any]:
    def med(fn: Callable[[dict[str, Any]], float]) -> float:
        return median([fn(r) for r in repeats])

    out: dict[str, Any] = {"n_per_repeat": med(lambda r: r["n"]), "repeats": len(repeats)}
    for name in variants:
        out[name] = {q: med(lambda r, n=name, q=q: r[n][q]) for q in ("p50", "p99")}
    for mcp in (v for v in MCP_VARIANTS if v in variants):
        for base in ("httpx2", "sdk"):
            out[f"{mcp}-minus-{base}"] = {
                q: med(lambda r, m=mcp, b=base, q=q: r[m][q] - r[b][q]) for q in ("p50", "p99")
            }
            out[f"{mcp}-minus-{base}-per-repeat-p50"] = [r[mcp]["p50"] - r[base]["p50"] for r in repeats]
        if "floor" in variants:
            out[f"{mcp}-minus-floor"] = {q: med(lambda r, m=mcp, q=q: r[m][q] - r["floor"][q]) for q in ("p50", "p99")}
            out[f"{mcp}-minus-floor-per-repeat-p50"] = [r[mcp]["p50"] - r["floor"]["p50"] for r in repeats]
    for name in (v for v in SERVER_VARIANTS if v in variants):
        out[f"{name}-cpu-ms"] = med(lambda r, m=name: r["server_cpu_ms"][m])
    if "floor" in variants:
        for a, b in (("floor", "httpx2"), ("floor-const", "httpx2"), ("floor", "floor-const")):
            out[f"{a}-minus-{b}"] = {q: med(lambda r, a=a, b=b, q=q: r[a][q] - r[b][q]) for q in ("p50", "p99")}
            out[f"{a}-minus-{b}-per-repeat-p50"] = [r[a]["p50"] - r[b]["p50"] for r in repeats]
        out["mcp-stdio-minus-floor-cpu-ms"] = med(
            lambda r: r["server_cpu_ms"]["mcp-stdio"] - r["server_cpu_ms"]["floor"]
        )
    return out
