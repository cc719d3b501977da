"""Behaviour of the local orq.ai emulator (orq_mcp.sandbox), served for real by uvicorn on a loopback port."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest

from orq_mcp.sandbox import (
    EmulatorState,
    EmulatorThread,
    Fault,
    Workspace,
    sample_state,
    sample_workspace,
    serve_emulator,
)
from orq_mcp.sandbox.data import SAMPLE_DEPLOYMENTS, SAMPLE_PROMPTS
from orq_mcp.sandbox.event_stream import parse_sse
from orq_mcp.sandbox.ids import new_ulid
from orq_mcp.sandbox.payloads import split_words
from tests.helpers import wait_until
from tests.sdk_schema import sdk_violation

KEY = "test-key"
OTHER_KEY = "other-workspace-key"
ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
EXAMPLE_INPUTS = {
    "company_name": "Acme Bikes",
    "language": "English",
    "customer_name": "Priya",
    "ticket_body": "My order NL-20391 has not arrived yet.",
}
FAQ = {"key": "faq-assistant", "messages": [{"role": "user", "content": "How long does shipping to Berlin take?"}]}
ROUTES = [
    ("GET", "/v2/deployments"),
    ("POST", "/v2/deployments/get_config"),
    ("POST", "/v2/deployments/invoke"),
    ("POST", "/v2/deployments/stream"),
    ("GET", "/v2/prompts"),
    ("GET", "/v2/prompts/01JPZ6W4D2F8H0K3M5Q7S9V1XB"),
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    other = Workspace(deployments=[json.loads(json.dumps(SAMPLE_DEPLOYMENTS[3]))], prompts=[])
    state = EmulatorState({KEY: sample_workspace(), OTHER_KEY: other}, chunk_delay=0.001, check_body=sdk_violation)
    with EmulatorThread(state) as emu:
        yield emu


@pytest.fixture(autouse=True)
def _clean_state(emulator: EmulatorThread) -> Iterator[None]:
    emulator.state.reset()
    emulator.state.chunk_delay = 0.001
    yield
    emulator.state.reset()


@pytest.fixture(scope="module")
def client(emulator: EmulatorThread) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def anonymous(emulator: EmulatorThread) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=emulator.base_url, timeout=10) as c:
        yield c


def events_of(response: httpx2.Response) -> list[tuple[str | None, str]]:
    return parse_sse(response.text)


def chunks_of(response: httpx2.Response) -> list[dict[str, Any]]:
    return [json.loads(data) for name, data in events_of(response) if name is None and data != "[DONE]"]


def streamed_text(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["message"].get("content") or "" for c in chunks)


def invoke(client: httpx2.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/v2/deployments/invoke", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def all_deployments_ordered() -> list[str]:
    return [d["id"] for d in sorted(SAMPLE_DEPLOYMENTS, key=lambda d: d["created"], reverse=True)]


# Auth -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic dGVzdC1rZXk=", "Bearer", "test-key"])
def test_every_route_rejects_missing_or_unknown_keys(
    emulator: EmulatorThread, anonymous: httpx2.Client, method: str, path: str, header: str | None
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = anonymous.request(method, path, headers=headers, content=b"not json")
    assert response.status_code == 401
    assert response.json() == {"message": "Invalid API key. Pass a valid key as 'Authorization: Bearer <key>'."}
    assert emulator.state.last_request().status == 401


def test_key_selects_workspace(emulator: EmulatorThread, anonymous: httpx2.Client) -> None:
    other = {"Authorization": f"Bearer {OTHER_KEY}"}
    listing = anonymous.get("/v2/deployments", headers=other).json()
    assert [d["key"] for d in listing["data"]] == ["faq-assistant"]
    assert anonymous.get("/v2/prompts", headers=other).json() == {"object": "list", "data": [], "has_more": False}
    missing = anonymous.post("/v2/deployments/invoke", json={"key": "support-triage"}, headers=other)
    assert missing.status_code == 404
    assert anonymous.post("/v2/deployments/invoke", json=FAQ, headers=other).status_code == 200
    assert {r.api_key for r in emulator.state.requests} == {OTHER_KEY}


# Deployments listing ----------------------------------------------------------------------------------------------


def test_list_deployments_default_page(client: httpx2.Client) -> None:
    body = client.get("/v2/deployments").json()
    assert body["object"] == "list"
    assert body["has_more"] is (len(SAMPLE_DEPLOYMENTS) > 10)
    assert [d["id"] for d in body["data"]] == all_deployments_ordered()[:10]
    for deployment in body["data"]:
        assert set(deployment) == {"id", "created", "updated", "key", "description", "version", "prompt_config"}
        assert ISO_MS.fullmatch(deployment["created"])
        assert ISO_MS.fullmatch(deployment["updated"])
        assert set(deployment["prompt_config"]) == {
            "tools",
            "model",
            "model_type",
            "model_parameters",
            "provider",
            "messages",
        }


def test_walk_deployments_forward_and_back(client: httpx2.Client) -> None:
    expected = all_deployments_ordered()
    seen: list[str] = []
    has_more_flags: list[bool] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = client.get("/v2/deployments", params=params).json()
        seen += [d["id"] for d in page["data"]]
        has_more_flags.append(page["has_more"])
        if not page["has_more"]:
            break
        params = {"limit": 2, "starting_after": page["data"][-1]["id"]}
    assert seen == expected
    assert has_more_flags == [True] * (len(has_more_flags) - 1) + [False]
    assert len(has_more_flags) == -(-len(expected) // 2)

    back: list[list[str]] = []
    cursor = expected[-1]
    while True:
        page = client.get("/v2/deployments", params={"limit": 2, "ending_before": cursor}).json()
        back.append([d["id"] for d in page["data"]])
        if not page["has_more"]:
            break
        cursor = page["data"][0]["id"]
    older, pages = expected[:-1], []
    while older:
        pages.append(older[-2:])
        older = older[:-2]
    assert back == pages
    first = client.get("/v2/deployments", params={"ending_before": expected[0]}).json()
    assert first == {"object": "list", "data": [], "has_more": False}
    last = client.get("/v2/deployments", params={"starting_after": expected[-1]}).json()
    assert last == {"object": "list", "data": [], "has_more": False}


@pytest.mark.parametrize("limit", ["0", "51", "-1", "abc", "1.5", ""])
def test_deployment_limit_bounds(client: httpx2.Client, limit: str) -> None:
    response = client.get("/v2/deployments", params={"limit": limit})
    assert response.status_code == 400
    body = response.json()
    assert "limit" in body["message"]
    assert set(body) == {"message"}  # the SDK's ErrorResponse shape (docs/orq-api.md, Errors)


@pytest.mark.parametrize("limit", ["1", "50"])
def test_deployment_limit_edges_accepted(client: httpx2.Client, limit: str) -> None:
    body = client.get("/v2/deployments", params={"limit": limit}).json()
    assert len(body["data"]) == min(int(limit), len(SAMPLE_DEPLOYMENTS))


@pytest.mark.parametrize(
    "params",
    [
        {"starting_after": "no-such-id"},
        {"ending_before": "no-such-id"},
        {
            "starting_after": "9b2f6c1e-4a7d-4c2b-9e51-7f0d3a6b8c21",
            "ending_before": "72c368a8-cca5-4ed5-9613-2a382f540aeb",
        },
    ],
)
def test_bad_cursors_are_400(client: httpx2.Client, params: dict[str, str]) -> None:
    response = client.get("/v2/deployments", params=params)
    assert response.status_code == 400
    assert isinstance(response.json()["message"], str)


# Prompts ----------------------------------------------------------------------------------------------------------


def test_list_prompts_and_paginate(client: httpx2.Client) -> None:
    expected = [p["_id"] for p in sorted(SAMPLE_PROMPTS, key=lambda p: p["created"], reverse=True)]
    body = client.get("/v2/prompts", params={"limit": 200}).json()
    assert [p["_id"] for p in body["data"]] == expected
    assert body["has_more"] is False
    assert all("prompt_config" not in p for p in body["data"])
    assert any(p["description"] is None for p in body["data"])
    forward = []
    params: dict[str, Any] = {"limit": 1}
    while True:
        page = client.get("/v2/prompts", params=params).json()
        forward += [p["_id"] for p in page["data"]]
        if not page["has_more"]:
            break
        params = {"limit": 1, "starting_after": forward[-1]}
    assert forward == expected
    page = client.get("/v2/prompts", params={"limit": 2, "ending_before": expected[-1]}).json()
    assert [p["_id"] for p in page["data"]] == expected[-3:-1]
    assert page["has_more"] is True
    assert client.get("/v2/prompts", params={"limit": 201}).status_code == 400
    assert client.get("/v2/prompts", params={"starting_after": "01NOPE"}).status_code == 400


def test_get_prompt_by_id_and_404(client: httpx2.Client) -> None:
    prompt = client.get("/v2/prompts/01JPZ6W4D2F8H0K3M5Q7S9V1XB").json()
    assert prompt == next(p for p in SAMPLE_PROMPTS if p["_id"] == "01JPZ6W4D2F8H0K3M5Q7S9V1XB")
    assert "prompt_config" in prompt
    missing = client.get("/v2/prompts/01XXXXXXXXXXXXXXXXXXXXXXXX")
    assert missing.status_code == 404
    assert missing.json() == {"message": "Prompt with id '01XXXXXXXXXXXXXXXXXXXXXXXX' was not found."}


# get_config and rendering -----------------------------------------------------------------------------------------


def test_get_config_matches_reference_example(client: httpx2.Client) -> None:
    body = client.post(
        "/v2/deployments/get_config",
        json={"key": "support-triage", "inputs": EXAMPLE_INPUTS, "context": {"environments": "production"}},
    ).json()
    assert body["messages"] == [  # as in the reference example get-config.json
        {
            "role": "system",
            "content": "You are the support assistant for Acme Bikes. Answer in English. Be brief and polite.",
        },
        {"role": "user", "content": "Ticket from Priya:\nMy order NL-20391 has not arrived yet."},
    ]
    assert ULID.fullmatch(body["id"])
    assert (body["provider"], body["model"], body["version"], body["type"]) == ("openai", "gpt-4o-mini", "v4", "chat")
    assert body["parameters"] == {"temperature": 0.2, "maxTokens": 600, "topP": 1}
    assert body["messages"][1]["content"] == "Ticket from Priya:\nMy order NL-20391 has not arrived yet."
    [tool] = body["tools"]
    assert tool["type"] == "function"
    assert tool["function"]["name"] == "lookup_order"
    assert tool["function"]["parameters"]["required"] == ["order_number"]
    assert set(tool["function"]) == {"name", "description", "parameters"}


def test_get_config_renders_spaced_braces_parts_missing_and_json_values(client: httpx2.Client) -> None:
    spaced = client.post(
        "/v2/deployments/get_config",
        json={"key": "product-copywriter", "inputs": {"product_name": "Trail 500", "features": ["light", 2]}},
    ).json()
    assert spaced["messages"] == [
        {"role": "system", "content": "You are a copywriter for an online bike shop. Write for ."},
        {"role": "user", "content": 'Describe Trail 500 in under 120 words. Key features: ["light", 2]'},
    ]
    parts = client.post(
        "/v2/deployments/get_config",
        json={"key": "release-notes-writer", "inputs": {"version": "2.4.0", "pr_titles": "Fix login"}},
    ).json()
    assert parts["messages"][0]["content"] == [
        {"type": "text", "text": "Write release notes for version 2.4.0 in a friendly tone."}
    ]
    assert parts["messages"][1]["content"][1] == {"type": "text", "text": "Fix login"}
    bare = client.post("/v2/deployments/get_config", json={"key": "support-triage"}).json()
    assert bare["messages"][0]["content"] == "You are the support assistant for . Answer in . Be brief and polite."
    assert client.post("/v2/deployments/get_config", json={"key": "faq-assistant"}).json()["tools"] == []


def test_message_order_prefix_and_messages(client: httpx2.Client) -> None:
    body = client.post(
        "/v2/deployments/get_config",
        json={
            "key": "support-triage",
            "inputs": EXAMPLE_INPUTS,
            "prefix_messages": [{"role": "user", "content": "Earlier {{language}} turn"}],
            "messages": [
                {"role": "assistant", "content": "Earlier answer"},
                {"role": "user", "content": "And the delivery date?"},
            ],
        },
    ).json()
    assert [(m["role"], m["content"][:14]) for m in body["messages"]] == [
        ("system", "You are the su"),
        ("user", "Earlier {{lang"),
        ("user", "Ticket from Pr"),
        ("assistant", "Earlier answer"),
        ("user", "And the delive"),
    ]


BAD_BODIES: list[tuple[Any, str]] = [
    (b"{not json", "JSON object"),
    ([1, 2], "JSON object"),
    ("key", "JSON object"),
    ({}, "'key' is required"),
    ({"key": 5}, "'key'"),
    ({"key": ""}, "'key'"),
    ({"key": "faq-assistant", "inputs": ["a"]}, "'inputs'"),
    ({"key": "faq-assistant", "context": "prod"}, "'context'"),
    ({"key": "faq-assistant", "metadata": 1}, "'metadata'"),
    ({"key": "faq-assistant", "invoke_options": []}, "'invoke_options'"),
    ({"key": "faq-assistant", "extra_params": "x"}, "'extra_params'"),
    ({"key": "faq-assistant", "messages": {"role": "user"}}, "'messages'"),
    ({"key": "faq-assistant", "messages": ["hi"]}, "messages[0]"),
    ({"key": "faq-assistant", "messages": [{"content": "hi"}]}, "role"),
    ({"key": "faq-assistant", "prefix_messages": [{"role": 3, "content": "hi"}]}, "role"),
    ({"key": "faq-assistant", "messages": [{"role": "wizard", "content": "hi"}]}, "role"),
    ({"key": "faq-assistant", "invoke_options": {"mock_response": 3}}, "mock_response"),
    ({"key": "faq-assistant", "invoke_options": {"include_usage": "yes"}}, "include_usage"),
]


@pytest.mark.parametrize("route", ["get_config", "invoke", "stream"])
@pytest.mark.parametrize(("body", "fragment"), BAD_BODIES)
def test_invalid_bodies_are_400(client: httpx2.Client, route: str, body: Any, fragment: str) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.post(f"/v2/deployments/{route}", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    payload = response.json()
    assert fragment in payload["message"]
    assert payload["message"].startswith("Invalid request body: ")
    assert set(payload) == {"message"}


@pytest.mark.parametrize("route", ["get_config", "invoke", "stream"])
def test_unknown_deployment_is_404(client: httpx2.Client, route: str) -> None:
    response = client.post(f"/v2/deployments/{route}", json={"key": "support-triag"})
    assert response.status_code == 404
    assert response.json() == {"message": "Deployment with key 'support-triag' was not found."}


@pytest.mark.parametrize("route", ["get_config", "invoke", "stream"])
@pytest.mark.parametrize(
    ("context", "status"),
    [
        ({"environments": "development"}, 422),
        ({"environments": ["development"]}, 422),
        ({"environments": "production"}, 200),
        ({"environments": ["development", "staging"]}, 200),
        ({"country": "NL"}, 200),
        (None, 200),
    ],
)
def test_variant_rule(client: httpx2.Client, route: str, context: dict[str, Any] | None, status: int) -> None:
    body: dict[str, Any] = {"key": "support-triage", "inputs": EXAMPLE_INPUTS}
    if context is not None:
        body["context"] = context
    response = client.post(f"/v2/deployments/{route}", json=body)
    assert response.status_code == status
    if status == 422:
        assert response.json()["message"] == "No variant of deployment 'support-triage' matches the supplied context."


# invoke -----------------------------------------------------------------------------------------------------------


def test_invoke_mock_response_and_envelope(client: httpx2.Client) -> None:
    mock = "This is a canned answer used for testing; no model was called."
    body = invoke(client, key="support-triage", inputs=EXAMPLE_INPUTS, invoke_options={"mock_response": mock})
    assert body["choices"] == [
        {"index": 0, "message": {"type": "content", "role": "assistant", "content": mock}, "finish_reason": "stop"}
    ]
    assert ULID.fullmatch(body["id"])
    assert ISO_MS.fullmatch(body["created"])
    assert ISO_MS.fullmatch(body["finalized"])
    assert (body["object"], body["model"], body["provider"], body["is_final"]) == (
        "chat",
        "gpt-4o-mini",
        "openai",
        True,
    )
    assert re.fullmatch(r"[0-9a-f]{32}", body["telemetry"]["trace_id"])
    assert re.fullmatch(r"[0-9a-f]{16}", body["telemetry"]["span_id"])
    assert body["provider_response"] is None
    assert "usage" not in body
    assert "retrievals" not in body
    again = invoke(client, key="support-triage", inputs=EXAMPLE_INPUTS, invoke_options={"mock_response": mock})
    assert again["id"] != body["id"]
    assert again["telemetry"] != body["telemetry"]


def test_invoke_text_is_deterministic(client: httpx2.Client) -> None:
    first = invoke(client, **FAQ)["choices"][0]["message"]["content"]
    assert invoke(client, **FAQ)["choices"][0]["message"]["content"] == first
    assert first.startswith("[mistral-small-latest] Re: How long does shipping to Berlin take?")
    other = invoke(client, key="faq-assistant", messages=[{"role": "user", "content": "Do you ship to Oslo?"}])
    assert other["choices"][0]["message"]["content"] != first
    product = invoke(client, key="product-copywriter", inputs={"product_name": "Trail 500"})
    changed = invoke(client, key="product-copywriter", inputs={"product_name": "City 300"})
    assert product["choices"][0]["message"]["content"] != changed["choices"][0]["message"]["content"]
    assert product["provider"] == "google"


def test_usage_and_retrievals_only_when_requested(client: httpx2.Client) -> None:
    with_usage = invoke(client, **FAQ, invoke_options={"include_usage": True})
    usage = with_usage["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens"] == len(with_usage["choices"][0]["message"]["content"].split())
    assert invoke(client, **FAQ, invoke_options={"include_usage": True})["usage"] == usage
    assert "usage" not in invoke(client, **FAQ, invoke_options={"include_usage": False})
    with_docs = invoke(client, **FAQ, invoke_options={"include_retrievals": True})
    assert "usage" not in with_docs
    [retrieval] = with_docs["retrievals"]
    assert retrieval["metadata"]["file_type"] == "application/pdf"
    assert 0 <= retrieval["metadata"]["search_score"] <= 1


def test_completion_deployment_reports_completion_object(client: httpx2.Client) -> None:
    body = invoke(client, key="subject-line-generator", inputs={"topic": "spring sale"})
    assert (body["object"], body["provider"], body["model"]) == ("completion", "cohere", "command")


def test_tool_call_when_last_user_message_has_order_number(client: httpx2.Client) -> None:
    body = invoke(client, key="support-triage", inputs=EXAMPLE_INPUTS)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert (message["type"], message["role"], message["content"]) == ("tool_calls", "assistant", None)
    [call] = message["tool_calls"]
    assert re.fullmatch(r"call_[A-Za-z0-9]{16}", call["id"])
    assert (call["index"], call["type"], call["function"]["name"]) == (0, "function", "lookup_order")
    assert json.loads(call["function"]["arguments"]) == {"order_number": "NL-20391"}

    # A later user turn without an order number gets text; a mock always wins.
    follow_up = invoke(
        client,
        key="support-triage",
        inputs=EXAMPLE_INPUTS,
        messages=[{"role": "user", "content": "Please also tell me the expected delivery date."}],
    )
    assert follow_up["choices"][0]["message"]["type"] == "content"
    mocked = invoke(client, key="support-triage", inputs=EXAMPLE_INPUTS, invoke_options={"mock_response": "ok"})
    assert mocked["choices"][0]["message"]["content"] == "ok"
    # No tools on the deployment: text even with an order number.
    faq = invoke(client, key="faq-assistant", messages=[{"role": "user", "content": "Where is NL-20391?"}])
    assert faq["choices"][0]["finish_reason"] == "stop"


def test_tool_result_turn_is_answered_with_text(client: httpx2.Client) -> None:
    call = invoke(client, key="support-triage", inputs=EXAMPLE_INPUTS)["choices"][0]["message"]["tool_calls"][0]
    del call["index"]  # a response field: the request's tool call has none (the strict emulator refuses it)
    body = invoke(
        client,
        key="support-triage",
        inputs=EXAMPLE_INPUTS,
        messages=[
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": '{"status": "shipped", "eta": "4 April"}'},
        ],
    )
    message = body["choices"][0]["message"]
    assert message["type"] == "content"
    assert '{"status": "shipped", "eta": "4 April"}' in message["content"]
    assert body["choices"][0]["finish_reason"] == "stop"


# Streaming --------------------------------------------------------------------------------------------------------


def test_stream_matches_invoke_text(client: httpx2.Client, emulator: EmulatorThread) -> None:
    expected = invoke(client, **FAQ)["choices"][0]["message"]["content"]
    response = client.post("/v2/deployments/stream", json={**FAQ, "invoke_options": {"include_usage": True}})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers.get("transfer-encoding") == "chunked"
    events = events_of(response)
    assert events[-1] == (None, "[DONE]")
    assert all(name is None for name, _ in events)
    assert response.text.endswith("data: [DONE]\n\n")
    chunks = chunks_of(response)
    *deltas, final = chunks
    assert len(deltas) > 5
    assert streamed_text(chunks) == expected
    envelope = {k: chunks[0][k] for k in ("id", "created", "object", "model", "provider", "telemetry")}
    for chunk in deltas:
        assert {k: chunk[k] for k in envelope} == envelope
        assert chunk["is_final"] is False
        assert chunk["choices"][0]["finish_reason"] is None
        assert chunk["choices"][0]["message"]["type"] == "content"
        assert re.fullmatch(r"\s*\S+\s*", chunk["choices"][0]["message"]["content"])
        assert "usage" not in chunk
    assert {k: final[k] for k in envelope} == envelope
    assert final["is_final"] is True
    assert final["choices"][0] == {
        "index": 0,
        "message": {"type": "content", "role": "assistant", "content": ""},
        "finish_reason": "stop",
    }
    assert ISO_MS.fullmatch(final["finalized"])
    assert final["usage"]["completion_tokens"] == len(expected.split())
    assert final["provider_response"] is None
    record = emulator.state.last_request("stream")
    assert record is not None
    assert record.streamed
    assert record.status == 200
    assert record.chunks_sent == len(chunks)
    assert record.disconnected_at is None
    assert record.finished_at is not None


def test_stream_mock_response_word_chunks(client: httpx2.Client) -> None:
    mock = "Hi Priya, sorry for the wait! Your order should arrive by 4 April."
    response = client.post("/v2/deployments/stream", json={**FAQ, "invoke_options": {"mock_response": mock}})
    deltas = [c["choices"][0]["message"]["content"] for c in chunks_of(response)[:-1]]
    assert deltas == [
        "Hi",
        " Priya",
        ",",
        " sorry",
        " for",
        " the",
        " wait",
        "!",
        " Your",
        " order",
        " should",
        " arrive",
        " by",
        " 4",
        " April",
        ".",
    ]
    assert "usage" not in chunks_of(response)[-1]


def test_stream_tool_call(client: httpx2.Client) -> None:
    response = client.post(
        "/v2/deployments/stream",
        json={"key": "support-triage", "inputs": EXAMPLE_INPUTS, "invoke_options": {"include_retrievals": True}},
    )
    chunks = chunks_of(response)
    *pieces, final = chunks
    assert len(pieces) >= 2
    first_call = pieces[0]["choices"][0]["message"]["tool_calls"][0]
    assert first_call["function"]["name"] == "lookup_order"
    assert first_call["id"].startswith("call_")
    arguments = "".join(p["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] for p in pieces)
    for piece in pieces:
        message = piece["choices"][0]["message"]
        assert (message["type"], message["content"], piece["choices"][0]["finish_reason"]) == ("tool_calls", None, None)
        assert message["tool_calls"][0]["index"] == 0
    final_choice = final["choices"][0]
    assert final_choice["finish_reason"] == "tool_calls"
    [call] = final_choice["message"]["tool_calls"]
    assert call["id"] == first_call["id"]
    assert call["function"]["arguments"] == arguments
    assert json.loads(arguments) == {"order_number": "NL-20391"}
    assert final["retrievals"]
    assert events_of(response)[-1] == (None, "[DONE]")


def test_request_log_records_routes(client: httpx2.Client, emulator: EmulatorThread) -> None:
    client.get("/v2/deployments", params={"limit": 3})
    client.post("/v2/deployments/get_config", json={"key": "faq-assistant", "inputs": {"a": 1}})
    client.get("/v2/prompts/unknown")
    routes = [r.route for r in emulator.state.requests]
    assert routes == ["list_deployments", "get_config", "get_prompt"]
    listing, config, prompt = emulator.state.requests
    assert (listing.method, listing.path, listing.query, listing.body) == (
        "GET",
        "/v2/deployments",
        {"limit": "3"},
        None,
    )
    assert config.body == {"key": "faq-assistant", "inputs": {"a": 1}}
    assert config.api_key == KEY
    assert prompt.status == 404
    assert all(r.finished_at is not None and r.finished_at >= r.started_at for r in emulator.state.requests)
    assert len(emulator.state.requests_for("get_config")) == 1
    emulator.state.clear_log()
    assert emulator.state.requests == []


def test_stream_disconnect_is_detected(emulator: EmulatorThread) -> None:
    emulator.state.chunk_delay = 0.05
    with (
        httpx2.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=5) as client,
        client.stream("POST", "/v2/deployments/stream", json=FAQ) as response,
    ):
        data_lines = 0
        for line in response.iter_lines():
            if line.startswith("data: "):
                data_lines += 1
            if data_lines == 2:
                break
        closed_at = time.monotonic()
        response.close()
    record = emulator.state.last_request("stream")
    assert record is not None
    assert anyio.run(wait_until, lambda: record.disconnected_at is not None, 1.0)
    assert record.disconnected_at is not None
    assert record.disconnected_at - closed_at < 0.5
    assert 2 <= record.chunks_sent < 10
    assert record.finished_at is not None


# Faults -----------------------------------------------------------------------------------------------------------


def test_fault_429_with_retry_after(client: httpx2.Client, emulator: EmulatorThread) -> None:
    emulator.state.add_fault(Fault("invoke", "status", status=429))
    limited = client.post("/v2/deployments/invoke", json=FAQ)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert limited.json()["message"] == "Too many requests. Retry after 2 seconds."
    assert client.post("/v2/deployments/invoke", json=FAQ).status_code == 200
    emulator.state.add_fault(Fault("*", "status", status=429, retry_after=5))
    assert client.get("/v2/prompts").headers["retry-after"] == "5"
    assert emulator.state.last_request().faults == ["status"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (500, {"code": "500", "message": "Internal Server Error"}),
        (401, {"message": "Invalid API key. Pass a valid key as 'Authorization: Bearer <key>'."}),
    ],
)
def test_fault_exact_bodies(client: httpx2.Client, emulator: EmulatorThread, status: int, expected: Any) -> None:
    emulator.state.add_fault(Fault("list_deployments", "status", status=status))
    response = client.get("/v2/deployments")
    assert (response.status_code, response.json()) == (status, expected)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "Invalid request body: injected fault"),
        (403, "This API key cannot access the project."),
        (404, "Deployment with key 'support-triag' was not found."),
        (422, "No variant of deployment 'support-triage' matches the supplied context."),
        (500, "Internal Server Error"),
        (502, "The model provider returned an invalid response."),
        (503, "The service is temporarily unavailable. Please retry."),
        (504, "The model provider did not respond in time."),
    ],
)
def test_fault_default_bodies(client: httpx2.Client, emulator: EmulatorThread, status: int, message: str) -> None:
    """One shape for every status the SDK leaves undeclared: its ErrorResponse's `message` (docs/orq-api.md, Errors)."""
    emulator.state.add_fault(Fault("stream", "status", status=status))
    response = client.post("/v2/deployments/stream", json=FAQ)
    assert (response.status_code, response.json()) == (status, {"message": message})


def test_fault_legacy_custom_body_and_headers(client: httpx2.Client, emulator: EmulatorThread) -> None:
    emulator.state.add_fault(Fault("get_config", "status", status=404, legacy=True))
    legacy = client.post("/v2/deployments/get_config", json=FAQ).json()
    assert set(legacy) == {"id", "code", "error", "source"}
    assert legacy["code"] == 404
    assert isinstance(legacy["error"], str)
    assert legacy["source"] == "system"
    emulator.state.add_fault(
        Fault("get_config", "status", status=418, body={"message": "teapot"}, headers={"X-Test": "1"})
    )
    custom = client.post("/v2/deployments/get_config", json=FAQ)
    assert (custom.status_code, custom.json(), custom.headers["x-test"]) == (418, {"message": "teapot"}, "1")


def test_fault_times_route_filter_and_forever(client: httpx2.Client, emulator: EmulatorThread) -> None:
    state = emulator.state
    state.add_fault(Fault("invoke", "status", status=503, times=2))
    assert client.get("/v2/deployments").status_code == 200  # other routes are unaffected
    assert [client.post("/v2/deployments/invoke", json=FAQ).status_code for _ in range(3)] == [503, 503, 200]
    state.add_fault(Fault("*", "status", status=500, times=-1))
    assert [client.get("/v2/prompts").status_code for _ in range(3)] == [500, 500, 500]
    assert len(state.pending_faults) == 1
    state.clear_faults()
    assert client.get("/v2/prompts").status_code == 200


def test_faults_wait_for_authenticated_requests(
    emulator: EmulatorThread, client: httpx2.Client, anonymous: httpx2.Client
) -> None:
    emulator.state.add_fault(Fault("*", "status", status=500))
    assert anonymous.get("/v2/deployments").status_code == 401
    assert len(emulator.state.pending_faults) == 1
    assert client.get("/v2/deployments").status_code == 500


def test_fault_slow_first_byte(client: httpx2.Client, emulator: EmulatorThread) -> None:
    emulator.state.add_fault(Fault("list_deployments", "slow_first_byte", delay=0.3))
    started = time.monotonic()
    response = client.get("/v2/deployments")
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert len(response.json()["data"]) == min(10, len(SAMPLE_DEPLOYMENTS))


def test_fault_disconnect_mid_stream(client: httpx2.Client, emulator: EmulatorThread) -> None:
    emulator.state.add_fault(Fault("*", "disconnect_mid_stream", after_chunks=2))
    response = client.post("/v2/deployments/stream", json={**FAQ, "stream": True})
    assert response.status_code == 200
    events = events_of(response)
    assert len(events) == 2
    assert all(json.loads(data)["is_final"] is False for _, data in events)
    record = emulator.state.requests[-1]
    assert record.chunks_sent == 2
    assert record.faults == ["disconnect_mid_stream"]


def test_fault_error_event(client: httpx2.Client, emulator: EmulatorThread) -> None:
    emulator.state.add_fault(Fault("stream", "error_event", after_chunks=3))
    response = client.post("/v2/deployments/stream", json=FAQ)
    events = events_of(response)
    assert [name for name, _ in events] == [None, None, None, "error"]
    assert json.loads(events[-1][1]) == {
        "error": {
            "code": "provider_error",
            "message": "Upstream provider closed the connection",
            "doc_url": "https://docs.orq.ai/errors/provider_error",
        }
    }
    assert "[DONE]" not in response.text
    assert "event: error\ndata: {" in response.text


def test_fault_malformed_chunk(client: httpx2.Client, emulator: EmulatorThread) -> None:
    expected = invoke(client, **FAQ)["choices"][0]["message"]["content"]
    emulator.state.add_fault(Fault("stream", "malformed_chunk", after_chunks=1))
    events = events_of(client.post("/v2/deployments/stream", json=FAQ))
    assert events[1] == (None, "{not json")
    good = [json.loads(data) for _, data in events if data not in ("{not json", "[DONE]")]
    assert streamed_text(good) == expected
    assert good[-1]["is_final"] is True
    assert events[-1] == (None, "[DONE]")


def test_stream_faults_do_not_fire_on_plain_invoke(client: httpx2.Client, emulator: EmulatorThread) -> None:
    emulator.state.add_fault(Fault("*", "error_event"))
    assert client.post("/v2/deployments/invoke", json=FAQ).status_code == 200
    assert len(emulator.state.pending_faults) == 1


def test_fault_non_json_body(client: httpx2.Client, emulator: EmulatorThread) -> None:
    emulator.state.add_fault(Fault("invoke", "non_json_body"))
    response = client.post("/v2/deployments/invoke", json=FAQ)
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == "<html><body><h1>502 Bad Gateway</h1></body></html>"


def test_fault_huge_response(client: httpx2.Client, emulator: EmulatorThread) -> None:
    emulator.state.add_fault(Fault("invoke", "huge_response"))
    body = invoke(client, **FAQ)
    assert len(body["choices"][0]["message"]["content"]) == 5_000_000
    emulator.state.add_fault(Fault("stream", "huge_response", size=100_000, chunk_size=4096))
    chunks = chunks_of(client.post("/v2/deployments/stream", json=FAQ))
    assert len(chunks) == 100_000 // 4096 + 1 + 1
    assert all(len(c["choices"][0]["message"]["content"]) == 4096 for c in chunks[:-2])
    assert len(streamed_text(chunks)) == 100_000


def test_fault_hang_until_client_gives_up(emulator: EmulatorThread) -> None:
    emulator.state.add_fault(Fault("stream", "hang"))
    with (
        httpx2.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {KEY}"}) as client,
        pytest.raises(httpx2.ReadTimeout),
    ):
        client.post("/v2/deployments/stream", json=FAQ, timeout=0.3)
    record = emulator.state.last_request("stream")
    assert record is not None
    assert anyio.run(wait_until, lambda: record.disconnected_at is not None, 1.0)
    assert record.status == 499


def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="kind"):
        Fault("*", "explode")
    with pytest.raises(ValueError, match="route"):
        Fault("deployments", "status")
    with pytest.raises(ValueError, match="times"):
        Fault("*", "status", times=0)


# Serving ----------------------------------------------------------------------------------------------------------


async def test_serve_emulator_in_current_loop() -> None:
    state = sample_state("loop-key", chunk_delay=0.001, check_body=sdk_violation)
    async with serve_emulator(state) as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        async with httpx2.AsyncClient(base_url=url, headers={"Authorization": "Bearer loop-key"}) as client:
            listing = await client.get("/v2/deployments", params={"limit": 1})
            assert listing.json()["has_more"] is True
            async with client.stream("POST", "/v2/deployments/stream", json=FAQ) as response:
                text = "".join([chunk async for chunk in response.aiter_text()])
    assert parse_sse(text)[-1] == (None, "[DONE]")
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(url + "/v2/deployments")


async def test_serve_emulator_reports_bind_failure(emulator: EmulatorThread) -> None:
    busy_port = int(emulator.base_url.rsplit(":", 1)[1])
    with pytest.raises(RuntimeError, match="failed to start"):
        async with serve_emulator(EmulatorState(), port=busy_port):
            pass


def test_emulator_thread_stop_releases_port() -> None:
    emu = EmulatorThread(api_key="thread-key").start()
    url = emu.base_url
    assert httpx2.get(url + "/v2/prompts", headers={"Authorization": "Bearer thread-key"}).status_code == 200
    emu.stop()
    with pytest.raises(RuntimeError):
        _ = emu.base_url
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(url + "/v2/prompts")


def test_module_cli_prints_one_url_line() -> None:
    command = [sys.executable, "-m", "orq_mcp.sandbox", "--port", "0", "--api-key", "cli-key", "--chunk-delay", "0"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.fullmatch(r"ORQ_EMULATOR_URL=http://127\.0\.0\.1:\d+\n", line)
        url = line.strip().split("=", 1)[1]
        response = httpx2.post(url + "/v2/deployments/invoke", json=FAQ, headers={"Authorization": "Bearer cli-key"})
        assert response.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr
    assert stdout == ""
    assert "listening on" in stderr


# Units ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", " ", "Hello", "  leading and trailing  ", "Line one.\nLine two!\n\n", "Ünïcode — “quotes” 3.5 NL-20391"],
)
def test_split_words_round_trips(text: str) -> None:
    pieces = split_words(text)
    assert "".join(pieces) == text
    assert all(piece for piece in pieces)


def test_ulid_format_and_order() -> None:
    first, second = new_ulid(1_700_000_000_000), new_ulid(1_700_000_000_001)
    assert ULID.fullmatch(first)
    assert ULID.fullmatch(second)
    assert first[:10] < second[:10]
    assert first[0] in "01234567"


def test_sample_workspace_is_fresh_and_well_formed() -> None:
    one, two = sample_workspace(), sample_workspace()
    one.deployments[0]["key"] = "changed"
    assert two.deployments[0]["key"] == "support-triage"
    keys = [d["key"] for d in two.deployments]
    assert len(set(keys)) == len(SAMPLE_DEPLOYMENTS)
    assert len({d["prompt_config"]["provider"] for d in two.deployments}) >= 5
    assert all(ULID.fullmatch(p["_id"]) for p in two.prompts)
