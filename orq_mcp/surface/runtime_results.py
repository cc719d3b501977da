"""What the agents, knowledge, feedback and traces tools return: like results.py, trimmed shapes that are each a
tool's output schema and go out as compact JSON text for the model and as `structuredContent` for the application.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from orq_mcp.orq.agent_models import Agent
from orq_mcp.orq.agent_stream import AgentRun, AgentToolCall
from orq_mcp.orq.feedback import FeedbackReceipt
from orq_mcp.orq.knowledge import KnowledgeBase, KnowledgeChunk
from orq_mcp.orq.templates import Variable
from orq_mcp.orq.traces import SpanLine, TraceReport
from orq_mcp.surface.fit import compact_json
from orq_mcp.surface.results import VariableInfo, variable_infos
from orq_mcp.surface.schema import left_out_when_none

# What the text block quotes of one tool call's arguments or result; the structured result holds more.
TOOL_VALUE_IN_TEXT = 300


def agent_variables(agent: Agent) -> list[Variable]:
    """An agent's template variables: required unless orq holds a default for it (a non-empty value) [INFER: the
    SDK types `variables` only as an object; orq's studio extracts them from the instructions]."""
    found = []
    for name, default in sorted((agent.variables or {}).items()):
        given = default not in (None, "")
        found.append(Variable(name, required=not given, default=default if given else None))
    return found


class AgentSummary(BaseModel):
    key: str
    description: str
    model: str | None = left_out_when_none()
    variables: list[VariableInfo] = Field(description="The instructions' {{variables}}: supply them in `variables`.")
    tools: list[str] = Field(description="The tools the agent may use, by name.")

    @classmethod
    def of(cls, agent: Agent) -> AgentSummary:
        return cls(
            key=agent.key,
            description=agent.description or agent.role,
            model=agent.model_id,
            variables=variable_infos(agent_variables(agent)),
            tools=agent.tool_names,
        )


class AgentPage(BaseModel):
    agents: list[AgentSummary]
    next_cursor: str | None


class AgentToolUse(BaseModel):
    """One tool the agent ran while answering, and what came of it."""

    name: str
    status: str
    arguments: Any = left_out_when_none()
    result: Any = left_out_when_none()
    error: str | None = left_out_when_none()

    @classmethod
    def of(cls, call: AgentToolCall) -> AgentToolUse:
        return cls(name=call.name, status=call.status, arguments=call.arguments, result=call.result, error=call.error)

    def line(self) -> str:
        """The call in one line of the text block: `Used lookup_order({...}) -> {...}`, values cut short."""
        outcome = f" -> {_short(self.result)}" if self.result is not None else ""
        if self.error:
            outcome = f" failed: {_short(self.error)}"
        elif self.status not in ("done", "running"):
            outcome += f" ({self.status})"
        return f"Used {self.name}({_short(self.arguments) if self.arguments is not None else ''}){outcome}"


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else compact_json(value)
    return text if len(text) <= TOOL_VALUE_IN_TEXT else text[:TOOL_VALUE_IN_TEXT] + "…"


class AgentRunResult(BaseModel):
    """One agent response (invoke_agent), or a task's latest (get_agent_task)."""

    text: str
    status: str = Field(description="completed, in_progress or failed.")
    task_id: str | None = left_out_when_none("Pass it back as task_id to continue this conversation.")
    finish_reason: str | None = left_out_when_none()
    model: str | None = left_out_when_none()
    trace_id: str | None = left_out_when_none()
    usage: dict[str, Any] | None = left_out_when_none()
    tool_calls: list[AgentToolUse] | None = left_out_when_none("The tools the agent ran, and their results.")
    tool_calls_left_out: int | None = left_out_when_none("Tool calls not shown, to fit the result.")
    pending_tool_calls: list[dict[str, Any]] | None = left_out_when_none()
    reasoning: str | None = left_out_when_none()
    error: str | None = left_out_when_none()

    @classmethod
    def of(cls, run: AgentRun, error: str | None = None) -> AgentRunResult:
        return cls(
            text=run.text,
            status=run.status,
            task_id=run.task_id,
            finish_reason=run.finish_reason,
            model=run.model,
            trace_id=run.trace_id,
            usage=run.usage,
            tool_calls=[AgentToolUse.of(call) for call in run.tool_calls] or None,
            tool_calls_left_out=run.tool_calls_dropped or None,
            pending_tool_calls=run.pending_tool_calls,
            reasoning=run.reasoning,
            error=error,
        )

    def as_text(self) -> str:
        """What the model reads: the answer, the tools used, and how to continue (hosts may show it nothing else)."""
        parts = [self.text] if self.text else []
        parts += [call.line() for call in self.tool_calls or []]
        if self.tool_calls_left_out:
            parts.append(f"({self.tool_calls_left_out} more tool calls left out.)")
        if self.error:
            parts.append(f"Error: {self.error}")
        if not self.text and not self.tool_calls:
            parts.append(f"(The agent returned no text; status: {self.status}.)")
        ids = [f"{name}: {value}" for name, value in (("task_id", self.task_id), ("trace_id", self.trace_id)) if value]
        if ids:
            parts.append(f"[{'; '.join(ids)}]")
        return "\n".join(parts)


class KnowledgeBaseSummary(BaseModel):
    id: str
    key: str
    description: str | None = left_out_when_none()
    type: str | None = left_out_when_none()
    embedding_model: str | None = left_out_when_none()
    documents: int | None = left_out_when_none()

    @classmethod
    def of(cls, base: KnowledgeBase) -> KnowledgeBaseSummary:
        return cls(
            id=base.id,
            key=base.key,
            description=base.description,
            type=base.type,
            embedding_model=base.model,
            documents=base.metadata.document_count if base.metadata else None,
        )


class KnowledgePage(BaseModel):
    knowledge_bases: list[KnowledgeBaseSummary]
    next_cursor: str | None


class Chunk(BaseModel):
    """One passage found, and where it comes from."""

    text: str
    file_name: str | None = left_out_when_none()
    page: float | None = left_out_when_none()
    score: float | None = left_out_when_none("The rerank score when orq reranked, else the search score.")

    @classmethod
    def of(cls, chunk: KnowledgeChunk) -> Chunk:
        return cls(text=chunk.text, file_name=chunk.file_name, page=chunk.page, score=chunk.score)


class SearchResult(BaseModel):
    knowledge: str
    chunks: list[Chunk]


class FeedbackResult(BaseModel):
    """The feedback as orq stored it."""

    id: str | None = left_out_when_none()
    trace_id: str
    property: str
    value: str | int | float | list[str]
    product: str | None = left_out_when_none()

    @classmethod
    def of(cls, receipt: FeedbackReceipt) -> FeedbackResult:
        return cls(
            id=receipt.id,
            trace_id=receipt.trace_id,
            property=receipt.property,
            value=receipt.value,
            product=receipt.product,
        )


class SpanResult(BaseModel):
    name: str
    type: str | None = left_out_when_none()
    status: str | None = left_out_when_none()
    duration_ms: float | None = left_out_when_none()
    model: str | None = left_out_when_none()
    tokens: int | None = left_out_when_none()
    level: int | None = left_out_when_none()
    error: Literal[True] | None = left_out_when_none()

    @classmethod
    def of(cls, line: SpanLine) -> SpanResult:
        model = "/".join(part for part in (line.provider, line.model) if part) or None
        return cls(
            name=line.name,
            type=line.type,
            status=line.status,
            duration_ms=line.duration_ms,
            model=model,
            tokens=line.tokens,
            level=line.level,
            error=True if line.error else None,
        )


class TraceResult(BaseModel):
    trace_id: str
    name: str | None = left_out_when_none()
    status: str | None = left_out_when_none()
    started_at: str | None = left_out_when_none()
    duration_ms: float | None = left_out_when_none()
    models: list[str]
    usage: dict[str, int]
    cost: dict[str, Any] | None = left_out_when_none()
    errors: list[str] = Field(description="The names of the spans that failed.")
    spans: list[SpanResult]
    spans_left_out: bool = Field(description="True when the trace has more spans than shown.")

    @classmethod
    def of(cls, report: TraceReport) -> TraceResult:
        return cls(
            trace_id=report.trace_id,
            name=report.name,
            status=report.status,
            started_at=report.started_at,
            duration_ms=report.duration_ms,
            models=report.models,
            usage=report.usage,
            cost=report.cost,
            errors=report.errors,
            spans=[SpanResult.of(line) for line in report.spans],
            spans_left_out=report.spans_left_out,
        )
