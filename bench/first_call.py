"""The first call after start: what a user's first `invoke_deployment` costs against a warm one (issue 18).

For each variant a fresh server process is started (`starts` times, variants interleaved per start), the SDK's
`Client` connects (over Streamable HTTP: `server/discover`; over stdio: spawn and discover), then the first
`invoke_deployment` is timed, and after it `warm` more calls. Every call streams the canned 30-chunk reply from
the emulator process at once (chunk_delay=0), so the times are what the server adds. Reported per variant: the
median over starts of the connect time, the first call's time and server CPU (psutil; one call is a few clock
ticks, so the CPU figure is coarse), and the warm calls' median time and CPU per call (over all warm calls).

Variants: this checkout's server and the release's (`--release`), over HTTP and stdio; the plain relay over HTTP
(`bench/plain_relay.py`), whose first call shows what any Python process pays the first time through (imports on
first use, connection set-up to the emulator).
"""

from __future__ import annotations

import random
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import psutil

from bench.common import (
    INVOKE_ARGS,
    Budget,
    EmulatorProcess,
    cpu_seconds,
    find_stdio_server,
    http_server,
    mcp_client,
    median,
    server_env,
    stdio_params,
)


async def _noop(progress: float, total: float | None, message: str | None) -> None:
    return None  # calls carry a progress token, as an agent host's do


VARIANTS = ("server-http", "release-http", "relay-http", "server-stdio", "release-stdio")


async def one_start(name: str, emu: EmulatorProcess, release: Path | None, warm: int) -> dict[str, Any]:
    env = server_env(emu.url)
    tree = release if name.startswith("release") and release is not None else None
    async with AsyncExitStack() as stack:
        started = time.perf_counter()
        if name.endswith("-http"):
            options: dict[str, Any] = {"module": "bench.plain_relay"} if name == "relay-http" else {}
            if tree is not None:
                options["tree"] = tree
            srv = stack.enter_context(http_server(env, **options))
            proc = psutil.Process(srv.pid)
            listening = time.perf_counter()
            client = await stack.enter_async_context(mcp_client(srv.url))
        else:
            params = stdio_params(env, tree) if tree is not None else stdio_params(env)
            listening = time.perf_counter()
            client = await stack.enter_async_context(mcp_client(params))
            proc = find_stdio_server()
        connected = time.perf_counter()
        times: list[float] = []
        cpu: list[float] = []
        for _ in range(1 + warm):
            before, t0 = cpu_seconds(proc), time.perf_counter()
            result = await client.call_tool("invoke_deployment", INVOKE_ARGS, progress_callback=_noop)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((cpu_seconds(proc) - before) * 1000)
            if result.is_error:
                raise RuntimeError(f"{name}: the call failed: {result.content}")
    return {
        "start_ms": (listening - started) * 1000,
        "connect_ms": (connected - listening) * 1000,
        "first_ms": times[0],
        "first_cpu_ms": cpu[0],
        "warm_ms": times[1:],
        "warm_cpu_ms": cpu[1:],
    }


async def run(*, starts: int, warm: int, budget_s: float, release: Path | None = None) -> dict[str, Any]:
    notes: list[str] = []
    names = [v for v in VARIANTS if not v.startswith("release") or release is not None]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    budget = Budget(budget_s)
    rng = random.Random(1)
    with EmulatorProcess(chunk_delay=0.0) as emu:
        for index in range(starts):
            if budget.expired and index > 0:
                notes.append(f"first call: {index} of {starts} starts (time budget)")
                break
            order = list(names)
            rng.shuffle(order)
            for name in order:
                runs[name].append(await one_start(name, emu, release, warm))
    summary: dict[str, Any] = {}
    for name, done in runs.items():
        warm_ms = [t for r in done for t in r["warm_ms"]]
        warm_cpu = [c for r in done for c in r["warm_cpu_ms"]]
        summary[name] = {
            "starts": len(done),
            "connect_ms": median([r["connect_ms"] for r in done]),
            "first_ms": median([r["first_ms"] for r in done]),
            "first_ms_all": [r["first_ms"] for r in done],
            "first_cpu_ms": median([r["first_cpu_ms"] for r in done]),
            "warm_ms": median(warm_ms),
            "warm_cpu_ms": sum(warm_cpu) / max(1, len(warm_cpu)),
            "warm_calls": len(warm_ms),
        }
        summary[name]["first_over_warm"] = summary[name]["first_ms"] / summary[name]["warm_ms"]
    return {"summary": summary, "notes": notes, "warm": warm}
