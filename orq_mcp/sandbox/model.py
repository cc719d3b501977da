"""The fake model: decides what a deployment answers (text or a tool call), deterministically."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Final

from .ids import tool_call_id
from .render import message_text
from .thinking import redacted_for, signature_for, signs_reasoning
from .validation import DeploymentRequest

ORDER_NUMBER: Final = re.compile(r"[A-Z]{2}-\d{3,}")
_FILLER: Final = "The quick brown fox jumps over the lazy dog while the sandbox streams filler text. "


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str

    def wire(self, index: int | None) -> dict[str, Any]:
        call: dict[str, Any] = {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }
        if index is not None:
            call["index"] = index
        return call


@dataclass(frozen=True)
class Completion:
    text: str | None
    tool_calls: tuple[ToolCall, ...]
    prompt_tokens: int
    completion_tokens: int
    reasoning: str | None = None
    deltas: tuple[str, ...] | None = None  # the text's chunks when a test scripts them
    reasoning_signature: str | None = None  # Anthropic thinking only (thinking.py)
    redacted_reasoning: str | None = None

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"

    @property
    def parallel(self) -> bool:
        """Several calls at once: streamed without `index` (optional in the SDK), so only ids tell them apart."""
        return len(self.tool_calls) > 1


def complete(
    deployment: dict[str, Any],
    messages: list[dict[str, Any]],
    request: DeploymentRequest,
    huge_size: int | None = None,
    deltas: tuple[str, ...] | None = None,
) -> Completion:
    """The deterministic answer of the emulated model to ``messages`` (already rendered and ordered)."""
    config = deployment["prompt_config"]
    prompt_tokens = sum(len(message_text(m).split()) for m in messages)
    if deltas is not None:
        return Completion("".join(deltas), (), prompt_tokens, len(deltas), deltas=deltas)
    if huge_size is not None or request.mock_response is not None:  # no model runs: no thinking, no tools
        text = filler(huge_size) if huge_size is not None else request.mock_response or ""
        return Completion(text, (), prompt_tokens, len(text.split()))
    reasoning = _reasoning(config, messages)
    signed: dict[str, Any] = {}
    if reasoning and signs_reasoning(config):
        signed = {"reasoning_signature": signature_for(reasoning), "redacted_reasoning": redacted_for(reasoning)}
    calls = _tool_calls(config.get("tools") or [], messages)
    if calls:
        tokens = sum(len(re.findall(r"\w+", call.arguments)) for call in calls)
        return Completion(None, calls, prompt_tokens, max(1, tokens), reasoning, **signed)
    text = canned_reply(config["model"], messages)
    return Completion(text, (), prompt_tokens, len(text.split()), reasoning, **signed)


def _reasoning(config: dict[str, Any], messages: list[dict[str, Any]]) -> str | None:
    """Thinking text, for a deployment whose parameters turn reasoning on (the SDK's model_parameters names)."""
    parameters = config.get("model_parameters") or {}
    if not (parameters.get("reasoningEffort") or parameters.get("budgetTokens") or parameters.get("thinkingLevel")):
        return None
    last = message_text(messages[-1]) if messages else ""
    return f"The user wrote: {snippet(last, 60) or '(nothing)'}. I should answer briefly and stay on topic."


def canned_reply(model: str, messages: list[dict[str, Any]]) -> str:
    """Same messages -> same reply. Mentions the last user text, or the tool result when answering a tool."""
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        result = snippet(message_text(last), 160)
        return f"[{model}] The tool returned: {result} Based on that result, here is a short summary for the user."
    user_texts = [message_text(m) for m in messages if m.get("role") == "user"]
    first_text = message_text(messages[0]) if messages else ""
    source = user_texts[-1] if user_texts else first_text
    digest = hashlib.sha256(json.dumps(messages, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:8]
    return (
        f"[{model}] Re: {snippet(source, 80) or '(empty message)'} This is a simulated reply from the orq.ai "
        f"sandbox (prompt {digest}, {len(messages)} messages); no model was called."
    )


def snippet(text: str, limit: int) -> str:
    collapsed = " ".join(text.split())
    return collapsed if len(collapsed) <= limit else collapsed[: limit - 3].rstrip() + "..."


def filler(size: int) -> str:
    return (_FILLER * (size // len(_FILLER) + 1))[:size]


def _tool_calls(tools: list[dict[str, Any]], messages: list[dict[str, Any]]) -> tuple[ToolCall, ...]:
    """One call of the first tool per order number in the last user turn: two numbers make parallel calls."""
    if not tools or not messages or messages[-1].get("role") != "user":
        return ()
    numbers = list(dict.fromkeys(ORDER_NUMBER.findall(message_text(messages[-1]))))
    function = tools[0].get("function", {})
    parameters = function.get("parameters") or {}
    properties = parameters.get("properties") or {}
    string_arguments = [
        n for n in parameters.get("required") or [] if (properties.get(n) or {}).get("type") == "string"
    ]
    calls = []
    for number in numbers:
        arguments = {string_arguments[0]: number} if string_arguments else {}
        calls.append(
            ToolCall(tool_call_id(), function.get("name", "tool"), json.dumps(arguments, separators=(",", ":")))
        )
    return tuple(calls)
