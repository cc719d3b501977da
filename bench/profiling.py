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

RATE = 500  # samples per second: with --gil (blocking), the samples add up to the CPU psutil reports for the server
_FRAME = re.compile(r"^(?P<fn>.*) \((?P<path>.*?):(?P<line>\d+)\)$")


def executable() -> str | None:
    """py-spy from this interpreter's environment (a venv's bin/, found even when the venv is not activated),
    else from PATH."""
    here = Path(sys.executable).parent / ("py-spy.exe" if sys.platform == "win32" else "py-spy")
    return str(here) if here.exists() else shutil.which("py-spy")


def available() -> bool:
    return executable() is not None


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
        spy = executable()
        if spy is None:
            raise RuntimeError("py-spy is not installed (pip install -e . --group bench)")
        # --gil: only samples holding the GIL, i.e. Python CPU (the loop's waits left out; syscalls made without
        # the GIL, such as socket writes, too: psutil's system time, printed in the header, is that). Every frame is
        # kept (the SDK's, uvicorn's, the loop's): the summary groups them by component. (--subprocesses would
        # follow a supervisor's workers, but attached to a pid it lost most samples here: one process is profiled.)
        args = [spy, "record", "--pid", str(pid), "--rate", str(RATE), "--gil", "--threads"]
        args += ["--format", "raw", "--output", str(self._raw), "--duration", "600"]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)  # py-spy needs a moment to attach
        if self._process.poll() is not None:
            error = self._process.stderr.read().decode(errors="replace") if self._process.stderr else ""
            self._process = None
            raise RuntimeError(f"py-spy could not attach: {error.strip()}")
        self._started = time.monotonic()

    def stop(self, calls: int | None = None, context: str = "") -> None:
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
        head = f"{self.stamp}\n" + (f"{context}\n" if context else "")
        summary["text"] = head + summary["text"]
        summary["brief"] = head + summary["brief"]
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


# orq-mcp's ASGI layers (not cli.py, which starts the loop and so is at the root of every sample).
SERVING_MIDDLEWARES = ("asgi", "connections", "credentials", "disconnect", "health", "http", "nesting", "proxy")
SERVING_MIDDLEWARES += ("sessions", "throttle", "wire", "shared_buckets")

# Where a sample's CPU goes: the component of the deepest (nearest the leaf) frame that matches one of these, the
# first matching row winning for a frame; a sample with no such frame is the event loop's. Library frames below a
# match (anyio's cancel scopes in a socket read, pydantic under the chunk parser) count for the component above them.
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("scrub (redactor, the exit)", ("orq_mcp/orq/redact.py", "orq_mcp/serving/outbound.py")),
    ("event store (resumable streams)", ("orq_mcp/serving/events.py", "orq_mcp/serving/memory_events.py")),
    (
        "writing to the client (uvicorn/h11 send, socket)",
        ("RequestResponseCycle.send (uvicorn/", "PlainRelay.call.<locals>.event ("),
    ),
    (
        "progress notifications (relay, SDK notify, JSON)",
        (
            "orq_mcp/surface/invocation/progress.py",
            "report_progress (",
            "_SingleExchangeDispatchContext.notify (",
            "_sse_event (",
            "Relay.run (bench/",
            "PlainRelay.call.<locals>.notify (",
        ),
    ),
    ("chunk parse + validation (pydantic)", ("_chunk_from_event (", "orq_mcp/orq/models.py")),
    (
        "orq stream read (httpx2/httpcore2/h11, SSE lines)",
        (
            "httpcore2/",
            "Response.aiter_",
            "orq_mcp/orq/sse.py",
            "contents (bench/upstream.py",
            "StreamProtocol.data_received (anyio/",
            "orq_mcp/orq/sockets.py",
        ),
    ),
    (
        "result (accumulate, structure, fit)",
        (
            "orq_mcp/orq/streaming.py",
            "orq_mcp/orq/outputs.py",
            "orq_mcp/surface/results.py",
            "orq_mcp/surface/outputs.py",
            "orq_mcp/surface/fit.py",
        ),
    ),
    ("orq request (build, send, open)", ("httpx2/", "orq_mcp/orq/", "stream_text (bench/upstream.py")),
    ("orq-mcp tool and workspace code", ("orq_mcp/surface/",)),
    (
        "SDK tool dispatch (runner, argument and result models)",
        (
            "mcp/server/runner.py",
            "mcp/server/mcpserver/",
            "mcp/server/request_state.py",
            "mcp/server/_otel.py",
            "mcp/server/session.py",
            "mcp_types/",
        ),
    ),
    (
        "incoming POST (uvicorn, Starlette, middlewares, SDK transport checks)",
        (
            "uvicorn/protocols/",
            "uvicorn/middleware/",
            "starlette/",
            *(f"orq_mcp/serving/{name}.py" for name in SERVING_MIDDLEWARES),
            "mcp/server/",
            "mcp/shared/",
            "PlainRelay.request (",
            "PlainRelay.__call__ (",
        ),
    ),
)
EVENT_LOOP = "event loop and the rest (asyncio callbacks, select, task switches)"


def component(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, markers in COMPONENTS:
            if any(marker in frame for marker in markers):
                return name
    return EVENT_LOOP


def summarize(raw: str, *, elapsed: float | None = None, calls: int | None = None, top: int = 25) -> dict[str, Any]:
    total = 0
    self_fn: collections.Counter[str] = collections.Counter()
    self_pkg: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    parts: collections.Counter[str] = collections.Counter()
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
        parts[component(frames)] += n
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
    lines.append("By component (the deepest recognised frame of each sample; bench/profiling.py COMPONENTS):")
    lines += [f"  {v / total * 100:5.1f}%  {k}" for k, v in parts.most_common()]
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
    # A short version for RESULTS.md: the header, the components, the packages (the SDK's included), and the
    # inclusive frames, every library's included.
    brief = lines[: lines.index("") + 1]
    brief.append("By component:")
    brief += [f"  {v / total * 100:5.1f}%  {k}" for k, v in parts.most_common()]
    brief.append("Self time by package/module (top 12):")
    brief += [f"  {v / total * 100:5.1f}%  {k}" for k, v in self_pkg.most_common(12)]
    brief.append("Inclusive time by function (top 22):")
    brief += [f"  {v / total * 100:5.1f}%  {k}" for k, v in shown[:22]]
    return {
        "brief": "\n".join(brief) + "\n",
        "text": "\n".join(lines) + "\n",
        "total": total,
        "self_pkg": [(k, v / total) for k, v in self_pkg.most_common(top)] if total else [],
        "self_fn": [(k, v / total) for k, v in self_fn.most_common(top)] if total else [],
        "inclusive": share,
        "components": [(k, v / total) for k, v in parts.most_common()] if total else [],
    }
