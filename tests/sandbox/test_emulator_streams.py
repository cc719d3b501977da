"""The emulator's newer streams (reasoning, parallel tool calls without index, retrievals) and its SDK strictness."""

from __future__ import annotations

import copy
import itertools
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from orq_mcp.orq.client import OrqClient, RetryPolicy, create_http_client
from orq_mcp.orq.errors import BadRequestError
from orq_mcp.sandbox import EmulatorState, EmulatorThread, Fault, SdkViolation, Workspace, sample_workspace
from orq_mcp.sandbox.data import SAMPLE_DEPLOYMENTS
from orq_mcp.sandbox.event_stream import parse_sse
from tests.conftest import API_KEY, held_open
from tests.helpers import error_text, ok
from tests.sdk_schema import sdk_violation, unknown_keys

orq_ai_sdk = pytest.importorskip("orq_ai_sdk")

KEY = "streams-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
TWO_ORDERS = [{"role": "user", "content": "Where are orders NL-20391 and NL-77812?"}]
TRIAGE_INPUTS = {"company_name": "Acme", "language": "English", "customer_name": "Priya", "ticket_body": "Hi"}
LOOSE_TOOL_TURN = [{"role": "user", "content": "Hi"}, {"role": "tool", "content": '{"status": "shipped"}'}]


def reasoning_deployment() -> dict[str, Any]:
    """faq-assistant with reasoning turned on, as orq's model_parameters spell it (SDK: reasoningEffort)."""
    deployment = copy.deepcopy(next(d for d in SAMPLE_DEPLOYMENTS if d["key"] == "faq-assistant"))
    deployment.update(key="faq-reasoner", id="7d0e9b54-3f1a-4c8e-b2d6-a19c5e7f0b33")
    deployment["prompt_config"]["model_parameters"]["reasoningEffort"] = "low"
    return deployment


@pytest.fixture(scope="module")
def streams_emulator() -> Iterator[EmulatorThread]:
    workspace = sample_workspace()
    workspace.deployments.append(reasoning_deployment())
    state = EmulatorState({KEY: workspace}, chunk_delay=0.0, check_body=sdk_violation)
    with EmulatorThread(state) as emu:
        yield emu


@pytest.fixture
def http(streams_emulator: EmulatorThread) -> Iterator[httpx2.Client]:
    streams_emulator.state.reset()
    with httpx2.Client(base_url=streams_emulator.base_url, headers=AUTH, timeout=10) as client:
        yield client
    assert not streams_emulator.state.take_violations()


@pytest.fixture
async def orq_client(streams_emulator: EmulatorThread) -> AsyncIterator[OrqClient]:
    async with create_http_client(streams_emulator.base_url) as http:
        yield OrqClient(http, KEY, retry=RetryPolicy(max_retries=0))


def stream(http: httpx2.Client, **body: Any) -> list[dict[str, Any]]:
    response = http.post("/v2/deployments/stream", json=body)
    assert response.status_code == 200, response.text
    events = parse_sse(response.text)
    assert events[-1] == (None, "[DONE]")
    chunks = [json.loads(data) for _, data in events[:-1]]
    for chunk in chunks:
        orq_ai_sdk.models.DeploymentStreamData.model_validate(chunk)
    return chunks


def tool_fragments(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [call for chunk in chunks[:-1] for call in chunk["choices"][0]["message"].get("tool_calls") or []]


# Scripted deltas: real sequences the adaptive guess got wrong ------------------------------------------------------

SEQUENCES = [("6", "66", "6"), ("ha", "haha", "!"), ("Hel", "Hello")]


@pytest.mark.parametrize("pieces", SEQUENCES, ids="".join)
def test_scripted_deltas_are_streamed_exactly(
    streams_emulator: EmulatorThread, http: httpx2.Client, pieces: tuple[str, ...]
) -> None:
    streams_emulator.state.add_fault(Fault("stream", "scripted_deltas", pieces=pieces))
    chunks = stream(http, key="faq-assistant")
    assert tuple(chunk["choices"][0]["message"]["content"] for chunk in chunks[:-1]) == pieces
    assert chunks[-1]["choices"][0]["message"]["content"] == ""


STALL = 1.0  # seconds of silence, far above the (zero) pace of the chunks around it


def test_a_stall_mid_stream_is_one_silence_where_asked(streams_emulator: EmulatorThread, http: httpx2.Client) -> None:
    """`stall_mid_stream` goes silent once, after `after_chunks` chunks: a model thinking mid-answer."""
    streams_emulator.state.add_fault(Fault("stream", "stall_mid_stream", after_chunks=2, delay=STALL))
    arrivals: list[float] = []
    posted = time.monotonic()
    with http.stream("POST", "/v2/deployments/stream", json={"key": "faq-assistant"}) as response:
        for raw in response.iter_lines():
            if raw.startswith("data:"):
                arrivals.append(time.monotonic())
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert arrivals[2] - posted >= STALL  # the third chunk is due a whole stall after the stream began
    assert max(range(len(gaps)), key=gaps.__getitem__) == 1  # the one long silence: between the second and third


@pytest.fixture
async def stdio_agent(emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path) -> AsyncIterator[Client]:
    """The whole path: the session emulator <- the real server process <- stdio <- the SDK's client."""
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url}
    params = StdioServerParameters(command=sys.executable, args=["-m", "orq_mcp"], env=env)
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with held_open(Client(stdio_client(params, errlog=errlog))) as client:
            yield client


@pytest.mark.parametrize("pieces", SEQUENCES, ids="".join)
async def test_an_agent_over_stdio_gets_every_delta(
    stdio_agent: Client, emulator_state: EmulatorState, pieces: tuple[str, ...]
) -> None:
    emulator_state.add_fault(Fault("stream", "scripted_deltas", pieces=pieces))
    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    arguments = {"key": "faq-assistant"}
    result = await stdio_agent.call_tool("invoke_deployment", arguments, progress_callback=on_progress)
    assert ok(result)["text"] == "".join(pieces)
    assert "".join(progress) == "".join(pieces)


async def test_an_agent_over_stdio_is_told_what_a_204_means(stdio_agent: Client, emulator_state: EmulatorState) -> None:
    for route in ("stream", "get_config"):
        emulator_state.add_fault(Fault(route, "no_content"))
    for tool in ("invoke_deployment", "get_deployment_config"):
        message = error_text(await stdio_agent.call_tool(tool, {"key": "faq-assistant"}))
        assert "204 No Content" in message
        assert "published version" in message


# Parallel tool calls ---------------------------------------------------------------------------------------------


def test_two_order_numbers_stream_parallel_tool_calls_without_index(http: httpx2.Client) -> None:
    chunks = stream(http, key="support-triage", inputs=TRIAGE_INPUTS, messages=TWO_ORDERS)
    fragments = tool_fragments(chunks)
    assert all("index" not in fragment for fragment in fragments)
    ids = [fragment["id"] for fragment in fragments if "id" in fragment]
    assert len(ids) == len(set(ids)) == 2
    final = chunks[-1]["choices"][0]
    assert final["finish_reason"] == "tool_calls"
    assert [call["id"] for call in final["message"]["tool_calls"]] == ids


def test_one_order_number_still_streams_one_call_with_index(http: httpx2.Client) -> None:
    inputs = {**TRIAGE_INPUTS, "ticket_body": "Where is NL-20391?"}
    fragments = tool_fragments(stream(http, key="support-triage", inputs=inputs))
    assert {fragment["index"] for fragment in fragments} == {0}


async def test_the_client_keeps_parallel_calls_apart(orq_client: OrqClient) -> None:
    completion = await orq_client.invoke({"key": "support-triage", "inputs": TRIAGE_INPUTS, "messages": TWO_ORDERS})
    assert completion.finish_reason == "tool_calls"
    assert [call["arguments"] for call in completion.tool_calls or []] == [
        {"order_number": "NL-20391"},
        {"order_number": "NL-77812"},
    ]
    assert len({call["id"] for call in completion.tool_calls or []}) == 2


# Reasoning and retrievals ----------------------------------------------------------------------------------------


def test_a_reasoning_deployment_streams_reasoning_deltas_before_the_text(http: httpx2.Client) -> None:
    chunks = stream(http, key="faq-reasoner", messages=[{"role": "user", "content": "Do you ship to Oslo?"}])
    messages = [chunk["choices"][0]["message"] for chunk in chunks[:-1]]
    thinking = [m for m in messages if m.get("reasoning")]
    assert len(thinking) > 1
    assert messages.index(thinking[-1]) < next(i for i, m in enumerate(messages) if m["content"])
    assert all(m["content"] == "" for m in thinking)
    assert "reasoning" not in chunks[-1]["choices"][0]["message"]  # deltas only: the final chunk repeats nothing


def test_a_deployment_without_reasoning_streams_none(http: httpx2.Client) -> None:
    chunks = stream(http, key="faq-assistant", messages=[{"role": "user", "content": "Hi"}])
    assert not any("reasoning" in chunk["choices"][0]["message"] for chunk in chunks)


async def test_the_client_returns_reasoning_apart_from_text_and_matches_invoke(
    orq_client: OrqClient, http: httpx2.Client
) -> None:
    body = {"key": "faq-reasoner", "messages": [{"role": "user", "content": "Do you ship to Oslo?"}]}
    pieces: list[str] = []

    async def on_text(text: str) -> None:
        pieces.append(text)

    completion = await orq_client.invoke(body, on_text=on_text)
    whole = http.post("/v2/deployments/invoke", json=body).json()["choices"][0]["message"]
    assert completion.reasoning == whole["reasoning"]
    assert completion.reasoning.startswith("The user wrote: Do you ship to Oslo?")
    assert completion.text == "".join(pieces) == whole["content"]


async def test_retrievals_arrive_on_the_final_chunk_and_reach_the_completion(
    orq_client: OrqClient, http: httpx2.Client
) -> None:
    body = {"key": "faq-assistant", "messages": [{"role": "user", "content": "Shipping?"}]}
    options = {"invoke_options": {"include_retrievals": True}}
    chunks = stream(http, **body, **options)
    assert [("retrievals" in chunk) for chunk in chunks] == [False] * (len(chunks) - 1) + [True]
    completion = await orq_client.invoke({**body, **options})
    [retrieval] = completion.retrievals or []
    assert retrieval.metadata is not None
    assert retrieval.metadata.file_name == "help-center.pdf"
    assert (retrieval.metadata.page_number, retrieval.metadata.search_score) == (2, 0.83)
    assert (await orq_client.invoke(body)).retrievals is None


@pytest.mark.parametrize(
    "body",
    [
        {"key": "faq-reasoner", "messages": [{"role": "user", "content": "Hi"}]},
        {"key": "support-triage", "inputs": TRIAGE_INPUTS, "messages": TWO_ORDERS},
    ],
    ids=["reasoning", "parallel-calls"],
)
def test_the_whole_invoke_answer_validates_with_the_sdk(http: httpx2.Client, body: dict[str, Any]) -> None:
    answer = http.post("/v2/deployments/invoke", json=body).json()
    parsed = orq_ai_sdk.models.DeploymentInvokeResponseBody.model_validate(answer)
    message = parsed.choices[0].message
    if body["key"] == "faq-reasoner":
        assert message.reasoning.startswith("The user wrote: Hi.")
    else:
        assert len({call.id for call in message.tool_calls}) == 2  # two distinct calls, told apart by id


# 204 --------------------------------------------------------------------------------------------------------------


def test_the_sdk_reads_the_no_content_fault_as_none(streams_emulator: EmulatorThread, http: httpx2.Client) -> None:
    streams_emulator.state.add_fault(Fault("get_config", "no_content"))
    sdk = orq_ai_sdk.Orq(api_key=KEY, server_url=streams_emulator.base_url)
    assert sdk.deployments.get_config(key="faq-assistant") is None


# Strictness ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["stream", "invoke", "get_config"])
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"messages": LOOSE_TOOL_TURN}, "messages.1.tool.tool_call_id: Field required"),
        ({"messages": [{"role": "user", "content": None}]}, "messages.0.user.content"),
        ({"messages": [{"role": "user", "content": "x", "tool_call_id": "c"}]}, "SDK does not know: messages.0.tool"),
        ({"identity": {"id": "u", "metadata": {"plan": "pro"}}}, "identity.metadata: Input should be a valid list"),
        ({"invoke_options": {"include_retrieval": True}}, "SDK does not know: invoke_options.include_retrieval"),
    ],
)
def test_the_strict_emulator_refuses_what_the_sdk_refuses(
    streams_emulator: EmulatorThread, route: str, body: dict[str, Any], reason: str
) -> None:
    with httpx2.Client(base_url=streams_emulator.base_url, headers=AUTH) as http:
        response = http.post(f"/v2/deployments/{route}", json={"key": "faq-assistant", **body})
    assert response.status_code == 400
    assert reason in response.json()["message"]
    [violation] = streams_emulator.state.take_violations()
    assert (violation.route, violation.body["key"]) == (route, "faq-assistant")
    assert reason in violation.problem


def test_the_sandbox_serves_loose_bodies_without_the_sdk() -> None:
    """`--sandbox` is not strict and must not need orq-ai-sdk, a test-only dependency."""
    script = (
        "import sys, httpx2\n"
        "from orq_mcp.sandbox import EmulatorThread, sample_state\n"
        "with EmulatorThread(sample_state('k', chunk_delay=0)) as emu:\n"
        f"    body = {{'key': 'faq-assistant', 'messages': {LOOSE_TOOL_TURN!r}}}\n"
        "    auth = {'Authorization': 'Bearer k'}\n"
        "    r = httpx2.post(emu.base_url + '/v2/deployments/stream', json=body, headers=auth)\n"
        "print(r.status_code, 'orq_ai_sdk' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["200", "False"]


async def test_a_loose_body_from_the_mcp_tool_fails_instead_of_reaching_orq(
    client: Client, emulator_state: EmulatorState
) -> None:
    """A tool turn without tool_call_id: the agent is told what is missing, and nothing is generated."""
    result = await client.call_tool("invoke_deployment", {"key": "faq-assistant", "messages": LOOSE_TOOL_TURN})
    assert "tool_call_id" in error_text(result)
    assert all(record.status != 200 for record in emulator_state.requests_for("stream"))
    for violation in emulator_state.take_violations():  # refused by orq (the strict emulator), not by our schema
        assert "tool_call_id" in violation.problem


def test_unknown_keys_finds_misspelt_fields_at_any_depth() -> None:
    payload = {"key": "k", "strem": True, "thread": {"id": "t", "tag": ["a"]}, "messages": [{"role": "user"}]}
    dumped = {"key": "k", "thread": {"id": "t"}, "messages": [{"role": "user"}]}
    assert unknown_keys(payload, dumped, "") == ["strem", "thread.tag"]


def test_violations_are_taken_once_and_cleared_by_reset() -> None:
    state = EmulatorState({KEY: Workspace()}, check_body=sdk_violation)
    state.record_violation(SdkViolation("stream", {}, "x"))
    assert len(state.take_violations()) == 1
    assert state.take_violations() == []
    state.record_violation(SdkViolation("stream", {}, "x"))
    state.reset()
    assert state.take_violations() == []


async def test_loose_bodies_fail_through_the_client_too(
    orq_client: OrqClient, streams_emulator: EmulatorThread
) -> None:
    with pytest.raises(BadRequestError) as caught:
        await orq_client.invoke({"key": "faq-assistant", "messages": LOOSE_TOOL_TURN})
    assert "tool_call_id" in caught.value.message
    assert len(streams_emulator.state.take_violations()) == 1
