"""The MCP surface through the SDK's in-memory Client (the transports are covered end to end elsewhere)."""

from __future__ import annotations

import json

import pytest
from mcp import Client, MCPError

from orq_mcp.config.settings import Settings
from orq_mcp.sandbox import EmulatorState, Fault, sample_workspace
from tests.conftest import API_KEY, served
from tests.helpers import names, text_of

TICKET = {"company_name": "Acme Bikes", "language": "English", "customer_name": "Priya", "ticket_body": "Hello"}
NEWEST_FIRST = [d["key"] for d in sorted(sample_workspace().deployments, key=lambda d: d["created"], reverse=True)]


async def call_ok(client: Client, tool: str, arguments: dict) -> dict:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


async def call_error(client: Client, tool: str, arguments: dict) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result
    message = text_of(result)
    assert API_KEY not in message
    return message


# -- tools/list ------------------------------------------------------------------------------------


async def test_the_four_tools_with_schemas_and_annotations(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert list(tools) == ["list_deployments", "get_deployment_config", "invoke_deployment", "list_prompts"]
    for tool in tools.values():
        assert tool.description
        assert tool.title
        assert tool.input_schema["additionalProperties"] is False
        assert tool.output_schema is not None
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is (tool.name != "invoke_deployment")
    assert set(tools["invoke_deployment"].input_schema["properties"]) == {
        "key",
        "inputs",
        "messages",
        "context",
        "metadata",
        "options",
    }
    assert tools["invoke_deployment"].input_schema["required"] == ["key"]
    assert set(tools["invoke_deployment"].output_schema["properties"]) == {
        "text",
        "finish_reason",
        "model",
        "provider",
        "id",
        "trace_id",
        "usage",
        "tool_calls",
        "reasoning",
        "reasoning_signature",
        "redacted_reasoning",
        "citations",
        "outputs",
    }


# -- list_deployments ------------------------------------------------------------------------------


async def test_list_deployments_gives_compact_summaries(client: Client) -> None:
    page = await call_ok(client, "list_deployments", {"limit": 50})  # the whole sample workspace, past 20 as it grows
    assert [d["key"] for d in page["deployments"]] == NEWEST_FIRST
    assert page["next_cursor"] is None
    triage = next(d for d in page["deployments"] if d["key"] == "support-triage")
    assert triage == {
        "key": "support-triage",
        "description": triage["description"],
        "model": "gpt-4o-mini",
        "provider": "openai",
        "model_type": "chat",
        "invocation": "stream",
        "version": triage["version"],
        "updated": triage["updated"],
        "variables": triage["variables"],
    }
    assert names(triage["variables"]) == ["company_name", "language", "customer_name", "ticket_body"]
    assert all(set(v) <= {"name", "required", "default", "description"} for v in triage["variables"])
    copywriter = next(d for d in page["deployments"] if d["key"] == "product-copywriter")
    assert names(copywriter["variables"]) == ["audience", "product_name", "features"]  # {{ spaced }} braces count


async def test_list_deployments_cursor_walks_every_page(client: Client) -> None:
    keys, cursor = [], None
    for _ in range(len(NEWEST_FIRST)):  # pages of 2: half as many pages suffice; more means the cursor loops
        args = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await call_ok(client, "list_deployments", args)
        keys += [d["key"] for d in page["deployments"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert keys == NEWEST_FIRST


async def test_list_deployments_bad_arguments(client: Client) -> None:
    assert "less than or equal to 50" in await call_error(client, "list_deployments", {"limit": 500})
    assert "unknown argument(s) 'page'" in await call_error(client, "list_deployments", {"page": 2})
    message = await call_error(client, "list_deployments", {"cursor": "not-a-real-cursor"})
    assert "cursor is not valid" in message
    assert "without `cursor`" in message


# -- get_deployment_config -------------------------------------------------------------------------


async def test_get_deployment_config_renders_and_lists_variables(client: Client) -> None:
    config = await call_ok(client, "get_deployment_config", {"key": "support-triage", "inputs": TICKET})
    assert names(config["variables"]) == ["company_name", "language", "customer_name", "ticket_body"]
    assert config["messages"][0]["content"].startswith("You are the support assistant for Acme Bikes.")
    assert config["tools"][0]["function"]["name"] == "lookup_order"
    assert (config["provider"], config["model"], config["type"]) == ("openai", "gpt-4o-mini", "chat")


async def test_unknown_key_names_it_and_suggests_the_closest(client: Client) -> None:
    message = await call_error(client, "get_deployment_config", {"key": "support-triag"})
    assert "support-triag" in message
    assert "list_deployments" in message
    assert "Did you mean 'support-triage'" in message
    assert (await client.call_tool("list_deployments", {})).is_error is False  # still serving


async def test_variant_mismatch_explains_context(client: Client) -> None:
    args = {"key": "support-triage", "context": {"environments": "development"}}
    message = await call_error(client, "get_deployment_config", args)
    assert "HTTP 422" in message
    assert "context" in message


# -- invoke_deployment -----------------------------------------------------------------------------


async def test_invoke_returns_text_and_structured_completion(client: Client) -> None:
    args = {"key": "faq-assistant", "messages": [{"role": "user", "content": "How do I reset my password?"}]}
    result = await client.call_tool("invoke_deployment", args)
    assert not result.is_error
    completion = result.structured_content
    assert completion is not None
    assert text_of(result) == completion["text"]
    assert "How do I reset my password?" in completion["text"]
    assert completion["finish_reason"] == "stop"
    assert completion["provider"] == "mistral"
    assert len(completion["id"]) == 26
    assert completion["trace_id"]
    assert completion["usage"]["total_tokens"] > 0
    assert completion["tool_calls"] is None


async def test_invoke_streams_progress_that_concatenates_to_the_text(client: Client) -> None:
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    args = {"key": "support-triage", "inputs": TICKET, "messages": [{"role": "user", "content": "Any update?"}]}
    result = await client.call_tool("invoke_deployment", args, progress_callback=on_progress)
    assert result.structured_content is not None
    final = result.structured_content["text"]
    assert len(updates) >= 2
    assert "".join(m or "" for _, _, m in updates) == final
    assert [p for p, _, _ in updates] == sorted({p for p, _, _ in updates})
    assert updates[-1][0] == len(final)
    assert all(total is None for _, total, _ in updates)


async def test_invoke_tool_call_comes_back_parsed(client: Client) -> None:
    inputs = {**TICKET, "ticket_body": "Where is my order NL-20391?"}
    result = await client.call_tool("invoke_deployment", {"key": "support-triage", "inputs": inputs})
    completion = result.structured_content
    assert completion is not None
    assert completion["finish_reason"] == "tool_calls"
    (call,) = completion["tool_calls"]
    assert call["name"] == "lookup_order"
    assert call["arguments"] == {"order_number": "NL-20391"}
    assert "Tool call requested: lookup_order" in text_of(result)


async def test_tool_results_can_be_sent_back(client: Client, emulator_state: EmulatorState) -> None:
    inputs = {**TICKET, "ticket_body": "Where is my order NL-20391?"}
    messages = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "name": "lookup_order", "arguments": {"order_number": "NL-20391"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Shipped on 1 April, arriving 4 April."},
    ]
    args = {"key": "support-triage", "inputs": inputs, "messages": messages}
    completion = await call_ok(client, "invoke_deployment", args)
    assert completion["finish_reason"] == "stop"
    sent = emulator_state.requests_for("stream")[-1].body
    assert sent["messages"][0]["tool_calls"][0]["function"] == {
        "name": "lookup_order",
        "arguments": '{"order_number": "NL-20391"}',
    }
    assert sent["messages"][1] == {
        "role": "tool",
        "content": "Shipped on 1 April, arriving 4 April.",
        "tool_call_id": "call_1",
    }


async def test_invoke_passes_context_and_metadata(client: Client, emulator_state: EmulatorState) -> None:
    args = {"key": "faq-assistant", "context": {"environments": "production"}, "metadata": {"ticket": "T-1"}}
    await call_ok(client, "invoke_deployment", args)
    sent = emulator_state.requests_for("stream")[-1].body
    assert sent["context"] == {"environments": "production"}
    assert sent["metadata"] == {"ticket": "T-1"}
    assert sent["invoke_options"] == {"include_usage": True, "include_retrievals": True}


async def test_invoke_rejects_malformed_messages_before_calling_orq(
    client: Client, emulator_state: EmulatorState
) -> None:
    message = await call_error(client, "invoke_deployment", {"key": "faq-assistant", "messages": [{"role": "robot"}]})
    assert "messages.0.role" in message
    assert emulator_state.requests_for("stream") == []


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault("stream", "status", status=401), "ORQ_API_KEY"),
        (Fault("stream", "status", status=403), "cannot use it"),
        (Fault("stream", "status", status=429, retry_after=45, times=-1), "Retry after 45 seconds"),
        (Fault("stream", "status", status=500), "retry in a few seconds"),
        (Fault("stream", "status", status=400), "Check the arguments"),
        (Fault("stream", "non_json_body", status=502), "HTTP 502"),
        (Fault("stream", "error_event", after_chunks=3), "Text generated before the failure"),
        (Fault("stream", "disconnect_mid_stream", after_chunks=3), "retry the call"),
        (Fault("stream", "malformed_chunk", after_chunks=3), "malformed"),
    ],
)
async def test_upstream_failures_are_actionable_tool_errors(
    client: Client, emulator_state: EmulatorState, fault: Fault, expected: str
) -> None:
    emulator_state.add_fault(fault)
    message = await call_error(client, "invoke_deployment", {"key": "faq-assistant"})
    assert expected in message
    emulator_state.clear_faults()
    assert not (await client.call_tool("invoke_deployment", {"key": "faq-assistant"})).is_error


async def test_partial_text_is_reported_on_a_cut_stream(client: Client, emulator_state: EmulatorState) -> None:
    emulator_state.add_fault(Fault("stream", "disconnect_mid_stream", after_chunks=4))
    updates: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append(message or "")

    result = await client.call_tool("invoke_deployment", {"key": "faq-assistant"}, progress_callback=on_progress)
    assert result.is_error
    streamed = "".join(updates)
    assert streamed
    assert f"Text generated before the failure ({len(streamed)} characters):\n{streamed}" in text_of(result)


async def test_an_echoed_key_is_scrubbed(client: Client, emulator_state: EmulatorState) -> None:
    emulator_state.add_fault(Fault("stream", "status", status=401, body={"message": f"Invalid API key {API_KEY}"}))
    message = await call_error(client, "invoke_deployment", {"key": "faq-assistant"})
    assert "Invalid API key [redacted]" in message


# -- list_prompts ----------------------------------------------------------------------------------


async def test_list_prompts(client: Client) -> None:
    page = await call_ok(client, "list_prompts", {"limit": 2})
    assert len(page["prompts"]) == 2
    assert page["next_cursor"]
    rest = await call_ok(client, "list_prompts", {"cursor": page["next_cursor"]})
    names = [p["display_name"] for p in page["prompts"] + rest["prompts"]]
    assert sorted(names) == sorted(p["display_name"] for p in sample_workspace().prompts)
    summariser = next(p for p in page["prompts"] + rest["prompts"] if p["display_name"] == "ticket-summariser")
    assert set(summariser) == {"id", "display_name", "description", "model", "variables"}
    assert summariser["variables"]


# -- resources -------------------------------------------------------------------------------------


async def test_resources_list_one_prompt_config_per_deployment(client: Client) -> None:
    resources = (await client.list_resources()).resources
    assert [r.uri for r in resources] == [f"orq://deployments/{k}/prompt_config" for k in NEWEST_FIRST]
    assert all(r.mime_type == "application/json" for r in resources)
    templates = (await client.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == ["orq://deployments/{key}/prompt_config"]


async def test_read_prompt_config_resource(client: Client) -> None:
    result = await client.read_resource("orq://deployments/support-triage/prompt_config")
    (content,) = result.contents
    config = json.loads(content.text)  # type: ignore[union-attr]
    original = next(d for d in sample_workspace().deployments if d["key"] == "support-triage")["prompt_config"]
    assert config == original


async def test_reading_an_unknown_deployment_is_a_clear_error(client: Client) -> None:
    with pytest.raises(MCPError) as caught:
        await client.read_resource("orq://deployments/nope/prompt_config")
    assert caught.value.error.code == -32602
    assert "Deployment 'nope' was not found" in caught.value.error.message


async def test_get_prompt_outside_a_request_says_so(settings: Settings) -> None:
    """The SDK always hands get_prompt the request's context; called without one it used to pass None on as the
    caller and fail deep inside with an AttributeError."""
    async with served(settings) as server:
        with pytest.raises(RuntimeError, match="within a request"):
            await server.get_prompt("any", {}, None)
