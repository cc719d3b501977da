"""The events of a streamed agent response, as orq-ai-sdk 4.17.13 models them (`responsestreamingevent.py`).

Each SSE `data:` is one JSON event `{type, timestamp, data}`; the stream ends with `data: [DONE]` (the SDK's
sentinel for `agents.responses.create`). The `data` of each type, with orq's camelCase names:

- `response.started`  (`responsestartedevent.py`): responseId, taskId, model, workflowRunId, userMessageId?,
  assistantMessageId?, telemetry? {trace_id, span_id}
- `part.delta`        (`partdeltaevent.py`): partId, delta: a part (`partdelta.py`: kind text {text},
  reasoning {reasoning}, file, data)
- `part.done`         (`partdoneevent.py`): partId, part: the whole part
- `tool.started`      (`toolstartedevent.py`): toolId, toolCallId, arguments {}, toolName?
- `tool.done`         (`tooldoneevent.py`): toolId, toolCallId, result?
- `tool.failed`       (`toolfailedevent.py`): toolId, toolCallId, error
- `tool.review.requested` (`toolreviewrequestedevent.py`): toolId, toolCallId, arguments, requiresApproval, toolName?
- `tool.review.done`  (`toolreviewdoneevent.py`): toolId, toolCallId, review: approved | rejected
- `response.done`     (`responsedoneevent.py`): finishReason, usage?, pendingToolCalls?, telemetry?
- `response.failed`   (`responsefailedevent.py`): error, code

These models are lenient (unknown fields kept, enums open); an event of a type not listed is skipped.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from orq_mcp.orq.models import Telemetry, _Lenient


class AgentEvent(_Lenient):
    """The envelope: which event, when, and its data (validated per type by `EVENT_DATA`)."""

    type: str
    timestamp: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class StartedData(_Lenient):
    response_id: str | None = Field(None, alias="responseId")
    # Marked deprecated in the SDK's model, yet the only place a stream names the task to continue.
    task_id: str | None = Field(None, alias="taskId")
    model: str | None = None
    telemetry: Telemetry | None = None


class Part(_Lenient):
    kind: str = ""
    text: str | None = None
    reasoning: str | None = None


class PartDeltaData(_Lenient):
    part_id: str = Field("", alias="partId")
    delta: Part = Field(default_factory=Part)


class PartDoneData(_Lenient):
    part_id: str = Field("", alias="partId")
    part: Part = Field(default_factory=Part)


class ToolData(_Lenient):
    """The fields every tool event shares, and each one's own (absent where a type does not carry them)."""

    tool_id: str = Field("", alias="toolId")
    tool_call_id: str = Field("", alias="toolCallId")
    tool_name: str | None = Field(None, alias="toolName")
    arguments: dict[str, Any] | None = None
    result: Any = None
    error: str | None = None
    requires_approval: bool | None = Field(None, alias="requiresApproval")
    review: str | None = None


class DoneData(_Lenient):
    finish_reason: str | None = Field(None, alias="finishReason")
    usage: dict[str, Any] | None = None
    pending_tool_calls: list[dict[str, Any]] | None = Field(None, alias="pendingToolCalls")
    telemetry: Telemetry | None = None


class FailedData(_Lenient):
    error: str = ""
    code: float | None = None


EVENT_DATA: dict[str, type[_Lenient]] = {
    "response.started": StartedData,
    "part.delta": PartDeltaData,
    "part.done": PartDoneData,
    "tool.started": ToolData,
    "tool.done": ToolData,
    "tool.failed": ToolData,
    "tool.review.requested": ToolData,
    "tool.review.done": ToolData,
    "response.done": DoneData,
    "response.failed": FailedData,
}
