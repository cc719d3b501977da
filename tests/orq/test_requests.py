"""The request models: every rule the SDK's request models enforce, and bodies the SDK itself accepts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from orq_mcp.orq.requests import Message, RequestOptions, describe, request_body
from orq_mcp.surface.schema import compact_schema
from tests.sdk_schema import DEPLOYMENT_REQUEST_MODELS, SDK_REQUEST_MODELS, sdk_violation

sdk_models = pytest.importorskip("orq_ai_sdk").models

MESSAGES = TypeAdapter(list[Message])
PNG = "data:image/png;base64,iVBORw0KGgo="


def problems(messages: list[dict[str, Any]]) -> str:
    with pytest.raises(ValidationError) as caught:
        MESSAGES.validate_python(messages)
    return describe(caught.value)


def messages_body(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return request_body("k", messages=MESSAGES.validate_python(messages))


def assert_sdk_accepts(body: dict[str, Any]) -> None:
    for route in DEPLOYMENT_REQUEST_MODELS:
        assert sdk_violation(route, body) is None, (route, body)


USER = {"role": "user", "content": "Where is my order?"}
CALL = {"id": "call_1", "name": "lookup_order", "arguments": {"order": "NL-1"}}
ASSISTANT_CALLS = {"role": "assistant", "content": None, "tool_calls": [CALL]}
TOOL = {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "shipped"}'}


def test_bodies_are_checked_with_the_sdks_own_request_models() -> None:
    assert {route: getattr(sdk_models, name) for route, name in SDK_REQUEST_MODELS.items()} == {
        "stream": sdk_models.DeploymentStreamRequestBody,
        "invoke": sdk_models.InvokeDeploymentRequest,
        "get_config": sdk_models.DeploymentGetConfigRequestBody,
        "agent_response": sdk_models.AgentResponseRequest,
        "knowledge_search": sdk_models.SearchKnowledgeRequest,
        "feedback": sdk_models.PostV2FeedbackRequestBody,
    }


# Rules, each with the error an agent reads ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([USER, ASSISTANT_CALLS, {"role": "tool", "content": "x"}], "2.tool_call_id: required for a tool turn"),
        ([{"role": "tool", "tool_call_id": None, "content": "x"}], "0.tool_call_id: required for a tool turn"),
        ([{"role": "user", "content": None}], "0.content: required for a user turn"),
        ([{"role": "system"}], "0.content: required for a system turn"),
        ([{"role": "developer", "content": None}], "0.content: required for a developer turn"),
        ([{"role": "tool", "tool_call_id": "c", "content": None}], "0.content: required for a tool turn"),
        ([{"role": "assistant", "tool_calls": [{"name": "f", "arguments": {}}]}], "0.tool_calls.0.id: Field required"),
        ([{"role": "assistant", "content": None}], "0: an assistant turn needs content or tool_calls"),
        ([{"role": "user", "content": "x", "tool_call_id": "c"}], "0.tool_call_id: not allowed on a user turn"),
        ([{"role": "user", "content": "x", "tool_calls": [CALL]}], "0.tool_calls: not allowed on a user turn"),
        ([{"role": "user", "content": "x", "reasoning_content": "r"}], "0.reasoning_content: not allowed on a user"),
        ([{**TOOL, "name": "n"}], "0.name: not allowed on a tool turn"),
        ([{"role": "narrator", "content": "x"}], "0.role: Input should be"),
        ([{"role": "user", "content": "x", "colour": "red"}], "0.colour: Extra inputs are not permitted"),
        ([{"role": "user", "content": 5}], "0.content: Input should be a valid list"),
        (
            [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": PNG}}]}],
            "0.content: a system turn takes only text parts, not image_url",
        ),
        (
            [{"role": "assistant", "content": [{"type": "file", "file": {"uri": "gs://b/f.pdf"}}]}],
            "0.content: a assistant turn takes only reasoning, redacted_reasoning, refusal, text parts, not file",
        ),
        ([{"role": "user", "content": [{"type": "text"}]}], "0.content.0.text: required when type is text"),
        (
            [{"role": "user", "content": [{"type": "image_url", "text": "x", "image_url": {"url": PNG}}]}],
            "0.content.0.text: not allowed when type is image_url",
        ),
        ([{"role": "user", "content": [{"type": "video"}]}], "0.content.0.type: Input should be"),
        (
            [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA==", "format": "ogg"}}]}],
            "0.content.0.input_audio.format: Input should be 'mp3' or 'wav'",
        ),
        (
            [{"role": "user", "content": [{"type": "file", "file": {"uri": "u", "file_id": "f"}}]}],
            "0.content.0.file: give exactly one of file_data, uri or file_id",
        ),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": PNG, "detail": "max"}}]}],
            "0.content.0.image_url.detail: Input should be 'low', 'high' or 'auto'",
        ),
    ],
)
def test_a_message_the_api_rejects_is_refused_naming_the_turn_and_field(
    messages: list[dict[str, Any]], error: str
) -> None:
    assert error in problems(messages)


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "tool", "content": "x"}],
        [{"role": "user", "content": None}],
        [{"role": "system", "content": None}],
        [{"role": "tool", "tool_call_id": "c", "content": None}],
        [{"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]}],
        [{"role": "user", "content": [{"type": "video"}]}],
        [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": PNG}}]}],
    ],
)
def test_what_we_refuse_for_a_role_the_sdk_refuses_too(messages: list[dict[str, Any]]) -> None:
    """The rules come from the SDK: each refusal above that is not a documented extra is the SDK's own."""
    problems(messages)
    assert sdk_violation("stream", {"key": "k", "messages": messages}) is not None


# What the API accepts and the old argument model dropped -----------------------------------------------------------


def test_user_content_parts_reach_orq_exactly() -> None:
    parts = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}},
        {"type": "file", "file": {"uri": "https://example.com/a.pdf", "mimeType": "application/pdf"}},
        {"type": "file", "file": {"file_id": "file-abc"}},
    ]
    body = messages_body([{"role": "user", "content": parts, "name": "priya"}])
    assert body["messages"] == [{"role": "user", "content": parts, "name": "priya"}]
    assert_sdk_accepts(body)


def test_a_reasoning_tool_loop_replays_reasoning_and_thought_signatures() -> None:
    assistant = {
        "role": "assistant",
        "content": None,
        "reasoning_content": "The user wants the order status.",
        "tool_calls": [{**CALL, "thought_signature": "sig-123"}, {"id": "call_2", "name": "now", "arguments": "{}"}],
    }
    body = messages_body([USER, assistant, TOOL, {**TOOL, "tool_call_id": "call_2", "content": "noon"}])
    assert body["messages"][1] == {
        "role": "assistant",
        "reasoning_content": "The user wants the order status.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "lookup_order", "arguments": '{"order": "NL-1"}'},
                "thought_signature": "sig-123",
            },
            {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": "{}"}},
        ],
    }
    assert_sdk_accepts(body)


def test_text_parts_on_every_role_and_plain_strings() -> None:
    text = [{"type": "text", "text": "Be brief."}]
    body = messages_body(
        [
            {"role": "system", "content": text, "name": "policy"},
            {"role": "developer", "content": "Use metric units."},
            {"role": "user", "content": text},
            {"role": "assistant", "content": text},
            {"role": "assistant", "content": "Done.", "tool_calls": [CALL]},
            {**TOOL, "content": text},
        ]
    )
    assert body["messages"][0] == {"role": "system", "content": text, "name": "policy"}
    assert_sdk_accepts(body)


# The other body fields -------------------------------------------------------------------------------------------


FULL_OPTIONS = {
    "thread": {"id": "thread-42", "tags": ["support"]},
    "identity": {
        "id": "user-7",
        "display_name": "Priya",
        "email": "priya@example.com",
        "metadata": [{"plan": "pro"}],
        "logo_url": "https://example.com/p.png",
        "tags": ["vip"],
    },
    "documents": [{"text": "Refunds take 5 days.", "metadata": {"file_name": "faq.pdf", "file_type": "pdf"}}],
    "file_ids": ["file_01"],
    "prefix_messages": [{"role": "user", "content": "Earlier: I ordered a bike."}],
    "extra_params": {"temperature": 0.2},
    "knowledge_filter": {"and": [{"year": {"gte": 2024}}, {"lang": {"in": ["en", "nl"]}}]},
    "invoke_options": {"include_retrievals": True, "include_usage": True, "mock_response": "OK"},
}


def test_every_option_reaches_orq_as_the_sdk_expects() -> None:
    options = RequestOptions.model_validate(FULL_OPTIONS)
    body = request_body("k", inputs={"a": 1}, context={"env": "prod"}, metadata={"m": 1}, options=options)
    assert body == {"key": "k", "inputs": {"a": 1}, "context": {"env": "prod"}, "metadata": {"m": 1}, **FULL_OPTIONS}
    assert_sdk_accepts(body)


def test_page_numbers_and_filters_of_every_operator_validate_with_the_sdk() -> None:
    filters: list[dict[str, Any]] = [
        {"lang": {"eq": "en"}},
        {"draft": {"ne": True}},
        {"year": {"gt": 2020}, "pages": {"lt": 10.5}},
        {"year": {"lte": 2025}},
        {"or": [{"tag": {"nin": ["old", 3]}}, {"year": {"gte": 2024}}]},
    ]
    for knowledge_filter in filters:
        options = RequestOptions(
            knowledge_filter=knowledge_filter, documents=[{"text": "t", "metadata": {"page_number": 3}}]
        )
        assert_sdk_accepts(request_body("k", options=options))


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"thread": {"tags": ["a"]}}, "thread.id: Field required"),
        ({"thread": {"id": "t", "colour": "red"}}, "thread.colour: Extra inputs are not permitted"),
        ({"identity": {"display_name": "P"}}, "identity.id: Field required"),
        ({"identity": {"id": "u", "metadata": {"plan": "pro"}}}, "identity.metadata: Input should be a valid list"),
        ({"documents": [{"metadata": {}}]}, "documents.0.text: Field required"),
        ({"documents": [{"text": "t", "metadata": {"page_number": "two"}}]}, "documents.0.metadata.page_number"),
        ({"file_ids": "file_01"}, "file_ids: Input should be a valid list"),
        ({"prefix_messages": [{"role": "tool", "content": "x"}]}, "prefix_messages.0.tool_call_id: required"),
        ({"invoke_options": {"mock_response": 5}}, "invoke_options.mock_response: Input should be a valid string"),
        ({"invoke_options": {"stream": True}}, "invoke_options.stream: Extra inputs are not permitted"),
        ({"knowledge_filter": {"year": 2024}}, "knowledge_filter: 'year' needs one operator object"),
        ({"knowledge_filter": {"year": {"gte": "2024"}}}, "knowledge_filter: 'year.gte' takes a number"),
        ({"knowledge_filter": {"year": {"eq": 1, "ne": 2}}}, "'year' needs one operator object"),
        ({"knowledge_filter": {"tag": {"in": "a"}}}, "'tag.in' takes a list"),
        ({"knowledge_filter": {"and": []}}, "'and' takes a non-empty list"),
        ({"knowledge_filter": {"and": [{"or": [{"a": {"eq": 1}}]}]}}, "cannot be nested"),
        ({"temperature": 0.2}, "temperature: Extra inputs are not permitted"),
    ],
)
def test_a_bad_option_is_refused_naming_the_field(options: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RequestOptions.model_validate(options)
    assert error in describe(caught.value)


@pytest.mark.parametrize(
    "options",
    [
        {"thread": {"tags": ["a"]}},
        {"identity": {"id": "u", "metadata": {"plan": "pro"}}},
        {"documents": [{"metadata": {}}]},
        {"knowledge_filter": {"and": [{"or": [{"a": {"eq": 1}}]}]}},
    ],
)
def test_the_sdk_refuses_those_options_too(options: dict[str, Any]) -> None:
    assert sdk_violation("stream", {"key": "k", **options}) is not None


# As tool argument types ------------------------------------------------------------------------------------------


def objects(schema: Any) -> list[dict[str, Any]]:
    """Every object schema within `schema`, inlined or in $defs."""
    if isinstance(schema, list):
        return [found for item in schema for found in objects(item)]
    if not isinstance(schema, dict):
        return []
    inner = [found for value in schema.values() for found in objects(value)]
    return [schema, *inner] if schema.get("type") == "object" and "properties" in schema else inner


def test_the_schemas_are_compact_and_closed() -> None:
    for schema in (MESSAGES.json_schema(), RequestOptions.model_json_schema()):
        compact = compact_schema(schema, arguments=True)
        text = json.dumps(compact)
        assert '"title"' not in text
        assert '"oneOf"' not in text  # OpenAI's strict function calling refuses it
        assert objects(compact)
        for found in objects(compact):
            assert found.get("additionalProperties") is False, found
    messages = json.dumps(compact_schema(MESSAGES.json_schema(), arguments=True), separators=(",", ":"))
    # Measured 2,333 before issue 16 added assistant parts (refusal, reasoning, redacted_reasoning), refusal, audio
    # and cache_control: 3,002 (RequestOptions, which embeds Message, 4,419 before); 2,558 with issue 17 (definitions
    # used once inlined, descriptions that restated the schema gone).
    assert len(messages) < 2600


def test_a_body_without_optional_parts_is_just_the_key() -> None:
    assert request_body("k") == {"key": "k"}
    assert RequestOptions().to_orq() == {}
    assert_sdk_accepts(request_body("k", messages=[], options=RequestOptions()))


# Assistant parts, refusal, audio and cache_control (issue 16: reasoning round trips) -----------------------------

REASONING = {"type": "reasoning", "reasoning": "The user wants the order status.", "signature": "EqQBCkgIARAB"}
REDACTED = {"type": "redacted_reasoning", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"}
CACHED = {"type": "ephemeral", "ttl": "1h"}
AUDIO_PART = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
IMAGE_PART = {"type": "image_url", "image_url": {"url": PNG}}
FILE_PART = {"type": "file", "file": {"file_id": "file-abc"}}

# Each turn alone, as the SDK's request models (invokedeploymentrequest.py, deploymentstreamop.py,
# deploymentgetconfigop.py; reasoningpartschema.py, redactedreasoningpartschema.py, refusalpartschema.py,
# textcontentpartschema.py, imagecontentpartschema.py) take or refuse it.
SDK_ACCEPTS = [
    {"role": "assistant", "content": [REASONING, REDACTED, {"type": "text", "text": "Looking."}], "tool_calls": [CALL]},
    {"role": "assistant", "content": [{"type": "refusal", "refusal": "I can't help with that."}]},
    {"role": "assistant", "content": [{"type": "refusal"}]},  # the SDK makes the refusal text optional
    {"role": "assistant", "content": "No.", "refusal": "I can't help with that."},
    {"role": "assistant", "content": "Here it is.", "audio": {"id": "audio_abc123"}},
    {"role": "assistant", "content": "Hi.", "refusal": None, "audio": None},
    {"role": "system", "content": [{"type": "text", "text": "Long policy...", "cache_control": CACHED}]},
    {"role": "user", "content": [{**IMAGE_PART, "cache_control": {"type": "ephemeral"}}]},
    {"role": "user", "content": [{**FILE_PART, "cache_control": CACHED}]},
    {"role": "assistant", "content": [{"type": "text", "text": "Done.", "cache_control": CACHED}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "42", "cache_control": CACHED},
]
SDK_REFUSES = [
    ({"role": "user", "content": [REASONING]}, "0.content: a user turn takes only"),
    ({"role": "assistant", "content": [{"type": "reasoning", "reasoning": "r"}]}, "0.content.0.signature: required"),
    ({"role": "assistant", "content": [{"type": "redacted_reasoning"}]}, "0.content.0.data: required"),
    ({"role": "assistant", "content": [{**REDACTED, "text": "x"}]}, "0.content.0.text: not allowed when type is"),
    ({"role": "user", "content": [{**AUDIO_PART, "cache_control": CACHED}]}, "0.content.0.cache_control: not allowed"),
    ({"role": "assistant", "content": [{**REASONING, "cache_control": CACHED}]}, "cache_control: not allowed when"),
    ({"role": "system", "content": "x", "cache_control": CACHED}, "0.cache_control: not allowed on a system turn"),
    ({"role": "user", "content": "x", "refusal": "no"}, "0.refusal: not allowed on a user turn"),
    ({"role": "user", "content": "x", "audio": {"id": "a"}}, "0.audio: not allowed on a user turn"),
    ({"role": "assistant", "content": "x", "audio": {}}, "0.audio.id: Field required"),
    ({"role": "tool", "tool_call_id": "c", "content": "x", "cache_control": {"type": "ephemeral", "ttl": "2h"}}, "ttl"),
    ({"role": "tool", "tool_call_id": "c", "content": "x", "cache_control": {"type": "persistent"}}, "type"),
]


@pytest.mark.parametrize("turn", SDK_ACCEPTS, ids=lambda t: t["role"] + ":" + json.dumps(t)[:60])
def test_assistant_parts_refusal_audio_and_cache_control_pass_as_the_sdk_takes_them(turn: dict[str, Any]) -> None:
    body = messages_body([turn])
    (sent,) = body["messages"]
    assert {k: v for k, v in sent.items() if k != "tool_calls"} == {
        k: v for k, v in turn.items() if v is not None and k != "tool_calls"
    }
    assert_sdk_accepts(body)


@pytest.mark.parametrize(("turn", "error"), SDK_REFUSES, ids=lambda t: json.dumps(t)[:60])
def test_parts_and_fields_the_sdk_refuses_are_refused_naming_them(turn: dict[str, Any], error: str) -> None:
    assert error in problems([turn])
    assert sdk_violation("stream", {"key": "k", "messages": [turn]}) is not None
