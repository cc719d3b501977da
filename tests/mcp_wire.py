"""Speaking handshake-era MCP over raw HTTP, for tests about the wire itself: event ids, drops, resumes."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2

VERSION = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
QUESTION = "How long does shipping to Germany take, and can I return a bike after a test ride?"


@dataclass(frozen=True)
class Sse:
    id: str | None
    data: str
    retry: int | None


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[Sse]:
    event_id, data, retry = None, [], None
    async for line in lines:
        if line == "":
            if event_id is not None or data:
                yield Sse(event_id, "\n".join(data), retry)
            event_id, data, retry = None, [], None
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "id":
            event_id = value
        elif name == "data":
            data.append(value)
        elif name == "retry":
            retry = int(value)


class Session:
    """One handshake-era MCP session spoken by hand."""

    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url
        self.id = ""

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Accept": ACCEPT, "MCP-Protocol-Version": VERSION, "Mcp-Session-Id": self.id, **extra}

    async def open(self) -> None:
        params = {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "resume-test", "version": "1"}}
        message = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
        response = await self.http.post(self.url, json=message, headers={"Accept": ACCEPT})
        assert response.status_code == 200, response.text
        self.id = response.headers["mcp-session-id"]
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await self.http.post(self.url, json=initialized, headers=self.headers())).status_code == 202


def invoke(request_id: int) -> dict[str, Any]:
    arguments = {"key": "faq-assistant", "messages": [{"role": "user", "content": QUESTION}]}
    params = {"name": "invoke_deployment", "arguments": arguments, "_meta": {"progressToken": "p"}}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def messages(events: list[Sse]) -> list[dict[str, Any]]:
    return [json.loads(e.data) for e in events if e.data]


async def call_and_drop(session: Session, request_id: int, after_messages: int) -> list[Sse]:
    """POST an invocation and drop the connection once `after_messages` messages have arrived."""
    events: list[Sse] = []
    async with session.http.stream("POST", session.url, json=invoke(request_id), headers=session.headers()) as response:
        assert response.status_code == 200
        async for event in sse_events(response.aiter_lines()):
            events.append(event)
            if sum(1 for e in events if e.data) >= after_messages:
                break  # leaving the block drops the connection mid-generation
    return events


async def resume(session: Session, url: str, last_event_id: str, request_id: int) -> list[Sse]:
    """GET `url` with Last-Event-ID: the events until the request's answer, or until the server ends the stream."""
    events: list[Sse] = []
    headers = session.headers(**{"Last-Event-ID": last_event_id})
    async with session.http.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        async for event in sse_events(response.aiter_lines()):
            events.append(event)
            if any(m.get("id") == request_id for m in messages([event])):
                break
    return events


def assert_every_piece_once(before: list[Sse], after: list[Sse], request_id: int) -> None:
    """The progress pieces of both connections add up to the answer's text, none twice, some after the resume."""
    received = messages(before) + messages(after)
    progress = [m["params"] for m in received if m.get("method") == "notifications/progress"]
    result = next(m["result"] for m in received if m.get("id") == request_id)
    values = [p["progress"] for p in progress]
    assert all(later > earlier for earlier, later in itertools.pairwise(values)), values  # none twice
    assert "".join(p["message"] for p in progress) == result["structuredContent"]["text"]  # none missing
    assert len(messages(after)) >= 2  # the drop happened mid-way: some pieces came only after resuming
