"""One server process: the connection to orq made as the settings ask, the MCP server over it, and the transport
the settings name, until stopped. A worker (workers.py) runs it on the socket and throttle buckets it inherits."""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING

from orq_mcp import __version__
from orq_mcp.config.settings import Settings
from orq_mcp.serving.upstream import orq_http
from orq_mcp.surface.server import create_server

if TYPE_CHECKING:
    from orq_mcp.serving.http.throttle import Buckets

logger = logging.getLogger("orq_mcp")


async def serve(
    settings: Settings, sockets: list[socket.socket] | None = None, failures: Buckets | None = None
) -> None:
    """Serve until stopped. The transports are imported when chosen: stdio needs none of the HTTP stack."""
    async with orq_http(settings) as http:
        server = create_server(settings, http_client=http)
        if settings.transport == "stdio":
            from orq_mcp.serving.stdio.transport import EOF_SLACK, serve_stdio

            logger.info("orq-mcp %s serving on stdio", __version__)
            await serve_stdio(server, server.redactors.server, answer_within=settings.invoke_timeout + EOF_SLACK)
            return
        from orq_mcp.serving.http.run import serve_http

        await serve_http(server, settings, sockets, failures)
