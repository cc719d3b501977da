"""The four tools. Docstrings are the descriptions agents read; keep them short and exact."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, InputRequiredResult, ToolAnnotations
from pydantic import Field

from orq_mcp.orq.errors import BadRequestError, NotFoundError, OrqError
from orq_mcp.orq.models import Deployment
from orq_mcp.orq.outputs import invocation_mode
from orq_mcp.orq.requests import Message, RequestOptions, request_body
from orq_mcp.orq.templates import Variable, find_variables, missing_variables
from orq_mcp.surface.ask import Wanted, ask_for_inputs, can_ask
from orq_mcp.surface.fit import fit_count, shrink_strings
from orq_mcp.surface.media import media_of
from orq_mcp.surface.named_keys import left_out
from orq_mcp.surface.outputs import outputs_of
from orq_mcp.surface.paging import InvalidCursor, page_after
from orq_mcp.surface.progress import SendProgress, relay_progress
from orq_mcp.surface.results import (
    DeploymentConfigResult,
    DeploymentPage,
    DeploymentSummary,
    InvocationResult,
    PromptPage,
    PromptSummary,
    fitted_invocation,
    page_json,
    tool_result,
)
from orq_mcp.surface.tenant import Tenant, tenant_of
from orq_mcp.surface.tool_errors import Subject, tool_error

DeploymentKey = Annotated[
    str,
    Field(min_length=1, max_length=256, description="Deployment key, as returned by list_deployments."),
]
Inputs = Annotated[
    dict[str, Any] | None,
    Field(description='Values for the prompt\'s {{variables}}, e.g. {"customer_name": "Priya"}.'),
]
RoutingContext = Annotated[
    dict[str, Any] | None,
    Field(description='Variant routing attributes, e.g. {"environments": "production"}. Usually omitted.'),
]
Cursor = Annotated[
    str | None,
    Field(max_length=256, description="`next_cursor` from the previous page; omit for the first page."),
]


OPTIONS_DESCRIPTION = (
    "Rarely needed. thread {id, tags} groups calls in orq's traces; identity {id, ...} is the end user; "
    "documents [{text, metadata}] are RAG chunks; file_ids; prefix_messages go after the system prompt; "
    "extra_params override the model's; knowledge_filter filters the knowledge base; "
    "invoke_options.mock_response answers that text without calling the model (a free dry run)."
)
TEXT_CUT_HINT = (
    "The whole text was streamed as progress notifications; to get it in one result, ask for a shorter answer."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=True)
# Invoking calls a paid model and is not idempotent; it changes nothing in the workspace though.
INVOKE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)


async def list_deployments(
    ctx: Context,
    limit: Annotated[int, Field(ge=1, le=50, description="Deployments per page (1-50).")] = 20,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, DeploymentPage]:
    """List the orq deployments in this workspace, newest first.

    Each entry has the deployment's key, description, model and provider, and the
    {{variables}} its prompt expects in `inputs`. Page with `next_cursor`.
    """
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
        raise _list_error(exc, cursor, "list_deployments", tenant.subject("page")) from None
    except InvalidCursor:
        raise _bad_cursor("list_deployments", "it names no deployment") from None
    known = await tenant.variables_of(deployments)
    summaries = [DeploymentSummary.of(d, known[d.key]) for d in deployments]
    count = fit_count(summaries, lambda s: page_json(DeploymentPage, list(s)), _one_copy(tenant))
    if count < len(summaries):  # the rest is one call away rather than cut mid-list
        summaries, next_cursor = summaries[:count], name(deployments[count - 1])
    return tool_result(DeploymentPage(deployments=summaries, next_cursor=next_cursor))


async def get_deployment_config(
    ctx: Context,
    key: DeploymentKey,
    inputs: Inputs = None,
    context: RoutingContext = None,
) -> Annotated[CallToolResult, DeploymentConfigResult]:
    """Show a deployment's resolved configuration without calling the model.

    Returns provider, model, version, type, messages (with `inputs` filled in),
    parameters, tools, and the {{variables}} the prompt expects.
    """
    tenant = tenant_of(ctx)
    await _require_allowed(tenant, key)
    try:
        config = await tenant.orq.get_config(request_body(key, inputs=inputs, context=context))
    except OrqError as exc:
        raise await _deployment_error(tenant, exc, key) from None
    variables = await _variables(tenant, key)
    if variables is None:  # unknown to the catalog (just created?): its resolved messages still tell
        variables = [Variable(name) for name in find_variables(config.messages)]
    result = DeploymentConfigResult.of(key, config, variables)
    fitted = shrink_strings(result.model_dump(mode="json"), _one_copy(tenant))
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
    options: Annotated[RequestOptions | None, Field(description=OPTIONS_DESCRIPTION)] = None,
) -> Annotated[CallToolResult, InvocationResult] | InputRequiredResult:
    """Run a deployment and return the model's completion (text, tool calls, sources).

    Fill the prompt's {{variables}} with `inputs` (see list_deployments) and add chat
    turns with `messages`. The text streams back live as progress notifications.
    To continue after tool calls, start the assistant turn's content with the parts
    {type: reasoning, reasoning, signature: reasoning_signature} and
    {type: redacted_reasoning, data: redacted_reasoning} when the result has them.
    """
    return await run_invocation(
        ctx, key, inputs=inputs, messages=messages, context=context, metadata=metadata, options=options
    )


async def run_invocation(
    ctx: Context,
    key: str,
    *,
    inputs: dict[str, Any] | None = None,
    messages: list[Message] | None = None,
    context: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    options: RequestOptions | None = None,
) -> CallToolResult | InputRequiredResult:
    """Run one invocation, relaying streamed text as progress; shared by every invoking tool."""
    tenant = tenant_of(ctx)
    await _require_allowed(tenant, key)
    deployment = await _listed(tenant, key)  # read once: it holds the variables and says how orq answers
    completed = await _complete_inputs(ctx, tenant, deployment, inputs or {})
    if isinstance(completed, InputRequiredResult):
        return completed
    inputs = completed or inputs
    body = request_body(key, inputs=inputs, context=context, metadata=metadata, messages=messages, options=options)
    # Usage and the knowledge-base chunks used come with every answer; what the caller asked for wins.
    body["invoke_options"] = {"include_usage": True, "include_retrievals": True, **body.get("invoke_options", {})}
    try:
        model_type = _answered_once(deployment)
        if model_type is not None:  # image, embedding, speech, ...: orq does not stream these
            invocation = await tenant.orq.invoke_unstreamed(body, model_type)
            media = media_of(invocation, tenant.settings.max_media_bytes)
            result = InvocationResult.of(invocation.completion, media.outputs + outputs_of(invocation))
            return fitted_invocation(result, tenant.settings.max_result_chars, TEXT_CUT_HINT, media.blocks)
        # report_progress is a no-op when the caller sent no progress token, so relay unconditionally.
        scrub = tenant.redactor.stream()
        async with relay_progress(_progress_sender(ctx), tenant.settings.progress_interval, scrub=scrub) as relay:
            completion = await tenant.orq.invoke(body, on_text=relay.add)
    except OrqError as exc:
        raise await _deployment_error(tenant, exc, key) from None
    return fitted_invocation(InvocationResult.of(completion), tenant.settings.max_result_chars, TEXT_CUT_HINT)


def _answered_once(deployment: Deployment | None) -> str | None:
    """The deployment's model type when orq answers it in one response (its model_type says; unknown: stream)."""
    model_type = deployment.prompt_config.model_type if deployment is not None else None
    return model_type if invocation_mode(model_type) == "invoke" else None


async def _complete_inputs(
    ctx: Context, tenant: Tenant, deployment: Deployment | None, inputs: dict[str, Any]
) -> dict[str, Any] | InputRequiredResult:
    """The one rule of every invoking tool: `inputs`, or refused before orq is called when the prompt needs a
    variable they lack (no default, no value; an explicit "" is a value). A client that shows forms is asked
    first; a form holds text only, so a missing list or object is refused straight away."""
    if deployment is None:  # unknown to the catalog: its variables are not known either
        return inputs
    missing = missing_variables((await tenant.variables_of([deployment]))[deployment.key], inputs)
    if not missing:
        return inputs
    key = deployment.key
    answered = None
    if can_ask(ctx) and all(v.type == "string" for v in missing):
        answered = await ask_for_inputs(ctx, key, [Wanted(v.name, v.description, v.default) for v in missing])
    if answered is None:  # no form, declined or dismissed: orq would silently drop the text around the gaps
        raise missing_inputs(key, missing)
    return answered if isinstance(answered, InputRequiredResult) else {**inputs, **answered}


async def list_prompts(
    ctx: Context,
    limit: Annotated[int, Field(ge=1, le=200, description="Prompts per page (1-200).")] = 20,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, PromptPage]:
    """List the prompts in the orq prompt library, newest first, with their {{variables}}."""
    tenant = tenant_of(ctx)
    try:
        page = await tenant.orq.list_prompts(limit=limit, starting_after=cursor)
    except OrqError as exc:
        raise _list_error(exc, cursor, "list_prompts", tenant.subject("page")) from None
    next_cursor = page.data[-1].id if page.has_more and page.data else None
    summaries = [PromptSummary.of(p) for p in page.data]
    count = fit_count(summaries, lambda s: page_json(PromptPage, list(s)), _one_copy(tenant))
    if count < len(summaries):
        summaries, next_cursor = summaries[:count], page.data[count - 1].id
    return tool_result(PromptPage(prompts=summaries, next_cursor=next_cursor))


TOOLS = (
    (list_deployments, READ_ONLY, "List deployments"),
    (get_deployment_config, READ_ONLY, "Get deployment configuration"),
    (invoke_deployment, INVOKE, "Invoke deployment"),
    (list_prompts, READ_ONLY, "List prompts"),
)


def missing_inputs(key: str, missing: list[Variable]) -> ToolError:
    return ToolError(
        f"Missing input(s) for deployment '{key}': {', '.join(_where(v) for v in missing)}. orq would silently "
        'drop the text around a missing variable, so orq was not called. Give each a value (an explicit "" is one).'
    )


_SHAPES = {"array": "a list", "object": "an object", "any": "any JSON value"}


def _where(variable: Variable) -> str:
    """`customer (an object; used in message 2, user)`: what to send, and where the prompt reads it."""
    details = [_SHAPES[variable.type]] if variable.type in _SHAPES else []
    if variable.used_in:
        details.append("used in " + "; ".join(str(use) for use in variable.used_in))
    return f"{variable.name} ({'; '.join(details)})" if details else variable.name


def _one_copy(tenant: Tenant) -> int:
    # A JSON result goes out twice (text block and structured content), so each copy gets half the budget.
    return tenant.settings.max_result_chars // 2


def _progress_sender(ctx: Context) -> SendProgress:
    async def send(progress: float, message: str) -> None:
        await ctx.report_progress(progress, None, message)

    return send


async def _variables(tenant: Tenant, key: str) -> list[Variable] | None:
    """The deployment's variables, or None when the catalog cannot say (they are a convenience)."""
    deployment = await _listed(tenant, key)
    return (await tenant.variables_of([deployment]))[key] if deployment else None


async def _listed(tenant: Tenant, key: str) -> Deployment | None:
    """The deployment as the catalog lists it, or None when it cannot say (orq will, when called)."""
    try:
        return await tenant.deployment(key)
    except OrqError:
        return None


async def _require_allowed(tenant: Tenant, key: str) -> None:
    if not tenant.allows(key):
        raise await left_out(tenant, key)


async def _deployment_error(tenant: Tenant, exc: OrqError, key: str) -> ToolError:
    subject = tenant.subject("deployment", key)
    if isinstance(exc, NotFoundError):
        subject.suggestions = await tenant.suggestions(key)
    return tool_error(exc, subject)


def _list_error(exc: OrqError, cursor: str | None, tool: str, subject: Subject) -> ToolError:
    if cursor and isinstance(exc, BadRequestError | NotFoundError):
        return _bad_cursor(tool, exc.message)
    return tool_error(exc, subject)


def _bad_cursor(tool: str, reason: str) -> ToolError:
    return ToolError(f"The cursor is not valid ({reason}). Call {tool} again without `cursor`.")
