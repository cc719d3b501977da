"""invoke_deployment's full surface through a real MCP client: strict messages, options, reasoning,
citations, and non-chat deployments answered in MCP form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp_types import ImageContent, ResourceLink

from orq_mcp.sandbox import EmulatorState, EmulatorThread
from tests.conftest import API_KEY
from tests.helpers import deployment_variant, text_of
from tests.processes import stdio_session


async def test_a_tool_turn_without_its_call_id_is_refused_naming_the_turn(
    client: Client, emulator_state: EmulatorState
) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "tool", "content": "42"}]
    result = await client.call_tool("invoke_deployment", {"key": "faq-assistant", "messages": messages})
    assert result.is_error
    assert "messages.1" in text_of(result)
    assert "tool_call_id" in text_of(result)
    assert emulator_state.requests_for("stream") == []  # refused before orq was called


async def test_options_reach_orq_and_unknown_ones_are_refused(client: Client, emulator_state: EmulatorState) -> None:
    options = {
        "thread": {"id": "conv-1", "tags": ["support"]},
        "identity": {"id": "user-7", "email": "priya@example.com"},
        "invoke_options": {"mock_response": "A dry run."},
    }
    result = await client.call_tool("invoke_deployment", {"key": "faq-assistant", "options": options})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["text"] == "A dry run."
    sent = emulator_state.requests_for("stream")[-1].body
    assert sent["thread"] == {"id": "conv-1", "tags": ["support"]}
    assert sent["identity"] == {"id": "user-7", "email": "priya@example.com"}
    assert sent["invoke_options"] == {"include_usage": True, "include_retrievals": True, "mock_response": "A dry run."}
    refused = await client.call_tool("invoke_deployment", {"key": "faq-assistant", "options": {"temperature": 2}})
    assert refused.is_error
    assert "temperature" in text_of(refused)


async def test_citations_come_back_in_the_structured_result(client: Client) -> None:
    result = await client.call_tool("invoke_deployment", {"key": "faq-assistant"})
    assert result.structured_content is not None
    citations = result.structured_content["citations"]
    assert citations, "the sample FAQ deployment answers from its knowledge base"
    assert all(c["document"] and c["file_name"] for c in citations)


async def test_reasoning_is_returned_apart_from_the_text(client: Client, emulator_state: EmulatorState) -> None:
    with deployment_variant(emulator_state, "faq-assistant", "deep-thinker", reasoningEffort="high"):
        result = await client.call_tool("invoke_deployment", {"key": "deep-thinker"})
    assert result.structured_content is not None
    reasoning = result.structured_content["reasoning"]
    assert reasoning
    assert reasoning not in result.structured_content["text"]


IMAGE_DEPLOYMENTS = [("product-photo", "product_name", ResourceLink), ("sticker-maker", "subject", ImageContent)]


@pytest.mark.parametrize(("key", "variable", "block"), IMAGE_DEPLOYMENTS)
async def test_an_image_deployment_answers_with_an_image(
    client: Client, emulator_state: EmulatorState, key: str, variable: str, block: type[Any]
) -> None:
    result = await client.call_tool("invoke_deployment", {"key": key, "inputs": {variable: "a red bike"}})
    assert not result.is_error, text_of(result)
    assert any(isinstance(b, block) for b in result.content)
    assert result.structured_content is not None
    (output,) = result.structured_content["outputs"]
    assert output["type"] == "image"
    assert emulator_state.requests_for("stream") == []  # orq streams only chat and completion deployments
    assert emulator_state.requests_for("invoke")


async def test_an_embedding_deployment_describes_its_vector(client: Client) -> None:
    result = await client.call_tool("invoke_deployment", {"key": "catalog-embedder", "inputs": {"text": "red bike"}})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    (output,) = result.structured_content["outputs"]
    assert output["type"] == "embedding"
    assert output["dimensions"] > 0
    assert "Embedding with" in text_of(result)


async def test_over_stdio_bad_turns_are_refused_and_images_come_back_as_images(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path
) -> None:
    async with stdio_session(tmp_path / "stderr.log", ORQ_API_KEY=API_KEY, ORQ_BASE_URL=emulator.base_url) as client:
        turns = [{"role": "assistant", "content": None, "tool_calls": [{"name": "f", "arguments": {}}]}]
        refused = await client.call_tool("invoke_deployment", {"key": "faq-assistant", "messages": turns})
        image = await client.call_tool(
            "invoke_deployment", {"key": "product-photo", "inputs": {"product_name": "a bike"}}
        )
    assert refused.is_error
    assert "messages.0.tool_calls.0.id" in text_of(refused)
    assert not image.is_error, text_of(image)
    assert any(isinstance(block, ResourceLink) for block in image.content)
    assert emulator_state.requests_for("stream") == []
