"""The protocol's own copies of stdin and stdout, non-blocking, with stray writes kept off the wire.

Like the SDK's stdio transport, fd 1 is pointed at stderr and fd 0 at the null device while we
serve, so a stray `print` (ours, a library's, a child process's) cannot corrupt the protocol; the
protocol uses private descriptors instead. Unlike it, those descriptors are non-blocking, so the
event loop reads and writes them itself instead of handing every call to a worker thread.

O_NONBLOCK belongs to the open file description, which a dup shares with everyone holding the
same pipe. Where Linux allows it, the pipe or terminal is opened anew (its own description), so
the flag touches nobody else; otherwise the flag is set on the shared description, restored on
exit, and given up if it would also make our stderr non-blocking (a `2>&1` launch), since a
logging write must never fail with EAGAIN.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import sys
from collections.abc import Callable, Iterator

NONBLOCK_CLAIM_FAILED = "cannot make the standard streams non-blocking without affecting stderr"


class WireUnavailable(OSError):
    """The standard streams cannot be served without blocking; use the SDK's threaded transport."""


@contextlib.contextmanager
def claim_wire() -> Iterator[tuple[int, int]]:
    """Private non-blocking descriptors (in, out) for the protocol, fd 0 and 1 diverted meanwhile."""
    with contextlib.ExitStack() as stack:
        wire_in = stack.enter_context(_private(0, os.O_RDONLY))
        wire_out = stack.enter_context(_private(1, os.O_WRONLY))
        stack.enter_context(_diverted(0, lambda: os.open(os.devnull, os.O_RDONLY)))
        stack.enter_context(_diverted(1, _stderr_or_null))
        yield wire_in, wire_out


@contextlib.contextmanager
def _private(fd: int, mode: int) -> Iterator[int]:
    try:
        kind = os.fstat(fd).st_mode
    except OSError as exc:
        raise WireUnavailable(f"fd {fd} is not open") from exc
    restore = None
    private = None if stat.S_ISREG(kind) else _reopen(fd, mode)
    if private is None:
        private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
        if not stat.S_ISREG(kind):  # a regular file never blocks: its flags can stay as they are
            restore = _share_nonblocking(private)
    try:
        yield private
    finally:
        if restore is not None:
            restore()
        os.close(private)


def _reopen(fd: int, mode: int) -> int | None:
    """The same pipe or terminal under a description of our own (Linux); None where that is impossible."""
    if not os.path.isdir("/proc/self/fd"):
        return None
    try:
        # A socket cannot be opened this way (ENXIO); a pipe or a terminal can.
        private = os.open(f"/proc/self/fd/{fd}", mode | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    if private > 2:
        return private
    # Only when a standard descriptor was closed at launch: keep clear of the range we divert.
    moved = fcntl.fcntl(private, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(private)
    return moved


def _share_nonblocking(fd: int) -> Callable[[], None]:
    """Set O_NONBLOCK on a shared description; the undo. Refused if stderr shares it too."""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    stderr_flags = _flags_or_none(2)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)

    def restore() -> None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETFL, flags)

    if _flags_or_none(2) != stderr_flags:
        restore()
        os.close(fd)
        raise WireUnavailable(NONBLOCK_CLAIM_FAILED)
    return restore


def _flags_or_none(fd: int) -> int | None:
    try:
        return fcntl.fcntl(fd, fcntl.F_GETFL)
    except OSError:
        return None


def _stderr_or_null() -> int:
    try:
        return os.dup(2)
    except OSError:
        return os.open(os.devnull, os.O_WRONLY)


@contextlib.contextmanager
def _diverted(fd: int, open_diversion: Callable[[], int]) -> Iterator[None]:
    saved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    diversion = open_diversion()
    os.dup2(diversion, fd)
    os.close(diversion)
    try:
        yield
    finally:
        if fd == 1:
            # A stray print still in sys.stdout's buffer belongs to stderr, not to the restored wire.
            with contextlib.suppress(OSError, ValueError):
                sys.stdout.flush()
        os.dup2(saved, fd)
        os.close(saved)
