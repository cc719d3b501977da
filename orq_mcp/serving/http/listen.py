"""The listening socket for the HTTP transports, bound before anything is served, so a busy port is one clear line."""

from __future__ import annotations

import errno
import socket
import sys


class PortInUse(OSError):
    """Another program already listens on the address; the message says how to choose another port."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            errno.EADDRINUSE,
            f"port {port} on {host} is already in use (another orq-mcp, or another program). "
            "Choose a free port with --port N or ORQ_MCP_PORT=N",
        )
        self.host = host
        self.port = port

    def __str__(self) -> str:
        return str(self.strerror)


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port), not yet listening; uvicorn listens on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off only on connections of a socket that says TCP, and
    # with it on every answer written in two parts (headers, body) waited 40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    # On POSIX, SO_REUSEADDR only skips TIME_WAIT leftovers of a previous run; on Windows it would let two servers
    # share the port, so there it stays off.
    if sys.platform != "win32":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", errno.EADDRINUSE)):
            raise PortInUse(host, port) from None
        raise
    sock.set_inheritable(True)
    return sock
