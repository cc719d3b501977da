"""One agent run, on the same straight path as a deployment's (invoke.py): the caller's tenant, the agent read once
(the allow-list's refusal included), its variables completed or asked for by the same rule, its text streamed as
progress through the same relay, its result fitted to the same budget. Every tool that runs an agent comes here."""

from __future__ import annotations

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, InputRequiredResult

from orq_mcp.orq.agent_models import Agent
from orq_mcp.orq.agent_requests import AgentRequest
from orq_mcp.orq.templates import missing_variables
from orq_mcp.surface.invocation.ask import ask_or_refuse
from orq_mcp.surface.invocation.fitted import fitted_agent_run
from orq_mcp.surface.invocation.invoke import text_as_progress
from orq_mcp.surface.runtime_results import AgentRunResult, agent_variables
from orq_mcp.surface.tenant import tenant_of

TEXT_CUT_HINT = (
    "The whole text was streamed as progress notifications; get_agent_task with this task_id shows the task, "
    "or ask the agent for a shorter answer."
)


async def run_agent(
    ctx: Context, key: str, request: AgentRequest, agent: Agent | None = None
) -> CallToolResult | InputRequiredResult:
    """Run agent `key` for one turn, relaying its text as progress. `agent`: the manifest as the caller already
    read it (an exposed agent tool's), else it is read here, once."""
    tenant = tenant_of(ctx)
    agent = agent or await tenant.listed_agent(key)
    async with tenant.explained(key, "agent"):
        # An agent the catalog does not know (just created?): nor its variables; orq has the last word.
        variables = request.variables or {}
        missing = missing_variables(agent_variables(agent), variables) if agent is not None else []
        if missing:
            completed = await ask_or_refuse(ctx, key, missing, variables, kind="agent")
            if isinstance(completed, InputRequiredResult):
                return completed
            request = request.model_copy(update={"variables": completed})
        async with text_as_progress(ctx, tenant) as relay:
            run = await tenant.orq.invoke_agent(key, request, on_text=relay)
    return fitted_agent_run(AgentRunResult.of(run), tenant.settings.max_result_chars, TEXT_CUT_HINT)
