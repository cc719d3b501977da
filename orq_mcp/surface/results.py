"""What the tools return: trimmed shapes that give an agent what it needs and no more.

Each model is a tool's output schema; the same data goes out as compact JSON text for the
model and as `structuredContent` for the application.
"""

from __future__ import annotations

from typing import Any, Literal

from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from orq_mcp.orq.models import Deployment, DeploymentConfig, Prompt, Retrieval
from orq_mcp.orq.outputs import invocation_mode
from orq_mcp.orq.streaming import Completion
from orq_mcp.orq.templates import Variable, find_variables
from orq_mcp.surface.fit import compact_json
from orq_mcp.surface.outputs import Output
from orq_mcp.surface.schema import left_out_when_none


class VariableInfo(BaseModel):
    """One {{variable}} of a prompt: what to pass in `inputs`."""

    name: str
    required: bool = Field(description="False when orq has a default or the prompt only tests it.")
    # Left out for text, never sent as null, so the schema names the values only (any: a flag it tests).
    type: Literal["array", "object", "any"] | SkipJsonSchema[None] = left_out_when_none("Absent: text.")
    default: Any = left_out_when_none()
    description: str | None = left_out_when_none()

    @classmethod
    def of(cls, variable: Variable) -> VariableInfo:
        return cls(
            name=variable.name,
            required=variable.required,
            type=None if variable.type == "string" else variable.type,
            default=variable.default,
            description=variable.description,
        )


def variable_infos(variables: list[Variable]) -> list[VariableInfo]:
    return [VariableInfo.of(v) for v in variables]


class DeploymentSummary(BaseModel):
    key: str
    description: str
    model: str
    provider: str
    model_type: str | None
    invocation: Literal["stream", "invoke"] = Field(
        description="stream: the text streams as progress (chat, completion); invoke: one answer (image, ...)."
    )
    version: str
    updated: str | None
    variables: list[VariableInfo] = Field(description="The prompt's {{variables}}: supply them in `inputs`.")

    @classmethod
    def of(cls, deployment: Deployment, variables: list[Variable]) -> DeploymentSummary:
        config = deployment.prompt_config
        return cls(
            key=deployment.key,
            description=deployment.description,
            model=config.model,
            provider=config.provider,
            model_type=config.model_type,
            invocation=invocation_mode(config.model_type),
            version=deployment.version,
            updated=deployment.updated,
            variables=variable_infos(variables),
        )


class DeploymentPage(BaseModel):
    deployments: list[DeploymentSummary]
    next_cursor: str | None


class DeploymentConfigResult(BaseModel):
    key: str
    provider: str
    model: str
    version: str
    type: str | None
    messages: list[dict[str, Any]] = Field(description="The prompt messages, with any given inputs filled in.")
    parameters: dict[str, Any]
    tools: list[dict[str, Any]]
    variables: list[VariableInfo] = Field(description="The prompt's {{variables}}: supply them in `inputs`.")

    @classmethod
    def of(cls, key: str, config: DeploymentConfig, variables: list[Variable]) -> DeploymentConfigResult:
        return cls(
            key=key,
            provider=config.provider,
            model=config.model,
            version=config.version,
            type=config.type,
            messages=[m.model_dump(exclude_none=True) for m in config.messages],
            parameters=config.parameters,
            tools=config.tools,
            variables=variable_infos(variables),
        )


class ToolCall(BaseModel):
    id: str | None
    name: str
    arguments: dict[str, Any] | str = Field(
        description="Parsed JSON arguments (the raw string if the model produced invalid JSON)."
    )


# A knowledge-base chunk is quoted up to this many characters; the file and page say where the rest is.
CITATION_CHARS = 600
MAX_CITATIONS = 20


class Citation(BaseModel):
    """A knowledge-base chunk orq gave the model (requested with every invocation)."""

    document: str
    file_name: str | None = left_out_when_none()
    page_number: float | None = left_out_when_none()
    search_score: float | None = left_out_when_none()
    rerank_score: float | None = left_out_when_none()

    @classmethod
    def of(cls, retrieval: Retrieval) -> Citation:
        text = retrieval.document or ""
        if len(text) > CITATION_CHARS:
            text = text[:CITATION_CHARS] + f"… [{len(text) - CITATION_CHARS:,} more]"
        meta = retrieval.metadata
        return cls(
            document=text,
            file_name=meta.file_name if meta else None,
            page_number=meta.page_number if meta else None,
            search_score=meta.search_score if meta else None,
            rerank_score=meta.rerank_score if meta else None,
        )


class InvocationResult(BaseModel):
    text: str
    finish_reason: str | None
    model: str | None
    provider: str | None
    id: str | None
    trace_id: str | None
    usage: dict[str, Any] | None
    tool_calls: list[ToolCall] | None = Field(
        description="Tool calls the model asked for; run them and send the results back as `tool` messages."
    )
    reasoning: str | None = Field(default=None, description="The model's reasoning, apart from text.")
    reasoning_signature: str | None = None
    redacted_reasoning: str | None = None
    citations: list[Citation] | None = Field(default=None, description="Knowledge-base chunks the answer drew on.")
    outputs: list[Output] | None = Field(default=None, description="What a non-chat deployment produced.")

    @classmethod
    def of(cls, completion: Completion, outputs: list[Output] | None = None) -> InvocationResult:
        retrievals = completion.retrievals or []
        return cls(
            text=completion.text,
            finish_reason=completion.finish_reason,
            model=completion.model,
            provider=completion.provider,
            id=completion.id,
            trace_id=completion.trace_id,
            usage=completion.usage,
            tool_calls=[ToolCall(**call) for call in completion.tool_calls] if completion.tool_calls else None,
            reasoning=completion.reasoning or None,
            reasoning_signature=completion.reasoning_signature,
            redacted_reasoning=completion.redacted_reasoning,
            citations=[Citation.of(r) for r in retrievals[:MAX_CITATIONS]] or None,
            outputs=outputs or None,
        )

    def as_text(self) -> str:
        """What the model reads: the completion, any tool calls it requested, and what else it produced.

        Citations stay in the structured result: the text block is the answer as streamed."""
        parts = [self.text] if self.text else []
        for call in self.tool_calls or []:
            parts.append(f"Tool call requested: {call.name}({compact_json(call.arguments)}) [id: {call.id}]")
        for output in self.outputs or []:
            parts.append(output.describe())
        if not parts:
            parts.append(f"(orq returned no text and no other output; finish_reason: {self.finish_reason}.)")
        return "\n".join(parts)


class PromptSummary(BaseModel):
    id: str
    display_name: str
    description: str | None
    model: str | None
    variables: list[str]

    @classmethod
    def of(cls, prompt: Prompt) -> PromptSummary:
        return cls(
            id=prompt.id,
            display_name=prompt.display_name,
            description=prompt.description,
            model=prompt.model,
            variables=find_variables(prompt.messages),
        )


class PromptPage(BaseModel):
    prompts: list[PromptSummary]
    next_cursor: str | None


def page_json(page: type[BaseModel], items: list[Any]) -> str:
    """The text a page of `items` would take, with a cursor of typical length (a page's first field is its list)."""
    field = next(iter(page.model_fields))
    return compact_json(page.model_validate({field: items, "next_cursor": "x" * 36}).model_dump(mode="json"))


def tool_result(result: BaseModel, text: str | None = None) -> CallToolResult:
    """A result whose text is compact JSON unless given; indentation costs the model tokens."""
    structured = result.model_dump(mode="json")
    return CallToolResult(
        content=[TextContent(type="text", text=text if text is not None else compact_json(structured))],
        structured_content=structured,
    )


def copy_budget(max_result_chars: int) -> int:
    """The characters one copy of a JSON result may take: it goes out twice (the text block and the structured
    content), so each copy gets half the budget."""
    return max_result_chars // 2
