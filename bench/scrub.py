"""What scrubbing costs (issue 15, item 4): `python -m bench.scrub [--quick] [--baseline REF]`.

Everything the server sends passes the redactor (orq_mcp/orq/redact.py) at the transport's exit
(orq_mcp/serving/outbound.py). This prints, as Markdown:

- scan: milliseconds per MB of text for `Redactor.text`, by kind of text (prose, a base64 blob, JSON, the same
  with the key inside, and text made of nothing but the key, repeated), size and key length; beside it the
  baseline redactor (the one at `--baseline`, default 56c0404: one regex alternative per 12-character piece of
  the key) on the same text, and their ratio. The baseline is measured on at most `--baseline-chars` of the text
  (it takes seconds per MB) and reported per MB.
- set-up: building the redactor for one key, by key length: milliseconds and memory (tracemalloc peak).
- exit: milliseconds per MB for `scrub_json` (what the exit does to each answer) on a JSON-RPC result of 1 MB,
  without the key (one scan) and with it (parse, scrub each string, write again).
- floor: milliseconds per MB for one pass of `str.encode` and `bytes.translate` over the same prose, which the
  scan must do anyway: the machine's speed, measured in the same run.

Method: each figure is the median of `--repeats` timings with `time.perf_counter`, the new and the baseline
redactor interleaved repeat by repeat on the same text, in this process, after one untimed warm-up call. The
machine is shared, so compare the ratios and the floor of the same run rather than absolute figures across runs.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
import types
from collections.abc import Callable
from typing import Any

from bench.common import REPO
from orq_mcp.orq.redact import Redactor
from orq_mcp.serving.outbound import scrub_json

BASELINE_REF = "56c0404"  # main before issue 15: the alternation redactor
MB = 1_000_000
WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "deployment", "answers", "shipping")


def baseline_redact(ref: str) -> types.ModuleType:
    """`orq_mcp/orq/redact.py` as of `ref`, loaded as a module of its own (it needs only the standard library)."""
    source = subprocess.run(
        ["git", "show", f"{ref}:orq_mcp/orq/redact.py"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    module = types.ModuleType(f"redact_{ref}")
    exec(compile(source, f"{ref}:orq_mcp/orq/redact.py", "exec"), module.__dict__)  # our own file, at `ref`
    return module


def key_of(length: int, rng: random.Random) -> str:
    alphabet = "ABCDEFGHJKMNPQRSTVWXYZabcdefghijkmnopqrstuvwxyz0123456789"
    return ("sk-orq-" + "".join(rng.choice(alphabet) for _ in range(length)))[:length]


def texts(size: int, key: str, rng: random.Random) -> dict[str, str]:
    prose = " ".join(rng.choice(WORDS) for _ in range(size // 4))[:size]
    blob = base64.b64encode(rng.randbytes(size * 3 // 4 + 3)).decode()[:size]
    rows = [{"id": i, "text": rng.choice(WORDS) * 3, "url": f"https://example.com/{i}"} for i in range(size // 40)]
    document = json.dumps(rows)[:size]
    middle = size // 2
    return {
        "prose": prose,
        "base64": blob,
        "json": document,
        "prose, key inside": prose[:middle] + key + prose[middle + len(key) :],
        "only the key, repeated": (key * (size // len(key) + 1))[:size],
    }


def timed(call: Callable[[], Any], repeats: int) -> float:
    """Median seconds of `repeats` calls, after one untimed call."""
    call()
    spent = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        spent.append(time.perf_counter() - started)
    return statistics.median(spent)


def interleaved(calls: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds per call of each, the calls alternating repeat by repeat."""
    for call in calls.values():
        call()
    spent: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            spent[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in spent.items()}


def scan_rows(args: argparse.Namespace, old: types.ModuleType | None, rng: random.Random) -> list[str]:
    rows = ["| text | size | key | ms/MB | baseline ms/MB | baseline / now |", "|---|---|---|---|---|---|"]
    for length in args.keys:
        key = key_of(length, rng)
        new = Redactor([key])
        before = old.Redactor([key]) if old is not None else None
        for size in args.sizes:
            for kind, text in texts(size, key, rng).items():
                sample = text[: args.baseline_chars]
                calls: dict[str, Callable[[], Any]] = {"now": lambda r=new, t=text: r.text(t)}
                if before is not None:
                    calls["before"] = lambda r=before, t=sample: r.text(t)
                spent = interleaved(calls, args.repeats)
                now = spent["now"] * 1000 * MB / size
                if before is None:
                    rows.append(f"| {kind} | {size:,} | {length} | {now:.1f} | - | - |")
                    continue
                then = spent["before"] * 1000 * MB / len(sample)
                rows.append(f"| {kind} | {size:,} | {length} | {now:.1f} | {then:.0f} | {then / now:.0f}x |")
    return rows


def setup_rows(args: argparse.Namespace, old: types.ModuleType | None, rng: random.Random) -> list[str]:
    rows = ["| key length | build ms | memory KiB | baseline build ms | baseline memory KiB |", "|---|---|---|---|---|"]
    for length in args.setup_keys:
        key = key_of(length, rng)
        cells = []
        for module in (sys.modules[Redactor.__module__], old):
            if module is None or (module is old and length > args.baseline_key_limit):
                cells += ["-", "-"]
                continue
            seconds = timed(lambda m=module, k=key: m.Redactor([k]), max(1, args.repeats // 2))
            tracemalloc.start()
            kept = module.Redactor([key])
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            del kept
            cells += [f"{seconds * 1000:.1f}", f"{peak / 1024:,.0f}"]
        rows.append(f"| {length:,} | " + " | ".join(cells) + " |")
    return rows


def exit_rows(args: argparse.Namespace, rng: random.Random) -> list[str]:
    key = key_of(100, rng)
    redactor = Redactor([key])
    prose = texts(MB, key, rng)["prose"]
    result = {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": prose}], "isError": False}}
    clean = json.dumps(result)
    leaky = json.dumps({**result, "result": {**result["result"], "structuredContent": {"echo": key}}})
    rows = ["| answer | ms/MB |", "|---|---|"]
    for name, text in (
        ("1 MB result, no key (one scan)", clean),
        ("1 MB result, key inside (parse, scrub, write)", leaky),
    ):
        seconds = timed(lambda t=text: scrub_json(t, redactor), args.repeats)
        rows.append(f"| {name} | {seconds * 1000 * MB / len(text):.1f} |")
    encode = timed(lambda: prose.encode("ascii", "replace").translate(bytes.maketrans(b"-_", b"+/")), args.repeats)
    rows.append(f"| floor: one `encode` + `translate` pass over 1 MB of prose | {encode * 1000:.2f} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats (about a minute)")
    parser.add_argument("--baseline", default=BASELINE_REF, help="git ref of the redactor to compare with, or none")
    parser.add_argument("--baseline-chars", type=int, default=100_000, help="text the baseline scans per cell")
    args = parser.parse_args(argv)
    args.repeats = 3 if args.quick else 7
    args.keys = [30, 100, 1024] if args.quick else [30, 100, 1024, 4096]
    args.sizes = [MB] if args.quick else [10_000, 100_000, MB, 3 * MB]
    args.setup_keys = [100, 1024, 15_000]
    args.baseline_key_limit = 1024 if args.quick else 15_000
    old = baseline_redact(args.baseline) if args.baseline != "none" else None
    rng = random.Random(15)
    print(f"# Scrubbing cost (`python -m bench.scrub{' --quick' if args.quick else ''}`)\n")
    print(f"Baseline: the redactor at {args.baseline}. Median of {args.repeats} runs each; see the module docstring.\n")
    print("## Scan\n", *scan_rows(args, old, rng), sep="\n")
    print("\n## Set-up per key\n", *setup_rows(args, old, rng), sep="\n")
    print("\n## The exit\n", *exit_rows(args, rng), sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
