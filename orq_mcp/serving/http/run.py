"""Serving the HTTP app under uvicorn: on the socket bound first (listen.py) or inherited (a worker's), with the
connection caps and deadlines, draining on stop."""

from __future__ import annotations

import asyncio
import logging
import math
import socket
from typing import TYPE_CHECKING

import uvicorn

from orq_mcp import __version__
from orq_mcp.config.settings import Settings, is_loopback
from orq_mcp.serving.http.app import PATHS, build_http_app
from orq_mcp.serving.http.connections import (
    SHUTDOWN_BACKSTOP,
    SHUTDOWN_GRACE,
    Drain,
    DrainingServer,
    FdExhaustionLog,
    connection_cap,
    guarded_protocol,
)
from orq_mcp.serving.http.listen import bind
from orq_mcp.serving.http.throttle import Buckets

if TYPE_CHECKING:
    from orq_mcp.surface.server import OrqMCPServer

logger = logging.getLogger("orq_mcp")


async def serve_http(
    server: OrqMCPServer,
    settings: Settings,
    sockets: list[socket.socket] | None = None,
    failures: Buckets | None = None,
) -> None:
    """Serve `server` over HTTP until stopped; a busy port raises PortInUse before anything is announced."""
    warn_about_exposure(settings)
    app = Drain(build_http_app(server, settings, failures), SHUTDOWN_GRACE)
    path = PATHS[settings.transport]

    # A worker is handed its listening socket; otherwise bind first, so a busy port stops here, before anything
    # is announced.
    owned = [bind(settings.host, settings.port)] if sockets is None else []
    sockets = sockets or owned
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our stderr handler (with redaction) formats uvicorn's records too
        log_level="debug" if settings.verbose else "info",
        access_log=settings.verbose,  # a line per request is the client's to fill the disk with
        lifespan="on",
        # Connections over the cap are closed when accepted; headers must arrive within request_timeout.
        http=guarded_protocol(settings.request_timeout, connection_cap(settings.max_connections)),
        timeout_keep_alive=5,  # an idle keep-alive connection is closed after 5 s
        timeout_graceful_shutdown=math.ceil(SHUTDOWN_BACKSTOP),  # Drain ends the requests in flight before this
        h11_max_incomplete_event_size=16 * 1024,  # request line and headers: at most 16 KiB
    )
    FdExhaustionLog().install(asyncio.get_running_loop())
    where = f"http://{settings.host}:{sockets[0].getsockname()[1]}{path}"
    logger.info("orq-mcp %s serving %s on %s", __version__, settings.transport, where)
    try:
        await DrainingServer(config, app).serve(sockets=sockets)
    finally:
        for sock in owned:
            sock.close()


def warn_about_exposure(settings: Settings) -> None:
    if settings.allow_remote and not is_loopback(settings.host):
        if settings.auth_token or settings.multi_tenant:
            guard = "bearer token required"
        elif settings.query_config:
            guard = "each connection brings its own orq key; the server's own key is not used"
        else:
            guard = "NO access control"
        logger.warning(
            "Listening on %s: reachable from other machines (%s). Anyone who can connect can invoke "
            "deployments on your orq account.",
            settings.host,
            guard,
        )
