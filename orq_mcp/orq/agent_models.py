"""Tolerant models of what orq answers about agents: the manifest (list and retrieve) and a task.

Shapes from orq-ai-sdk 4.17.13: `ListAgentsData` (`listagentsop.py`), `RetrieveAgentRequestResponseBody`
(`retrieveagentrequestop.py`) and `GetAgentResponse` (`getagentresponse.py`, with `AgentResponseMessage` and its
parts in `agentresponsemessage.py`). Like models.py they accept unknown fields and enum values: only what the
server reads is typed.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from orq_mcp.orq.models import Telemetry, _Lenient


class AgentTool(_Lenient):
    """One tool of an agent (`ListAgentsTools`): a function, an HTTP call, an MCP tool, a sub-agent..."""

    id: str = ""
    action_type: str = ""
    key: str | None = None
    display_name: str | None = None
    description: str | None = None
    requires_approval: bool = False

    @property
    def name(self) -> str:
        """The name a person would recognise: the tool's key, else its display name, else its kind."""
        return self.key or self.display_name or self.action_type or self.id


class AgentSettings(_Lenient):
    tools: list[AgentTool] = Field(default_factory=list)
    max_iterations: int | None = None
    max_execution_time: int | None = None
    tool_approval_required: str | None = None


class AgentModel(_Lenient):
    """`ListAgentsModel`: the primary model as `provider/model`, with parameters and fallbacks."""

    id: str = ""


class AgentKnowledgeBase(_Lenient):
    knowledge_id: str = ""


class Agent(_Lenient):
    """An agent's manifest. `variables` are the ones orq extracted from its instructions; the SDK types them
    only as an object (`Dict[str, Any]`), so their values are read as given: a default, or empty [INFER]."""

    id: str = Field("", alias="_id")
    key: str
    display_name: str | None = None
    description: str = ""
    role: str = ""
    instructions: str = ""
    status: str | None = None  # live, draft, pending, published
    version: str | None = None
    type: str | None = None  # internal, or a2a (an external agent)
    model: AgentModel | str | None = None
    variables: dict[str, Any] | None = None
    settings: AgentSettings | None = None
    knowledge_bases: list[AgentKnowledgeBase] | None = None
    created: str | None = None
    updated: str | None = None

    @property
    def model_id(self) -> str | None:
        if isinstance(self.model, AgentModel):
            return self.model.id or None
        return self.model or None

    @property
    def tools(self) -> list[AgentTool]:
        return self.settings.tools if self.settings else []

    @property
    def tool_names(self) -> list[str]:
        return [tool.name for tool in self.tools]

    @property
    def variable_names(self) -> list[str]:
        return sorted(self.variables or {})


class AgentPart(_Lenient):
    """One part of an agent message (`TextPart`, `ToolCallPart`, `ToolResultPart`, `ErrorPart`, `DataPart`, ...)."""

    kind: str = ""
    text: str | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    arguments: dict[str, Any] | None = None
    result: Any = None
    error: str | None = None


class AgentMessage(_Lenient):
    """`AgentResponseMessage`: role user, agent, tool or system, and its parts."""

    message_id: str | None = Field(None, alias="messageId")
    role: str = ""
    parts: list[AgentPart] = Field(default_factory=list)


class AgentTask(_Lenient):
    """One agent response looked up by its task (`GET /v2/agents/{key}/responses/{task_id}`, `GetAgentResponse`),
    or answered whole by `POST .../responses` without streaming (`CreateAgentResponse`, which has no `status`)."""

    id: str = Field("", alias="_id")
    task_id: str = ""
    status: str | None = None  # in_progress, completed, failed
    model: str | None = None
    created_at: str | None = None
    output: list[AgentMessage] = Field(default_factory=list)
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None
    pending_tool_calls: list[dict[str, Any]] | None = None
    telemetry: Telemetry | None = None
    error: str | None = None

    @property
    def text(self) -> str:
        """What the agent said: the text parts of its own messages, in order."""
        return "".join(
            part.text or ""
            for message in self.output
            if message.role == "agent"
            for part in message.parts
            if part.kind == "text"
        )
