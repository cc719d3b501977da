"""The feedback toolset: rate what a deployment or an agent answered, on the trace its invocation returned.
Docstrings are the descriptions agents read; keep them short and exact."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult
from pydantic import Field, StrictFloat, StrictInt, StrictStr, ValidationError

from orq_mcp.orq.feedback import Feedback
from orq_mcp.surface.arguments import invalid_arguments
from orq_mcp.surface.results import tool_result
from orq_mcp.surface.runtime_results import FeedbackResult
from orq_mcp.surface.tenant import tenant_of
from orq_mcp.surface.toolsets.annotations import WRITE

VALUE_DESCRIPTION = Feedback.model_fields["value"].description


async def submit_feedback(
    ctx: Context,
    trace_id: Annotated[
        str, Field(min_length=1, max_length=256, description="The trace_id an invoke_deployment or invoke_agent gave.")
    ],
    property: Annotated[
        str, Field(min_length=1, max_length=256, description=Feedback.model_fields["property"].description)
    ],
    value: Annotated[StrictStr | StrictInt | StrictFloat | list[StrictStr], Field(description=VALUE_DESCRIPTION)],
    product: Annotated[
        Literal["deployments", "agents"] | None,
        Field(description="What answered: agents for invoke_agent's traces; deployments (the default) otherwise."),
    ] = None,
) -> Annotated[CallToolResult, FeedbackResult]:
    """Rate an answer in orq (stored on its trace, where the team reviews it): e.g. property rating, value good
    or bad. Built-in properties' values are checked before orq is called."""
    tenant = tenant_of(ctx)
    try:
        feedback = Feedback(trace_id=trace_id, property=property, value=value, product=product, id=None)
    except ValidationError as exc:  # a built-in property with a value it does not take
        raise ToolError(invalid_arguments("submit_feedback", exc)) from None
    async with tenant.explained(trace_id, "trace"):
        receipt = await tenant.orq.submit_feedback(feedback)
    return tool_result(FeedbackResult.of(receipt))


TOOLS = ((submit_feedback, WRITE, "Submit feedback"),)
