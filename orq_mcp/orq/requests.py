"""What an agent may put in an invoke/stream/get_config request body, checked before orq is called.

The rules mirror the SDK's request models (orq-ai-sdk 4.17, `deploymentstreamop.py`,
`invokedeploymentrequest.py`, `deploymentgetconfigop.py`: the `...Messages` unions, `PublicIdentity`,
`...Documents`, `...InvokeOptions`, `...Thread`, `...KnowledgeFilter`), so nothing we send is a body
orq's schema rejects. They are never looser, and stricter where the SDK is vague: unknown
fields are refused (the SDK drops them silently), a tool turn's `tool_call_id` must be a string
(the SDK allows null, which no provider can match to a call), a file part needs exactly one of
`file_data`, `uri`, `file_id` (stated in the SDK's docstring, not enforced by its model), an
assistant turn needs content or tool calls (also its docstring), and tool calls need a name.
Assistant turns replay a reasoning model's turn as the SDK takes it: `reasoning` parts with their
`signature` and `redacted_reasoning` parts (Anthropic), or `reasoning_content` (other providers).

Messages are one flat model checked per role rather than a union per role: the JSON Schema
stays small enough for `tools/list`, and an error names the turn and the field
(`messages.2.tool_call_id: required for a tool turn`). `to_orq()` gives orq's exact JSON.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from orq_mcp.orq.knowledge_filter import check_knowledge_filter

Role = Literal["system", "developer", "user", "assistant", "tool"]
PartType = Literal["text", "image_url", "input_audio", "file", "refusal", "reasoning", "redacted_reasoning"]
# Which content part types each role may send (SDK: system/developer/tool take text parts only; assistant
# parts are text, refusal, reasoning and redacted_reasoning, the last two replaying a reasoning model's turn).
_PARTS_BY_ROLE: dict[str, frozenset[str]] = {
    "system": frozenset({"text"}),
    "developer": frozenset({"text"}),
    "user": frozenset({"text", "image_url", "input_audio", "file"}),
    "assistant": frozenset({"text", "refusal", "reasoning", "redacted_reasoning"}),
    "tool": frozenset({"text"}),
}
# Fields that only some roles carry; every other role must leave them out.
_ROLE_FIELDS: dict[str, frozenset[str]] = {
    "name": frozenset({"system", "developer", "user", "assistant"}),
    "tool_call_id": frozenset({"tool"}),
    "tool_calls": frozenset({"assistant"}),
    "reasoning_content": frozenset({"assistant"}),
    "refusal": frozenset({"assistant"}),
    "audio": frozenset({"assistant"}),
    "cache_control": frozenset({"tool"}),  # on a turn; on parts, see _PART_FIELDS
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    def to_orq(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _rule(message: str) -> PydanticCustomError:
    # The message goes in as context, not as the template: a brace in it (a quoted key, say) is text, not a slot.
    return PydanticCustomError("orq_request", "{rule}", {"rule": message})


# Content parts ----------------------------------------------------------------------------------------------------


class ImageUrl(_Strict):
    url: str = Field(description="An https URL or a data: URI.")
    detail: Literal["low", "high", "auto"] | None = None


class InputAudio(_Strict):
    data: str = Field(description="Base64 audio.")
    format: Literal["mp3", "wav"]


class FileData(_Strict):
    """Exactly one of file_data, uri or file_id."""

    file_data: str | None = Field(default=None, description="data:<mime>;base64,<data>")
    uri: str | None = None
    file_id: str | None = None
    filename: str | None = None
    mime_type: str | None = Field(default=None, alias="mimeType")

    @model_validator(mode="after")
    def _one_source(self) -> FileData:
        given = [name for name in ("file_data", "uri", "file_id") if getattr(self, name) is not None]
        if len(given) != 1:
            raise _rule("give exactly one of file_data, uri or file_id")
        return self


class CacheControl(_Strict):
    # An Anthropic prompt-cache breakpoint (a comment, not a docstring: the schema goes out on every turn).

    type: Literal["ephemeral"]
    ttl: Literal["5m", "1h"] | None = None


# Per part type: the fields it requires and those it may add (SDK: `TextContentPartSchema`,
# `ImageContentPartSchema`, `AudioContentPartSchema`, the file part, `RefusalPartSchema` (its text optional),
# `ReasoningPartSchema`, `RedactedReasoningPartSchema`).
_PART_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "text": (frozenset({"text"}), frozenset({"cache_control"})),
    "image_url": (frozenset({"image_url"}), frozenset({"cache_control"})),
    "input_audio": (frozenset({"input_audio"}), frozenset()),
    "file": (frozenset({"file"}), frozenset({"cache_control"})),
    "refusal": (frozenset(), frozenset({"refusal"})),
    "reasoning": (frozenset({"reasoning", "signature"}), frozenset()),
    "redacted_reasoning": (frozenset({"data"}), frozenset()),
}


class ContentPart(_Strict):
    """Carries the field its type names (reasoning: also signature)."""

    type: PartType
    text: str | None = Field(default=None, validate_default=True)
    image_url: ImageUrl | None = Field(default=None, validate_default=True)
    input_audio: InputAudio | None = Field(default=None, validate_default=True)
    file: FileData | None = Field(default=None, validate_default=True)
    refusal: str | None = Field(default=None, validate_default=True)
    reasoning: str | None = Field(default=None, validate_default=True)
    signature: str | None = Field(default=None, validate_default=True)
    data: str | None = Field(default=None, validate_default=True)
    cache_control: CacheControl | None = Field(default=None, validate_default=True)

    @field_validator(
        "text", "image_url", "input_audio", "file", "refusal", "reasoning", "signature", "data", "cache_control"
    )
    @classmethod
    def _matches_type(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("type")
        if kind is None:
            return value  # the type itself was invalid and is reported on its own
        required, optional = _PART_FIELDS[kind]
        if info.field_name in required and value is None:
            raise _rule(f"required when type is {kind}")
        if info.field_name not in required | optional and value is not None:
            raise _rule(f"not allowed when type is {kind}")
        return value


def _content_kind(value: Any) -> str:
    return "text" if isinstance(value, str) else "parts"


# A callable discriminator, so a bad list reports only its parts' errors, not also "not a string".
Content = Annotated[
    Annotated[str, Tag("text")] | Annotated[list[ContentPart], Tag("parts")],
    Discriminator(_content_kind),
]


def _any_of(schema: dict[str, Any]) -> None:
    """Publish the text-or-parts choice as `anyOf`: function-calling formats (OpenAI's strict mode) refuse `oneOf`."""
    for option in schema.get("anyOf", []):
        if "oneOf" in option:
            option["anyOf"] = option.pop("oneOf")


# Messages ---------------------------------------------------------------------------------------------------------


class ToolCall(_Strict):
    id: str = Field(min_length=1)  # as the model returned it
    name: str = Field(min_length=1)
    arguments: dict[str, Any] | str  # an object, or the JSON string the model wrote
    thought_signature: str | None = Field(default=None, description="Replay as returned (Gemini).")

    def to_orq(self) -> dict[str, Any]:
        arguments = self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)
        call: dict[str, Any] = {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": arguments},
        }
        if self.thought_signature is not None:
            call["thought_signature"] = self.thought_signature
        return call


class AudioRef(_Strict):
    # A previous audio answer of the model (comment, not docstring: see CacheControl).

    id: str


class Message(_Strict):
    # One conversation turn (a comment, not a docstring: the schema goes out on every turn).

    role: Role
    content: Content | None = Field(
        default=None,
        validate_default=True,
        description="Text, or parts (user: image_url, input_audio, file; assistant: refusal, reasoning, "
        "redacted_reasoning).",
        json_schema_extra=_any_of,
    )
    name: str | None = Field(default=None, validate_default=True)
    tool_call_id: str | None = Field(default=None, validate_default=True, description="Tool turns: the call answered.")
    tool_calls: list[ToolCall] | None = Field(default=None, validate_default=True, description="Assistant turns.")
    reasoning_content: str | None = Field(
        default=None, validate_default=True, description="Assistant turns: reasoning to replay with its tool calls."
    )
    refusal: str | None = Field(default=None, validate_default=True)
    audio: AudioRef | None = Field(default=None, validate_default=True)
    cache_control: CacheControl | None = Field(default=None, validate_default=True)

    @field_validator("content")
    @classmethod
    def _content_for_role(cls, value: str | list[ContentPart] | None, info: ValidationInfo) -> Any:
        role = info.data.get("role")
        if role is None:
            return value
        if value is None:
            if role != "assistant":
                raise _rule(f"required for a {role} turn (a string or a list of parts)")
            return value
        allowed = _PARTS_BY_ROLE[role]
        for part in value if isinstance(value, list) else []:
            if part.type not in allowed:
                raise _rule(f"a {role} turn takes only {', '.join(sorted(allowed))} parts, not {part.type}")
        return value

    @field_validator("name", "tool_call_id", "tool_calls", "reasoning_content", "refusal", "audio", "cache_control")
    @classmethod
    def _field_for_role(cls, value: Any, info: ValidationInfo) -> Any:
        role = info.data.get("role")
        field = info.field_name or ""
        if role is None:
            return value
        if field == "tool_call_id" and role == "tool" and value is None:
            raise _rule("required for a tool turn")
        if value is not None and role not in _ROLE_FIELDS[field]:
            raise _rule(f"not allowed on a {role} turn")
        return value

    @model_validator(mode="after")
    def _assistant_says_something(self) -> Message:
        if self.role == "assistant" and self.content is None and not self.tool_calls:
            raise _rule("an assistant turn needs content or tool_calls")
        return self

    def to_orq(self) -> dict[str, Any]:
        message = super().to_orq()
        if self.tool_calls:
            message["tool_calls"] = [call.to_orq() for call in self.tool_calls]
        return message


# The other body fields --------------------------------------------------------------------------------------------


class Thread(_Strict):
    """Groups calls into one conversation in orq's traces."""

    id: str = Field(min_length=1)
    tags: list[str] | None = None


class Identity(_Strict):
    """The end user the call is made for; orq creates it on first use."""

    id: str = Field(min_length=1)
    display_name: str | None = None
    email: str | None = None
    metadata: list[dict[str, Any]] | None = None
    logo_url: str | None = None
    tags: list[str] | None = None


class DocumentMetadata(_Strict):
    file_name: str | None = None
    file_type: str | None = None
    page_number: float | None = None


class Document(_Strict):
    """An external RAG chunk, for orq's evaluators and guardrails."""

    text: str
    metadata: DocumentMetadata | None = None


class InvokeOptions(_Strict):
    include_retrievals: bool | None = Field(default=None, description="Return the knowledge-base chunks used.")
    include_usage: bool | None = None
    mock_response: str | None = Field(default=None, description="Skip the model and answer this text: a free dry run.")


class RequestOptions(_Strict):
    """The optional parts of an invoke request beyond inputs, context, metadata and messages."""

    thread: Thread | None = None
    identity: Identity | None = None
    documents: list[Document] | None = None
    file_ids: list[str] | None = None
    prefix_messages: list[Message] | None = Field(default=None, description="Inserted after the system message.")
    extra_params: dict[str, Any] | None = Field(
        default=None, description="Provider parameters overriding the deployment's."
    )
    knowledge_filter: dict[str, Any] | None = Field(
        default=None, description='Knowledge-base metadata filter: {"year": {"gte": 2024}}, or {"and"|"or": [...]}.'
    )
    invoke_options: InvokeOptions | None = None

    @field_validator("knowledge_filter")
    @classmethod
    def _filter_shape(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_knowledge_filter(value) if value is not None else None

    def to_orq(self) -> dict[str, Any]:
        body = super().to_orq()
        if self.prefix_messages is not None:
            body["prefix_messages"] = [message.to_orq() for message in self.prefix_messages]
        return body


def request_body(
    key: str,
    *,
    inputs: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    messages: list[Message] | None = None,
    options: RequestOptions | None = None,
) -> dict[str, Any]:
    """The JSON body of one invoke/stream/get_config call (without `stream`, which the client adds)."""
    body: dict[str, Any] = {"key": key}
    for name, value in (("inputs", inputs), ("context", context), ("metadata", metadata)):
        if value is not None:
            body[name] = value
    if messages:
        body["messages"] = [message.to_orq() for message in messages]
    if options is not None:
        body.update(options.to_orq())
    return body


def describe(error: ValidationError) -> str:
    """One line per problem, each naming where it is: `messages.2.tool_call_id: required for a tool turn`."""
    lines = []
    for problem in error.errors(include_url=False):
        where = ".".join(_path(problem["loc"]))
        lines.append(f"{where}: {problem['msg']}" if where else problem["msg"])
    return "; ".join(lines)


def _path(loc: tuple[int | str, ...]) -> list[str]:
    """The location without the tag pydantic adds after `content` (which of text or parts it was read as)."""
    return [str(part) for i, part in enumerate(loc) if not (i and loc[i - 1] == "content" and part in _CONTENT_TAGS)]


_CONTENT_TAGS = frozenset({"text", "parts"})
