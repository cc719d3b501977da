"""One tool per agent (`--expose`, with the agents toolset): `agent_<key>(message, <variables>, task_id)`.

Calling `agent_order_assistant(message=..., company_name=...)` is exactly `invoke_agent` with those variables,
streaming included: a missing variable is refused (or asked for) by the same rule, in `run_agent`, given the
agent the tool was built from (it is not looked up again).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, InputRequiredResult
from mcp_types import Tool as MCPTool
from pydantic import BaseModel, Field, ValidationError

from orq_mcp.orq.agent_models import Agent
from orq_mcp.orq.agent_requests import AgentRequest
from orq_mcp.orq.templates import Variable
from orq_mcp.surface.arguments import invalid_arguments
from orq_mcp.surface.invocation.agent import run_agent
from orq_mcp.surface.naming import unique_names
from orq_mcp.surface.runtime_results import agent_variables
from orq_mcp.surface.schema import compact_schema
from orq_mcp.surface.toolsets.annotations import INVOKE
from orq_mcp.surface.toolsets.exposed_arguments import argument_name, arguments_model, given_values, variable_fields

PREFIX = "agent_"
# The arguments every agent tool has; a variable of the same name takes `<name>_variable`.
OWN_ARGUMENTS = ("message", "task_id")


@dataclass(frozen=True)
class AgentTool:
    name: str
    agent: Agent
    variables: tuple[Variable, ...]
    arguments: type[BaseModel]
    definition: MCPTool
    toolset: str = "agents"

    async def call(self, ctx: Context, arguments: dict[str, Any]) -> CallToolResult | InputRequiredResult:
        try:
            parsed = self.arguments.model_validate(arguments)
        except ValidationError as exc:
            raise ToolError(invalid_arguments(self.name, exc)) from None
        own = dict(parsed)  # the fields of a model made at run time, by name
        request = AgentRequest(
            message=own["message"],
            task_id=own["task_id"],
            variables=given_values(parsed, self.variables) or None,
            memory_entity_id=None,
            metadata=None,
        )
        return await run_agent(ctx, self.agent.key, request, agent=self.agent)


def agent_tools(agents: Iterable[Agent], reserved: Iterable[str]) -> dict[str, AgentTool]:
    """The tools for these agents, by tool name. Like the deployment tools they publish no output schema:
    invoke_agent's already tells the model the shape."""
    agents = list(agents)
    names = unique_names((PREFIX + a.key for a in agents), reserved)
    tools = (_tool(names[PREFIX + a.key], a) for a in agents)
    return {tool.name: tool for tool in tools}


def _tool(name: str, agent: Agent) -> AgentTool:
    variables = agent_variables(agent)
    fields = {
        "message": (str, Field(min_length=1, description="What the user says to the agent.")),
        **variable_fields(variables, OWN_ARGUMENTS, place="instructions"),
        "task_id": (str | None, Field(None, min_length=1, description="Continue this task (a previous result's).")),
    }
    model = arguments_model(name, fields)
    summary = (agent.description or agent.role).strip().rstrip(".") or f"Runs the orq agent '{agent.key}'"
    model_id = f" ({agent.model_id})" if agent.model_id else ""
    description = (
        f"{summary}. orq agent '{agent.key}'{model_id}. Returns its answer, the tools it ran and a task_id to "
        "continue; its text streams as progress notifications."
    )
    schema = compact_schema(model.model_json_schema(by_alias=True), arguments=True)
    required = ["message", *(argument_name(v.name, set(OWN_ARGUMENTS)) for v in variables if v.required)]
    definition = MCPTool(
        name=name,
        title=agent.display_name or agent.key,
        description=description,
        input_schema={**schema, "required": required, "additionalProperties": False},
        annotations=INVOKE,
    )
    return AgentTool(name, agent, tuple(variables), model, definition)
