"""One invocation, one straight path: the caller's tenant, the deployment read once, the inputs completed (or asked
for), the generation streamed as progress, the result fitted to the budget. Every invoking tool comes here."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, InputRequiredResult

from orq_mcp.orq.errors import OrqError
from orq_mcp.orq.models import Deployment
from orq_mcp.orq.outputs import invocation_mode
from orq_mcp.orq.requests import Message, RequestOptions, request_body
from orq_mcp.surface.invocation.ask import complete_inputs
from orq_mcp.surface.invocation.fitted import fitted_invocation
from orq_mcp.surface.invocation.media import media_of
from orq_mcp.surface.invocation.progress import relay_progress
from orq_mcp.surface.named_keys import deployment_error, left_out
from orq_mcp.surface.outputs import outputs_of
from orq_mcp.surface.results import InvocationResult
from orq_mcp.surface.tenant import Listed, tenant_of

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
    already read it (a per-deployment tool's), else it is read here, once."""
    tenant = tenant_of(ctx)
    if listed is None:
        if not tenant.settings.allows(key):
            raise await left_out(tenant, key)
        listed = await tenant.listed(key)  # it holds the variables and says how orq answers
    completed = await complete_inputs(ctx, key, listed.variables, inputs or {})
    if isinstance(completed, InputRequiredResult):
        return completed
    inputs = completed or inputs
    body = request_body(key, inputs=inputs, context=context, metadata=metadata, messages=messages, options=options)
    # Usage and the knowledge-base chunks used come with every answer; what the caller asked for wins.
    body["invoke_options"] = {"include_usage": True, "include_retrievals": True, **body.get("invoke_options", {})}
    limit = tenant.settings.max_result_chars
    try:
        model_type = _unstreamed_model_type(listed.deployment)
        if model_type is not None:  # image, embedding, speech, ...: orq does not stream these
            invocation = await tenant.orq.invoke_unstreamed(body, model_type)
            media = media_of(invocation, tenant.settings.max_media_bytes)
            result = InvocationResult.of(invocation.completion, media.outputs + outputs_of(invocation))
            return fitted_invocation(result, limit, TEXT_CUT_HINT, media.blocks)

        async def send_progress(progress: float, message: str) -> None:
            await ctx.report_progress(progress, None, message)

        # report_progress is a no-op when the caller sent no progress token, so relay unconditionally.
        scrub = tenant.redactor.stream()
        async with relay_progress(send_progress, tenant.settings.progress_interval, scrub=scrub) as relay:
            completion = await tenant.orq.invoke(body, on_text=relay.add)
    except OrqError as exc:
        raise await deployment_error(tenant, exc, key) from None
    return fitted_invocation(InvocationResult.of(completion), limit, TEXT_CUT_HINT)


def _unstreamed_model_type(deployment: Deployment | None) -> str | None:
    """The deployment's model type when orq answers it in one response (its model_type says; unknown: stream)."""
    model_type = deployment.prompt_config.model_type if deployment is not None else None
    return model_type if invocation_mode(model_type) == "invoke" else None
