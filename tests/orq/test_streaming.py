"""SSE parsing and chunk accumulation, driven by the reference transcripts behind MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx2
import pytest

from orq_mcp.orq.client import OrqClient, RetryPolicy
from orq_mcp.orq.errors import (
    AuthenticationError,
    InvalidResponseError,
    OrqConnectionError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    StreamError,
    StreamInterruptedError,
)
from orq_mcp.orq.models import CompletionChunk
from orq_mcp.orq.streaming import CompletionAccumulator
from tests.paths import DATA

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


def feed_all(*chunks: dict) -> CompletionAccumulator:
    accumulator = CompletionAccumulator()
    for chunk in chunks:
        accumulator.feed(CompletionChunk.model_validate(chunk))
    return accumulator


def content(text: str, *, final: bool = False) -> dict:
    return {"is_final": final, "choices": [{"message": {"type": "content", "content": text}}]}


@pytest.mark.parametrize(
    ("pieces", "text"),
    [
        (["6", "66", "6"], "6666"),  # the adaptive guess read "66" as a restatement and gave "666"
        (["ha", "haha", "!"], "hahaha!"),  # issue 10 says "hahahaha!", but "ha"+"haha"+"!" is this
        (["-", "-", "-", " a", " a"], "--- a a"),
        (["Hel", "Hello"], "HelHello"),
    ],
)
def test_streamed_content_is_a_delta(pieces: list[str], text: str) -> None:
    accumulator = feed_all(*(content(p) for p in pieces))
    assert accumulator.text == text
    assert accumulator.result().text == text


def test_a_final_chunk_restating_the_whole_text_is_not_appended_twice() -> None:
    accumulator = feed_all(content("Hel"), content("lo"))
    final = {"is_final": True, "choices": [{"finish_reason": "stop", "message": {"content": "Hello"}}]}
    assert accumulator.feed(CompletionChunk.model_validate(final)) == ""
    assert accumulator.text == "Hello"


@pytest.mark.parametrize("last", ["lo", "Hello!", "ello"])
def test_a_final_chunk_that_is_not_an_exact_restatement_is_a_delta(last: str) -> None:
    assert feed_all(content("Hel"), content("lo"), content(last, final=True)).text == "Hello" + last


def test_a_cumulative_stream_is_not_guessed_at() -> None:
    # Delta is the rule (docs/orq-api.md, Streams): a stream that restated its text would be shown restated,
    # not repaired.
    assert feed_all(content("Hi"), content("Hi there")).text == "HiHi there"


def calls(*fragments: dict, final: bool = False) -> dict:
    message = {"type": "tool_calls", "role": "assistant", "content": None, "tool_calls": list(fragments)}
    return {"is_final": final, "choices": [{"message": message}]}


def fragment(arguments: str, name: str = "", call_id: str | None = None, index: int | None = None) -> dict:
    piece: dict = {"type": "function", "function": {"name": name, "arguments": arguments}}
    if call_id is not None:
        piece["id"] = call_id
    if index is not None:
        piece["index"] = index
    return piece


def test_parallel_tool_calls_without_index_stay_apart() -> None:
    accumulator = feed_all(
        calls(fragment('{"city":', "weather", "call_a")),
        calls(fragment('"Oslo"}')),
        calls(fragment('{"city":', "weather", "call_b")),
        calls(fragment('"Rome"}')),
    )
    assert accumulator.result().tool_calls == [
        {"id": "call_a", "name": "weather", "arguments": {"city": "Oslo"}},
        {"id": "call_b", "name": "weather", "arguments": {"city": "Rome"}},
    ]


def test_parallel_tool_calls_in_one_chunk_without_index_stay_apart() -> None:
    accumulator = feed_all(calls(fragment("{}", "now", "call_a"), fragment('{"tz":"UTC"}', "now", "call_b")))
    assert [call["id"] for call in accumulator.result().tool_calls or []] == ["call_a", "call_b"]


def test_tool_call_fragments_are_merged_by_index_when_given() -> None:
    accumulator = feed_all(
        calls(fragment("{", "a", "call_a", index=0), fragment("{", "b", "call_b", index=1)),
        calls(fragment("}", index=1)),
        calls(fragment("}", index=0)),
    )
    assert accumulator.result().tool_calls == [
        {"id": "call_a", "name": "a", "arguments": {}},
        {"id": "call_b", "name": "b", "arguments": {}},
    ]


def test_a_final_chunk_restating_each_parallel_call_is_not_doubled() -> None:
    accumulator = feed_all(
        calls(fragment("{}", "now", "call_a")),
        calls(fragment('{"x":', "now", "call_b")),
        calls(fragment("1}")),
        calls(fragment("{}", "now", "call_a"), fragment('{"x":1}', "now", "call_b"), final=True),
    )
    assert accumulator.result().tool_calls == [
        {"id": "call_a", "name": "now", "arguments": {}},
        {"id": "call_b", "name": "now", "arguments": {"x": 1}},
    ]


def test_a_final_chunk_with_indexes_restating_calls_streamed_without_them_is_not_doubled() -> None:
    accumulator = feed_all(
        calls(fragment("{}", "now", "call_a")),
        calls(fragment("{}", "now", "call_b")),
        calls(fragment("{}", "now", "call_a", index=0), fragment("{}", "now", "call_b", index=1), final=True),
    )
    assert [call["id"] for call in accumulator.result().tool_calls or []] == ["call_a", "call_b"]


def test_a_repeated_tool_call_id_continues_that_call() -> None:
    accumulator = feed_all(calls(fragment('{"a":', "f", "call_a")), calls(fragment("1}", call_id="call_a")))
    assert accumulator.result().tool_calls == [{"id": "call_a", "name": "f", "arguments": {"a": 1}}]


async def test_runaway_tool_call_arguments_count_towards_the_size_limit() -> None:
    chunks = [calls(fragment("x" * 100, "f", "call_a" if i == 0 else None)) for i in range(50)]
    http = httpx2.AsyncClient(base_url="https://orq.test", transport=httpx2.MockTransport(serve(to_sse(chunks))))
    with pytest.raises(ResponseTooLargeError):
        await OrqClient(http, "sk-test", max_response_chars=1000).invoke({"key": "k"})


def test_reasoning_is_kept_apart_from_the_text() -> None:
    def thought(reasoning: str, text: str = "") -> dict:
        return {"choices": [{"message": {"type": "content", "content": text, "reasoning": reasoning}}]}

    accumulator = CompletionAccumulator()
    added = [accumulator.feed(CompletionChunk.model_validate(c)) for c in (thought("Let me"), thought(" think."))]
    added.append(accumulator.feed(CompletionChunk.model_validate(thought("", "42"))))
    assert added == ["", "", "42"]
    result = accumulator.result()
    assert (result.text, result.reasoning) == ("42", "Let me think.")
    assert accumulator.length == len("42Let me think.")


def test_retrievals_come_from_the_final_chunk() -> None:
    retrieval = {
        "document": "Shipping takes 2 days.",
        "metadata": {"file_name": "faq.pdf", "page_number": 3, "file_type": "pdf", "search_score": 0.8},
    }
    final = {**content("", final=True), "retrievals": [retrieval]}
    result = feed_all(content("Two days."), final).result()
    assert result.retrievals is not None
    [got] = result.retrievals
    assert got.metadata is not None
    assert (got.document, got.metadata.file_name, got.metadata.page_number) == ("Shipping takes 2 days.", "faq.pdf", 3)
    assert (got.metadata.search_score, got.metadata.rerank_score) == (0.8, None)


def test_a_retrieval_missing_its_fields_does_not_break_the_stream() -> None:
    final = {**content("", final=True), "retrievals": [{"document": None, "metadata": None, "new_field": 1}]}
    [got] = feed_all(content("ok"), final).result().retrievals or []
    assert (got.document, got.metadata) == (None, None)


def test_a_stream_without_reasoning_or_retrievals_reports_none() -> None:
    result = feed_all(content("ok"), content("", final=True)).result()
    assert (result.reasoning, result.retrievals) == (None, None)


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
