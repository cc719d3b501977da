"""The upstream call both floors make: the same request as orq-mcp, its text relayed per network read.

POST /v2/deployments/stream with httpx2 (same body and headers as orq-mcp), SSE read to [DONE]. `on_text` is
called once per block of bytes the socket delivered, with the text of every chunk in it: what arrives together is
sent together, the way orq-mcp's relay batches what arrives while a notification is being sent. So the floors
send about as many progress notifications as orq-mcp does (the overhead table shows the counts), not one per
chunk, which would make them slower than the code they are a floor for. Imports nothing from orq_mcp.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2

OnText = Callable[[int, str], Awaitable[None]]  # (characters so far, new text)


async def stream_text(http: httpx2.AsyncClient, arguments: dict[str, Any], on_text: OnText | None) -> str:
    body = {**arguments, "invoke_options": {"include_usage": True}, "stream": True}
    headers = {"Authorization": f"Bearer {os.environ['ORQ_API_KEY']}", "Accept": "text/event-stream"}
    text: list[str] = []
    chars, rest, done = 0, "", False
    async with http.stream("POST", "/v2/deployments/stream", json=body, headers=headers) as response:
        response.raise_for_status()
        async for block in response.aiter_text():  # drained to the end: the connection goes back to the pool
            if done:
                continue
            *lines, rest = (rest + block).split("\n")
            new: list[str] = []
            for line in lines:
                if line.rstrip("\r") == "data: [DONE]":
                    done = True
                    break
                if line.startswith("data: "):
                    content = json.loads(line[6:])["choices"][0]["message"].get("content")
                    if isinstance(content, str) and content:
                        new.append(content)
            if new:
                piece = "".join(new)
                text.append(piece)
                chars += len(piece)
                if on_text is not None:
                    await on_text(chars, piece)
    return "".join(text)
