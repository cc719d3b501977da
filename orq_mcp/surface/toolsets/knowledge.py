"""The knowledge toolset: list knowledge bases, search one for the passages to cite. Docstrings are the
descriptions agents read; keep them short and exact."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import Field, ValidationError

from orq_mcp.orq.errors import OrqError
from orq_mcp.orq.knowledge import KnowledgeSearch
from orq_mcp.surface.arguments import invalid_arguments
from orq_mcp.surface.fit import shrink_strings
from orq_mcp.surface.paging import Cursor, fitted_page, list_error
from orq_mcp.surface.results import copy_budget, tool_result
from orq_mcp.surface.runtime_results import Chunk, KnowledgeBaseSummary, KnowledgePage, SearchResult
from orq_mcp.surface.tenant import tenant_of
from orq_mcp.surface.toolsets.annotations import READ_ONLY

FILTER_DESCRIPTION = KnowledgeSearch.model_fields["filter_by"].description


async def list_knowledge_bases(
    ctx: Context,
    limit: Annotated[int, Field(ge=1, le=50, description="Knowledge bases per page.")] = 20,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, KnowledgePage]:
    """List the workspace's orq knowledge bases, newest first, for search_knowledge."""
    tenant = tenant_of(ctx)
    try:
        page = await tenant.orq.list_knowledge_bases(limit=limit, starting_after=cursor)
    except OrqError as exc:
        raise list_error(exc, cursor, "list_knowledge_bases", tenant.subject("page")) from None
    next_cursor = page.data[-1].id if page.has_more and page.data else None
    summaries = [KnowledgeBaseSummary.of(base) for base in page.data]
    budget = copy_budget(tenant.settings.max_result_chars)
    return tool_result(fitted_page(KnowledgePage, summaries, next_cursor, lambda i: page.data[i].id, budget))


async def search_knowledge(
    ctx: Context,
    knowledge_id_or_key: Annotated[
        str, Field(min_length=1, max_length=256, description="An id or key from list_knowledge_bases.")
    ],
    query: Annotated[str, Field(min_length=1, description="What to look for.")],
    top_k: Annotated[int, Field(ge=1, le=100, description="How many passages to return.")] = 5,
    threshold: Annotated[float | None, Field(ge=0, le=1, description="The lowest score to return (0-1).")] = None,
    filter_by: Annotated[dict[str, Any] | None, Field(description=FILTER_DESCRIPTION)] = None,
) -> Annotated[CallToolResult, SearchResult]:
    """Search a knowledge base and return the best passages, each with its source file, page and score
    (text cut to fit)."""
    tenant = tenant_of(ctx)
    try:
        search = KnowledgeSearch(query=query, top_k=top_k, threshold=threshold, filter_by=filter_by)
    except ValidationError as exc:  # the filter's shape: checked as strictly as orq's SDK, before orq is called
        raise ToolError(invalid_arguments("search_knowledge", exc)) from None
    async with tenant.explained(knowledge_id_or_key, "knowledge base"):
        chunks = await tenant.orq.search_knowledge(knowledge_id_or_key, search)
    result = SearchResult(knowledge=knowledge_id_or_key, chunks=[Chunk.of(chunk) for chunk in chunks])
    fitted = shrink_strings(result.model_dump(mode="json"), copy_budget(tenant.settings.max_result_chars))
    return tool_result(SearchResult.model_validate(fitted))


TOOLS = (
    (list_knowledge_bases, READ_ONLY, "List knowledge bases"),
    (search_knowledge, READ_ONLY, "Search knowledge"),
)
