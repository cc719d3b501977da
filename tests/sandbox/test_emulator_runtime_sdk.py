"""The emulator's agents, knowledge, feedback and traces answers against the official orq-ai-sdk models and client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from orq_mcp.sandbox import EmulatorThread, Fault, sample_state
from orq_mcp.sandbox.data_agents import SAMPLE_AGENTS
from orq_mcp.sandbox.event_stream import parse_sse
from tests.sandbox.test_emulator_sdk import validate, validate_as
from tests.sdk_schema import sdk_violation, unknown_keys

orq_ai_sdk = pytest.importorskip("orq_ai_sdk")
models = orq_ai_sdk.models

KEY = "sdk-runtime-key"
QUESTION = {"role": "user", "parts": [{"kind": "text", "text": "Where is my order NL-20391?"}]}


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(sample_state(KEY, chunk_delay=0.0, check_body=sdk_violation)) as emu:
        yield emu


@pytest.fixture
def client(emulator: EmulatorThread) -> Iterator[httpx2.Client]:
    emulator.state.reset()
    with httpx2.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as c:
        yield c
    assert not emulator.state.take_violations()


@pytest.fixture
def orq(emulator: EmulatorThread) -> Any:
    return orq_ai_sdk.Orq(api_key=KEY, server_url=emulator.base_url)


def events_of(response: httpx2.Response) -> list[dict[str, Any]]:
    events = parse_sse(response.text)
    assert events[-1] == (None, "[DONE]")
    return [json.loads(data) for _, data in events[:-1]]


def run_agent(client: httpx2.Client, key: str = "order-assistant", **body: Any) -> httpx2.Response:
    payload = {"message": QUESTION, "variables": {"company_name": "Acme"}, **body}
    return client.post(f"/v2/agents/{key}/responses", json=payload)


# Raw answers against the SDK's models ------------------------------------------------------------------------


def test_agents_list_and_retrieve_validate(client: httpx2.Client) -> None:
    listing = validate(models.ListAgentsResponseBody, client.get("/v2/agents").json())
    assert len(listing.data) == len(SAMPLE_AGENTS)
    assert listing.has_more is False
    paged = validate(models.ListAgentsResponseBody, client.get("/v2/agents", params={"limit": 1}).json())
    assert len(paged.data) == 1
    assert paged.has_more
    for agent in SAMPLE_AGENTS:
        one = validate(models.RetrieveAgentRequestResponseBody, client.get(f"/v2/agents/{agent['key']}").json())
        assert one.key == agent["key"]
    missing = client.get("/v2/agents/no-such-agent")
    assert missing.status_code == 404
    validate(models.RetrieveAgentRequestAgentsResponseBodyData, missing.json())


@pytest.mark.parametrize("key", [a["key"] for a in SAMPLE_AGENTS])
def test_every_streamed_agent_event_validates(client: httpx2.Client, key: str) -> None:
    events = events_of(run_agent(client, key, stream=True))
    parsed = [validate_as(models.ResponseStreamingEvent, e) for e in events]
    # What the SDK's stream decoder makes of each SSE event: `CreateAgentResponseRequestResponseBody` {data}.
    for e in events:
        validate(models.CreateAgentResponseRequestResponseBody, {"data": e})
    kinds = [p.type for p in parsed]
    assert kinds[0] == "response.started"
    assert kinds[-2:] == ["part.done", "response.done"]
    text = "".join(p.data.delta.text for p in parsed if p.type == "part.delta")
    assert text == next(p.data.part.text for p in parsed if p.type == "part.done")
    if key == "order-assistant":
        assert kinds[1:3] == ["tool.started", "tool.done"]


def test_unstreamed_response_and_task_validate(client: httpx2.Client) -> None:
    whole = validate(models.CreateAgentResponse, run_agent(client).json())
    assert [m.role for m in whole.output] == ["agent", "tool", "agent"]
    assert whole.output[0].parts[0].kind == "tool_call"
    assert whole.output[1].parts[0].kind == "tool_result"
    task = validate(models.GetAgentResponse, client.get(f"/v2/agents/order-assistant/responses/{whole.task_id}").json())
    assert (task.task_id, task.status) == (whole.task_id, "completed")
    again = validate(models.CreateAgentResponse, run_agent(client, task_id=whole.task_id).json())
    assert again.task_id == whole.task_id
    assert "you first said" in again.output[-1].parts[0].text


def test_knowledge_list_and_search_validate(client: httpx2.Client) -> None:
    listing = validate(models.KnowledgeBasesServiceListResponse, client.get("/v2/knowledge").json())
    assert [k.key for k in listing.data] == ["acme-help-center", "acme-2023-catalogue"]
    body = {
        "query": "refund for a returned bike",
        "top_k": 3,
        "filter_by": {"or": [{"year": {"eq": 2025}}, {"file_name": {"exists": True}}]},
        "search_options": {"include_metadata": True, "include_scores": True},
    }
    payload = client.post("/v2/knowledge/acme-help-center/search", json=body).json()
    parsed = models.SearchKnowledgeResponse.model_validate(payload)
    dumped = parsed.model_dump(by_alias=True, mode="json")
    # A match's metadata is "arbitrary" in the SDK (a model with no fields): only its presence is checked.
    unknown = [path for path in unknown_keys(payload, dumped, "") if ".metadata." not in path]
    assert not unknown
    assert parsed.matches[0].scores.search_score > 0
    assert payload["matches"][0]["metadata"]["file_name"] == "returns-and-refunds.md"


def test_feedback_and_traces_validate(client: httpx2.Client) -> None:
    run = validate(models.CreateAgentResponse, run_agent(client).json())
    feedback = {"property": "rating", "value": "good", "trace_id": run.id, "product": "agents"}
    validate(models.PostV2FeedbackResponseBody, client.post("/v2/feedback", json=feedback).json())
    missing = client.post("/v2/feedback", json={**feedback, "trace_id": "nope"})
    assert missing.status_code == 404
    validate(models.PostV2FeedbackFeedbackResponseResponseBodyData, missing.json())
    trace = validate(models.GetTraceResponse, client.get(f"/v3/traces/{run.telemetry.trace_id}").json())
    assert trace.trace.product == "agents"
    assert trace.trace.usage.total_tokens == run.usage.total_tokens
    spans = validate(models.ListTraceSpansResponse, client.get(f"/v3/traces/{run.telemetry.trace_id}/spans").json())
    assert [s.level for s in spans.data] == [0, 1, 1, 1]
    first = validate(
        models.ListTraceSpansResponse,
        client.get(f"/v3/traces/{run.telemetry.trace_id}/spans", params={"limit": 3}).json(),
    )
    rest = client.get(
        f"/v3/traces/{run.telemetry.trace_id}/spans", params={"limit": 3, "page_token": first.next_page_token}
    ).json()
    assert [s["span_id"] for s in rest["data"]] == [spans.data[3].span_id]
    assert rest["has_more"] is False
    unknown = client.get("/v3/traces/" + "0" * 32)
    assert unknown.status_code == 404
    validate(models.ErrorResponseData, unknown.json())


@pytest.mark.parametrize(
    ("route", "path", "body"),
    [
        ("agent_response", "/v2/agents/order-assistant/responses", {"message": {"role": "assistant", "parts": []}}),
        ("agent_response", "/v2/agents/order-assistant/responses", {"message": QUESTION, "variable": {}}),
        ("knowledge_search", "/v2/knowledge/acme-help-center/search", {"query": "x", "top_k": "many"}),
        ("knowledge_search", "/v2/knowledge/acme-help-center/search", {"query": "x", "filter_by": {"y": {"like": 1}}}),
        ("feedback", "/v2/feedback", {"property": "rating", "value": {"stars": 5}, "trace_id": "t"}),
        ("feedback", "/v2/feedback", {"property": "rating", "value": "good", "trace_id": "t", "product": "x"}),
    ],
)
def test_strict_mode_refuses_what_the_sdk_rejects(
    emulator: EmulatorThread, client: httpx2.Client, route: str, path: str, body: dict[str, Any]
) -> None:
    answer = client.post(path, json=body)
    assert answer.status_code == 400
    assert "rejected by the SDK's request model" in answer.json()["message"]
    [violation] = emulator.state.take_violations()
    assert violation.route == route


def test_the_error_event_is_the_sdks_response_failed(emulator: EmulatorThread, client: httpx2.Client) -> None:
    emulator.state.add_fault(Fault("agent_response", "error_event", after_chunks=2))
    events = events_of(run_agent(client, stream=True))
    failed = validate_as(models.ResponseStreamingEvent, events[-1])
    assert failed.type == "response.failed"
    assert failed.data.code == 500


# The real SDK client against the emulator ----------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:.*DEPRECATED:DeprecationWarning")
def test_sdk_runs_an_agent_and_reads_its_task_trace_and_knowledge(orq: Any) -> None:
    agents = orq.agents.list(limit=10)
    assert {a.key for a in agents.data} == {a["key"] for a in SAMPLE_AGENTS}
    assert orq.agents.retrieve(agent_key="help-desk").variables == {"language": "English"}
    stream = orq.agents.responses.create(
        agent_key="order-assistant", message=QUESTION, variables={"company_name": "Acme"}, stream=True
    )
    events = [e.data for e in stream]
    task_id = events[0].data.task_id
    text = "".join(e.data.delta.text for e in events if e.type == "part.delta")
    task = orq.agents.responses.get(agent_key="order-assistant", task_id=task_id)
    assert task.output[-1].parts[0].text == text
    trace_id = events[-1].data.telemetry.trace_id
    assert orq.traces.get(trace_id=trace_id).trace.name == "agent order-assistant"
    assert len(orq.traces.list_spans(trace_id=trace_id).data) == 4
    receipt = orq.feedback.create(request={"property": "defects", "value": ["repetition"], "trace_id": trace_id})
    assert receipt.value == ["repetition"]
    assert next(k.key for k in orq.knowledge.list().data) == "acme-help-center"
    found = orq.knowledge.search(
        knowledge_id="acme-help-center", query="warranty on the frame", search_options={"include_scores": True}
    )
    assert found.matches[0].text.startswith("Every frame has a 10-year warranty")
