"""The fake model: decides what a deployment answers (text or a tool call), deterministically."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Final

from .ids import tool_call_id
from .render import message_text
from .validation import DeploymentRequest

ORDER_NUMBER: Final = re.compile(r"[A-Z]{2}-\d{3,}")
_FILLER: Final = "The quick brown fox jumps over the lazy dog while the sandbox streams filler text. "


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "index": 0,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True)
class Completion:
    text: str | None
    tool_call: ToolCall | None
    prompt_tokens: int
    completion_tokens: int

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_call else "stop"


def complete(
    deployment: dict[str, Any], messages: list[dict[str, Any]], request: DeploymentRequest, huge_size: int | None
) -> Completion:
    """The deterministic answer of the emulated model to ``messages`` (already rendered and ordered)."""
    config = deployment["prompt_config"]
    prompt_tokens = sum(len(message_text(m).split()) for m in messages)
    if huge_size is not None:
        text = filler(huge_size)
    elif request.mock_response is not None:
        text = request.mock_response
    else:
        call = _tool_call(config.get("tools") or [], messages)
        if call is not None:
            return Completion(None, call, prompt_tokens, max(1, len(re.findall(r"\w+", call.arguments))))
        text = canned_reply(config["model"], messages)
    return Completion(text, None, prompt_tokens, len(text.split()))


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


def _tool_call(tools: list[dict[str, Any]], messages: list[dict[str, Any]]) -> ToolCall | None:
    if not tools or not messages or messages[-1].get("role") != "user":
        return None
    match = ORDER_NUMBER.search(message_text(messages[-1]))
    if match is None:
        return None
    function = tools[0].get("function", {})
    parameters = function.get("parameters") or {}
    properties = parameters.get("properties") or {}
    arguments: dict[str, Any] = {}
    for name in parameters.get("required") or []:
        if (properties.get(name) or {}).get("type") == "string":
            arguments[name] = match.group(0)
            break
    return ToolCall(tool_call_id(), function.get("name", "tool"), json.dumps(arguments, separators=(",", ":")))
