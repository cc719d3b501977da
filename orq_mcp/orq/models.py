"""Tolerant models of the orq responses we read.

Unlike the official SDK (closed enums, required telemetry), these accept unknown fields and
unknown enum values: orq adding a provider or a field must never break an agent's call.
Only what the server relies on is typed; everything else rides along in `model_extra`.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class _Lenient(BaseModel):
    # defer_build: schemas are built on first use, not while the server is starting.
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class Message(_Lenient):
    """A prompt message: `content` is a string, a list of parts, or null."""

    role: str = "user"
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class PromptConfig(_Lenient):
    tools: list[dict[str, Any]] = Field(default_factory=list)
    model: str = ""
    model_type: str | None = None
    model_parameters: dict[str, Any] = Field(default_factory=dict)
    provider: str = ""
    messages: list[Message] = Field(default_factory=list)


class Deployment(_Lenient):
    id: str
    key: str
    description: str = ""
    version: str = ""
    created: str | None = None
    updated: str | None = None
    prompt_config: PromptConfig = Field(default_factory=PromptConfig)


class TemplateVariable(_Lenient):
    """A variable a deployment version declares: its default `value`, `description` and PII flag."""

    key: str = ""
    value: Any = None
    description: str | None = None
    is_pii: bool = False


class VersionSettings(_Lenient):
    engine: str | None = None  # text, jinja or mustache (SDK 4.17); absent means text


class DeploymentVersion(_Lenient):
    """One saved version of a deployment (`GET /v2/deployments/{key}/versions`, SDK 4.17)."""

    id: str = Field("", alias="_id")
    version: str = ""
    status: str | None = None  # live, draft, pending, published
    variant_id: str | None = None
    prompt_config: PromptConfig | None = None
    variables: list[TemplateVariable] = Field(default_factory=list)
    settings: VersionSettings | None = None


T = TypeVar("T")


class Page(_Lenient, Generic[T]):
    """One page of a cursor-paginated list (`object: "list"`)."""

    data: list[T] = Field(default_factory=list)
    has_more: bool = False


class DeploymentConfig(_Lenient):
    """The resolved configuration returned by `get_config`."""

    id: str | None = None
    provider: str = ""
    model: str = ""
    version: str = ""
    type: str | None = None
    messages: list[Message] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    tools: list[dict[str, Any]] = Field(default_factory=list)


class PromptBody(_Lenient):
    model: str | None = None
    messages: list[Message] = Field(default_factory=list)


class LegacyPromptConfig(_Lenient):
    model: str | None = None
    provider: str | None = None
    messages: list[Message] = Field(default_factory=list)


class Prompt(_Lenient):
    id: str = Field(alias="_id")
    display_name: str = ""
    description: str | None = None
    created: str | None = None
    updated: str | None = None
    prompt: PromptBody | None = None
    prompt_config: LegacyPromptConfig | None = None

    @property
    def messages(self) -> list[Message]:
        """The prompt's messages, from the current shape or the deprecated `prompt_config`."""
        if self.prompt and self.prompt.messages:
            return self.prompt.messages
        return self.prompt_config.messages if self.prompt_config else []

    @property
    def model(self) -> str | None:
        if self.prompt and self.prompt.model:
            return self.prompt.model
        if self.prompt_config and self.prompt_config.model:
            provider = self.prompt_config.provider
            return f"{provider}/{self.prompt_config.model}" if provider else self.prompt_config.model
        return None


class FunctionCall(_Lenient):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(_Lenient):
    id: str | None = None
    index: int | None = None
    type: str | None = None
    function: FunctionCall | None = None


class ChoiceMessage(_Lenient):
    type: str | None = None
    role: str | None = None
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[ToolCallDelta] | None = None
    url: str | None = None
    # The model's thinking, streamed apart from `content`, and what verifies it when sent back: a signature and
    # encrypted (redacted) reasoning (SDK: DeploymentStreamMessage2, DeploymentInvoke Message2).
    reasoning: str | None = None
    reasoning_signature: str | None = None
    redacted_reasoning: str | None = None


class Choice(_Lenient):
    index: int = 0
    finish_reason: str | None = None
    message: ChoiceMessage | None = None


class Telemetry(_Lenient):
    trace_id: str | None = None
    span_id: str | None = None


class RetrievalMetadata(_Lenient):
    file_name: str | None = None
    page_number: float | None = None
    file_type: str | None = None
    search_score: float | None = None
    rerank_score: float | None = None


class Retrieval(_Lenient):
    """A knowledge-base chunk orq gave the model (SDK: DeploymentStreamRetrievals; both fields required there)."""

    document: str | None = None
    metadata: RetrievalMetadata | None = None


class CompletionChunk(_Lenient):
    """One SSE `data:` object, or the whole non-streamed response: the shapes are the same."""

    id: str | None = None
    model: str | None = None
    provider: str | None = None
    is_final: bool = False
    telemetry: Telemetry | None = None
    choices: list[Choice] = Field(default_factory=list)
    usage: dict[str, Any] | None = None
    retrievals: list[Retrieval] | None = None
