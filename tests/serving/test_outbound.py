"""The exit every answer passes (serving/outbound.py), on its own: streams cut anywhere, escapes, failing closed.

The end-to-end tests (test_secrets.py, test_key_leaks.py) show nothing leaves a real server; these show the
exit's edges with hand-made responses.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCNotification, JSONRPCRequest

from orq_mcp.orq.redact import REPLACEMENT, Redactor
from orq_mcp.serving.http.memory_events import MemoryEventStore
from orq_mcp.serving.http.resume import SessionScope
from orq_mcp.serving.outbound import WITHHELD, ScrubbedEventStore, ScrubbedResponses, ScrubbedWriteStream, scrub_json
from tests.conftest import API_KEY

REDACTOR = Redactor([API_KEY])


async def served(app: Any, redactor: Redactor = REDACTOR) -> tuple[list[dict[str, Any]], bytes]:
    """Run `app` behind the exit for one GET; what it sent, and the body bytes joined."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/mcp", "headers": [], "query_string": b""}
    await ScrubbedResponses(app, lambda scope: redactor)(scope, receive, send)
    return sent, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def streaming(chunks: list[bytes]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


def answering(body: bytes, content_type: bytes = b"application/json") -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.mark.parametrize("cut", [1, 7, 40, 55, 61, 70])
async def test_a_key_cut_between_stream_chunks_is_scrubbed(cut: int) -> None:
    event = {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"message": f"key {API_KEY} here"}}
    frame = f"event: message\r\ndata: {json.dumps(event)}\r\n\r\n".encode()
    _, body = await served(streaming([frame[:cut], frame[cut:], b": ping\r\n\r\n"]))
    text = body.decode()
    assert API_KEY[:12] not in text
    assert REPLACEMENT in text
    data = next(line for line in text.split("\r\n") if line.startswith("data: "))
    assert json.loads(data.removeprefix("data: "))["params"]["message"] == f"key {REPLACEMENT} here"
    assert text.endswith(": ping\r\n\r\n")


async def test_a_json_answer_is_scrubbed_and_its_length_follows() -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"text": f"the key is {API_KEY}"}}).encode()
    sent, out = await served(answering(body))
    start = sent[0]
    assert dict(start["headers"])[b"content-length"] == str(len(out)).encode()
    assert json.loads(out)["result"]["text"] == f"the key is {REPLACEMENT}"


async def test_an_answer_with_no_key_goes_out_as_it_was() -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"text": "nothing secret here " * 1000}}).encode()
    _, out = await served(answering(body))
    assert out == body


async def test_an_answer_too_deep_to_scrub_is_withheld() -> None:
    deep = ("[" * 50_000 + json.dumps(API_KEY) + "]" * 50_000).encode()
    sent, out = await served(answering(deep))
    assert sent[0]["status"] == 500
    assert json.loads(out)["error"]["message"] == WITHHELD
    assert API_KEY.encode() not in out


def test_a_secret_json_would_escape_is_found_through_the_escapes() -> None:
    quoted = 'sk-orq-"quoted"-key-0123456789'
    redactor = Redactor([quoted])
    assert not redactor.literal_in_json
    text = json.dumps({"message": f"bad key {quoted}"})  # the quotes appear escaped: \"quoted\"
    assert json.loads(scrub_json(text, redactor)) == {"message": f"bad key {REPLACEMENT}"}


def test_json_as_the_server_writes_it_shows_a_key_literally() -> None:
    """The exit's first look is at the text: sound because the JSON writers the server uses escape none of a key's
    characters (letters, digits, - . _ ~ + / =), whatever surrounds it."""
    params = {"message": f'é\n"{API_KEY}"\u2028', API_KEY: [API_KEY]}
    message = JSONRPCNotification(jsonrpc="2.0", method="notifications/message", params=params)
    for text in (json.dumps(params), json.dumps(params, ensure_ascii=False), message.model_dump_json()):
        assert API_KEY in text
        scrubbed = scrub_json(text, REDACTOR)
        assert API_KEY[:12] not in scrubbed
        assert REPLACEMENT in json.loads(scrubbed).get("params", json.loads(scrubbed))["message"]
    assert scrub_json(f"Accepted {API_KEY}", REDACTOR) == f"Accepted {REPLACEMENT}"  # text that is not JSON


async def test_the_event_store_keeps_what_it_is_given_scrubbed() -> None:
    store = MemoryEventStore()
    notification = JSONRPCNotification(jsonrpc="2.0", method="notifications/message", params={"data": API_KEY})
    replayed: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scrubbed = ScrubbedEventStore(store, Redactor([]))
        first = await scrubbed.store_event("1", notification)
        await scrubbed.store_event("1", notification)

        async def keep(event: Any) -> None:
            replayed.append(event.message)

        await scrubbed.replay_events_after(first, keep)
        await answering(b"{}")(scope, receive, send)

    await served(SessionScope(app))
    (message,) = replayed
    assert message.model_dump()["params"] == {"data": REPLACEMENT}


async def test_the_stdio_exit_scrubs_each_message_written() -> None:
    send, receive = anyio.create_memory_object_stream[SessionMessage](2)
    request = JSONRPCRequest(jsonrpc="2.0", id=3, method="elicitation/create", params={"message": f"key {API_KEY}"})
    async with ScrubbedWriteStream(send, REDACTOR) as stream:
        await stream.send(SessionMessage(request))
        await stream.send(SessionMessage(JSONRPCNotification(jsonrpc="2.0", method="notifications/initialized")))
    first, second = receive.receive_nowait(), receive.receive_nowait()
    receive.close()
    assert first.message.model_dump()["params"] == {"message": f"key {REPLACEMENT}"}
    assert second.message.method == "notifications/initialized"


async def test_a_data_line_holding_a_line_separator_stays_one_json_document() -> None:
    event = {"jsonrpc": "2.0", "id": 2, "result": {"text": f"a\u2028b\x85c {API_KEY}"}}
    frame = f"event: message\ndata: {json.dumps(event, ensure_ascii=False)}\n\n".encode()
    _, body = await served(streaming([frame]))
    data = next(line for line in body.decode().split("\n") if line.startswith("data: "))
    assert json.loads(data.removeprefix("data: "))["result"]["text"] == f"a\u2028b\x85c {REPLACEMENT}"
