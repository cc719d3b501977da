"""The orq client's agents, knowledge, feedback and traces calls, against the emulator on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from orq_mcp.orq.agent_requests import AgentRequest
from orq_mcp.orq.agent_stream import MAX_TOOL_CALLS, MAX_TOOL_VALUE_CHARS, AgentRunAccumulator
from orq_mcp.orq.client import OrqClient, Timeouts
from orq_mcp.orq.errors import (
    AgentRunError,
    AuthenticationError,
    InvalidResponseError,
    InvocationTimeoutError,
    NotFoundError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    StreamError,
    StreamInterruptedError,
)
from orq_mcp.orq.feedback import Feedback
from orq_mcp.orq.knowledge import KnowledgeSearch
from orq_mcp.orq.requests import describe
from orq_mcp.sandbox import EmulatorState, Fault
from orq_mcp.sandbox.agents import MAX_TASKS, Task, TaskStore
from orq_mcp.sandbox.data_agents import SAMPLE_AGENTS
from orq_mcp.sandbox.traces import MAX_TRACES, Span, Trace, TraceStore
from tests.conftest import API_KEY, FAST_RETRY

ORDER_QUESTION = AgentRequest(message="Where is my order NL-20391?", variables={"company_name": "Acme Bikes"})


async def collect(orq: OrqClient, key: str, request: AgentRequest) -> tuple[Any, list[str]]:
    pieces: list[str] = []

    async def on_text(piece: str) -> None:
        pieces.append(piece)

    return await orq.invoke_agent(key, request, on_text), pieces


# Agents --------------------------------------------------------------------------------------------------------


async def test_agents_list_in_pages_with_model_variables_and_tools(orq: OrqClient) -> None:
    first = await orq.list_agents(limit=2)
    assert first.has_more is True
    assert len(first.data) == 2
    rest = await orq.list_agents(limit=50, starting_after=first.data[-1].id)
    agents = {a.key: a for a in [*first.data, *rest.data]}
    assert set(agents) == {a["key"] for a in SAMPLE_AGENTS}
    order = agents["order-assistant"]
    assert (order.model_id, order.variable_names, order.tool_names) == (
        "openai/gpt-4o-mini",
        ["company_name"],
        ["lookup_order"],
    )
    assert agents["tagline-writer"].tool_names == []
    assert agents["tagline-writer"].variable_names == []
    retrieved = await orq.get_agent("help-desk")
    assert retrieved.description.startswith("Answers questions")
    assert retrieved.variables == {"language": "English"}


async def test_an_agent_streams_deltas_that_make_up_its_final_text(orq: OrqClient) -> None:
    run, pieces = await collect(orq, "order-assistant", ORDER_QUESTION)
    assert len(pieces) > 5
    assert "".join(pieces) == run.text
    assert run.text.startswith("Acme Bikes support here. Order NL-20391 is shipped with PostNL")
    assert (run.status, run.finish_reason, run.model) == ("completed", "stop", "openai/gpt-4o-mini")
    assert run.task_id
    assert run.trace_id
    assert run.response_id
    assert run.usage["total_tokens"] == run.usage["prompt_tokens"] + run.usage["completion_tokens"]


async def test_a_tool_call_and_its_result_are_in_the_run(orq: OrqClient) -> None:
    run, _ = await collect(orq, "order-assistant", ORDER_QUESTION)
    [call] = run.tool_calls
    assert (call.name, call.arguments, call.status) == ("lookup_order", {"order_number": "NL-20391"}, "done")
    assert call.result["status"] == "shipped"
    knowledge, _ = await collect(orq, "help-desk", AgentRequest(message="How long does delivery take?"))
    [search] = knowledge.tool_calls
    assert search.name == "retrieve_knowledge_bases"
    assert search.result[0]["file_name"] == "shipping-policy.pdf"
    assert "(Source: shipping-policy.pdf, page 1.)" in knowledge.text


async def test_task_id_continues_the_conversation(orq: OrqClient, emulator_state: EmulatorState) -> None:
    first, _ = await collect(orq, "order-assistant", ORDER_QUESTION)
    follow_up = AgentRequest(message="And when will it arrive?", task_id=first.task_id)
    second, pieces = await collect(orq, "order-assistant", follow_up)
    assert second.task_id == first.task_id
    assert "".join(pieces) == second.text
    # The second turn sees the first: the order asked about before is looked up again.
    assert 'you first said: "Where is my order NL-20391?"' in second.text
    assert second.tool_calls[0].arguments == {"order_number": "NL-20391"}
    sent = emulator_state.requests_for("agent_response")[-1].body
    assert sent["task_id"] == first.task_id
    assert sent["stream"] is True
    assert sent["message"] == {"role": "user", "parts": [{"kind": "text", "text": "And when will it arrive?"}]}


async def test_a_task_is_retrieved_with_its_state_and_output(orq: OrqClient) -> None:
    run, _ = await collect(orq, "tagline-writer", AgentRequest(message="A bike bell that sings"))
    task = await orq.get_agent_task("tagline-writer", run.task_id)
    assert (task.task_id, task.status) == (run.task_id, "completed")
    assert task.text == run.text
    assert task.telemetry is not None
    assert task.telemetry.trace_id == run.trace_id
    with pytest.raises(NotFoundError):
        await orq.get_agent_task("order-assistant", run.task_id)  # another agent's task


async def test_a_plain_agent_with_variables_and_memory_and_thread(orq: OrqClient, emulator_state) -> None:
    request = AgentRequest(
        message="Do you ship to Belgium?",
        variables={"language": "Dutch"},
        memory_entity_id="customer-42",
        thread={"id": "thread-7"},
        metadata={"channel": "mcp"},
    )
    run, _ = await collect(orq, "help-desk", request)
    assert run.status == "completed"
    body = emulator_state.requests_for("agent_response")[-1].body
    assert body["memory"] == {"entity_id": "customer-42"}
    assert body["thread"] == {"id": "thread-7"}


async def test_unknown_agent_and_unknown_task_are_not_found(orq: OrqClient) -> None:
    with pytest.raises(NotFoundError):
        await orq.get_agent("no-such-agent")
    with pytest.raises(NotFoundError):
        await collect(orq, "no-such-agent", ORDER_QUESTION)
    with pytest.raises(NotFoundError):
        await collect(orq, "order-assistant", AgentRequest(message="hi", task_id="01XXXXXXXXXXXXXXXXXXXXXXXX"))


def test_agent_requests_are_checked_before_orq() -> None:
    for bad in ({"message": ""}, {"message": "hi", "task_id": ""}, {"message": "hi", "stream": True}):
        with pytest.raises(ValidationError):
            AgentRequest.model_validate(bad)


# Agent stream faults --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("disconnect_mid_stream", StreamInterruptedError),
        ("error_event", AgentRunError),
        ("malformed_chunk", InvalidResponseError),
    ],
)
async def test_agent_stream_faults_keep_the_partial_text(
    orq: OrqClient, emulator_state: EmulatorState, kind: str, error: type[Exception]
) -> None:
    emulator_state.add_fault(Fault("agent_response", kind, after_chunks=6))
    with pytest.raises(error) as caught:
        await collect(orq, "order-assistant", ORDER_QUESTION)
    assert caught.value.partial_text.startswith("Acme Bikes")
    if kind == "error_event":
        assert str(caught.value) == (
            "The agent's run failed: The model provider returned an error while the agent was running."
        )
        assert caught.value.code == "500"
        assert caught.value.task_id


@pytest.mark.parametrize(
    ("status", "error"), [(401, AuthenticationError), (404, NotFoundError), (500, ServerError), (503, ServerError)]
)
async def test_agent_upstream_statuses_are_typed(
    orq: OrqClient, emulator_state: EmulatorState, status: int, error: type[Exception]
) -> None:
    emulator_state.add_fault(Fault("agent_response", "status", status=status, times=-1))
    with pytest.raises(error):
        await collect(orq, "order-assistant", ORDER_QUESTION)
    # A paid run is not retried once orq may have started it.
    assert len(emulator_state.requests_for("agent_response")) == 1


async def test_a_429_before_the_run_is_retried_after_retry_after(orq: OrqClient, emulator_state: EmulatorState) -> None:
    emulator_state.add_fault(Fault("agent_response", "status", status=429, retry_after=0, times=1))
    run, _ = await collect(orq, "order-assistant", ORDER_QUESTION)
    assert run.status == "completed"
    emulator_state.add_fault(Fault("agent_response", "status", status=429, retry_after=90, times=-1))
    with pytest.raises(RateLimitError) as caught:
        await collect(orq, "order-assistant", ORDER_QUESTION)
    assert caught.value.retry_after == 90


async def test_an_agent_run_past_the_response_cap_stops(http_client) -> None:
    small = OrqClient(http_client, API_KEY, retry=FAST_RETRY, max_response_chars=20)
    with pytest.raises(ResponseTooLargeError):
        await small.invoke_agent("order-assistant", ORDER_QUESTION)


async def test_an_agent_run_past_the_deadline_stops(http_client, emulator_state: EmulatorState) -> None:
    emulator_state.chunk_delay = 0.2
    slow = OrqClient(http_client, API_KEY, timeouts=Timeouts(read=5, stream=5, invoke=1.5), retry=FAST_RETRY)
    with pytest.raises(InvocationTimeoutError) as caught:
        await slow.invoke_agent("order-assistant", ORDER_QUESTION)
    assert caught.value.partial_text  # what came before the deadline is kept


def event(kind: str, **data: Any) -> dict[str, Any]:
    return {"type": kind, "timestamp": "2025-06-01T00:00:00.000Z", "data": data}


def test_the_accumulator_ignores_unknown_events_and_restated_parts() -> None:
    acc = AgentRunAccumulator()
    assert acc.feed(event("response.started", responseId="r", taskId="t", model="m", workflowRunId="w")) == ""
    assert acc.feed(event("agent.thought", thought="hmm")) == ""  # not in the SDK's union: skipped
    assert acc.feed(event("part.delta", partId="p", delta={"kind": "text", "text": "Hel"})) == "Hel"
    assert acc.feed(event("part.delta", partId="p", delta={"kind": "reasoning", "reasoning": "think"})) == ""
    assert acc.feed(event("part.delta", partId="p", delta={"kind": "text", "text": "lo"})) == "lo"
    assert acc.feed(event("part.done", partId="p", part={"kind": "text", "text": "Hello"})) == ""
    assert acc.feed(event("part.done", partId="q", part={"kind": "text", "text": " world"})) == " world"
    acc.feed(event("tool.review.requested", toolId="x", toolCallId="c", arguments={}, requiresApproval=True))
    acc.feed(event("response.done", finishReason="tool_calls", pendingToolCalls=[{"id": "c"}]))
    run = acc.result()
    assert (run.text, run.reasoning, run.task_id, run.status) == ("Hello world", "think", "t", "completed")
    assert run.tool_calls[0].status == "awaiting_approval"
    assert run.pending_tool_calls == [{"id": "c"}]


def test_the_accumulator_bounds_tool_results_and_refuses_shapeless_events() -> None:
    acc = AgentRunAccumulator()
    acc.feed(event("tool.started", toolId="t", toolCallId="c", arguments={"q": "x"}, toolName="fetch"))
    acc.feed(event("tool.done", toolId="t", toolCallId="c", result={"page": "x" * 1_000_000}))
    result = acc.result().tool_calls[0].result
    assert isinstance(result, str)
    assert len(result) < MAX_TOOL_VALUE_CHARS + 100
    assert "cut" in result
    with pytest.raises(InvalidResponseError):
        acc.feed({"data": {}})
    with pytest.raises(InvalidResponseError):
        acc.feed(event("part.delta", partId=7, delta="text"))


async def test_an_sse_error_event_is_a_stream_error(orq: OrqClient, emulator_state: EmulatorState) -> None:
    """An `event: error` frame (the deployments' mid-stream error shape) ends an agent run too."""
    from orq_mcp.orq.client import _agent_event
    from orq_mcp.orq.sse import Event

    body = json.dumps({"error": {"code": "provider_error", "message": "Upstream closed"}})
    with pytest.raises(StreamError, match="Upstream closed"):
        _agent_event(Event(body, "error"), str)
    with pytest.raises(StreamError, match="quota"):
        _agent_event(Event(json.dumps({"message": "quota exceeded"})), str)


# Knowledge -----------------------------------------------------------------------------------------------------


async def test_knowledge_bases_list_in_pages(orq: OrqClient) -> None:
    first = await orq.list_knowledge_bases(limit=1)
    assert first.has_more
    assert first.data[0].key == "acme-help-center"
    rest = await orq.list_knowledge_bases(limit=10, starting_after=first.data[0].id)
    assert [k.key for k in rest.data] == ["acme-2023-catalogue"]
    assert not rest.has_more


async def test_search_returns_chunks_with_file_page_and_score(orq: OrqClient, emulator_state) -> None:
    for knowledge in ("acme-help-center", "01JQ7V9Z8Y7X6W5V4T3S2R1Q0P"):  # by key and by id
        chunks = await orq.search_knowledge(knowledge, KnowledgeSearch(query="How long does delivery take?", top_k=2))
        assert len(chunks) == 2
        best = chunks[0]
        assert (best.file_name, best.page) == ("shipping-policy.pdf", 1)
        assert best.score is not None
        assert best.score >= chunks[1].score
        assert best.text.startswith("Orders ship within 2 working days.")
    sent = emulator_state.requests_for("knowledge_search")[-1].body
    assert sent["search_options"] == {"include_metadata": True, "include_scores": True}


async def test_search_filters_and_thresholds(orq: OrqClient) -> None:
    recent = KnowledgeSearch(query="refund returned bike", filter_by={"year": {"gte": 2025}})
    assert {c.file_name for c in await orq.search_knowledge("acme-help-center", recent)} == {"returns-and-refunds.md"}
    assert all(c.metadata["year"] >= 2025 for c in await orq.search_knowledge("acme-help-center", recent))
    strict = KnowledgeSearch(query="refund returned bike warranty receipt", threshold=0.9)
    assert await orq.search_knowledge("acme-help-center", strict) == []
    with pytest.raises(NotFoundError):
        await orq.search_knowledge("no-such-base", KnowledgeSearch(query="x"))


@pytest.mark.parametrize(
    "bad",
    [
        {"query": ""},
        {"query": "x", "top_k": 0},
        {"query": "x", "threshold": 2},
        {"query": "x", "filter_by": {"year": {"gte": "2024"}}},
        {"query": "x", "filter_by": {"year": {"exists": "yes"}}},
        {"query": "x", "rerank": True},
    ],
)
def test_bad_searches_are_refused_before_orq(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        KnowledgeSearch.model_validate(bad)


# Feedback --------------------------------------------------------------------------------------------------------


async def test_feedback_is_stored_against_an_invocation(orq: OrqClient, emulator_state: EmulatorState) -> None:
    completion = await orq.invoke({"key": "faq-assistant", "messages": [{"role": "user", "content": "Hi"}]})
    receipt = await orq.submit_feedback(Feedback(trace_id=completion.id, property="rating", value="good"))
    assert (receipt.property, receipt.value, receipt.product) == ("rating", "good", "deployments")
    run, _ = await collect(orq, "order-assistant", ORDER_QUESTION)
    defects = Feedback(trace_id=run.trace_id, property="defects", value=["hallucination"], product="agents")
    await orq.submit_feedback(defects)
    [stored_rating, stored_defects] = emulator_state.workspace_for(API_KEY).feedback[-2:]
    assert stored_rating["trace_id"] == completion.id
    assert stored_defects["value"] == ["hallucination"]


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ({"property": "rating", "value": "great"}, "'rating' takes one of: good, bad"),
        ({"property": "defects", "value": ["typo"]}, "'defects' does not take ['typo']"),
        ({"property": "defects", "value": "spelling"}, "'defects' takes a non-empty list of"),
        ({"property": "correction", "value": 3}, "'correction' takes the corrected text as a string"),
        ({"property": "helpfulness", "value": True}, "value"),
        ({"property": "", "value": "good"}, "property"),
        ({"property": "rating", "value": "good", "product": "deployment"}, "product"),
    ],
)
async def test_bad_feedback_is_refused_before_orq(
    orq: OrqClient, emulator_state: EmulatorState, bad: dict[str, Any], why: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Feedback.model_validate({"trace_id": "t-1", **bad})
    assert why in describe(caught.value)
    assert emulator_state.requests_for("feedback") == []


async def test_custom_properties_pass_and_unknown_traces_are_not_found(orq: OrqClient) -> None:
    with pytest.raises(NotFoundError):
        await orq.submit_feedback(Feedback(trace_id="no-such-trace", property="tone", value=4))


async def test_feedback_is_not_retried_after_a_server_error(orq: OrqClient, emulator_state: EmulatorState) -> None:
    emulator_state.add_fault(Fault("feedback", "status", status=503, times=-1))
    with pytest.raises(ServerError):
        await orq.submit_feedback(Feedback(trace_id="t", property="rating", value="bad"))
    assert len(emulator_state.requests_for("feedback")) == 1
    emulator_state.clear_faults()
    emulator_state.add_fault(Fault("feedback", "status", status=429, retry_after=0, times=1))
    with pytest.raises(NotFoundError):  # retried after the 429, then refused for its unknown trace
        await orq.submit_feedback(Feedback(trace_id="t", property="rating", value="bad"))
    assert len(emulator_state.requests_for("feedback")) == 3


# Traces ----------------------------------------------------------------------------------------------------------


async def test_a_deployment_invocations_trace_id_finds_its_trace(orq: OrqClient) -> None:
    completion = await orq.invoke({"key": "faq-assistant", "messages": [{"role": "user", "content": "Hi"}]})
    report = await orq.get_trace(completion.trace_id)
    assert (report.name, report.status, report.spans_left_out) == ("deployment faq-assistant", "ok", False)
    assert [(s.name, s.level) for s in report.spans] == [
        ("deployment faq-assistant", 0),
        ("chat mistral-small-latest", 1),
    ]
    assert report.models == ["mistral-small-latest"]
    assert report.spans[1].provider == "mistral"
    assert report.usage["total_tokens"] == report.spans[1].tokens > 0
    assert report.errors == []


async def test_an_agent_runs_trace_has_its_tool_spans_and_is_cut_to_size(orq: OrqClient) -> None:
    run, _ = await collect(orq, "order-assistant", ORDER_QUESTION)
    report = await orq.get_trace(run.trace_id)
    assert [s.name for s in report.spans] == [
        "agent order-assistant",
        "chat gpt-4o-mini",
        "tool lookup_order",
        "chat gpt-4o-mini",
    ]
    assert report.usage["total_tokens"] == run.usage["total_tokens"]
    short = await orq.get_trace(run.trace_id, max_spans=2)
    assert len(short.spans) == 2
    assert short.spans_left_out is True


async def test_an_unknown_trace_is_not_found(orq: OrqClient) -> None:
    with pytest.raises(NotFoundError):
        await orq.get_trace("0" * 32)


# Caps at their defaults ------------------------------------------------------------------------------------------


def test_the_accumulator_keeps_at_most_its_default_number_of_tool_calls() -> None:
    acc = AgentRunAccumulator()
    for index in range(MAX_TOOL_CALLS + 50):
        acc.feed(event("tool.started", toolId="t", toolCallId=f"c{index}", arguments={}, toolName="fetch"))
        acc.feed(event("tool.done", toolId="t", toolCallId=f"c{index}", result=index))
    run = acc.result()
    assert len(run.tool_calls) == MAX_TOOL_CALLS == 100
    assert run.tool_calls_dropped == 50
    assert run.tool_calls[-1].result == MAX_TOOL_CALLS - 1


async def test_a_trace_summary_holds_its_default_50_spans(orq: OrqClient, emulator_state: EmulatorState) -> None:
    children = [Span(f"tool step-{i}", "tool", 1.0) for i in range(119)]
    emulator_state.workspace_for(API_KEY).traces.add(
        Trace("f" * 32, "agents", Span("agent big", "agent", 119.0, children=children))
    )
    report = await orq.get_trace("f" * 32)
    assert len(report.spans) == 50
    assert report.spans_left_out is True
    [page] = emulator_state.requests_for("list_spans")
    assert page.query == {"limit": "50"}


def test_the_emulators_stores_keep_their_newest_at_the_default_bounds() -> None:
    traces, tasks = TraceStore(), TaskStore()
    for index in range(MAX_TRACES + 1):
        traces.add(Trace(f"{index:032x}", "deployments", Span("d", "deployment", 1.0)), f"response-{index}")
        tasks.add(Task("order-assistant", id=f"task-{index}"))
    assert len(traces) == MAX_TRACES == 1_000
    assert traces.get(f"{0:032x}") is None
    assert traces.resolve(f"response-{MAX_TRACES}") is not None
    assert tasks.get("task-0") is None
    assert tasks.get(f"task-{MAX_TASKS}") is not None
