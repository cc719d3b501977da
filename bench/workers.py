"""Scaling past one process: calls/s and server CPU per call at 1, 2 and N workers, and through a load balancer.

`python -m bench.workers [--calls 600] [--concurrency 32] [--max-workers 4] [--record bench/workers.json]`

The run is recorded (the rows, the machine, the commit, the load) in `bench/workers.json`, which the table in
docs/performance.md is generated from (tests/project/test_readme_figures.py holds the two together).

Method: one bench emulator process (no pacing between chunks) and, per configuration, a fresh orq-mcp over
Streamable HTTP: `--workers 1`, `--workers 2`, `--workers N`, and two `--stateless` replicas behind HAProxy (the
README's configuration, least connections; needs `haproxy` on PATH and the test extra, whose helper starts it). The
same closed loop drives each: `concurrency` callers sharing `concurrency / 8` MCP clients (2026-07-28 protocol),
each call a streaming `invoke_deployment` with a progress callback, `calls` calls after one warm-up call per client.
CPU seconds come from the OS for the whole server process tree (supervisor and workers; HAProxy counted separately),
the client (this process) and the emulator. The baseline in the same run is the same closed loop of direct httpx2
streams against the same emulator. Ratios are against `--workers 1`. On a machine with fewer cores than processes the
calls/s figures measure the machine; CPU per call is the figure that travels.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import psutil

from bench.common import (
    HOST,
    INVOKE_ARGS,
    REPO,
    UPSTREAM_BODY,
    Budget,
    EmulatorProcess,
    cpu_seconds,
    direct_stream,
    free_port,
    server_env,
    stop_process,
    wait_listening,
)
from bench.common import HttpServer as Server
from bench.scale import _closed_loop

CALLERS_PER_CLIENT = 8
CALL_TIMEOUT = 60.0


def tree_cpu(process: psutil.Process) -> float:
    """CPU seconds of a process and its children (a supervisor's workers)."""
    total = cpu_seconds(process)
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += cpu_seconds(child)
    return total


@contextlib.contextmanager
def orq_mcp(emulator_url: str, args: list[str]) -> Iterator[Server]:
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="orq-mcp-bench-workers-")) / "stderr.log"
    command = [sys.executable, "-m", "orq_mcp", "--transport", "http", "--host", HOST, "--port", str(port), *args]
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=server_env(emulator_url),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    server = Server(process, port, log)
    try:
        wait_listening(server)
        yield server
    finally:
        stop_process(process)


async def _noop(progress: float, total: float | None, message: str | None) -> None:
    return None


async def through_mcp(url: str, concurrency: int, calls: int, measured: list[psutil.Process]) -> dict[str, Any]:
    from mcp import Client

    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(Client(url)) for _ in range(math.ceil(concurrency / CALLERS_PER_CLIENT))
        ]
        for client in clients:
            await client.call_tool("invoke_deployment", INVOKE_ARGS, progress_callback=_noop)

        async def call(index: int) -> None:
            result = await clients[index // CALLERS_PER_CLIENT].call_tool(
                "invoke_deployment", INVOKE_ARGS, progress_callback=_noop
            )
            if result.is_error:
                raise RuntimeError("tool error")

        return await measure(concurrency, calls, call, measured)


async def measure(
    concurrency: int, calls: int, call: Callable[[int], Awaitable[None]], measured: list[psutil.Process]
) -> dict[str, Any]:
    me = psutil.Process()
    before = [tree_cpu(p) for p in measured] + [cpu_seconds(me)]
    # bench.scale's closed loop (same workers, errors counted), bounded by the call count and a generous budget.
    out = await _closed_loop(concurrency, calls, call, Budget(seconds=CALL_TIMEOUT * 10))
    out["calls"], out["calls_per_s"] = out["completions"], out["throughput"]
    after = [tree_cpu(p) for p in measured] + [cpu_seconds(me)]
    used = [b - a for a, b in zip(before, after, strict=True)]
    done = max(1, out["calls"])
    out["server_cpu_ms_per_call"] = 1000 * sum(used[:-2]) / done if len(used) > 2 else math.nan
    out["emulator_cpu_ms_per_call"] = 1000 * used[-2] / done
    out["client_cpu_ms_per_call"] = 1000 * used[-1] / done
    return out


async def direct(emulator: EmulatorProcess, concurrency: int, calls: int) -> dict[str, Any]:
    assert emulator.ps is not None
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(base_url=emulator.url, timeout=CALL_TIMEOUT, limits=limits) as http:
        await direct_stream(http, UPSTREAM_BODY)

        async def call(index: int) -> None:
            await direct_stream(http, UPSTREAM_BODY)

        return await measure(concurrency, calls, call, [emulator.ps])


async def run(calls: int, concurrency: int, max_workers: int) -> list[tuple[str, dict[str, Any]]]:
    rows: list[tuple[str, dict[str, Any]]] = []
    with EmulatorProcess(chunk_delay=0.0) as emulator:
        assert emulator.ps is not None
        rows.append(("direct httpx2", await direct(emulator, concurrency, calls)))
        for workers in sorted({1, 2, max_workers}):
            with orq_mcp(emulator.url, ["--workers", str(workers)]) as server:
                measured = [psutil.Process(server.pid), emulator.ps]
                rows.append((f"--workers {workers}", await through_mcp(server.url, concurrency, calls, measured)))
        rows.append(await balanced(emulator, concurrency, calls))
    return rows


async def balanced(emulator: EmulatorProcess, concurrency: int, calls: int) -> tuple[str, dict[str, Any]]:
    """Two --stateless replicas behind HAProxy; HAProxy's own CPU is reported apart from the replicas'."""
    try:
        from tests.processes import HttpServer as Replica
        from tests.scale_tools import haproxy
    except ImportError as exc:
        return "2 replicas + HAProxy", {"skipped": f"needs the test extra ({exc})"}
    assert emulator.ps is not None
    with orq_mcp(emulator.url, ["--stateless"]) as a, orq_mcp(emulator.url, ["--stateless"]) as b:
        replicas = [Replica("http", r.process, r.port, r.log_path.parent) for r in (a, b)]
        try:
            balancer = haproxy(replicas, Path(tempfile.mkdtemp(prefix="orq-mcp-bench-haproxy-")))
            port = balancer.__enter__()
        except BaseException as exc:  # pytest's skip/fail outside pytest: no haproxy here
            return "2 replicas + HAProxy", {"skipped": str(exc)[:200]}
        try:
            lb = next(p for p in psutil.Process().children() if p.name() == "haproxy")
            before = cpu_seconds(lb)
            measured = [psutil.Process(a.pid), psutil.Process(b.pid), emulator.ps]
            out = await through_mcp(f"http://{HOST}:{port}/mcp", concurrency, calls, measured)
            out["haproxy_cpu_ms_per_call"] = 1000 * (cpu_seconds(lb) - before) / max(1, out["calls"])
        finally:
            balancer.__exit__(None, None, None)
    return "2 replicas + HAProxy", out


def report(rows: list[tuple[str, dict[str, Any]]], concurrency: int) -> str:
    base = next((r for name, r in rows if name == "--workers 1"), None)
    lines = [
        f"concurrency {concurrency}, {psutil.cpu_count()} CPUs; CPU in ms per call",
        f"{'configuration':<22} {'calls/s':>8} {'x w1':>6} {'p50 ms':>8} {'p99 ms':>8} {'server':>7} "
        f"{'client':>7} {'emul.':>6} {'haproxy':>7} errors",
    ]
    for name, r in rows:
        if "skipped" in r:
            lines.append(f"{name:<22} skipped: {r['skipped']}")
            continue
        ratio = r["calls_per_s"] / base["calls_per_s"] if base else math.nan
        lines.append(
            f"{name:<22} {r['calls_per_s']:>8.1f} {ratio:>6.2f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
            f"{r['server_cpu_ms_per_call']:>7.2f} {r['client_cpu_ms_per_call']:>7.2f} "
            f"{r['emulator_cpu_ms_per_call']:>6.2f} {r.get('haproxy_cpu_ms_per_call', math.nan):>7.2f} "
            f"{r['errors']}{' (' + r['first_error'] + ')' if r['first_error'] else ''}"
        )
    return "\n".join(lines)


def record(path: Path, rows: list[tuple[str, dict[str, Any]]], command: str) -> None:
    """The run as JSON: what docs/performance.md shows is generated from it, never typed in."""
    from bench.run import machine_info

    keep = ("calls", "calls_per_s", "p50_ms", "p99_ms", "errors", "skipped")
    keep += ("server_cpu_ms_per_call", "client_cpu_ms_per_call", "emulator_cpu_ms_per_call", "haproxy_cpu_ms_per_call")
    run = {
        "date": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "command": command,
        "machine": machine_info(),
        "rows": [{"configuration": name, **{k: _json(v) for k, v in r.items() if k in keep}} for name, r in rows],
    }
    path.write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")


def _json(value: Any) -> Any:
    """NaN (a figure that does not apply, e.g. the server CPU of direct calls) as null: JSON has no NaN."""
    return None if isinstance(value, float) and math.isnan(value) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__)
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--max-workers", type=int, default=4)
    parser.add_argument("--record", type=Path, default=REPO / "bench" / "workers.json", help="where to record the run")
    args = parser.parse_args(argv)
    rows = anyio.run(run, args.calls, args.concurrency, args.max_workers)
    print(__doc__.split("\n\n", 3)[3].strip() + "\n")
    print(report(rows, args.concurrency))
    command = " ".join(["python -m bench.workers", *(argv if argv is not None else sys.argv[1:])])
    record(args.record, rows, command)
    print(f"\nrecorded in {args.record}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
