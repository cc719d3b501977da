"""Workarounds for gaps in the libraries we build on, each pinned: when a library closes its gap, the test
here fails, so the workaround gets deleted rather than outliving its reason.

- serving/stdio/transport.py runs MCPServer's private low-level server on our own streams: MCPServer has no public way
  to serve a connection over given streams.
- surface/live.py reads ServerSession's private connection to tell connections apart: it has no public one.
- serving/http/connections.py subclasses uvicorn's h11 protocol for a header deadline: uvicorn has no such option.
"""

from __future__ import annotations

import inspect

import httpx2
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.session import ServerSession

from orq_mcp.config.settings import Settings
from orq_mcp.surface.server import create_server


def test_mcpserver_still_has_no_public_way_to_serve_given_streams() -> None:
    public = {name for name in dir(MCPServer) if not name.startswith("_")}
    assert not public & {"lowlevel_server", "lowlevel", "run_streams", "run_connection", "serve_streams"}
    assert list(inspect.signature(MCPServer.run_stdio_async).parameters) == ["self"]
    server = create_server(Settings(sandbox=True), http_client=httpx2.AsyncClient())
    assert hasattr(server, "_lowlevel_server")  # what serving/stdio/transport.py relies on


def test_server_session_still_has_no_public_connection() -> None:
    assert not hasattr(ServerSession, "connection")
    assert "connection" in inspect.signature(ServerSession.__init__).parameters  # what live.py reads, privately


def test_uvicorn_still_has_no_request_header_deadline() -> None:
    options = inspect.signature(uvicorn.Config).parameters
    assert not [name for name in options if "header" in name and "timeout" in name]
    assert "timeout_request" not in options
