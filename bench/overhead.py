"""Call overhead: `invoke_deployment` through orq-mcp versus the same request made directly.

The variants make the same request (`floor-const` excepted) against one emulator process (chunk_delay=0, the short
canned reply):

- `mcp-stdio`: the MCP SDK client -> `python -m orq_mcp` over stdio -> emulator;
- `mcp-http`: the same over Streamable HTTP (`python -m orq_mcp --transport http`);
- `base-stdio`, `base-http`: the same two, running the baseline commit's orq_mcp (`--baseline`, exported with
  `git archive`), so before and after are measured interleaved in one run;
- `httpx2`: POST /v2/deployments/stream with httpx2, reading the SSE to [DONE] (the baseline);
- `sdk`: the official orq-ai-sdk's `deployments.stream_async` (it opens a new upstream connection per call: see
  the connections column);
- `floor-asyncio`: the plain-asyncio floor, `python -m bench.asyncio_floor` over stdio: no MCP SDK on the server,
  the same upstream call and the same progress notifications (one per chunk). `mcp-stdio minus floor-asyncio` is
  what orq-mcp and the SDK add to moving the same bytes: the issue's goal is <= 2 ms at p50;
- `floor`: the "MCP floor", `python -m bench.floor_server` over stdio: a minimal MCPServer on the same SDK whose
  tool makes the same upstream request and sends the same progress notifications, returning the text as a plain
  string (no validation, no structured output). `mcp-stdio minus floor` is the overhead of orq-mcp's own code;
- `floor-fd`: the same MCPServer served by orq-mcp's thread-free stdio transport (`serving/stdio/transport.py`), which
  splits the SDK's cost: `floor-fd minus floor-asyncio` is its request handling, `floor minus floor-fd` its
  threaded transport, and `mcp-stdio minus floor-fd` orq-mcp's own code;
- `floor-const`: the same floor process type, calling a tool that returns a constant string with no upstream call:
  the pure MCP round trip over stdio.

Each round calls every variant once in a shuffled order (drift and noise hit all variants alike); a repeat is
`iterations` rounds after a warm-up. Per repeat we take each variant's p50/p99 and the differences and ratios
against the baselines; the tables show the median over repeats. The servers run with their default settings and
the calls carry a progress callback, as an agent host's would. Server CPU per call (psutil) comes from the same
repeats; a short probe afterwards counts the new upstream TCP connections each variant opens per call.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx2
import psutil

from bench.common import (
    ASYNCIO_FLOOR_MODULE,
    FLOOR_MODULE,
    INVOKE_ARGS,
    UPSTREAM_BODY,
    Budget,
    EmulatorProcess,
    asyncio_floor_params,
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

VARIANTS = (
    "mcp-stdio",
    "mcp-http",
    "base-stdio",
    "base-http",
    "floor-asyncio",
    "floor-fd",
    "floor",
    "floor-const",
    "httpx2",
    "sdk",
)
BASE_VARIANTS = ("base-stdio", "base-http")
MIN_ITERATIONS = 10  # rounds per repeat even when the time budget has run out
MCP_VARIANTS = ("mcp-stdio", "mcp-http", "base-stdio", "base-http")
FLOOR_VARIANTS = ("floor-asyncio", "floor-fd", "floor", "floor-const")
SERVER_VARIANTS = MCP_VARIANTS + FLOOR_VARIANTS
# What the floors' `constant` tool returns (not imported: building its MCPServer here would configure this
# process's logging).
FLOOR_CONSTANT = "pong"


async def _noop_progress(progress: float, total: float | None, message: str | None) -> None:
    return None


class Counted:
    """A progress callback that counts the notifications of the current call."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.count += 1


async def run(
    *,
    iterations: int,
    repeats: int,
    warmup: int,
    budget_s: float,
    profiler: Any = None,
    profile_calls: int = 300,
    probe_calls: int = 20,
    baseline: Path | None = None,
) -> dict[str, Any]:
    """Returns {"repeats": [...per-repeat stats...], "summary": {...}, "notes": [...]}."""
    notes: list[str] = []
    variants = VARIANTS if baseline is not None else tuple(v for v in VARIANTS if v not in BASE_VARIANTS)
    with EmulatorProcess(chunk_delay=0.0) as emu:
        env = server_env(emu.url)
        async with AsyncExitStack() as stack:
            clients: dict[str, Any] = {}
            procs: dict[str, psutil.Process] = {}
            http_srv = stack.enter_context(http_server(env, wait=False))  # starts while the stdio servers do
            base_http = stack.enter_context(http_server(env, wait=False, tree=baseline)) if baseline else None
            stdio_starts = {
                "mcp-stdio": (stdio_params(env), "orq_mcp"),
                "floor-asyncio": (asyncio_floor_params(env), ASYNCIO_FLOOR_MODULE),
                "floor-fd": (floor_params(env, "orq-mcp"), FLOOR_MODULE),
                "floor": (floor_params(env), FLOOR_MODULE),
                "floor-const": (floor_params(env), FLOOR_MODULE),
            }
            if baseline is not None:
                stdio_starts["base-stdio"] = (stdio_params(env, baseline), "orq_mcp")
            for name, (params, module) in stdio_starts.items():
                clients[name] = await stack.enter_async_context(mcp_client(params))
                procs[name] = find_stdio_server(module)  # the newest such child: the one just started
            for name, server in (("mcp-http", http_srv), ("base-http", base_http)):
                if server is not None:
                    wait_listening(server)
                    clients[name] = await stack.enter_async_context(mcp_client(server.url))
                    procs[name] = psutil.Process(server.pid)
            http = await stack.enter_async_context(httpx2.AsyncClient(base_url=emu.url, timeout=30))
            orq = sdk_client(emu.url)
            counter = Counted()
            calls: dict[str, Callable[[], Awaitable[str]]] = {
                name: (lambda c=clients[name]: invoke_text(c, INVOKE_ARGS, counter))
                for name in ("mcp-stdio", "mcp-http", "base-stdio", "base-http")
                if name in clients
            }
            calls |= {
                "httpx2": lambda: direct_stream(http, UPSTREAM_BODY),
                "sdk": lambda: sdk_stream(orq, UPSTREAM_BODY),
                # The floors are called exactly like mcp-stdio: same client, same progress callback (token).
                "floor-asyncio": lambda: floor_text(clients["floor-asyncio"], "invoke", INVOKE_ARGS, counter),
                "floor-fd": lambda: floor_text(clients["floor-fd"], "invoke", INVOKE_ARGS, counter),
                "floor": lambda: floor_text(clients["floor"], "invoke", INVOKE_ARGS, counter),
                "floor-const": lambda: floor_text(clients["floor-const"], "constant", {}, counter),
            }
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
                notified = dict.fromkeys(variants, 0)
                cpu = {name: cpu_seconds(proc) for name, proc in procs.items()}
                counts = dict.fromkeys(variants, 0)
                for index in range(iterations):
                    if budget.expired and index >= MIN_ITERATIONS:
                        break
                    order = list(variants)
                    rng.shuffle(order)
                    for name in order:
                        counter.count = 0
                        started = time.perf_counter()
                        text = await calls[name]()
                        samples[name].append((time.perf_counter() - started) * 1000)
                        counts[name] += 1
                        notified[name] += counter.count
                        if text != expected[name]:
                            raise RuntimeError(f"{name} returned {text!r}, expected {expected[name]!r}")
                stats: dict[str, Any] = {"n": len(samples["httpx2"])}
                for name in variants:
                    stats[name] = {"p50": percentile(samples[name], 50), "p99": percentile(samples[name], 99)}
                stats["server_cpu_ms"] = {
                    name: (cpu_seconds(proc) - cpu[name]) * 1000 / max(1, counts[name]) for name, proc in procs.items()
                }
                stats["notifications_per_call"] = {name: notified[name] / max(1, counts[name]) for name in variants}
                repeats_out.append(stats)
            if profiler is not None and not budget.expired:
                # Separate passes (the measurements above ran unprofiled), each server under the same calls.
                for label, name in (("stdio-overhead", "mcp-stdio"), ("stdio-floor", "floor")):
                    profiled = 0
                    profiler.start(procs[name].pid, label)
                    try:
                        for _ in range(profile_calls):
                            await calls[name]()
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

    def minus(a: str, b: str) -> None:
        out[f"{a}-minus-{b}"] = {q: med(lambda r, q=q: r[a][q] - r[b][q]) for q in ("p50", "p99")}
        # The same p50 difference as a share of a direct call's p50 (httpx2 straight to the emulator), per repeat.
        out[f"{a}-minus-{b}"]["of_direct"] = med(lambda r: (r[a]["p50"] - r[b]["p50"]) / r["httpx2"]["p50"])
        out[f"{a}-minus-{b}-per-repeat-p50"] = [r[a]["p50"] - r[b]["p50"] for r in repeats]

    out: dict[str, Any] = {"n_per_repeat": med(lambda r: r["n"]), "repeats": len(repeats)}
    for name in variants:
        out[name] = {q: med(lambda r, n=name, q=q: r[n][q]) for q in ("p50", "p99")}
        out[f"{name}-notifications"] = med(lambda r, n=name: r["notifications_per_call"][n])
    for mcp in (v for v in MCP_VARIANTS if v in variants):
        for base in ("httpx2", "sdk", "floor-asyncio", "floor-fd", "floor"):
            minus(mcp, base)
    floors = [("floor-asyncio", "httpx2"), ("floor-fd", "floor-asyncio"), ("floor", "floor-fd"), ("floor", "httpx2")]
    for a, b in [*floors, ("floor-const", "httpx2"), ("floor", "floor-const")]:
        minus(a, b)
    for name in (v for v in SERVER_VARIANTS if v in variants):
        out[f"{name}-cpu-ms"] = med(lambda r, m=name: r["server_cpu_ms"][m])
    out["mcp-stdio-minus-floor-cpu-ms"] = med(lambda r: r["server_cpu_ms"]["mcp-stdio"] - r["server_cpu_ms"]["floor"])
    if "base-stdio" in variants:
        # After over before, per repeat (the variants ran interleaved), then the median of those ratios.
        for after, before in (("mcp-stdio", "base-stdio"), ("mcp-http", "base-http")):
            out[f"{after}-over-{before}-p50"] = med(lambda r, a=after, b=before: r[a]["p50"] / r[b]["p50"])
            out[f"{after}-over-{before}-cpu"] = med(
                lambda r, a=after, b=before: r["server_cpu_ms"][a] / r["server_cpu_ms"][b]
            )
        out["stdio-added-over-floor-ratio"] = med(
            lambda r: (
                (r["mcp-stdio"]["p50"] - r["floor-asyncio"]["p50"])
                / (r["base-stdio"]["p50"] - r["floor-asyncio"]["p50"])
            )
        )
    return out
