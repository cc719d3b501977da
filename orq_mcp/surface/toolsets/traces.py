"""The traces toolset: what happened inside one invocation, summarised for an agent's context. Docstrings are the
descriptions agents read; keep them short and exact."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field

from orq_mcp.surface.fit import compact_json, fit_count
from orq_mcp.surface.results import copy_budget, tool_result
from orq_mcp.surface.runtime_results import SpanResult, TraceResult
from orq_mcp.surface.tenant import tenant_of
from orq_mcp.surface.toolsets.annotations import READ_ONLY

# Spans read from orq for one summary: enough for an agent's tool loop, small enough for a model's context.
MAX_SPANS = 50


async def get_trace(
    ctx: Context,
    trace_id: Annotated[
        str, Field(min_length=1, max_length=256, description="The trace_id an invoke_deployment or invoke_agent gave.")
    ],
) -> Annotated[CallToolResult, TraceResult]:
    """Summarise an orq trace: its spans (names, durations, models, tokens), totals and cost, and which
    failed."""
    tenant = tenant_of(ctx)
    async with tenant.explained(trace_id, "trace"):
        report = await tenant.orq.get_trace(trace_id, max_spans=MAX_SPANS)
    result = TraceResult.of(report)
    spans = result.spans
    budget = copy_budget(tenant.settings.max_result_chars)

    def rendered(shown: list[SpanResult]) -> str:
        return compact_json(result.model_copy(update={"spans": shown}).model_dump(mode="json"))

    count = fit_count(spans, lambda s: rendered(list(s)), budget)
    if count < len(spans):  # the totals stay; the later spans give way
        result = result.model_copy(update={"spans": spans[:count], "spans_left_out": True})
    return tool_result(result)


TOOLS = ((get_trace, READ_ONLY, "Get trace"),)
