"""One tool per deployment (`--expose`): its {{variables}} become arguments, typed as the template reads them.

Calling `support_triage(company_name=..., ...)` is exactly `invoke_deployment` with those
inputs, streaming included: a missing variable is refused (or asked for) by the same rule,
in `run_invocation`. Each tool's arguments are a pydantic model, so its schema and its errors
come from the same path as the fixed tools'.
"""

from __future__ import annotations

import json
import logging
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
from orq_mcp.surface.arguments import invalid_arguments, unknown_arguments
from orq_mcp.surface.naming import unique_names
from orq_mcp.surface.schema import compact_schema
from orq_mcp.surface.tenant import Tenant
from orq_mcp.surface.tools import INVOKE, TOOLS, run_invocation

logger = logging.getLogger(__name__)

STATIC_TOOL_NAMES = frozenset(fn.__name__ for fn, _, _ in TOOLS)
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
    key: str
    variables: tuple[Variable, ...]
    arguments: type[BaseModel]
    definition: MCPTool

    async def call(self, ctx: Context, arguments: dict[str, Any]) -> CallToolResult | InputRequiredResult:
        allowed = {field.alias or name for name, field in self.arguments.model_fields.items()}
        if unknown := sorted(set(arguments) - allowed):
            raise unknown_arguments(self.name, unknown, allowed)
        inputs, messages = self.parse(arguments)
        return await run_invocation(ctx, self.key, inputs=inputs, messages=messages)

    def parse(self, arguments: dict[str, Any]) -> tuple[dict[str, Any], list[Message] | None]:
        try:
            parsed = self.arguments.model_validate(arguments)
        except ValidationError as exc:
            raise ToolError(invalid_arguments(self.name, exc)) from None
        turns: list[Turn] | None = getattr(parsed, "messages", None)
        messages = [Message(role=t.role, content=t.content) for t in turns] if turns else None
        given = {v.name: getattr(parsed, _field(v.name)) for v in self.variables}
        return {name: value for name, value in given.items() if value is not None}, messages


async def exposed_tools(tenant: Tenant) -> dict[str, DeploymentTool]:
    """The per-deployment tools this tenant's callers see (none unless --expose names some).

    Building one means a pydantic model and its schema, so they are rebuilt only when the catalog's list
    is replaced (a refresh), keyed on that list itself: a filtered copy would be new on every call.
    """
    if not tenant.settings.expose:
        return {}
    deployments = await tenant.deployments.all()
    cache = tenant.exposed_cache
    if cache.get("source") is not deployments:
        chosen = [d for d in deployments if tenant.allows(d.key) and tenant.settings.exposes(d.key)]
        known = await tenant.variables_of(chosen)
        cache.update(source=deployments, tools=deployment_tools(chosen, known, STATIC_TOOL_NAMES))
        _warn_past_budget(cache, len(chosen))
    tools: dict[str, DeploymentTool] = cache["tools"]
    return tools


def _warn_past_budget(cache: dict[str, Any], count: int) -> None:
    """Say so once (per tenant, and again if it grows) when --expose makes more tools than clients handle well."""
    total = count + len(STATIC_TOOL_NAMES)
    if total > TOOL_BUDGET and total > cache.get("warned_at", 0):
        cache["warned_at"] = total
        logger.warning(
            "--expose offers %d tools (%d deployments plus %d fixed). Cursor warns past %d tools and some "
            "clients refuse more than %d: name the deployments you need with --expose key,key,...",
            total,
            count,
            len(STATIC_TOOL_NAMES),
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
    return DeploymentTool(name, deployment.key, tuple(variables), model, definition)


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
