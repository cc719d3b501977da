"""One tool per deployment (`--expose`): its {{variables}} become required string arguments.

Calling `support_triage(company_name=..., ...)` is exactly `invoke_deployment` with those
inputs, streaming included, except that missing variables are refused before orq is called:
orq itself would silently drop that part of the prompt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from mcp_types import Tool as MCPTool
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from orq_mcp.orq.models import Deployment
from orq_mcp.orq.templates import find_variables
from orq_mcp.surface.naming import unique_names
from orq_mcp.surface.schema import compact_schema
from orq_mcp.surface.state import AppState, RequestLike
from orq_mcp.surface.tool_errors import unknown_arguments
from orq_mcp.surface.tools import INVOKE, TOOLS, ChatMessage, run_invocation

STATIC_TOOL_NAMES = frozenset(fn.__name__ for fn, _, _ in TOOLS)


class Turn(BaseModel):
    """A plain chat turn. Tool-call round trips go through invoke_deployment, whose messages carry them."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "developer", "user", "assistant"]
    content: str


_MESSAGES = TypeAdapter(list[Turn])
MESSAGES_SCHEMA = {
    **compact_schema(_MESSAGES.json_schema(), arguments=True),
    "description": "Optional chat turns appended after the deployment's prompt.",
}


@dataclass(frozen=True)
class DeploymentTool:
    name: str
    key: str
    variables: tuple[str, ...]
    accepts_messages: bool
    definition: MCPTool

    async def call(self, ctx: Context, arguments: dict[str, Any]) -> CallToolResult:
        inputs, messages = self._validate(arguments)
        return await run_invocation(ctx, self.key, inputs=inputs, messages=messages)

    def _validate(self, arguments: dict[str, Any]) -> tuple[dict[str, str], list[ChatMessage] | None]:
        allowed = set(self.variables) | ({"messages"} if self.accepts_messages else set())
        unknown = sorted(set(arguments) - allowed)
        if unknown:
            raise unknown_arguments(self.name, unknown, allowed)
        missing = [v for v in self.variables if v not in arguments or arguments[v] is None]
        if missing:
            raise ToolError(
                f"Missing input(s) for deployment '{self.key}': {', '.join(missing)}. Each fills a {{{{variable}}}} "
                "in its prompt, and orq would silently drop the text around a missing one, so orq was not called."
            )
        not_text = [v for v in self.variables if not isinstance(arguments[v], str)]
        if not_text:
            raise ToolError(f"Invalid arguments for {self.name}: {', '.join(not_text)} must be text (a string).")
        messages = None
        if self.accepts_messages and arguments.get("messages") is not None:
            try:
                turns = _MESSAGES.validate_python(arguments["messages"])
                messages = [ChatMessage(role=turn.role, content=turn.content) for turn in turns]
            except ValidationError as exc:
                problems = "; ".join(
                    f"messages.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                    for e in exc.errors(include_url=False, include_input=False)
                )
                raise ToolError(f"Invalid arguments for {self.name}: {problems}.") from None
        return {v: arguments[v] for v in self.variables}, messages


async def exposed_tools(
    state: AppState, ctx: RequestLike | None, deployments: list[Deployment] | None = None
) -> dict[str, DeploymentTool]:
    """The per-deployment tools this caller sees (none unless --expose names some)."""
    if not state.settings.expose:
        return {}
    if deployments is None:
        deployments = await state.deployments(ctx) if ctx is not None else []
    chosen = [d for d in deployments if state.settings.exposes(d.key)]
    return deployment_tools(chosen, STATIC_TOOL_NAMES)


def deployment_tools(deployments: Iterable[Deployment], reserved: Iterable[str]) -> dict[str, DeploymentTool]:
    """The tools for these deployments, by tool name.

    They return what invoke_deployment returns, structured content included, but publish no
    output schema of their own: invoke_deployment's already tells the model the shape, and
    repeating it per deployment would cost ~800 characters of context each.
    """
    deployments = list(deployments)
    names = unique_names((d.key for d in deployments), reserved)
    tools = (_tool(names[d.key], d) for d in deployments)
    return {tool.name: tool for tool in tools}


def _tool(name: str, deployment: Deployment) -> DeploymentTool:
    config = deployment.prompt_config
    variables = tuple(find_variables(config.messages))
    accepts_messages = "messages" not in variables  # a {{messages}} variable wins the name
    properties: dict[str, Any] = {
        v: {"type": "string", "description": f"Fills {{{{{v}}}}} in the prompt."} for v in variables
    }
    if accepts_messages:
        properties["messages"] = MESSAGES_SCHEMA
    summary = deployment.description.strip().rstrip(".") or f"Runs the orq deployment '{deployment.key}'"
    model = "/".join(part for part in (config.provider, config.model) if part)
    description = (
        f"{summary}. orq deployment '{deployment.key}'" + (f" ({model})" if model else "") + ". "
        "Returns the completion; its text streams as progress notifications."
    )
    definition = MCPTool(
        name=name,
        title=deployment.key,
        description=description,
        input_schema={
            "type": "object",
            "properties": properties,
            "required": list(variables),
            "additionalProperties": False,
        },
        annotations=INVOKE,
    )
    return DeploymentTool(name, deployment.key, variables, accepts_messages, definition)
