"""An agent turn in orq's wire shapes: the streamed events, the whole JSON answer, the task, and its trace.

Shapes from orq-ai-sdk 4.17.13: `ResponseStreamingEvent` (the events, `responsestreamingevent.py`),
`CreateAgentResponse` (`createagentresponse.py`), `GetAgentResponse` (`getagentresponse.py`) and
`AgentResponseMessage` (`agentresponsemessage.py`). Inferred [INFER]: the order of events (started, tool
started/done per call, text deltas split at words, one part.done restating the text, done), and that a
task's `output` is the latest response's messages: the SDK's models fix the fields, not these.
"""

from __future__ import annotations

from typing import Any

from .agents import Task, Turn
from .ids import iso_now, new_ulid
from .payloads import split_words
from .traces import Span, Trace, tokens


def _event(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "timestamp": iso_now(), "data": data}


def _telemetry(turn: Turn) -> dict[str, str]:
    return {"trace_id": turn.trace_id, "span_id": turn.span_id}


def stream_events(task: Task, turn: Turn) -> list[dict[str, Any]]:
    """The events of one turn, in order (the `[DONE]` sentinel is the SSE writer's)."""
    events = [
        _event(
            "response.started",
            {
                "responseId": turn.response_id,
                "taskId": task.id,
                "model": turn.model,
                "workflowRunId": new_ulid(),
                "telemetry": _telemetry(turn),
            },
        )
    ]
    for run in turn.tool_runs:
        ids = {"toolId": run.tool_id, "toolCallId": run.call_id}
        events.append(_event("tool.started", {**ids, "arguments": run.arguments, "toolName": run.name}))
        events.append(_event("tool.done", {**ids, "result": run.result}))
    part_id = new_ulid()
    for piece in split_words(turn.reply):
        events.append(_event("part.delta", {"partId": part_id, "delta": {"kind": "text", "text": piece}}))
    events.append(_event("part.done", {"partId": part_id, "part": {"kind": "text", "text": turn.reply}}))
    events.append(_event("response.done", {"finishReason": "stop", "usage": turn.usage, "telemetry": _telemetry(turn)}))
    return events


def failed_event(code: int, error: str) -> dict[str, Any]:
    return _event("response.failed", {"error": error, "code": code})


def output_messages(turn: Turn) -> list[dict[str, Any]]:
    """The messages one turn produced: the agent's tool calls, their results, then its reply."""
    messages: list[dict[str, Any]] = []
    if turn.tool_runs:
        calls = [
            {"kind": "tool_call", "tool_name": r.name, "tool_call_id": r.call_id, "arguments": r.arguments}
            for r in turn.tool_runs
        ]
        results = [{"kind": "tool_result", "tool_call_id": r.call_id, "result": r.result} for r in turn.tool_runs]
        messages.append({"messageId": new_ulid(), "role": "agent", "parts": calls})
        messages.append({"messageId": new_ulid(), "role": "tool", "parts": results})
    messages.append({"messageId": new_ulid(), "role": "agent", "parts": [{"kind": "text", "text": turn.reply}]})
    return messages


def response_body(task: Task, turn: Turn) -> dict[str, Any]:
    """`CreateAgentResponse`: a turn answered whole (`stream: false`)."""
    return {
        "_id": turn.response_id,
        "task_id": task.id,
        "output": output_messages(turn),
        "created_at": turn.created_at,
        "model": turn.model,
        "usage": turn.usage,
        "finish_reason": "stop",
        "telemetry": _telemetry(turn),
    }


def task_body(task: Task) -> dict[str, Any]:
    """`GetAgentResponse`: the task's state and its latest response (a task is inactive between turns)."""
    turn = task.turns[-1]
    return {**response_body(task, turn), "status": "completed"}


def turn_trace(agent_key: str, turn: Turn) -> Trace:
    provider, _, model = turn.model.partition("/")
    usage = turn.usage
    llm = Span(f"chat {model}", "llm", 420.0, model=model, provider=provider, usage=tokens(usage["prompt_tokens"], 0))
    children = [llm]
    children += [Span(f"tool {run.name}", "tool", 35.0) for run in turn.tool_runs]
    answer = Span(
        f"chat {model}",
        "llm",
        610.0,
        model=model,
        provider=provider,
        usage=tokens(0, usage["completion_tokens"]),
    )
    children.append(answer)
    root = Span(f"agent {agent_key}", "agent", sum(c.duration_ms for c in children), children=children)
    return Trace(turn.trace_id, "agents", root)
