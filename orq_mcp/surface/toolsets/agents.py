"""The agents toolset: list orq agents, run one (its text streamed as progress, a task to continue), read a task.
Docstrings are the descriptions agents read; keep them short and exact."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, InputRequiredResult
from pydantic import Field, WithJsonSchema

from orq_mcp.orq.agent_models import Agent
from orq_mcp.orq.agent_requests import AgentRequest
from orq_mcp.orq.agent_stream import run_from_task
from orq_mcp.orq.errors import OrqError
from orq_mcp.orq.requests import Identity, Thread, _Strict
from orq_mcp.surface.invocation.agent import TEXT_CUT_HINT, run_agent
from orq_mcp.surface.invocation.fitted import fitted_agent_run
from orq_mcp.surface.paging import Cursor, InvalidCursor, bad_cursor, fitted_page, list_error, page_after
from orq_mcp.surface.results import copy_budget, tool_result
from orq_mcp.surface.runtime_results import AgentPage, AgentRunResult, AgentSummary
from orq_mcp.surface.tenant import tenant_of
from orq_mcp.surface.toolsets.annotations import INVOKE, READ_ONLY

AgentKey = Annotated[str, Field(min_length=1, max_length=256, description="A key from list_agents.")]
TaskId = Annotated[str, Field(min_length=1, max_length=256, description="A task_id an invoke_agent result gave.")]


class AgentOptions(_Strict):
    """Rarely needed: how orq files the run (the SDK's `thread` and `identity`)."""

    thread: Thread | None = None
    identity: Identity | None = None


# Advertised as a described object, as invoke_deployment's `options` is: the server validates it with AgentOptions.
OPTIONS_DESCRIPTION = (
    "Rarely needed. thread {id, tags}: groups runs in orq's traces; identity {id, display_name, email, logo_url, "
    "tags, metadata: [{}]}: the end user."
)


async def list_agents(
    ctx: Context,
    limit: Annotated[int, Field(ge=1, le=50, description="Agents per page.")] = 20,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, AgentPage]:
    """List the workspace's orq agents, newest first: what each does, its model, the {{variables}} its
    instructions take in `variables`, and its tools."""
    tenant = tenant_of(ctx)
    allow_list = tenant.settings.agents
    # orq's own cursor is the last item's id; an allow-listed page is cut from the cache by key.
    name: Callable[[Agent], str] = (lambda a: a.id) if allow_list is None else (lambda a: a.key)
    try:
        if allow_list is None:
            page = await tenant.orq.list_agents(limit=limit, starting_after=cursor)
            agents = page.data
            next_cursor = page.data[-1].id if page.has_more and page.data else None
        else:
            agents, next_cursor = page_after(await tenant.visible_agents(), cursor, limit, name)
    except OrqError as exc:
        raise list_error(exc, cursor, "list_agents", tenant.subject("page")) from None
    except InvalidCursor:
        raise bad_cursor("list_agents", "it names no agent") from None
    summaries = [AgentSummary.of(agent) for agent in agents]
    budget = copy_budget(tenant.settings.max_result_chars)
    return tool_result(fitted_page(AgentPage, summaries, next_cursor, lambda i: name(agents[i]), budget))


async def invoke_agent(
    ctx: Context,
    key: AgentKey,
    message: Annotated[str, Field(min_length=1, description="What the user says to the agent.")],
    variables: Annotated[
        dict[str, Any] | None, Field(description='Values for its {{variables}}, e.g. {"company_name": "Acme"}.')
    ] = None,
    task_id: Annotated[
        str | None, Field(min_length=1, max_length=256, description="Continue this task (a previous result's).")
    ] = None,
    memory_entity_id: Annotated[
        str | None, Field(min_length=1, description="Links the agent's memory to this user or conversation.")
    ] = None,
    metadata: Annotated[dict[str, Any] | None, Field(description="Stored on the run's trace.")] = None,
    options: Annotated[
        AgentOptions | None, WithJsonSchema({"type": "object"}), Field(description=OPTIONS_DESCRIPTION)
    ] = None,
) -> Annotated[CallToolResult, AgentRunResult] | InputRequiredResult:
    """Run an orq agent on a message and return its answer, the tools it ran and their results, and the
    task_id that continues the conversation. Its text streams as progress notifications."""
    request = AgentRequest(
        message=message,
        task_id=task_id,
        variables=variables,
        memory_entity_id=memory_entity_id,
        metadata=metadata,
        thread=options.thread if options else None,
        identity=options.identity if options else None,
    )
    return await run_agent(ctx, key, request)


async def get_agent_task(ctx: Context, key: AgentKey, task_id: TaskId) -> Annotated[CallToolResult, AgentRunResult]:
    """Read an agent task: its status and its latest answer (for a run that was interrupted or cut short)."""
    tenant = tenant_of(ctx)
    await tenant.refuse_unless_allowed(key, "agent")
    async with tenant.explained(task_id, "task"):
        task = await tenant.orq.get_agent_task(key, task_id)
    result = AgentRunResult.of(run_from_task(task), error=task.error)
    return fitted_agent_run(result, tenant.settings.max_result_chars, TEXT_CUT_HINT)


TOOLS = (
    (list_agents, READ_ONLY, "List agents"),
    (invoke_agent, INVOKE, "Invoke agent"),
    (get_agent_task, READ_ONLY, "Get agent task"),
)
