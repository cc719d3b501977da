"""Turning orq stream chunks into one completion (docs/orq-api.md, Streams).

Each chunk's `choices[0].message.content` is new text (a delta): the SDKs describe "partial
content ... as tokens become available" and every client we know appends it. The one exception
is narrow: a final chunk (`is_final`) whose content is exactly the whole text so far repeats it
rather than adding to it, the way the final chunk of a tool-call stream repeats each call.
Reasoning (`message.reasoning`) follows the same rules, kept apart from the text, and so do the
`reasoning_signature` and `redacted_reasoning` that let an agent send it back: one rule for every string a
chunk's message carries (orq sends each of those whole on one chunk, we infer: Anthropic does).

Tool-call fragments follow the OpenAI convention: an id already seen, or else an `index`, names
the call a fragment belongs to; without either, a fragment with a new `id` starts a new call
and a fragment with neither continues the last call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from orq_mcp.orq.models import ChoiceMessage, CompletionChunk, Retrieval, ToolCallDelta


@dataclass
class Completion:
    text: str
    finish_reason: str | None = None
    model: str | None = None
    provider: str | None = None
    id: str | None = None
    trace_id: str | None = None
    usage: dict[str, Any] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    retrievals: list[Retrieval] | None = None
    reasoning: str | None = None
    reasoning_signature: str | None = None
    redacted_reasoning: str | None = None


@dataclass
class _Text:
    """Text built from deltas. Pieces are joined only when read: `text += delta` copies the whole text per chunk."""

    length: int = 0
    _pieces: list[str] = field(default_factory=list)

    @property
    def value(self) -> str:
        if len(self._pieces) > 1:
            self._pieces[:] = ["".join(self._pieces)]
        return self._pieces[0] if self._pieces else ""

    def add(self, new: str, *, final: bool) -> str:
        """Append `new` unless it is a final chunk's exact restatement; return what was added."""
        if not new or (final and self.length == len(new) and self.value == new):
            return ""
        self._pieces.append(new)
        self.length += len(new)
        return new


@dataclass
class _ToolCallBuilder:
    id: str | None = None
    name: str = ""
    arguments: _Text = field(default_factory=_Text)

    def result(self) -> dict[str, Any]:
        text = self.arguments.value
        try:
            arguments: Any = json.loads(text) if text else {}
        except (ValueError, RecursionError):  # RecursionError: nested past what json can read
            arguments = text  # keep what the model produced rather than drop it
        return {"id": self.id, "name": self.name, "arguments": arguments}


@dataclass
class _ToolCalls:
    """Tool-call fragments grouped into calls, in the order the calls first appeared."""

    calls: list[_ToolCallBuilder] = field(default_factory=list)
    length: int = 0  # characters of arguments so far
    _by_index: dict[int, _ToolCallBuilder] = field(default_factory=dict)
    _by_id: dict[str, _ToolCallBuilder] = field(default_factory=dict)

    def add(self, fragment: ToolCallDelta, *, final: bool) -> None:
        builder = self._builder_for(fragment)
        if fragment.id:
            builder.id = fragment.id
            self._by_id[fragment.id] = builder
        if fragment.index is not None:
            self._by_index.setdefault(fragment.index, builder)
        function = fragment.function
        if function is None:
            return
        if function.name:
            builder.name = function.name
        self.length += len(builder.arguments.add(function.arguments or "", final=final))

    def _builder_for(self, fragment: ToolCallDelta) -> _ToolCallBuilder:
        # A known id names its call even when an index disagrees (a final chunk restating calls streamed without one).
        if fragment.id and fragment.id in self._by_id:
            return self._by_id[fragment.id]
        if fragment.index is not None:
            return self._by_index.get(fragment.index) or self._start()
        if fragment.id:
            return self._start()
        return self.calls[-1] if self.calls else self._start()

    def _start(self) -> _ToolCallBuilder:
        self.calls.append(_ToolCallBuilder())
        return self.calls[-1]


@dataclass
class CompletionAccumulator:
    """Feed chunks in order; read `.text` at any time and `.result()` at the end."""

    _text: _Text = field(default_factory=_Text)
    _reasoning: _Text = field(default_factory=_Text)
    _signature: _Text = field(default_factory=_Text)
    _redacted: _Text = field(default_factory=_Text)
    _tool_calls: _ToolCalls = field(default_factory=_ToolCalls)
    _meta: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self._text.value

    @property
    def trace_id(self) -> str | None:
        """orq's trace id for this generation, once a chunk has carried one."""
        return self._meta.get("trace_id")

    @property
    def length(self) -> int:
        """Characters held so far (text, reasoning and its tokens, tool-call arguments), without joining them."""
        held = (self._text, self._reasoning, self._signature, self._redacted)
        return sum(text.length for text in held) + self._tool_calls.length

    def feed(self, chunk: CompletionChunk) -> str:
        """Absorb one chunk; return the text it adds (possibly empty)."""
        self._absorb_meta(chunk)
        if not chunk.choices:
            return ""
        choice = chunk.choices[0]
        if choice.finish_reason:
            self._meta["finish_reason"] = choice.finish_reason
        message = choice.message
        if message is None:
            return ""
        final = chunk.is_final
        for fragment in message.tool_calls or []:
            self._tool_calls.add(fragment, final=final)
        self._reasoning.add(message.reasoning or "", final=final)
        self._signature.add(message.reasoning_signature or "", final=final)
        self._redacted.add(message.redacted_reasoning or "", final=final)
        return self._text.add(_text_of(message), final=final)

    def _absorb_meta(self, chunk: CompletionChunk) -> None:
        for name in ("id", "model", "provider"):
            value = getattr(chunk, name)
            if value:
                self._meta[name] = value
        if chunk.telemetry and chunk.telemetry.trace_id:
            self._meta["trace_id"] = chunk.telemetry.trace_id
        if chunk.usage:
            self._meta["usage"] = chunk.usage
        if chunk.retrievals and chunk.is_final:  # the SDK: "returned in the last streamed chunk"
            self._meta["retrievals"] = chunk.retrievals

    def result(self) -> Completion:
        calls = [builder.result() for builder in self._tool_calls.calls]
        return Completion(
            text=self.text,
            tool_calls=calls or None,
            reasoning=self._reasoning.value or None,
            reasoning_signature=self._signature.value or None,
            redacted_reasoning=self._redacted.value or None,
            **self._meta,
        )


def _text_of(message: ChoiceMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    if message.type == "image" and message.url:
        return message.url
    return ""
