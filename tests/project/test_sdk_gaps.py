"""Workarounds for gaps in the libraries we build on, each pinned: when a library closes its gap, the test
here fails, so the workaround gets deleted rather than outliving its reason.

- serving/stdio/transport.py runs MCPServer's private low-level server on our own streams: MCPServer has no public way
  to serve a connection over given streams.
- surface/live.py (connection_of) reads ServerSession's private connection to tell connections apart (it has no
  public one); toolsets/dynamic.py keys each session's toolsets on it.
- serving/http/connections.py subclasses uvicorn's h11 protocol for a header deadline: uvicorn has no such option.

And one cost with no way around it from outside the SDK, pinned so that its removal upstream is noticed (and the
benchmark rerun): over Streamable HTTP (the 2026-07-28 era), every notification a tool sends is handed from the
tool's task to the request's task through a zero-capacity memory stream (a rendezvous: two task switches, and
anyio's task lookup on both sides), and the request's task waits for each event in a new `move_on_after` (a cancel
scope and a timer armed and cancelled, for the keep-alive ping). In a py-spy profile of the bench's paced call
(40 notifications, c=1, at 202c055) the receive side alone is 6.8% of the server's Python CPU and the per-event
scopes 2.5%; measured alone (one task sending 20,000 events through a capacity-0 anyio stream to another that
receives each under `move_on_after`), 20 us of CPU per event against 0.1 us for a direct call: 0.8 ms of the ~32 ms
a 40-notification call costs. The upstream change: let the sink write events to the response itself (or buffer
them) and keep one ping deadline per stream, moved on each event.
"""

from __future__ import annotations

import inspect

import httpx2
import uvicorn
from mcp.server._streamable_http_modern import handle_modern_request  # the cost pinned below lives here
from mcp.server.mcpserver import MCPServer
from mcp.server.session import ServerSession
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

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


def test_streamable_http_still_hands_each_notification_over_a_rendezvous_under_a_fresh_timer() -> None:
    source = inspect.getsource(handle_modern_request)
    assert "create_memory_object_stream[bytes](0)" in source  # capacity 0: the tool's task waits for the writer
    writer_loop = source[source.index("while not done") :]
    assert "move_on_after(_SSE_PING_INTERVAL)" in writer_loop  # a new cancel scope and timer per event
    options = inspect.signature(StreamableHTTPSessionManager).parameters
    assert not [name for name in options if "buffer" in name or "writer" in name or "sink" in name]
