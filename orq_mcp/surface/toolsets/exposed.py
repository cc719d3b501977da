"""One tool per deployment (`--expose`): its {{variables}} become arguments, typed as the template reads them.

Calling `support_triage(company_name=..., ...)` is exactly `invoke_deployment` with those
inputs, streaming included: a missing variable is refused (or asked for) by the same rule,
in `run_invocation`, given the deployment the tool was built from (it is not looked up again).
Each tool's arguments are a pydantic model, so its schema and its errors come from the same
path as the fixed tools'; unknown arguments are refused by the server, for every tool alike.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, InputRequiredResult
from mcp_types import Tool as MCPTool
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from orq_mcp.orq.models import Deployment
from orq_mcp.orq.requests import Message
from orq_mcp.orq.templates import Variable
from orq_mcp.surface.arguments import invalid_arguments
from orq_mcp.surface.invocation.invoke import run_invocation
from orq_mcp.surface.naming import unique_names
from orq_mcp.surface.schema import compact_schema
from orq_mcp.surface.tenant import Listed, Tenant
from orq_mcp.surface.toolsets.annotations import INVOKE

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


@dataclass(frozen=True)
class DeploymentTool:
    name: str
    deployment: Deployment
    variables: tuple[Variable, ...]
    arguments: type[BaseModel]
    definition: MCPTool

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
        given = {v.name: getattr(parsed, _field(v.name)) for v in self.variables}
        return {name: value for name, value in given.items() if value is not None}, messages


@dataclass
class _Built:
    """One tenant's tools, and the deployment list they were built from."""

    source: list[Deployment]
    tools: dict[str, DeploymentTool]
    warned_at: int = 0  # the tool count the budget warning last named


class ExposedTools:
    """The per-deployment tools each tenant's callers see (none unless --expose names some).

    Building one means a pydantic model and its schema, so they are rebuilt only when the tenant's catalog
    replaces its list (a refresh), keyed on that list itself: a filtered copy would be new on every call.
    Kept per tenant for as long as the tenant is (an evicted tenant takes its tools along).
    """

    def __init__(self, reserved: Iterable[str]) -> None:
        self._reserved = frozenset(reserved)  # the fixed tools' names, which no deployment tool may take
        self._built: weakref.WeakKeyDictionary[Tenant, _Built] = weakref.WeakKeyDictionary()

    async def of(self, tenant: Tenant) -> dict[str, DeploymentTool]:
        settings = tenant.settings
        if not settings.expose:
            return {}
        deployments = await tenant.deployments.all()
        built = self._built.get(tenant)
        if built is None or built.source is not deployments:
            chosen = [d for d in deployments if settings.allows(d.key) and settings.exposes(d.key)]
            known = await tenant.variables_of(chosen)
            tools = deployment_tools(chosen, known, self._reserved)
            built = self._built[tenant] = _Built(deployments, tools, built.warned_at if built else 0)
            self._warn_past_budget(built, len(chosen))
        return built.tools

    def _warn_past_budget(self, built: _Built, count: int) -> None:
        """Say so once (per tenant, and again if it grows) when --expose makes more tools than clients handle well."""
        total = count + len(self._reserved)
        if total > TOOL_BUDGET and total > built.warned_at:
            built.warned_at = total
            logger.warning(
                "--expose offers %d tools (%d deployments plus %d fixed). Cursor warns past %d tools and some "
                "clients refuse more than %d: name the deployments you need with --expose key,key,...",
                total,
                count,
                len(self._reserved),
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


# What each variable type takes (`any`: a flag or a section, which any JSON value can be).
_ARGUMENT_TYPES: dict[str, Any] = {"string": str, "array": list[Any], "object": dict[str, Any], "any": Any}


def _arguments_model(name: str, variables: list[Variable]) -> type[BaseModel]:
    """An argument per variable, of its type, plus chat turns unless a variable is `messages`.

    Every variable may be left out as far as the model goes: the tool's schema lists the required ones, and
    `run_invocation` refuses (or asks for) a missing one by the same rule as invoke_deployment's."""
    fields: dict[str, Any] = {}
    for v in variables:
        about = v.description or f"Fills {{{{{v.name}}}}} in the prompt."
        if v.default is not None:
            about += f" Optional: orq uses {json.dumps(v.default, ensure_ascii=False)} when omitted."
        elif not v.required:
            about += " Optional: the prompt only tests it."
        fields[_field(v.name)] = (_ARGUMENT_TYPES[v.type] | None, Field(None, alias=v.name, description=about))
    if "messages" not in {v.name for v in variables}:
        fields["messages"] = (list[Turn] | None, Field(None, description=MESSAGES_DESCRIPTION))
    config = ConfigDict(extra="forbid", populate_by_name=False, defer_build=True)
    return create_model(f"{name}_arguments", __config__=config, **fields)


def _field(variable: str) -> str:
    # Variables may be any name orq allows (dots, dashes, leading digits); fields need identifiers.
    return "v_" + "".join(c if c.isalnum() or c == "_" else f"_{ord(c):x}_" for c in variable)
