"""Turning an agent's stream of events (agent_events.py) into one run: its text, tool calls, usage and task.

Text arrives as `part.delta` events of kind `text`, each one new text (a delta), followed by a `part.done`
with the whole part. The done part is added only when no delta came for that part (orq streamed it whole);
otherwise it restates what the deltas said [INFER: the SDK's models allow both]. Reasoning deltas are kept
apart from the text. Tool calls are keyed by `toolCallId`.

Memory is bounded: the text by the client's response cap (checked by the caller through `length`), the
number of tool calls kept, and each call's arguments and result (as JSON) by a character cap; what is cut
is said so in the summary rather than dropped silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from orq_mcp.orq.agent_events import (
    EVENT_DATA,
    AgentEvent,
    DoneData,
    FailedData,
    PartDeltaData,
    PartDoneData,
    StartedData,
    ToolData,
)
from orq_mcp.orq.agent_models import AgentTask
from orq_mcp.orq.errors import InvalidResponseError
from orq_mcp.orq.streaming import _Text

# Enough for any agent we know of (orq's default max_iterations is 100); more are counted, not kept.
MAX_TOOL_CALLS = 100
# A tool result (a web page, a database row set) can be large; the run summarises it.
MAX_TOOL_VALUE_CHARS = 4_000


@dataclass
class AgentToolCall:
    id: str
    name: str
    arguments: Any = None
    # running (started, no outcome seen), done, failed, awaiting_approval, approved, rejected
    status: str = "running"
    result: Any = None
    error: str | None = None


@dataclass
class AgentRun:
    """One agent response: what it said, the tools it used, and how to continue it (`task_id`)."""

    text: str
    task_id: str | None = None
    response_id: str | None = None
    model: str | None = None
    status: str = "in_progress"  # completed once response.done arrives
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    trace_id: str | None = None
    tool_calls: list[AgentToolCall] = field(default_factory=list)
    tool_calls_dropped: int = 0
    pending_tool_calls: list[dict[str, Any]] | None = None
    reasoning: str | None = None


class AgentRunFailed(Exception):
    """`response.failed`: orq's message and code, and the task it happened in (raised by the accumulator)."""

    def __init__(self, error: str, code: float | None, task_id: str | None) -> None:
        super().__init__(error)
        self.error = error
        self.code = code
        self.task_id = task_id


def bounded(value: Any) -> Any:
    """`value` itself when its JSON is short, else its JSON cut to the cap, marked as cut."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):
        return "(a value too deeply nested to show)"
    if len(text) <= MAX_TOOL_VALUE_CHARS:
        return value
    return text[:MAX_TOOL_VALUE_CHARS] + f"… (cut: {len(text):,} characters in all)"


@dataclass
class AgentRunAccumulator:
    """Feed events in order; read `text` at any time and `result()` at the end."""

    _text: _Text = field(default_factory=_Text)
    _reasoning: _Text = field(default_factory=_Text)
    _parts_with_deltas: set[str] = field(default_factory=set)
    _calls: dict[str, AgentToolCall] = field(default_factory=dict)
    _run: AgentRun = field(default_factory=lambda: AgentRun(text=""))
    finished: bool = False

    @property
    def text(self) -> str:
        return self._text.value

    @property
    def length(self) -> int:
        return self._text.length + self._reasoning.length

    @property
    def task_id(self) -> str | None:
        return self._run.task_id

    @property
    def trace_id(self) -> str | None:
        return self._run.trace_id

    def feed(self, raw: dict[str, Any]) -> str:
        """Absorb one event (already JSON-decoded); return the text it adds. Unknown types add nothing."""
        try:
            event = AgentEvent.model_validate(raw)
        except ValidationError:
            raise InvalidResponseError("orq sent an agent event without a type.") from None
        model = EVENT_DATA.get(event.type)
        if model is None:
            return ""
        try:
            data = model.model_validate(event.data)
        except ValidationError:
            raise InvalidResponseError(f"orq sent a '{event.type}' agent event with an unexpected shape.") from None
        return self._apply(event.type, data)

    def _apply(self, kind: str, data: Any) -> str:
        if isinstance(data, PartDeltaData):
            return self._delta(data)
        if isinstance(data, PartDoneData):
            return self._part_done(data)
        if isinstance(data, ToolData):
            self._tool(kind, data)
        elif isinstance(data, StartedData):
            self._started(data)
        elif isinstance(data, DoneData):
            self._done(data)
        elif isinstance(data, FailedData):
            raise AgentRunFailed(data.error, data.code, self._run.task_id)
        return ""

    def _started(self, data: StartedData) -> None:
        run = self._run
        run.task_id = data.task_id or run.task_id
        run.response_id = data.response_id or run.response_id
        run.model = data.model or run.model
        if data.telemetry is not None and data.telemetry.trace_id:
            run.trace_id = data.telemetry.trace_id

    def _delta(self, data: PartDeltaData) -> str:
        self._parts_with_deltas.add(data.part_id)
        if data.delta.kind == "reasoning":
            self._reasoning.add(data.delta.reasoning or "", final=False)
            return ""
        if data.delta.kind != "text":
            return ""
        return self._text.add(data.delta.text or "", final=False)

    def _part_done(self, data: PartDoneData) -> str:
        if data.part_id in self._parts_with_deltas:
            self._parts_with_deltas.discard(data.part_id)  # its text is in already; forget the id (bounded)
            return ""
        if data.part.kind == "reasoning":
            self._reasoning.add(data.part.reasoning or "", final=False)
            return ""
        return self._text.add(data.part.text or "", final=False) if data.part.kind == "text" else ""

    def _tool(self, kind: str, data: ToolData) -> None:
        call = self._calls.get(data.tool_call_id)
        if call is None:
            if len(self._calls) >= MAX_TOOL_CALLS:
                self._run.tool_calls_dropped += kind == "tool.started"
                return
            call = self._calls[data.tool_call_id] = AgentToolCall(id=data.tool_call_id, name=data.tool_name or "")
        call.name = data.tool_name or call.name or data.tool_id
        if data.arguments is not None:
            call.arguments = bounded(data.arguments)
        if kind == "tool.done":
            call.status, call.result = "done", bounded(data.result)
        elif kind == "tool.failed":
            call.status, call.error = "failed", data.error
        elif kind == "tool.review.requested":
            call.status = "awaiting_approval" if data.requires_approval else call.status
        elif kind == "tool.review.done":
            call.status = data.review or call.status

    def _done(self, data: DoneData) -> None:
        run = self._run
        run.status = "completed"
        run.finish_reason = data.finish_reason
        run.usage = data.usage
        run.pending_tool_calls = data.pending_tool_calls or None
        if data.telemetry is not None and data.telemetry.trace_id:
            run.trace_id = data.telemetry.trace_id
        self.finished = True

    def result(self) -> AgentRun:
        run = self._run
        run.text = self.text
        run.reasoning = self._reasoning.value or None
        run.tool_calls = list(self._calls.values())
        return run


def run_from_task(task: AgentTask) -> AgentRun:
    """A run answered whole as JSON (`CreateAgentResponse`) rather than streamed: the same summary."""
    calls: dict[str, AgentToolCall] = {}
    for message in task.output:
        for part in message.parts:
            if part.kind == "tool_call" and part.tool_call_id and len(calls) < MAX_TOOL_CALLS:
                calls[part.tool_call_id] = AgentToolCall(
                    part.tool_call_id, part.tool_name or "", bounded(part.arguments), "running"
                )
            elif part.kind == "tool_result" and part.tool_call_id in calls:
                call = calls[part.tool_call_id]
                call.status, call.result = "done", bounded(part.result)
    return AgentRun(
        text=task.text,
        task_id=task.task_id or None,
        response_id=task.id or None,
        model=task.model,
        status=task.status or "completed",
        finish_reason=task.finish_reason,
        usage=task.usage,
        trace_id=task.telemetry.trace_id if task.telemetry else None,
        tool_calls=list(calls.values()),
        pending_tool_calls=task.pending_tool_calls or None,
    )
