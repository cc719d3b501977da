"""Turning orq stream chunks into one completion (reference §5c-§5d).

orq's chunks carry the text in `choices[0].message.content`. Whether that is a delta or the
whole text so far is not documented, so the first ambiguous chunk decides the mode for the
rest of the stream, and a final chunk that repeats everything is recognised rather than
appended twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from orq_mcp.orq.models import ChoiceMessage, CompletionChunk
from orq_mcp.orq.tracing import note_orq_trace_id


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
    retrievals: list[dict[str, Any]] | None = None


@dataclass
class _ToolCallBuilder:
    id: str | None = None
    name: str = ""
    arguments: str = ""

    def result(self) -> dict[str, Any]:
        try:
            arguments: Any = json.loads(self.arguments) if self.arguments else {}
        except ValueError:
            arguments = self.arguments  # keep what the model produced rather than drop it
        return {"id": self.id, "name": self.name, "arguments": arguments}


def _is_restatement(accumulated: str, new: str) -> bool:
    """`new` repeats everything received so far and adds to it (a cumulative chunk)."""
    return bool(accumulated) and len(new) > len(accumulated) and new.startswith(accumulated)


@dataclass
class CompletionAccumulator:
    """Feed chunks in order; read `.text` at any time and `.result()` at the end."""

    saw_final: bool = False
    length: int = 0  # characters so far, without joining them
    # Pieces are joined only when read: `text += delta` on an attribute copies the whole text per chunk.
    _pieces: list[str] = field(default_factory=list)
    _cumulative: bool | None = None  # None until a chunk tells the two modes apart
    _tool_calls: dict[int, _ToolCallBuilder] = field(default_factory=dict)
    _meta: dict[str, Any] = field(default_factory=dict)

    def feed(self, chunk: CompletionChunk) -> str:
        """Absorb one chunk; return the text it adds (possibly empty)."""
        self._absorb_meta(chunk)
        if chunk.is_final:
            self.saw_final = True
        if not chunk.choices:
            return ""
        choice = chunk.choices[0]
        if choice.finish_reason:
            self._meta["finish_reason"] = choice.finish_reason
        message = choice.message
        if message is None:
            return ""
        self._absorb_tool_calls(message, final=chunk.is_final)
        return self._absorb_text(_text_of(message), final=chunk.is_final)

    def _absorb_meta(self, chunk: CompletionChunk) -> None:
        for name in ("id", "model", "provider"):
            value = getattr(chunk, name)
            if value:
                self._meta[name] = value
        if chunk.telemetry and chunk.telemetry.trace_id and self._meta.get("trace_id") != chunk.telemetry.trace_id:
            self._meta["trace_id"] = chunk.telemetry.trace_id
            note_orq_trace_id(chunk.telemetry.trace_id)
        if chunk.usage:
            self._meta["usage"] = chunk.usage
        if chunk.retrievals:
            self._meta["retrievals"] = chunk.retrievals

    @property
    def text(self) -> str:
        if len(self._pieces) > 1:
            self._pieces[:] = ["".join(self._pieces)]
        return self._pieces[0] if self._pieces else ""

    def _absorb_text(self, new: str, *, final: bool) -> str:
        if not new:
            return ""
        if self._cumulative is None and self.length:
            self._cumulative = _is_restatement(self.text, new)
        delta = new
        if self._cumulative or (final and self.length):
            so_far = self.text
            if new.startswith(so_far):
                delta = new[len(so_far) :]
        if delta:
            self._pieces.append(delta)
            self.length += len(delta)
        return delta

    def _absorb_tool_calls(self, message: ChoiceMessage, *, final: bool) -> None:
        for position, call in enumerate(message.tool_calls or []):
            index = call.index if call.index is not None else position
            builder = self._tool_calls.setdefault(index, _ToolCallBuilder())
            builder.id = call.id or builder.id
            function = call.function
            if function is None:
                continue
            if function.name:
                builder.name = function.name
            pieces = function.arguments or ""
            restated = pieces.startswith(builder.arguments) and (final or _is_restatement(builder.arguments, pieces))
            builder.arguments = pieces if restated and builder.arguments else builder.arguments + pieces

    def result(self) -> Completion:
        calls = [self._tool_calls[i].result() for i in sorted(self._tool_calls)]
        return Completion(text=self.text, tool_calls=calls or None, **self._meta)


def _text_of(message: ChoiceMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    if message.type == "image" and message.url:
        return message.url
    return ""
