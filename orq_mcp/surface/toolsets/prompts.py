"""The prompt library toolset: browse orq's prompts (MCP prompts serve them too: surface/prompts.py)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field

from orq_mcp.orq.errors import OrqError
from orq_mcp.surface.paging import Cursor, fitted_page, list_error
from orq_mcp.surface.results import PromptPage, PromptSummary, copy_budget, tool_result
from orq_mcp.surface.tenant import tenant_of
from orq_mcp.surface.toolsets.annotations import READ_ONLY


async def list_prompts(
    ctx: Context,
    limit: Annotated[int, Field(ge=1, le=200, description="Prompts per page.")] = 20,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, PromptPage]:
    """List the prompts in the orq prompt library, newest first, with their {{variables}}."""
    tenant = tenant_of(ctx)
    try:
        page = await tenant.orq.list_prompts(limit=limit, starting_after=cursor)
    except OrqError as exc:
        raise list_error(exc, cursor, "list_prompts", tenant.subject("page")) from None
    next_cursor = page.data[-1].id if page.has_more and page.data else None
    summaries = [PromptSummary.of(p) for p in page.data]
    budget = copy_budget(tenant.settings.max_result_chars)
    return tool_result(fitted_page(PromptPage, summaries, next_cursor, lambda i: page.data[i].id, budget))


TOOLS = ((list_prompts, READ_ONLY, "List prompts"),)
