"""One tool per deployment (`--expose`): its {{variables}} become arguments, typed as the template reads them; and
one per agent when the caller has the agents toolset (exposed_agents.py).

Calling `support_triage(company_name=..., ...)` is exactly `invoke_deployment` with those
inputs, streaming included: a missing variable is refused (or asked for) by the same rule,
in `run_invocation`, given the deployment the tool was built from (it is not looked up again).
Each tool's arguments are a pydantic model, so its schema and its errors come from the same
path as the fixed tools'; unknown arguments are refused by the server, for every tool alike.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, InputRequiredResult
from mcp_types import Tool as MCPTool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orq_mcp.orq.agent_models import Agent
from orq_mcp.orq.errors import OrqError
from orq_mcp.orq.models import Deployment
from orq_mcp.orq.requests import Message
from orq_mcp.orq.templates import Variable
from orq_mcp.surface.arguments import invalid_arguments
from orq_mcp.surface.invocation.invoke import run_invocation
from orq_mcp.surface.naming import unique_names
from orq_mcp.surface.schema import compact_schema
from orq_mcp.surface.tenant import Listed, Tenant
from orq_mcp.surface.toolsets.annotations import INVOKE
from orq_mcp.surface.toolsets.exposed_agents import AgentTool, agent_tools
from orq_mcp.surface.toolsets.exposed_arguments import arguments_model, given_values, variable_fields

logger = logging.getLogger(__name__)

# Cursor warns past this many tools in all; OpenAI-style tool lists stop at 128.
TOOL_BUDGET = 40
CLIENT_TOOL_LIMIT = 128
MESSAGES_DESCRIPTION = "Optional chat turns appended after the deployment's prompt."


class Turn(BaseModel):
    """A plain chat turn. Tool-call round trips go through invoke_deployment, whose messages carry them."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "developer", "user", "assistant"]
    content: str


class ExposedTool(Protocol):
    """A tool of one deployment or agent: its listing, the toolset it belongs to, and how to call it."""

    @property
    def name(self) -> str: ...

    @property
    def definition(self) -> MCPTool: ...

    @property
    def toolset(self) -> str: ...

    async def call(self, ctx: Context, arguments: dict[str, Any]) -> CallToolResult | InputRequiredResult: ...


@dataclass(frozen=True)
class DeploymentTool:
    name: str
    deployment: Deployment
    variables: tuple[Variable, ...]
    arguments: type[BaseModel]
    definition: MCPTool
    toolset: str = "deployments"

    async def call(self, ctx: Context, arguments: dict[str, Any]) -> CallToolResult | InputRequiredResult:
        inputs, messages = self.parse(arguments)
        listed = Listed(self.deployment, list(self.variables))
        return await run_invocation(ctx, self.deployment.key, inputs=inputs, messages=messages, listed=listed)

    def parse(self, arguments: dict[str, Any]) -> tuple[dict[str, Any], list[Message] | None]:
        try:
            parsed = self.arguments.model_validate(arguments)
        except ValidationError as exc:
            raise ToolError(invalid_arguments(self.name, exc)) from None
        turns: list[Turn] | None = getattr(parsed, "messages", None)
        messages = [Message(role=t.role, content=t.content) for t in turns] if turns else None
        return given_values(parsed, self.variables), messages


@dataclass
class _Built:
    """One tenant's tools, and the deployment and agent lists they were built from."""

    deployments: list[Deployment] | None = None
    agents: list[Agent] | None = None
    tools: dict[str, DeploymentTool] = field(default_factory=dict)
    agent_tools: dict[str, AgentTool] = field(default_factory=dict)
    warned_at: int = 0  # the tool count the budget warning last named


class ExposedTools:
    """The per-deployment (and per-agent) tools each tenant's callers see (none unless --expose names some).

    Building one means a pydantic model and its schema, so they are rebuilt only when the tenant's catalog
    replaces its list (a refresh), keyed on that list itself: a filtered copy would be new on every call.
    Kept per tenant for as long as the tenant is (an evicted tenant takes its tools along). Agents are read (and
    their tools built) only for a caller that has the agents toolset.
    """

    def __init__(self, reserved: Iterable[str], fixed: int = 0) -> None:
        self._reserved = frozenset(reserved)  # every fixed tool's name, which no exposed tool may take
        self._fixed = fixed  # how many fixed tools the server offers, for the budget warning
        self._built: weakref.WeakKeyDictionary[Tenant, _Built] = weakref.WeakKeyDictionary()

    async def of(
        self, tenant: Tenant, toolsets: Iterable[str] = ("deployments",), *, as_shown: bool = False
    ) -> dict[str, ExposedTool]:
        """The exposed tools of the `toolsets` the caller has, by name; one kind that orq fails to list leaves the
        other's tools in place (the failure is logged). `as_shown`: built from the lists as last fetched, however
        old (what callers were last shown), not refetched once they expire."""
        settings = tenant.settings
        if not settings.expose:
            return {}
        toolsets = set(toolsets)
        built = self._built.setdefault(tenant, _Built())
        tools: dict[str, ExposedTool] = {}
        if "deployments" in toolsets:
            tools.update(await self._deployment_tools(tenant, built, as_shown))
        if "agents" in toolsets:
            try:
                tools.update(await self._agent_tools(tenant, built, set(tools), as_shown))
            except OrqError as exc:  # deployments' tools still work
                logger.warning("Listing per-agent tools failed: %s", exc.message)
        self._warn_past_budget(built, len(tools))
        return tools

    async def _deployment_tools(self, tenant: Tenant, built: _Built, as_shown: bool) -> dict[str, DeploymentTool]:
        deployments = await (tenant.deployments.shown() if as_shown else tenant.deployments.all())
        if built.deployments is not deployments:
            settings = tenant.settings
            chosen = [d for d in deployments if settings.allows(d.key) and settings.exposes(d.key)]
            known = await tenant.variables_of(chosen)
            built.tools, built.deployments = deployment_tools(chosen, known, self._reserved), deployments
        return built.tools

    async def _agent_tools(
        self, tenant: Tenant, built: _Built, taken: set[str], as_shown: bool
    ) -> dict[str, AgentTool]:
        agents = await (tenant.agents.shown() if as_shown else tenant.agents.all())
        if built.agents is not agents:
            settings = tenant.settings
            chosen = [a for a in agents if settings.allows_agent(a.key) and settings.exposes(a.key)]
            built.agent_tools, built.agents = agent_tools(chosen, self._reserved | taken), agents
        return built.agent_tools

    def _warn_past_budget(self, built: _Built, count: int) -> None:
        """Say so once (per tenant, and again if it grows) when --expose makes more tools than clients handle well."""
        total = count + self._fixed
        if total > TOOL_BUDGET and total > built.warned_at:
            built.warned_at = total
            logger.warning(
                "--expose offers %d tools (%d deployments and agents plus %d fixed). Cursor warns past %d tools and "
                "some clients refuse more than %d: name the deployments and agents you need with --expose key,key,...",
                total,
                count,
                self._fixed,
                TOOL_BUDGET,
                CLIENT_TOOL_LIMIT,
            )


def deployment_tools(
    deployments: Iterable[Deployment], variables: dict[str, list[Variable]], reserved: Iterable[str]
) -> dict[str, DeploymentTool]:
    """The tools for these deployments, by tool name.

    They return what invoke_deployment returns, structured content included, but publish no
    output schema of their own: invoke_deployment's already tells the model the shape, and
    repeating it per deployment would cost ~800 characters of context each.
    """
    deployments = list(deployments)
    names = unique_names((d.key for d in deployments), reserved)
    tools = (_tool(names[d.key], d, variables[d.key]) for d in deployments)
    return {tool.name: tool for tool in tools}


def _tool(name: str, deployment: Deployment, variables: list[Variable]) -> DeploymentTool:
    config = deployment.prompt_config
    model = _arguments_model(name, variables)
    summary = deployment.description.strip().rstrip(".") or f"Runs the orq deployment '{deployment.key}'"
    served_by = "/".join(part for part in (config.provider, config.model) if part)
    description = (
        f"{summary}. orq deployment '{deployment.key}'" + (f" ({served_by})" if served_by else "") + ". "
        "Returns the completion; its text streams as progress notifications."
    )
    schema = compact_schema(model.model_json_schema(by_alias=True), arguments=True)
    definition = MCPTool(
        name=name,
        title=deployment.key,
        description=description,
        input_schema={**schema, "required": [v.name for v in variables if v.required], "additionalProperties": False},
        annotations=INVOKE,
    )
    return DeploymentTool(name, deployment, tuple(variables), model, definition)


def _arguments_model(name: str, variables: list[Variable]) -> type[BaseModel]:
    """An argument per variable, of its type, plus chat turns unless a variable is `messages`.

    Every variable may be left out as far as the model goes: the tool's schema lists the required ones, and
    `run_invocation` refuses (or asks for) a missing one by the same rule as invoke_deployment's."""
    fields = variable_fields(variables)
    if "messages" not in {v.name for v in variables}:
        fields["messages"] = (list[Turn] | None, Field(None, description=MESSAGES_DESCRIPTION))
    return arguments_model(name, fields)
