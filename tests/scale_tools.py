"""Real infrastructure the scale tests start: HAProxy in front of replicas, Redis for shared events.

A missing binary fails the test under CI (CI=true), where .ci/run installs it, and skips it elsewhere.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.processes import HttpServer, free_port, stop_process

README = Path(__file__).parent.parent / "README.md"
# The HAProxy configuration the README prints (its Deploying section): the tests run exactly that.
README_HAPROXY = re.compile(r"HAProxy, as the tests run it.*?\n```\n(.*?)```", re.DOTALL)


def haproxy_config(port: int, servers: Sequence[int]) -> str:
    """The README's HAProxy configuration, bound to loopback `port`, balancing over the loopback `servers` ports."""
    found = README_HAPROXY.search(README.read_text(encoding="utf-8"))
    assert found, "the README's HAProxy configuration went missing"
    lines = found.group(1).splitlines()
    assert [line for line in lines if not line.startswith(" ")][-1].startswith("backend"), "backend must come last"
    kept = [line for line in lines if not line.strip().startswith(("server ", "bind "))]
    assert len(kept) == len(lines) - 3, "expected one bind line and two example servers"
    frontend = kept.index(next(line for line in kept if line.startswith("frontend")))
    kept.insert(frontend + 1, f"    bind 127.0.0.1:{port}")
    return "\n".join([*kept, *(f"    server r{i} 127.0.0.1:{server} check" for i, server in enumerate(servers))]) + "\n"


def require(binary: str, package: str) -> str:
    path = shutil.which(binary) or next(
        (p for p in (f"/usr/sbin/{binary}", f"/usr/bin/{binary}") if Path(p).exists()), None
    )
    if path:
        return path
    missing(f"{binary} is not installed (apt-get install {package})")
    raise AssertionError("unreachable: missing() fails or skips")


def missing(message: str) -> None:
    """Fail under CI, which installs everything these tests need; skip elsewhere, saying what to install."""
    if os.environ.get("CI") == "true":
        pytest.fail(message + ": CI must install it (.ci/run)")
    pytest.skip(message)


@contextmanager
def haproxy(replicas: Sequence[HttpServer], log_dir: Path) -> Iterator[int]:
    """HAProxy on a free loopback port, configured as the README says, over `replicas`; yields the port."""
    binary = require("haproxy", "haproxy")
    port = free_port()
    config = log_dir / "haproxy.cfg"
    config.write_text(haproxy_config(port, [replica.port for replica in replicas]))
    with (log_dir / "haproxy.log").open("wb") as log:
        process = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        HttpServer("http", process, port, log_dir).ready()
        yield port
    finally:
        stop_process(process)


@contextmanager
def redis_server(log_dir: Path) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port (no persistence); yields its URL."""
    binary = require("redis-server", "redis-server")
    if importlib.util.find_spec("redis") is None:
        missing("the redis Python package is not installed (pip install 'orq-mcp[redis]')")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with (log_dir / "redis.log").open("wb") as log:
        process = subprocess.Popen([*args, "--dir", str(log_dir)], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        HttpServer("http", process, port, log_dir).ready()  # waits for the port (or fails with the log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(process)
