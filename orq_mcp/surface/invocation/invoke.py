"""One invocation, one straight path: the caller's tenant, the deployment read once, the inputs completed (or asked
for), the generation streamed as progress, the result fitted to the budget. Every invoking tool comes here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, InputRequiredResult

from orq_mcp.orq.outputs import invocation_mode
from orq_mcp.orq.requests import Message, RequestOptions, request_body
from orq_mcp.orq.templates import missing_variables
from orq_mcp.surface.invocation.ask import ask_or_refuse
from orq_mcp.surface.invocation.fitted import fitted_invocation
from orq_mcp.surface.invocation.media import media_of
from orq_mcp.surface.invocation.progress import relay_progress
from orq_mcp.surface.outputs import MediaBlock, outputs_of
from orq_mcp.surface.results import InvocationResult
from orq_mcp.surface.tenant import Listed, Tenant, tenant_of

TEXT_CUT_HINT = (
    "The whole text was streamed as progress notifications; to get it in one result, ask for a shorter answer."
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
    listed: Listed | None = None,
) -> CallToolResult | InputRequiredResult:
    """Run one invocation of `key`, relaying streamed text as progress. `listed`: the deployment as the caller
    already read it (a per-deployment tool's), else it is read here, once (the allow-list's refusal included)."""
    tenant = tenant_of(ctx)
    listed = listed or await tenant.listed(key)  # it holds the variables and says how orq answers
    async with tenant.explained(key):
        # A deployment the catalog does not know (just created?): nor its variables; orq has the last word.
        missing = missing_variables(listed.variables, inputs or {}) if listed.variables is not None else []
        if missing:
            completed = await ask_or_refuse(ctx, key, missing, inputs or {})
            if isinstance(completed, InputRequiredResult):
                return completed
            inputs = completed
        body = request_body(key, inputs=inputs, context=context, metadata=metadata, messages=messages, options=options)
        # Usage and the knowledge-base chunks used come with every answer; what the caller asked for wins.
        body["invoke_options"] = {"include_usage": True, "include_retrievals": True, **body.get("invoke_options", {})}
        model_type = listed.deployment.prompt_config.model_type if listed.deployment is not None else None
        media: list[MediaBlock] | None = None
        if model_type is not None and invocation_mode(model_type) == "invoke":  # image, speech, ...: not streamed
            invocation = await tenant.orq.invoke_unstreamed(body, model_type)
            found = media_of(invocation, tenant.settings.max_media_bytes)
            result = InvocationResult.of(invocation.completion, found.outputs + outputs_of(invocation))
            media = found.blocks
        else:
            async with text_as_progress(ctx, tenant) as relay:
                result = InvocationResult.of(await tenant.orq.invoke(body, on_text=relay))
    return fitted_invocation(result, tenant.settings.max_result_chars, TEXT_CUT_HINT, media)


@asynccontextmanager
async def text_as_progress(ctx: Context, tenant: Tenant) -> AsyncIterator[Callable[[str], Awaitable[None]]]:
    """Where a streamed call (a deployment's or an agent's) hands each new piece of text: relayed to the caller as
    progress, scrubbed of the tenant's key, until the block ends (every invoking tool streams through here)."""

    async def send_progress(progress: float, message: str) -> None:
        await ctx.report_progress(progress, None, message)

    # report_progress is a no-op when the caller sent no progress token, so relay unconditionally.
    scrub = tenant.redactor.stream()
    async with relay_progress(send_progress, tenant.settings.progress_interval, scrub=scrub) as relay:
        yield relay.add
