"""The four tools. Docstrings are the descriptions agents read; keep them short and exact."""

from __future__ import annotations

import contextlib
import json
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from orq_mcp.errors import BadRequestError, NotFoundError, OrqError
from orq_mcp.models import Deployment
from orq_mcp.progress import SendProgress, relay_progress
from orq_mcp.results import (
    DeploymentConfigResult,
    DeploymentPage,
    DeploymentSummary,
    InvocationResult,
    PromptPage,
    PromptSummary,
    tool_result,
)
from orq_mcp.state import AppState, app_state
from orq_mcp.templates import find_variables
from orq_mcp.tool_errors import Subject, tool_error

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


class ToolCallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    arguments: dict[str, Any] | str = Field(description="The arguments, as an object or a JSON string.")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | None = Field(description="The message text (may be null for an assistant turn with tool_calls).")
    tool_call_id: str | None = Field(None, description="For role `tool`: the id of the tool call this answers.")
    tool_calls: list[ToolCallIn] | None = Field(None, description="For role `assistant`: tool calls it made.")

    def to_orq(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {
                        "name": call.name,
                        "arguments": call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments),
                    },
                }
                for call in self.tool_calls
            ]
        return message


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
    state = app_state(ctx)
    try:
        page = await state.orq_for(ctx).list_deployments(limit=limit, starting_after=cursor)
    except OrqError as exc:
        raise _list_error(exc, cursor, "list_deployments") from None
    summaries = [DeploymentSummary.of(d) for d in page.data]
    next_cursor = page.data[-1].id if page.has_more and page.data else None
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
    state = app_state(ctx)
    orq = state.orq_for(ctx)
    body = _body(key, inputs=inputs, context=context)
    try:
        config = await orq.get_config(body)
    except OrqError as exc:
        raise await _deployment_error(state, ctx, exc, key) from None
    deployment = await _lookup(state, ctx, key)
    variables = find_variables(deployment.prompt_config.messages if deployment else config.messages)
    return tool_result(DeploymentConfigResult.of(key, config, variables))


async def invoke_deployment(
    ctx: Context,
    key: DeploymentKey,
    inputs: Inputs = None,
    messages: Annotated[
        list[ChatMessage] | None,
        Field(description="Conversation turns appended after the deployment's own prompt."),
    ] = None,
    context: RoutingContext = None,
    metadata: Annotated[
        dict[str, Any] | None, Field(description='Stored on orq\'s log of this call, e.g. {"ticket": "T-1"}.')
    ] = None,
) -> Annotated[CallToolResult, InvocationResult]:
    """Run a deployment and return the model's completion (text and any tool calls).

    Fill the prompt's {{variables}} with `inputs` (see list_deployments) and add chat
    turns with `messages`. The text streams back live as progress notifications.
    """
    state = app_state(ctx)
    orq = state.orq_for(ctx)
    body = _body(key, inputs=inputs, context=context, metadata=metadata)
    if messages:
        body["messages"] = [m.to_orq() for m in messages]
    body["invoke_options"] = {"include_usage": True}
    try:
        # report_progress is a no-op when the caller sent no progress token, so relay unconditionally.
        async with relay_progress(_progress_sender(ctx), state.settings.progress_interval) as relay:
            completion = await orq.invoke(body, on_text=relay.add)
    except OrqError as exc:
        raise await _deployment_error(state, ctx, exc, key) from None
    result = InvocationResult.of(completion)
    return tool_result(result, text=result.as_text())


async def list_prompts(
    ctx: Context,
    limit: Annotated[int, Field(ge=1, le=200, description="Prompts per page (1-200).")] = 20,
    cursor: Cursor = None,
) -> Annotated[CallToolResult, PromptPage]:
    """List the prompts in the orq prompt library, newest first, with their {{variables}}."""
    state = app_state(ctx)
    try:
        page = await state.orq_for(ctx).list_prompts(limit=limit, starting_after=cursor)
    except OrqError as exc:
        raise _list_error(exc, cursor, "list_prompts") from None
    next_cursor = page.data[-1].id if page.has_more and page.data else None
    return tool_result(PromptPage(prompts=[PromptSummary.of(p) for p in page.data], next_cursor=next_cursor))


TOOLS = (
    (list_deployments, READ_ONLY, "List deployments"),
    (get_deployment_config, READ_ONLY, "Get deployment configuration"),
    (invoke_deployment, INVOKE, "Invoke deployment"),
    (list_prompts, READ_ONLY, "List prompts"),
)


def _body(key: str, **fields: Any) -> dict[str, Any]:
    return {"key": key, **{name: value for name, value in fields.items() if value is not None}}


def _progress_sender(ctx: Context) -> SendProgress:
    async def send(progress: float, message: str) -> None:
        await ctx.report_progress(progress, None, message)

    return send


async def _lookup(state: AppState, ctx: Context, key: str) -> Deployment | None:
    try:
        return await state.catalog_for(ctx).get(key)
    except OrqError:
        return None  # the variables are a convenience; the config itself already arrived


async def _deployment_error(state: AppState, ctx: Context, exc: OrqError, key: str) -> ToolError:
    subject = state.subject(ctx, "deployment", key)
    if isinstance(exc, NotFoundError):
        with contextlib.suppress(OrqError):
            subject.suggestions = await state.catalog_for(ctx).suggestions(key)
    return tool_error(exc, subject)


def _list_error(exc: OrqError, cursor: str | None, tool: str) -> ToolError:
    if cursor and isinstance(exc, BadRequestError | NotFoundError):
        return ToolError(f"The cursor is not valid ({exc.message}). Call {tool} again without `cursor`.")
    return tool_error(exc, Subject(kind="page"))
