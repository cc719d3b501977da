"""A small MCP server on orq-mcp's stdio transport whose tools misbehave, for tests/serving/test_stdio.py.

Run as a script: `python tests/stdio_app.py`. It needs no orq key and no emulator: what is under
test is the transport (orq_mcp.serving.stdio.transport), not the orq tools.
"""

from __future__ import annotations

import os
import subprocess
import sys

import anyio
from mcp.server.mcpserver import MCPServer

from orq_mcp.orq.redact import Redactor
from orq_mcp.serving.stdio.transport import serve_stdio

STRAY = ("stray print", "stray unflushed print", "stray raw write", "stray child output")


def build() -> MCPServer:
    app = MCPServer("stdio-app")

    @app.tool()
    def shout() -> str:
        """Write to stdout every way a tool, a library or a child process might."""
        print(STRAY[0], flush=True)
        print(STRAY[1])  # left in sys.stdout's buffer, flushed whenever Python gets to it
        os.write(1, STRAY[2].encode() + b"\n")
        subprocess.run([sys.executable, "-c", f"print({STRAY[3]!r})"], check=True)
        return "shouted"

    @app.tool()
    def echo(text: str) -> str:
        """The text, back."""
        return text

    return app


if __name__ == "__main__":
    anyio.run(serve_stdio, build(), Redactor([]))
