"""Response payloads in orq.ai's shapes: the invoke body, stream chunks, and how text is split into chunks.

The shapes are the SDK's (``DeploymentInvokeResponseBody``, ``DeploymentStreamData``). How orq fills them is
partly inferred: each chunk's ``content`` a delta split at words [INFER: docs/orq-api.md, Streams], thinking
before the text, the final chunk with empty content (tool calls restated), ``usage`` on it [INFER], and a tool
call's name on its first fragment only (OpenAI's convention) [INFER].
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from .ids import iso_now, new_ulid, span_id, trace_id
from .model import Completion, ToolCall, snippet
from .render import message_text
from .validation import DeploymentRequest

INTEGRATION_ID: Final = "01HZ3V8R5K2M7Q9T1W4Y6B0C3E"
_TOKEN: Final = re.compile(r"\s*(?:\w+(?:[-'’.]\w+)*|\S)")


def split_words(text: str) -> list[str]:
    """Word-boundary chunks, each word with its leading whitespace; punctuation is its own chunk."""
    tokens = _TOKEN.findall(text)
    rest = text[len("".join(tokens)) :]
    if rest:
        if tokens:
            tokens[-1] += rest
        else:
            tokens.append(rest)
    return tokens


def split_fixed(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def split_arguments(arguments: str, pieces: int = 4) -> list[str]:
    step = max(1, -(-len(arguments) // pieces))
    return split_fixed(arguments, step) or [""]


@dataclass
class Generation:
    """The envelope fields repeated on every response/chunk of one generation."""

    model: str
    provider: str
    object: str
    id: str = field(default_factory=new_ulid)
    created: str = field(default_factory=iso_now)
    telemetry: dict[str, str] = field(default_factory=lambda: {"trace_id": trace_id(), "span_id": span_id()})

    @classmethod
    def for_deployment(cls, deployment: dict[str, Any]) -> Generation:
        config = deployment["prompt_config"]
        kind = "completion" if config.get("model_type") == "completion" else "chat"
        return cls(model=config["model"], provider=config["provider"], object=kind)

    def envelope(self, *, is_final: bool) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created,
            "object": self.object,
            "model": self.model,
            "provider": self.provider,
            "integration_id": INTEGRATION_ID,
            "telemetry": dict(self.telemetry),
            "is_final": is_final,
        }

    def invoke_body(
        self, completion: Completion, request: DeploymentRequest, messages: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The non-streaming response (docs/orq-api.md, Responses)."""
        body = self.envelope(is_final=True)
        body["finalized"] = iso_now()
        message = {**_final_message(completion), **_reasoning_fields(completion)}
        body["choices"] = [{"index": 0, "message": message, "finish_reason": completion.finish_reason}]
        _add_extras(body, completion, request, messages)
        return body

    def content_chunk(self, delta: str, **reasoning: str) -> dict[str, Any]:
        """A text delta, or (with empty `delta`) thinking: `reasoning` deltas, then a `reasoning_signature` and
        `redacted_reasoning`, each sent whole on one chunk [INFER: Anthropic sends each in one event]."""
        chunk = self.envelope(is_final=False)
        message = {"type": "content", "role": "assistant", "content": delta, **reasoning}
        chunk["choices"] = [{"index": 0, "message": message, "finish_reason": None}]
        return chunk

    def tool_call_chunk(self, call: ToolCall, piece: str, *, first: bool, index: int | None) -> dict[str, Any]:
        chunk = self.envelope(is_final=False)
        partial: dict[str, Any] = {
            "type": "function",
            "function": {"name": call.name if first else "", "arguments": piece},
        }
        if index is not None:
            partial["index"] = index
        if first:
            partial["id"] = call.id
        message = {"type": "tool_calls", "role": "assistant", "content": None, "tool_calls": [partial]}
        chunk["choices"] = [{"index": 0, "message": message, "finish_reason": None}]
        return chunk

    def final_chunk(
        self, completion: Completion, request: DeploymentRequest, messages: list[dict[str, Any]]
    ) -> dict[str, Any]:
        chunk = self.envelope(is_final=True)
        chunk["finalized"] = iso_now()
        if completion.tool_calls:
            message = _final_message(completion)
        else:
            message = {"type": "content", "role": "assistant", "content": ""}
        chunk["choices"] = [{"index": 0, "message": message, "finish_reason": completion.finish_reason}]
        _add_extras(chunk, completion, request, messages)
        return chunk

    def stream_pieces(self, completion: Completion, chunk_size: int | None) -> list[dict[str, Any]]:
        """Every non-final chunk of the stream, in order: reasoning, then the text or each tool call in turn."""
        chunks = [self.content_chunk("", reasoning=delta) for delta in split_words(completion.reasoning or "")]
        if completion.reasoning_signature:  # Anthropic closes a thinking block with its signature
            chunks[-1]["choices"][0]["message"]["reasoning_signature"] = completion.reasoning_signature
        if completion.redacted_reasoning:
            chunks.append(self.content_chunk("", redacted_reasoning=completion.redacted_reasoning))
        for position, call in enumerate(completion.tool_calls):
            index = None if completion.parallel else position
            pieces = split_arguments(call.arguments)
            chunks += [self.tool_call_chunk(call, p, first=i == 0, index=index) for i, p in enumerate(pieces)]
        if completion.tool_calls:
            return chunks
        text = completion.text or ""
        deltas = completion.deltas or (split_fixed(text, chunk_size) if chunk_size else split_words(text))
        return chunks + [self.content_chunk(delta) for delta in deltas]


def _final_message(completion: Completion) -> dict[str, Any]:
    if completion.tool_calls:
        calls = [call.wire(None if completion.parallel else i) for i, call in enumerate(completion.tool_calls)]
        return {"type": "tool_calls", "role": "assistant", "content": None, "tool_calls": calls}
    return {"type": "content", "role": "assistant", "content": completion.text}


def _reasoning_fields(completion: Completion) -> dict[str, str]:
    fields = {
        "reasoning": completion.reasoning,
        "reasoning_signature": completion.reasoning_signature,
        "redacted_reasoning": completion.redacted_reasoning,
    }
    return {name: value for name, value in fields.items() if value}


def _add_extras(
    body: dict[str, Any], completion: Completion, request: DeploymentRequest, messages: list[dict[str, Any]]
) -> None:
    if request.include_usage:
        body["usage"] = {
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
            "total_tokens": completion.prompt_tokens + completion.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }
    if request.include_retrievals:
        body["retrievals"] = [_retrieval(messages)]
    body["provider_response"] = None


def _retrieval(messages: list[dict[str, Any]]) -> dict[str, Any]:
    user_texts = [message_text(m) for m in messages if m.get("role") == "user"]
    topic = snippet(user_texts[-1], 60) if user_texts else "general questions"
    return {
        "document": f"Knowledge base excerpt relevant to: {topic}. Standard shipping within the EU takes 2 to 4 "
        "working days; returns are free within 30 days.",
        "metadata": {
            "file_name": "help-center.pdf",
            "page_number": 2,
            "file_type": "application/pdf",
            "search_score": 0.83,
            "rerank_score": 0.91,
        },
    }
