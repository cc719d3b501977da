"""Keep the emulator honest: its happy-path output must parse with the official orq-ai-sdk models and client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from orq_mcp.sandbox import EmulatorThread, Fault, sample_state
from orq_mcp.sandbox.data import SAMPLE_DEPLOYMENTS, SAMPLE_PROMPTS, STREAMABLE_DEPLOYMENTS
from orq_mcp.sandbox.event_stream import parse_sse
from tests.sdk_schema import sdk_violation, unknown_keys

orq_ai_sdk = pytest.importorskip("orq_ai_sdk")
models = orq_ai_sdk.models
from orq_ai_sdk.utils.serializers import unmarshal_json  # noqa: E402

KEY = "sdk-test-key"
TRIAGE_INPUTS = {
    "company_name": "Acme Bikes",
    "language": "English",
    "customer_name": "Priya",
    "ticket_body": "My order NL-20391 has not arrived yet.",
}
DELIVERY_QUESTION = [{"role": "user", "content": "Please also tell me the expected delivery date."}]


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(sample_state(KEY, chunk_delay=0.0, check_body=sdk_violation)) as emu:
        yield emu


@pytest.fixture(scope="module")
def client(emulator: EmulatorThread) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def orq(emulator: EmulatorThread) -> Any:
    return orq_ai_sdk.Orq(api_key=KEY, server_url=emulator.base_url)


def validate(model: Any, payload: Any) -> Any:
    """Strict pydantic validation (no unknown union variants), the SDK's own unmarshalling, and no field the
    model does not know (the SDK models silently ignore extra keys, which would hide a misspelt field)."""
    strict = model.model_validate(payload)
    unmarshal_json(json.dumps(payload), model)
    assert not unknown_keys(payload, strict.model_dump(by_alias=True, mode="json"), model.__name__)
    return strict


def stream_chunks(response: httpx2.Response) -> list[dict[str, Any]]:
    events = parse_sse(response.text)
    assert events[-1] == (None, "[DONE]")
    return [json.loads(data) for _, data in events[:-1]]


# Raw responses against the SDK models --------------------------------------------------------------------------


def test_list_deployments_validates(client: httpx2.Client) -> None:
    for params in ({}, {"limit": 2}, {"limit": 2, "starting_after": SAMPLE_DEPLOYMENTS[0]["id"]}):
        parsed = validate(models.DeploymentsResponseBody, client.get("/v2/deployments", params=params).json())
        assert parsed.object == "list"
    assert len(parsed.data) == 2


@pytest.mark.parametrize("deployment", SAMPLE_DEPLOYMENTS, ids=lambda d: d["key"])
def test_get_config_validates(client: httpx2.Client, deployment: dict[str, Any]) -> None:
    body = client.post(
        "/v2/deployments/get_config",
        json={"key": deployment["key"], "inputs": TRIAGE_INPUTS, "messages": DELIVERY_QUESTION},
    ).json()
    parsed = validate(models.DeploymentGetConfigResponseBody, body)
    assert parsed.model == deployment["prompt_config"]["model"]


@pytest.mark.parametrize("deployment", STREAMABLE_DEPLOYMENTS, ids=lambda d: d["key"])
def test_invoke_plain_validates(client: httpx2.Client, deployment: dict[str, Any]) -> None:
    body = client.post(
        "/v2/deployments/invoke",
        json={"key": deployment["key"], "inputs": TRIAGE_INPUTS, "messages": DELIVERY_QUESTION},
    ).json()
    parsed = validate(models.DeploymentInvokeResponseBody, body)
    assert parsed.choices[0].message.type == "content"


def test_invoke_tool_calls_validates(client: httpx2.Client) -> None:
    body = client.post("/v2/deployments/invoke", json={"key": "support-triage", "inputs": TRIAGE_INPUTS}).json()
    parsed = validate(models.DeploymentInvokeResponseBody, body)
    assert parsed.choices[0].message.type == "tool_calls"
    assert parsed.choices[0].message.tool_calls[0].function.name == "lookup_order"


def test_invoke_with_usage_and_retrievals_validates(client: httpx2.Client) -> None:
    body = client.post(
        "/v2/deployments/invoke",
        json={
            "key": "faq-assistant",
            "messages": DELIVERY_QUESTION,
            "invoke_options": {"include_usage": True, "include_retrievals": True},
        },
    ).json()
    parsed = validate(models.DeploymentInvokeResponseBody, body)
    assert parsed.usage.total_tokens == parsed.usage.prompt_tokens + parsed.usage.completion_tokens
    assert parsed.retrievals[0].metadata.file_name


@pytest.mark.parametrize(
    "request_body",
    [
        {"key": "faq-assistant", "messages": DELIVERY_QUESTION, "invoke_options": {"include_usage": True}},
        {"key": "support-triage", "inputs": TRIAGE_INPUTS, "invoke_options": {"include_retrievals": True}},
        {"key": "release-notes-writer", "inputs": {"version": "2.4"}, "invoke_options": {"mock_response": "Done."}},
    ],
    ids=["text", "tool-calls", "mock"],
)
def test_every_stream_chunk_validates(client: httpx2.Client, request_body: dict[str, Any]) -> None:
    chunks = stream_chunks(client.post("/v2/deployments/stream", json=request_body))
    parsed = [validate(models.DeploymentStreamData, chunk) for chunk in chunks]
    assert [p.is_final for p in parsed] == [False] * (len(parsed) - 1) + [True]


@pytest.mark.filterwarnings("ignore:.*DEPRECATED:DeprecationWarning")
def test_prompts_validate(client: httpx2.Client) -> None:
    listing = validate(models.GetAllPromptsResponseBody, client.get("/v2/prompts").json())
    assert len(listing.data) == len(SAMPLE_PROMPTS)
    for prompt in SAMPLE_PROMPTS:
        parsed = validate(models.GetOnePromptPrompt, client.get(f"/v2/prompts/{prompt['_id']}").json())
        assert parsed.id == prompt["_id"]


def test_401_and_404_bodies_validate_as_error_response(emulator: EmulatorThread, client: httpx2.Client) -> None:
    unauthorized = httpx2.get(emulator.base_url + "/v2/deployments", headers={"Authorization": "Bearer wrong"})
    assert validate(models.ErrorResponseData, unauthorized.json()).message.startswith("Invalid API key")
    missing = client.get("/v2/prompts/01XXXXXXXXXXXXXXXXXXXXXXXX")
    assert validate(models.ErrorResponseData, missing.json()).message.endswith("was not found.")


# The real SDK client against the emulator ----------------------------------------------------------------------


def test_sdk_lists_deployments_and_prompts(orq: Any) -> None:
    first = orq.deployments.list(limit=2)
    assert [d.key for d in first.data] == ["product-copywriter", "support-triage"]
    assert first.has_more is True
    rest = orq.deployments.list(limit=50, starting_after=first.data[-1].id)
    assert len(rest.data) == len(SAMPLE_DEPLOYMENTS) - 2
    assert rest.has_more is False
    prompts = orq.prompts.list(limit=2)
    assert len(prompts.data) == 2
    assert prompts.has_more is True
    assert orq.prompts.retrieve(id=prompts.data[0].id).display_name == prompts.data[0].display_name


def test_sdk_get_config_and_invoke(orq: Any) -> None:
    config = orq.deployments.get_config(key="support-triage", inputs=TRIAGE_INPUTS)
    assert config.messages[0].content.startswith("You are the support assistant for Acme Bikes.")
    assert config.tools[0].function.name == "lookup_order"
    answer = orq.deployments.invoke(
        key="faq-assistant", messages=DELIVERY_QUESTION, invoke_options={"include_usage": True}
    )
    assert answer.choices[0].message.content.startswith("[mistral-small-latest] Re: Please also tell me")
    assert answer.usage.total_tokens > 0
    tool_call = orq.deployments.invoke(key="support-triage", inputs=TRIAGE_INPUTS)
    assert tool_call.choices[0].message.tool_calls[0].function.arguments == '{"order_number":"NL-20391"}'


def test_sdk_stream(orq: Any) -> None:
    expected = orq.deployments.invoke(key="faq-assistant", messages=DELIVERY_QUESTION).choices[0].message.content
    events = list(orq.deployments.stream(key="faq-assistant", messages=DELIVERY_QUESTION))
    assert len(events) > 5
    text = "".join(e.data.choices[0].message.content or "" for e in events)
    assert text == expected
    assert events[-1].data.is_final is True
    assert events[-1].data.choices[0].finish_reason == "stop"


def test_sdk_raises_error_response_on_401(emulator: EmulatorThread) -> None:
    bad = orq_ai_sdk.Orq(api_key="wrong", server_url=emulator.base_url)
    with pytest.raises(models.ErrorResponse) as raised:
        bad.deployments.list()
    assert raised.value.data.message.startswith("Invalid API key")


# Issue 16: the emulator answers only in shapes the SDK declares (or says where it infers) ----------------------


def validate_as(kind: Any, payload: Any) -> Any:
    """Like `validate`, for SDK models and for the SDK's type aliases (unions) alike."""
    from pydantic import TypeAdapter

    adapter = TypeAdapter(kind)
    parsed = adapter.validate_python(payload)
    dumped = adapter.dump_python(parsed, mode="json", by_alias=True)
    assert not unknown_keys(payload, dumped, str(kind)), payload
    return parsed


ORDER_AGENT = {"key": "order-agent", "inputs": {"question": "Where is my order NL-20391?"}}


def error_cases() -> list[tuple[str, str, str, dict[str, Any] | None, int]]:
    """(name, method, path, json body, status) for each error the emulator answers without a fault."""
    deployment_routes = ("invoke", "stream", "get_config")
    cases = [
        (f"{r}-unknown-key", "POST", f"/v2/deployments/{r}", {"key": "support-triag"}, 404) for r in deployment_routes
    ]
    cases += [(f"{r}-bad-body", "POST", f"/v2/deployments/{r}", {"key": 7}, 400) for r in deployment_routes]
    variant = {"key": "support-triage", "inputs": TRIAGE_INPUTS, "context": {"environments": "development"}}
    cases += [(f"{r}-no-variant", "POST", f"/v2/deployments/{r}", variant, 422) for r in deployment_routes]
    cases += [
        ("list-bad-limit", "GET", "/v2/deployments?limit=500", None, 400),
        ("versions-unknown-key", "GET", "/v2/deployments/support-triag/versions", None, 404),
        ("prompt-unknown-id", "GET", "/v2/prompts/01XXXXXXXXXXXXXXXXXXXXXXXX", None, 404),
        ("stream-non-chat", "POST", "/v2/deployments/stream", {"key": "product-photo"}, 400),
        (
            "thinking-signature",
            "POST",
            "/v2/deployments/stream",
            {
                **ORDER_AGENT,
                "messages": [
                    {"role": "assistant", "content": [{"type": "reasoning", "reasoning": "r", "signature": "forged"}]}
                ],
            },
            400,
        ),
    ]
    return cases


@pytest.mark.parametrize(
    ("method", "path", "body", "status"), [c[1:] for c in error_cases()], ids=[c[0] for c in error_cases()]
)
def test_error_bodies_take_the_one_shape_the_sdk_declares(
    client: httpx2.Client, method: str, path: str, body: dict[str, Any] | None, status: int
) -> None:
    """The SDK declares `ErrorResponse` {message, code?: int, details?} for its 4XX (401 everywhere, 404 on
    prompts); for the statuses it leaves undeclared the emulator uses that shape too [INFER], never a hybrid."""
    response = client.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert validate(models.ErrorResponseData, response.json()).message


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422, 429, 500, 502, 503, 504])
def test_injected_status_faults_take_the_sdk_shapes(
    emulator: EmulatorThread, client: httpx2.Client, status: int
) -> None:
    emulator.state.add_fault(Fault("stream", "status", status=status))
    answer = client.post("/v2/deployments/stream", json={"key": "faq-assistant"})
    assert answer.status_code == status
    assert validate(models.ErrorResponseData, answer.json()).message
    emulator.state.add_fault(Fault("list_deployments", "status", status=status))
    listed = client.get("/v2/deployments")
    # The deployments list declares HonoApiError {code?: str, message} for its 500 (SDK deployments.list).
    model = models.HonoAPIErrorData if status == 500 else models.ErrorResponseData
    assert validate(model, listed.json()).message


def test_invoke_answers_json_even_when_asked_to_stream(client: httpx2.Client) -> None:
    """The SDK declares only an application/json 200 for /invoke (and its hook forces stream: false); the spec's
    prose promising SSE there is unverified (`check --live` asks), so the emulator does not invent it."""
    for key in ("faq-assistant", "product-photo"):
        response = client.post("/v2/deployments/invoke", json={"key": key, "stream": True, "inputs": TRIAGE_INPUTS})
        assert response.headers["content-type"] == "application/json"
        validate(models.DeploymentInvokeResponseBody, response.json())


def test_reasoning_chunks_carry_a_signature_and_redacted_reasoning(client: httpx2.Client) -> None:
    chunks = stream_chunks(client.post("/v2/deployments/stream", json=ORDER_AGENT))
    messages = [validate(models.DeploymentStreamData, chunk).choices[0].message for chunk in chunks]
    signed = [m for m in messages if getattr(m, "reasoning_signature", None)]
    redacted = [m for m in messages if getattr(m, "redacted_reasoning", None)]
    assert (len(signed), len(redacted)) == (1, 1)
    whole = validate(
        models.DeploymentInvokeResponseBody, client.post("/v2/deployments/invoke", json=ORDER_AGENT).json()
    )
    message = whole.choices[0].message
    assert message.type == "tool_calls"
    assert message.reasoning_signature == signed[0].reasoning_signature
    assert message.redacted_reasoning == redacted[0].redacted_reasoning
    assert message.reasoning == "".join(m.reasoning or "" for m in messages)


# Each non-chat type: its invoke answer in the SDK's model, its provider_response in orq's router model for the type.
ROUTER_MODELS = {
    "embedding": "CreateEmbeddingResponseBody",
    "stt": "CreateTranscriptionResponseBody",
    "rerank": "CreateRerankResponseBody",
    "ocr": "PostV2RouterOcrResponseBody",
    "moderation": "CreateModerationResponseBody",
    "classify": "CreateClassifyResponseBody",
}
NON_CHAT = [d for d in SAMPLE_DEPLOYMENTS if d not in STREAMABLE_DEPLOYMENTS]
AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZF", "format": "wav"}}
SCAN = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}}


@pytest.mark.parametrize("deployment", NON_CHAT, ids=lambda d: d["key"])
def test_every_non_chat_answer_validates_with_the_sdk(client: httpx2.Client, deployment: dict[str, Any]) -> None:
    model_type = deployment["prompt_config"]["model_type"]
    body = {
        "key": deployment["key"],
        "inputs": {"text": "hurt", "query": "shipping", "ticket": "charged twice", "product_name": "a bell"},
        "messages": [
            {"role": "user", "content": [AUDIO, SCAN, {"type": "image_url", "image_url": {"url": "https://x"}}]}
        ],
        "documents": [{"text": "Shipping takes 2 days."}, {"text": "Returns are free."}],
    }
    answer = validate(models.DeploymentInvokeResponseBody, client.post("/v2/deployments/invoke", json=body).json())
    response = answer.provider_response
    if model_type in ROUTER_MODELS:
        validate_as(getattr(models, ROUTER_MODELS[model_type]), response)
    elif model_type == "tts":
        assert response.startswith("data:audio/mpeg;base64,")
    elif model_type == "vision":
        assert answer.choices[0].message.content.startswith("I see 1 image(s).")
    else:
        assert model_type == "image"
        assert answer.choices[0].message.type == "image"
