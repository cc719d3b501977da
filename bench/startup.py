"""Start-up: process start to the `initialize` answer over stdio, and where import time goes.

Each server is spawned with its `initialize` request already written to stdin; the time is from just before
`Popen` to the moment the answer's line is read from stdout. Compared in the same run, interleaved:

- `orq-mcp`: `python -m orq_mcp` (with a key and the emulator as base URL);
- `mcp-server-time`: the reference server from PyPI, `python -m mcp_server_time` (same MCP SDK, same venv);
- `python-floor`: a bare interpreter answering the same line with the stdlib `json` module: the floor under both.

`python -X importtime` of the same stdio starts (initialize, then EOF) gives the import offenders, median over runs,
and the modules orq-mcp imports that mcp-server-time does not (what lazy imports could remove).
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from typing import Any

from bench.common import REPO, Budget, EmulatorProcess, base_env, median, percentile, server_env

INITIALIZE = (
    json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "orq-mcp-bench", "version": "0"},
            },
        }
    )
    + "\n"
)
FLOOR = (
    "import sys, json\n"
    "line = sys.stdin.readline()\n"
    "ident = json.loads(line)['id']\n"
    "sys.stdout.write(json.dumps({'jsonrpc': '2.0', 'id': ident, 'result': {}}) + '\\n'); sys.stdout.flush()\n"
    "sys.stdin.read()\n"
)
VARIANTS = ("orq-mcp", "mcp-server-time", "python-floor")
TIMEOUT = 30.0


def commands(base_url: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    return {
        "orq-mcp": ([sys.executable, "-m", "orq_mcp"], server_env(base_url)),
        "mcp-server-time": ([sys.executable, "-m", "mcp_server_time", "--local-timezone", "UTC"], base_env()),
        "python-floor": ([sys.executable, "-c", FLOOR], base_env()),
    }


def time_to_initialize(args: list[str], env: dict[str, str], extra: list[str] | None = None) -> tuple[float, str]:
    """Seconds from spawn to the initialize answer, and the process's stderr."""
    command = [args[0], *(extra or []), *args[1:]]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdin
    assert process.stdout
    assert process.stderr
    stderr_chunks: list[bytes] = []
    drain = threading.Thread(target=lambda: stderr_chunks.append(process.stderr.read()), daemon=True)  # type: ignore[union-attr]
    drain.start()
    answered: list[float] = []

    def read_answer() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("id") == 1:
                answered.append(time.perf_counter())
                return

    reader = threading.Thread(target=read_answer, daemon=True)
    reader.start()
    try:
        process.stdin.write(INITIALIZE.encode())
        process.stdin.flush()
        reader.join(TIMEOUT)
    finally:
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        drain.join(5)
    stderr = b"".join(stderr_chunks).decode(errors="replace")
    if not answered:
        raise RuntimeError(f"{command} did not answer initialize within {TIMEOUT}s:\n{stderr[-2000:]}")
    return answered[0] - started, stderr


_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def parse_importtime(stderr: str) -> list[tuple[str, int, int, int]]:
    """(module, self µs, cumulative µs, depth) for every `-X importtime` line."""
    rows = []
    for line in stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            rows.append((match.group(4), int(match.group(1)), int(match.group(2)), len(match.group(3)) // 2))
    return rows


def _importtime_runs(args: list[str], env: dict[str, str], runs: int) -> list[list[tuple[str, int, int, int]]]:
    return [parse_importtime(time_to_initialize(args, env, extra=["-X", "importtime"])[1]) for _ in range(runs)]


def _median_self(per_run: list[list[tuple[str, int, int, int]]]) -> dict[str, float]:
    """Median self time (ms) per module over runs (0 in a run that did not import it)."""
    modules = {m for rows in per_run for m, *_ in rows}
    values: dict[str, list[float]] = {m: [] for m in modules}
    for rows in per_run:
        seen = {m: self_us for m, self_us, _, _ in rows}
        for module in modules:
            values[module].append(seen.get(module, 0) / 1000)
    return {m: median(v) for m, v in values.items()}


def import_profile(base_url: str, runs: int) -> dict[str, Any]:
    """Median -X importtime figures for the orq-mcp stdio start, and what it imports beyond mcp-server-time."""
    cmds = commands(base_url)
    orq_runs = _importtime_runs(*cmds["orq-mcp"], runs)
    ref_runs = _importtime_runs(*cmds["mcp-server-time"], runs)
    orq_self = _median_self(orq_runs)
    ref_self = _median_self(ref_runs)
    cumulative: dict[str, list[float]] = defaultdict(list)
    for rows in orq_runs:
        for module, _self, cum_us, _depth in rows:
            cumulative[module].append(cum_us / 1000)

    def by_package(selfs: dict[str, float], only: set[str] | None = None) -> list[tuple[str, float]]:
        totals: dict[str, float] = defaultdict(float)
        for module, value in selfs.items():
            if only is None or module in only:
                totals[module.split(".")[0]] += value
        return sorted(totals.items(), key=lambda x: -x[1])

    extra = set(orq_self) - set(ref_self)
    return {
        "total_ms": sum(orq_self.values()),
        "reference_total_ms": sum(ref_self.values()),
        "modules": len(orq_self),
        "reference_modules": len(ref_self),
        "packages": by_package(orq_self)[:15],
        "cumulative": sorted(((m, median(v)) for m, v in cumulative.items()), key=lambda x: -x[1])[:40],
        "self": sorted(orq_self.items(), key=lambda x: -x[1])[:15],
        "extra_ms": sum(orq_self[m] for m in extra),
        "extra_modules": len(extra),
        "extra_packages": by_package(orq_self, extra)[:15],
        "extra_top": sorted(((m, orq_self[m]) for m in extra), key=lambda x: -x[1])[:25],
    }


def run(*, runs: int, importtime_runs: int, budget_s: float, warmup: bool = True) -> dict[str, Any]:
    budget = Budget(budget_s)
    notes: list[str] = []
    samples: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with EmulatorProcess(chunk_delay=0.0) as emu:
        cmds = commands(emu.url)
        for name in VARIANTS if warmup else ():  # warm the OS page cache and .pyc files once; not measured
            time_to_initialize(*cmds[name])
        rng = random.Random(3)
        for index in range(runs):
            if budget.expired:
                notes.append(f"startup: stopped after {index} of {runs} rounds (time budget)")
                break
            order = list(VARIANTS)
            rng.shuffle(order)
            for name in order:
                seconds, _ = time_to_initialize(*cmds[name])
                samples[name].append(seconds * 1000)
        imports = import_profile(emu.url, importtime_runs) if importtime_runs else None
    summary: dict[str, Any] = {"n": len(samples["orq-mcp"])}
    for name in VARIANTS:
        summary[name] = {"p50": percentile(samples[name], 50), "p90": percentile(samples[name], 90)}
    # Paired per round: the rounds interleave the variants, so each round's ratio cancels slow drift.
    ratios = [a / b for a, b in zip(samples["orq-mcp"], samples["mcp-server-time"], strict=False)]
    summary["orq-minus-time-ms"] = summary["orq-mcp"]["p50"] - summary["mcp-server-time"]["p50"]
    summary["orq-over-time-ratio"] = median(ratios)
    summary["orq-minus-floor-ms"] = summary["orq-mcp"]["p50"] - summary["python-floor"]["p50"]
    return {"summary": summary, "samples": samples, "imports": imports, "notes": notes}
