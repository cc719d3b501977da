"""The deployments toolset: list, inspect and invoke. Docstrings are the descriptions agents read; keep them short
and exact."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, InputRequiredResult
from pydantic import Field, WithJsonSchema

from orq_mcp.orq.errors import OrqError
from orq_mcp.orq.models import Deployment
from orq_mcp.orq.requests import Message, RequestOptions, request_body
from orq_mcp.orq.templates import Variable, find_variables
from orq_mcp.surface.fit import shrink_strings
from orq_mcp.surface.invocation.invoke import run_invocation
from orq_mcp.surface.paging import Cursor, InvalidCursor, bad_cursor, fitted_page, list_error, page_after
from orq_mcp.surface.results import (
    DeploymentConfigResult,
    DeploymentPage,
    DeploymentSummary,
    InvocationResult,
    copy_budget,
    tool_result,
)
from orq_mcp.surface.tenant import tenant_of
from orq_mcp.surface.toolsets.annotations import INVOKE, READ_ONLY

DeploymentKey = Annotated[
    str,
    Field(min_length=1, max_length=256, description="A key from list_deployments."),
]
Inputs = Annotated[
    dict[str, Any] | None,
    Field(description='Values for the prompt\'s {{variables}}, e.g. {"customer_name": "Priya"}.'),
]
RoutingContext = Annotated[
    dict[str, Any] | None,
    Field(description='Variant routing, e.g. {"environments": "production"}; usually omitted.'),
]


# `options` is advertised as a described object: its nine models as JSON Schema cost ~2,200 characters of every
# turn for fields agents rarely send. The server still validates it with RequestOptions (unknown fields refused,
# each error naming its field); tests/surface/test_tools_list.py checks that this text names every field the model
# takes.
OPTIONS_DESCRIPTION = (
    "Rarely needed. thread {id, tags}: groups calls in orq's traces; identity {id, display_name, email, logo_url, "
    "tags, metadata: [{}]}: the end user; documents [{text, metadata: {file_name, file_type, page_number}}]: RAG "
    "chunks; file_ids; prefix_messages: turns put after the system prompt; extra_params: model parameters; "
    'knowledge_filter, e.g. {"year": {"gte": 2024}}; invoke_options {include_usage, include_retrievals, '
    "mock_response: a text answered without calling the model, a free dry run}."
)


async def list_deployments(
    ctx: Context,
    limit: Annotated[int, Field(ge=1, le=50, description="Deployments per page.")] = 20,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, DeploymentPage]:
    """List the workspace's orq deployments, newest first, with the {{variables}} each takes in `inputs`
    (a `type` only when not text)."""
    tenant = tenant_of(ctx)
    allow_list = tenant.settings.deployments
    # orq's own cursor is the last item's id; an allow-listed page is cut from the cache by key.
    name: Callable[[Deployment], str] = (lambda d: d.id) if allow_list is None else (lambda d: d.key)
    try:
        if allow_list is None:
            page = await tenant.orq.list_deployments(limit=limit, starting_after=cursor)
            deployments = page.data
            next_cursor = page.data[-1].id if page.has_more and page.data else None
        else:
            deployments, next_cursor = page_after(await tenant.visible_deployments(), cursor, limit, name)
    except OrqError as exc:
        raise list_error(exc, cursor, "list_deployments", tenant.subject("page")) from None
    except InvalidCursor:
        raise bad_cursor("list_deployments", "it names no deployment") from None
    known = await tenant.variables_of(deployments)
    summaries = [DeploymentSummary.of(d, known[d.key]) for d in deployments]
    budget = copy_budget(tenant.settings.max_result_chars)
    return tool_result(fitted_page(DeploymentPage, summaries, next_cursor, lambda i: name(deployments[i]), budget))


async def get_deployment_config(
    ctx: Context,
    key: DeploymentKey,
    inputs: Inputs = None,
    context: RoutingContext = None,
) -> Annotated[CallToolResult, DeploymentConfigResult]:
    """Show a deployment's resolved configuration (model, messages with `inputs` filled in, parameters, tools),
    without calling the model."""
    tenant = tenant_of(ctx)
    await tenant.refuse_unless_allowed(key)
    async with tenant.explained(key):
        config = await tenant.orq.get_config(request_body(key, inputs=inputs, context=context))
    variables: list[Variable] | None = (await tenant.listed(key)).variables
    if variables is None:  # unknown to the catalog (just created?): its resolved messages still tell
        variables = [Variable(name) for name in find_variables(config.messages)]
    result = DeploymentConfigResult.of(key, config, variables)
    fitted = shrink_strings(result.model_dump(mode="json"), copy_budget(tenant.settings.max_result_chars))
    return tool_result(DeploymentConfigResult.model_validate(fitted))


async def invoke_deployment(
    ctx: Context,
    key: DeploymentKey,
    inputs: Inputs = None,
    messages: Annotated[
        list[Message] | None,
        Field(description="Conversation turns appended after the deployment's own prompt."),
    ] = None,
    context: RoutingContext = None,
    metadata: Annotated[
        dict[str, Any] | None, Field(description='Stored on orq\'s log of this call, e.g. {"ticket": "T-1"}.')
    ] = None,
    options: Annotated[
        RequestOptions | None, WithJsonSchema({"type": "object"}), Field(description=OPTIONS_DESCRIPTION)
    ] = None,
) -> Annotated[CallToolResult, InvocationResult] | InputRequiredResult:
    """Run a deployment and return its completion (text, tool calls, sources). Fill the prompt's {{variables}}
    with `inputs`, add chat turns with `messages`. To continue after tool calls, begin that assistant turn's
    content with {type: reasoning, reasoning, signature: reasoning_signature} and {type: redacted_reasoning,
    data: redacted_reasoning} when the result has them."""
    return await run_invocation(
        ctx, key, inputs=inputs, messages=messages, context=context, metadata=metadata, options=options
    )


TOOLS = (
    (list_deployments, READ_ONLY, "List deployments"),
    (get_deployment_config, READ_ONLY, "Get deployment configuration"),
    (invoke_deployment, INVOKE, "Invoke deployment"),
)
