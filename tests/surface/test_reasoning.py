"""Reasoning round trips (issue 16): an Anthropic thinking deployment's reasoning, signature and redacted
reasoning come back in the result, and an agent sends them back unchanged in its next assistant turn.

The emulator answers like Anthropic with extended thinking and tools: it signs its reasoning, sends a
redacted block, refuses a signature it did not issue, and refuses a continued tool loop whose assistant
turn lost its reasoning. Every body is also checked against the SDK's request models (`strict_sdk`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp import Client

from orq_mcp.sandbox import EmulatorState, EmulatorThread
from tests.conftest import API_KEY
from tests.helpers import text_of
from tests.processes import stdio_session

KEY = "order-agent"
QUESTION = {"question": "Where is my order NL-20391?"}


def replayed_turns(result: dict[str, Any], *, signature: str | None = None) -> list[dict[str, Any]]:
    """The assistant turn an agent builds from a result (reasoning parts first), and its tool's answer."""
    (call,) = result["tool_calls"]
    signed = signature or result["reasoning_signature"]
    parts = [
        {"type": "reasoning", "reasoning": result["reasoning"], "signature": signed},
        {"type": "redacted_reasoning", "data": result["redacted_reasoning"]},
    ]
    assistant = {"role": "assistant", "content": parts, "tool_calls": [call]}
    tool = {"role": "tool", "tool_call_id": call["id"], "content": '{"status": "shipped", "eta": "Friday"}'}
    return [assistant, tool]


async def test_reasoning_round_trips_through_a_real_client_over_stdio(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path
) -> None:
    async with stdio_session(tmp_path / "stderr.log", ORQ_API_KEY=API_KEY, ORQ_BASE_URL=emulator.base_url) as client:
        first = await client.call_tool("invoke_deployment", {"key": KEY, "inputs": QUESTION})
        assert not first.is_error, text_of(first)
        result = first.structured_content
        assert result is not None
        assert result["tool_calls"][0]["name"] == "lookup_order"
        assert result["reasoning"].startswith("The user wrote: Where is my order NL-20391?")
        assert result["reasoning_signature"]
        assert result["redacted_reasoning"]
        turns = replayed_turns(result)
        second = await client.call_tool("invoke_deployment", {"key": KEY, "inputs": QUESTION, "messages": turns})
    assert not second.is_error, text_of(second)
    assert second.structured_content is not None
    assert "The tool returned" in second.structured_content["text"]
    sent = emulator_state.requests_for("stream")[-1].body["messages"][0]
    assert sent["content"][0] == {
        "type": "reasoning",
        "reasoning": result["reasoning"],
        "signature": result["reasoning_signature"],
    }
    assert sent["content"][1] == {"type": "redacted_reasoning", "data": result["redacted_reasoning"]}


async def test_a_changed_signature_is_refused_as_anthropic_would(client: Client, emulator_state: EmulatorState) -> None:
    first = await client.call_tool("invoke_deployment", {"key": KEY, "inputs": QUESTION})
    assert first.structured_content is not None
    tampered = replayed_turns(first.structured_content, signature="forged-signature")
    second = await client.call_tool("invoke_deployment", {"key": KEY, "inputs": QUESTION, "messages": tampered})
    assert second.is_error
    assert "signature" in text_of(second)


async def test_a_tool_loop_without_its_reasoning_is_refused_as_anthropic_would(
    client: Client, emulator_state: EmulatorState
) -> None:
    first = await client.call_tool("invoke_deployment", {"key": KEY, "inputs": QUESTION})
    assert first.structured_content is not None
    assistant, tool = replayed_turns(first.structured_content)
    bare = {"role": "assistant", "content": None, "tool_calls": assistant["tool_calls"]}
    second = await client.call_tool("invoke_deployment", {"key": KEY, "inputs": QUESTION, "messages": [bare, tool]})
    assert second.is_error
    assert "thinking" in text_of(second)


async def test_an_unstreamed_answer_carries_the_same_reasoning_fields(orq: Any, emulator_state: EmulatorState) -> None:
    """The invoke body (non-streamed) and the stream agree on what the reasoning fields hold."""
    body = {"key": KEY, "inputs": QUESTION}
    streamed = await orq.invoke(body)
    whole = (await orq.invoke_unstreamed(body)).completion
    assert (whole.reasoning, whole.reasoning_signature, whole.redacted_reasoning) == (
        streamed.reasoning,
        streamed.reasoning_signature,
        streamed.redacted_reasoning,
    )
    assert streamed.reasoning_signature
    assert streamed.redacted_reasoning
