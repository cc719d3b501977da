"""Running the real `python -m orq_mcp` as a process, for the tests that cross a process or a socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

STARTUP_TIMEOUT = 30.0
MODULE = [sys.executable, "-m", "orq_mcp"]
PATHS = {"http": "/mcp", "sse": "/sse"}


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ORQ_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORQ_")}
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class HttpServer:
    """A `--transport http|sse` server process on a loopback port, its output in `log_dir`."""

    transport: str
    process: subprocess.Popen[bytes]
    port: int
    log_dir: Path

    @classmethod
    def start(
        cls, transport: str, env: dict[str, str], log_dir: Path, args: Sequence[str] = (), host: str = "127.0.0.1"
    ) -> HttpServer:
        """Spawn the server (without waiting: call `ready()` before the first request)."""
        port = free_port()
        command = [*MODULE, *args, "--transport", transport, "--host", host, "--port", str(port)]
        with (log_dir / "stdout.log").open("wb") as out, (log_dir / "stderr.log").open("wb") as err:
            process = subprocess.Popen(command, env=clean_env(**env), stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        return cls(transport, process, port, log_dir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATHS[self.transport]}"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / "stderr.log"

    def stderr(self) -> str:
        return read_log(self.stderr_path)

    def stdout(self) -> str:
        return read_log(self.log_dir / "stdout.log")

    def ready(self) -> HttpServer:
        """Wait until the port accepts connections; fail with the server's stderr if it never does."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"orq-mcp exited with {self.process.returncode} before serving:\n{self.stderr()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"orq-mcp did not listen on {self.port} within {STARTUP_TIMEOUT}s:\n{self.stderr()}")
                time.sleep(0.05)

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
