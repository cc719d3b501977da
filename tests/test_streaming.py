"""SSE parsing and chunk accumulation, driven by the reference transcripts behind MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest

from orq_mcp.orq.client import OrqClient, RetryPolicy
from orq_mcp.orq.errors import (
    AuthenticationError,
    InvalidResponseError,
    OrqConnectionError,
    RateLimitError,
    ServerError,
    StreamError,
    StreamInterruptedError,
)
from orq_mcp.orq.models import CompletionChunk
from orq_mcp.orq.streaming import CompletionAccumulator

DATA = Path(__file__).parent / "data"
TEXT = "Hi Priya, sorry for the wait! Your order should arrive by 4 April."
SSE = {"content-type": "text/event-stream"}
Handler = Callable[[httpx2.Request], httpx2.Response]


def transcript(name: str) -> str:
    return (DATA / name).read_text()


def events(sse: str) -> list[dict]:
    return [json.loads(line[6:]) for line in sse.splitlines() if line.startswith("data: {")]


def to_sse(chunks: list[dict], done: bool = True) -> str:
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)
    return body + ("data: [DONE]\n\n" if done else "")


def make_client(handler: Handler, retries: int = 2) -> OrqClient:
    http = httpx2.AsyncClient(base_url="https://orq.test", transport=httpx2.MockTransport(handler))
    return OrqClient(http, "sk-test", retry=RetryPolicy(max_retries=retries, initial_delay=0, max_delay=0))


def serve(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, text=body, headers=headers if headers is not None else SSE)

    return handler


async def invoke(body: str, **kwargs: object) -> tuple[object, list[str]]:
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    completion = await make_client(serve(body, **kwargs)).invoke({"key": "k"}, on_text=on_text)  # type: ignore[arg-type]
    return completion, pieces


async def test_text_transcript_gives_text_usage_and_ids() -> None:
    completion, pieces = await invoke(transcript("stream-chunks.sse"))
    assert completion.text == TEXT
    assert "".join(pieces) == TEXT
    assert pieces[:3] == ["Hi", " Priya", ","]
    assert completion.finish_reason == "stop"
    assert completion.usage == {"prompt_tokens": 118, "completion_tokens": 16, "total_tokens": 134}
    assert completion.id == "01JQ8ZT7V1X3Z5B7D9F2H4K6MN"
    assert completion.trace_id == "e4a1b7c90d2f3e58a6b1c4d7e0f29a83"
    assert (completion.model, completion.provider) == ("gpt-4o-mini", "openai")
    assert completion.tool_calls is None


async def test_tool_call_pieces_merge_and_the_final_restatement_is_not_doubled() -> None:
    completion, pieces = await invoke(transcript("stream-chunks-tool-calls.sse"))
    assert pieces == []
    assert completion.finish_reason == "tool_calls"
    assert completion.tool_calls == [
        {"id": "call_Xk29fQe81LmZ0pV7", "name": "lookup_order", "arguments": {"order_number": "NL-20391"}}
    ]


async def test_cumulative_content_is_recognised() -> None:
    chunks = events(transcript("stream-chunks.sse"))
    so_far = ""
    for chunk in chunks[:-1]:
        so_far += chunk["choices"][0]["message"]["content"]
        chunk["choices"][0]["message"]["content"] = so_far
    completion, pieces = await invoke(to_sse(chunks))
    assert completion.text == TEXT
    assert "".join(pieces) == TEXT


def test_a_final_chunk_restating_the_whole_text_is_not_appended_twice() -> None:
    accumulator = CompletionAccumulator()
    for content in ["Hel", "lo"]:
        accumulator.feed(CompletionChunk.model_validate({"choices": [{"message": {"content": content}}]}))
    final = {"is_final": True, "choices": [{"finish_reason": "stop", "message": {"content": "Hello"}}]}
    assert accumulator.feed(CompletionChunk.model_validate(final)) == ""
    assert accumulator.text == "Hello"


def test_repeated_delta_tokens_are_kept() -> None:
    accumulator = CompletionAccumulator()
    for content in ["-", "-", "-", " a", " a"]:
        accumulator.feed(CompletionChunk.model_validate({"choices": [{"message": {"content": content}}]}))
    assert accumulator.text == "--- a a"


def test_unknown_fields_and_enum_values_do_not_break_parsing() -> None:
    chunk = CompletionChunk.model_validate(
        {
            "provider": "brand-new-provider",
            "object": "something-new",
            "surprise": {"nested": True},
            "choices": [{"message": {"type": "future_type", "content": "ok", "extra": 1}}],
        }
    )
    accumulator = CompletionAccumulator()
    assert accumulator.feed(chunk) == "ok"
    assert accumulator.result().provider == "brand-new-provider"


async def test_error_event_mid_stream_raises_with_the_partial_text() -> None:
    with pytest.raises(StreamError) as caught:
        await invoke(transcript("stream-error-midstream.sse"))
    assert caught.value.code == "provider_error"
    assert "Upstream provider closed the connection" in caught.value.message
    assert caught.value.partial_text == "The answer is"


async def test_stream_cut_short_without_done_or_final_chunk() -> None:
    chunks = events(transcript("stream-chunks.sse"))[:4]
    with pytest.raises(StreamInterruptedError) as caught:
        await invoke(to_sse(chunks, done=False))
    assert caught.value.partial_text == "Hi Priya, sorry"


async def test_final_chunk_without_done_is_complete() -> None:
    completion, _ = await invoke(to_sse(events(transcript("stream-chunks.sse")), done=False))
    assert completion.text == TEXT


async def test_malformed_chunk_json() -> None:
    body = to_sse(events(transcript("stream-chunks.sse"))[:2], done=False) + "data: {not json\n\n"
    with pytest.raises(InvalidResponseError) as caught:
        await invoke(body)
    assert caught.value.partial_text == "Hi Priya"


async def test_crlf_comments_and_multiline_data_are_tolerated() -> None:
    chunks = events(transcript("stream-chunks.sse"))
    first = json.dumps(chunks[0], indent=1).splitlines()
    body = ": keep-alive\r\n" + "".join(f"data: {line}\r\n" for line in first) + "\r\n"
    body += to_sse(chunks[1:]).replace("\n", "\r\n")
    completion, _ = await invoke(body)
    assert completion.text == TEXT


async def test_a_json_answer_from_the_stream_endpoint_is_accepted() -> None:
    body = (DATA / "invoke-response.json").read_text()
    completion, pieces = await invoke(body, headers={"content-type": "application/json"})
    assert completion.text.startswith("Hi Priya, sorry for the wait! Order NL-20391")
    assert pieces == [completion.text]
    assert completion.usage is not None
    assert completion.usage["total_tokens"] == 159


class Recorder:
    """A fake orq that answers from a script of responses (or exceptions) and counts requests."""

    def __init__(self, *script: httpx2.Response | Exception) -> None:
        self.script = list(script)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, Exception):
            raise step
        return step


def ok_stream() -> httpx2.Response:
    return httpx2.Response(200, text=transcript("stream-chunks.sse"), headers=SSE)


def rate_limited(retry_after: str = "0") -> httpx2.Response:
    return httpx2.Response(429, content=(DATA / "error-429.json").read_bytes(), headers={"retry-after": retry_after})


async def test_stream_retries_a_429_because_nothing_started() -> None:
    fake = Recorder(rate_limited(), ok_stream())
    completion = await make_client(fake).invoke({"key": "k"})
    assert completion.text == TEXT
    assert len(fake.requests) == 2


async def test_stream_retries_when_the_connection_was_never_made() -> None:
    fake = Recorder(httpx2.ConnectError("refused"), ok_stream())
    completion = await make_client(fake).invoke({"key": "k"})
    assert completion.text == TEXT
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("step", "error"),
    [
        (httpx2.Response(500, json={"code": "500", "message": "Internal Server Error"}), ServerError),
        (httpx2.Response(401, json={"message": "Invalid API key"}), AuthenticationError),
        (httpx2.ReadTimeout("slow"), Exception),
        (httpx2.RemoteProtocolError("dropped"), Exception),
    ],
)
async def test_stream_is_not_retried_once_orq_may_have_started(step: object, error: type[Exception]) -> None:
    fake = Recorder(step, ok_stream())  # type: ignore[arg-type]
    with pytest.raises(error):
        await make_client(fake).invoke({"key": "k"})
    assert len(fake.requests) == 1


async def test_stream_gives_up_after_the_retry_budget() -> None:
    fake = Recorder(rate_limited())
    with pytest.raises(RateLimitError):
        await make_client(fake, retries=2).invoke({"key": "k"})
    assert len(fake.requests) == 3


async def test_a_long_retry_after_is_reported_instead_of_waited() -> None:
    fake = Recorder(rate_limited("120"), ok_stream())
    with pytest.raises(RateLimitError) as caught:
        await make_client(fake).invoke({"key": "k"})
    assert caught.value.retry_after == 120
    assert len(fake.requests) == 1


async def test_connection_refused_everywhere_is_a_connection_error() -> None:
    fake = Recorder(httpx2.ConnectError("refused"))
    with pytest.raises(OrqConnectionError) as caught:
        await make_client(fake).invoke({"key": "k"})
    assert not caught.value.request_sent
    assert "orq.test" not in str(caught.value)


async def test_stream_request_shape() -> None:
    fake = Recorder(ok_stream())
    await make_client(fake).invoke({"key": "support-triage", "inputs": {"a": 1}})
    request = fake.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/v2/deployments/stream"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["accept"] == "text/event-stream"
    assert json.loads(request.content) == {"key": "support-triage", "inputs": {"a": 1}, "stream": True}


async def test_a_connection_cut_mid_event_is_an_interruption_not_bad_data() -> None:
    body = to_sse(events(transcript("stream-chunks.sse"))[:3], done=False) + 'data: {"id":"01JQ8ZT7V1X3Z5B'
    with pytest.raises(StreamInterruptedError) as caught:
        await invoke(body)
    assert caught.value.partial_text == "Hi Priya,"
