"""Small ASGI helpers shared by the HTTP guards."""

from __future__ import annotations

from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope


async def read_body(receive: Receive, limit: int) -> tuple[bytes | None, Receive]:
    """The request body (None past `limit`), and a `receive` that replays what was read."""
    read: list[Message] = []
    size, complete = 0, False
    while not complete and size <= limit:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        complete = not message.get("more_body", False)

    async def replay() -> Message:
        return read.pop(0) if read else await receive()

    body = b"".join(m.get("body", b"") for m in read if m["type"] == "http.request")
    return (body if complete and size <= limit else None), replay


def handshake_era_post(scope: Scope) -> Headers | None:
    """The headers of an HTTP POST on a handshake-era protocol version (the SDK's 2025 entry); else None."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    headers = Headers(scope=scope)
    return None if headers.get("mcp-protocol-version") in MODERN_PROTOCOL_VERSIONS else headers
