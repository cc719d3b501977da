"""Resources: each deployment's prompt_config, at `orq://deployments/{key}/prompt_config`."""

from __future__ import annotations

import json
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, ListResourcesResult, PaginatedRequestParams, Resource

from orq_mcp.orq.errors import OrqError
from orq_mcp.surface.paging import InvalidCursor, page_after
from orq_mcp.surface.state import AppState, app_state
from orq_mcp.surface.tool_errors import explain

URI_TEMPLATE = "orq://deployments/{key}/prompt_config"
MIME_TYPE = "application/json"
PAGE_SIZE = 100


def prompt_config_uri(key: str) -> str:
    return URI_TEMPLATE.format(key=key)


async def prompt_config(key: str, ctx: Context) -> str:
    """The deployment's prompt_config as orq stores it: model, parameters, messages, tools."""
    state = app_state(ctx)
    try:
        deployment = await state.deployment(ctx, key)
    except OrqError as exc:
        raise ResourceError(state.redactor_for(ctx).text(explain(exc, state.subject(ctx, "deployment", key)))) from None
    if deployment is None and state.allows(key) and not state.workspace(ctx).deployments.complete:
        raise ResourceError(  # a partial cache cannot prove absence (see orq/catalog.py)
            f"Deployment '{key}' is not among the deployments this server caches (the workspace has more), so "
            "it may still exist: get_deployment_config and invoke_deployment reach it by key."
        )
    if deployment is None:
        raise ResourceNotFoundError(
            f"Deployment '{key}' was not found. Call list_deployments or resources/list to see the available keys."
        )
    return json.dumps(deployment.prompt_config.model_dump(mode="json", exclude_unset=True), ensure_ascii=False)


async def list_resources(
    ctx: ServerRequestContext[AppState, Any], params: PaginatedRequestParams
) -> ListResourcesResult:
    """One prompt_config resource per deployment, paged by the last key seen."""
    state: AppState = ctx.lifespan_context
    try:
        page, next_cursor = page_after(await state.deployments(ctx), params.cursor, PAGE_SIZE, lambda d: d.key)
    except OrqError as exc:
        message = explain(exc, state.subject(ctx, "deployment"))
        raise MCPError(code=INTERNAL_ERROR, message=state.redactor_for(ctx).text(message)) from None
    except InvalidCursor:
        raise MCPError(code=INVALID_PARAMS, message="Invalid cursor: list resources again from the start.") from None
    resources = [
        Resource(
            uri=prompt_config_uri(d.key),
            name=d.key,
            title=f"{d.key} prompt_config",
            description=d.description or None,
            mime_type=MIME_TYPE,
        )
        for d in page
    ]
    return ListResourcesResult(resources=resources, next_cursor=next_cursor)


def register_resources(server: MCPServer[AppState]) -> None:
    server.resource(URI_TEMPLATE, name="prompt_config", title="Deployment prompt_config", mime_type=MIME_TYPE)(
        prompt_config
    )
    # MCPServer lists only static resources; ours come from the workspace, so the list is ours.
    server._lowlevel_server.add_request_handler("resources/list", PaginatedRequestParams, list_resources)
