"""`--workers N`: N server processes answering on one listening socket.

The parent binds the socket once and spawns N processes that all accept on it; the kernel hands
each new connection to one of them. Every worker is a whole server (its own orq connection pool,
caches and tenant directory); they share only the port and the token throttle's buckets (one guessing
budget per address, in shared memory: see http/shared_buckets.py). Handshake-era MCP sessions live
in the memory of the process that created them, and a client's next connection may reach another
worker, so workers serve those requests statelessly (see `Settings.sessionless`); the 2026-07-28
protocol is stateless anyway. The parent only supervises: it restarts a worker that dies and
stops them all when it is told to stop.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.process import BaseProcess

import anyio

from orq_mcp.config.settings import Settings
from orq_mcp.serving.http.connections import SHUTDOWN_GRACE
from orq_mcp.serving.http.listen import bind
from orq_mcp.serving.http.shared_buckets import SharedBuckets
from orq_mcp.serving.http.throttle import MAX_TRACKED_ADDRESSES
from orq_mcp.serving.logs import configure_logging
from orq_mcp.serving.serve import serve

logger = logging.getLogger(__name__)

CHECK_INTERVAL = 0.5
# A worker told to stop drains its requests for SHUTDOWN_GRACE seconds; after a little more it is killed.
STOP_TIMEOUT = SHUTDOWN_GRACE + 5.0
# A worker that dies this soon after starting, this many times in a row, will not start: give up.
EARLY_DEATH = 5.0
MAX_EARLY_DEATHS = 5
PR_SET_PDEATHSIG = 1  # linux/prctl.h


async def run_workers(settings: Settings) -> None:
    """Spawn `settings.workers` servers on one socket and supervise them until SIGTERM/SIGINT.

    The socket is bound the one way every HTTP server binds it (http/listen.py): a busy port raises PortInUse
    before any worker starts, which the command line answers with one clear line.
    """
    sock = bind(settings.host, settings.port)
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no event loop or threads inherited
    # Each worker serves the resolved settings: a --sandbox emulator, if any, is the parent's, shared by all.
    child = settings.model_copy(update={"sandbox": False})
    # One guessing budget per address for all of them: else N workers would allow N times the guesses.
    failures = SharedBuckets(context, MAX_TRACKED_ADDRESSES)

    def spawn() -> tuple[BaseProcess, float]:
        process = context.Process(target=worker_main, args=(child, sock, failures, os.getpid()), daemon=True)
        process.start()
        return process, time.monotonic()

    workers = [spawn() for _ in range(settings.workers)]
    logger.info("Started %d workers on %s:%d", len(workers), settings.host, settings.port)
    early_deaths = 0
    try:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with anyio.create_task_group() as tg:

                async def stop_on_signal() -> None:
                    async for _ in signals:
                        tg.cancel_scope.cancel()

                tg.start_soon(stop_on_signal)
                while True:
                    for slot, (process, started) in enumerate(workers):
                        if process.is_alive():
                            continue
                        early_deaths = early_deaths + 1 if time.monotonic() - started < EARLY_DEATH else 0
                        if early_deaths >= MAX_EARLY_DEATHS:
                            raise RuntimeError("orq-mcp workers keep exiting at start; see the log above")
                        logger.warning("Worker %s exited with %s; starting another", process.pid, process.exitcode)
                        workers[slot] = spawn()
                    await anyio.sleep(CHECK_INTERVAL)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(stop_all, [process for process, _ in workers])
        sock.close()


def stop_all(processes: list[BaseProcess]) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()  # uvicorn drains and exits on SIGTERM
    deadline = time.monotonic() + STOP_TIMEOUT
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def worker_main(settings: Settings, sock: socket.socket, failures: SharedBuckets, supervisor: int) -> None:
    """One worker: a whole server on the inherited socket, counting refusals in the shared buckets.

    `supervisor` is the parent's pid as the parent knew it: a spawned interpreter takes a second or more to get
    here, and a supervisor killed meanwhile is no longer this process's parent (so no signal will come).
    """
    _stop_with_parent()
    if os.getppid() != supervisor:  # it died before the request above took effect: nobody to serve for
        return
    configure_logging(settings)
    anyio.run(serve, settings, [sock], failures)


def _stop_with_parent() -> None:
    """Ask Linux to SIGTERM this worker when the supervisor dies, however it dies (even SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere a killed supervisor leaves its workers serving until they are stopped
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
