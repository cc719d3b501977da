"""Sampling profiles of a running orq-mcp server with py-spy, summarised as text.

py-spy attaches to the server's pid (no change to how the server is started) and records only samples that hold
the GIL (`--gil`), i.e. Python CPU time, so idle threads and the event loop's waits do not drown the picture.
The summary lists self time by package and by function and inclusive time by function, as shares of the samples.
"""

from __future__ import annotations

import collections
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RATE = 250  # samples per second; py-spy's own cost on a 2-core machine stays small at this rate
_FRAME = re.compile(r"^(?P<fn>.*) \((?P<path>.*?):(?P<line>\d+)\)$")


def available() -> bool:
    return shutil.which("py-spy") is not None


class Profiler:
    """`start(pid, label)` ... `stop()`; summaries accumulate in `results` (label -> summary text)."""

    def __init__(self, out_dir: Path, stamp: str) -> None:
        self.out_dir = out_dir
        self.stamp = stamp  # which code was profiled, written at the top of every summary
        for stale in out_dir.glob("*.txt"):  # profiles of another commit must not sit beside this run's
            stale.unlink()
        self.results: dict[str, dict[str, Any]] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._label = ""
        self._raw: Path | None = None
        self._started = 0.0

    def start(self, pid: int, label: str) -> None:
        if self._process is not None:
            raise RuntimeError("a profile is already being recorded")
        self._label = label
        self._raw = Path(tempfile.mkdtemp(prefix="orq-mcp-prof-")) / f"{label}.collapsed"
        args = ["py-spy", "record", "--pid", str(pid), "--rate", str(RATE), "--gil", "--threads"]
        args += ["--format", "raw", "--output", str(self._raw), "--duration", "600"]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)  # py-spy needs a moment to attach
        if self._process.poll() is not None:
            error = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
            self._process = None
            raise RuntimeError(f"py-spy could not attach: {error.strip()}")
        self._started = time.monotonic()

    def stop(self, calls: int | None = None) -> None:
        if self._process is None:
            return
        elapsed = time.monotonic() - self._started
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None
        if self._raw is None or not self._raw.exists():
            return
        summary = summarize(self._raw.read_text(), elapsed=elapsed, calls=calls)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"{self._label}.txt"
        summary["text"] = f"{self.stamp}\n{summary['text']}"
        summary["brief"] = f"{self.stamp}\n{summary['brief']}"
        path.write_text(summary["text"])
        summary["path"] = str(path)
        summary["raw"] = str(self._raw)
        self.results[self._label] = summary


def _parse_frame(frame: str) -> tuple[str, str, str]:
    """(function, path, package) of one py-spy frame `fn (path:line)`; py-spy prints paths relative to sys.path."""
    match = _FRAME.match(frame)
    if not match:
        return frame, "", frame
    fn, path = match.group("fn"), match.group("path")
    for marker in ("site-packages/", "/lib/python3."):  # absolute paths, if py-spy could not shorten one
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker.startswith("/lib"):
                path = path.split("/", 1)[-1]
    top = path.split("/", 1)[0].removesuffix(".py")
    if path.startswith("<"):
        package = "stdlib"
    elif top == "orq_mcp":
        package = "orq_mcp." + path.split("/", 2)[1].removesuffix(".py") if "/" in path else "orq_mcp"
    elif top in sys.stdlib_module_names:
        package = f"stdlib:{top}"
    else:
        package = top
    return fn, f"{path}:{match.group('line')}", package


def summarize(raw: str, *, elapsed: float | None = None, calls: int | None = None, top: int = 25) -> dict[str, Any]:
    total = 0
    self_fn: collections.Counter[str] = collections.Counter()
    self_pkg: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if frames and frames[0].startswith("thread ("):
            threads[frames[0].split(": ", 1)[-1]] += n
            frames = frames[1:]
        if not frames:
            continue
        total += n
        fn, short, package = _parse_frame(frames[-1])
        self_fn[f"{fn}  [{short}]"] += n
        self_pkg[package] += n
        seen = set()
        for frame in frames:
            fn, short, _ = _parse_frame(frame)
            key = f"{fn}  [{short.rsplit(':', 1)[0]}]"
            if key not in seen:
                seen.add(key)
                inclusive[key] += n
    lines = [f"GIL-holding samples: {total} at {RATE} Hz (~{total / RATE:.2f} s of Python CPU)"]
    if elapsed:
        lines.append(
            f"recorded for {elapsed:.1f} s: the server held the GIL ~{total / RATE / elapsed * 100:.0f}% of that"
        )
    if calls:
        lines.append(f"calls served while recording: {calls} (py-spy pauses the process per sample: use the shares)")
    if threads:
        lines.append("threads: " + ", ".join(f"{name} {v / total * 100:.0f}%" for name, v in threads.most_common()))
    lines.append("")
    lines.append("Self time by package/module:")
    lines += [f"  {v / total * 100:5.1f}%  {k}" for k, v in self_pkg.most_common(top)]
    lines.append("")
    lines.append("Self time by function:")
    lines += [f"  {v / total * 100:5.1f}%  {k}" for k, v in self_fn.most_common(top)]
    lines.append("")
    lines.append("Inclusive time by function (the event loop's own frames left out):")
    skip = ("<module>", "_run_code", "_run_module_as_main", "run_forever", "run_until_complete", "_run_once")
    shown = [(k, v) for k, v in inclusive.most_common() if not k.startswith(skip) and v < total * 0.97]
    lines += [f"  {v / total * 100:5.1f}%  {k}" for k, v in shown[: top * 2]]
    share = {k: v / total for k, v in inclusive.items()} if total else {}
    # A short version for RESULTS.md: the header, the packages, and the inclusive frames below the SDK's dispatch.
    brief = lines[: lines.index("") + 1]
    brief.append("Self time by package/module (top 10):")
    brief += [f"  {v / total * 100:5.1f}%  {k}" for k, v in self_pkg.most_common(10)]
    brief.append("Inclusive, orq_mcp and the HTTP client stack (MCP SDK/server framework frames left out; top 22):")
    framework = ("[mcp/", "[uvicorn/", "[starlette/", "[asyncio/", "[anyio/_core/_tasks", "[contextlib", "[selectors")
    below = [(k, v) for k, v in shown if "[mcp/server/stdio.py" in k or not any(f in k for f in framework)]
    brief += [f"  {v / total * 100:5.1f}%  {k}" for k, v in below[:22]]
    return {
        "brief": "\n".join(brief) + "\n",
        "text": "\n".join(lines) + "\n",
        "total": total,
        "self_pkg": [(k, v / total) for k, v in self_pkg.most_common(top)] if total else [],
        "self_fn": [(k, v / total) for k, v in self_fn.most_common(top)] if total else [],
        "inclusive": share,
    }
