"""Resources: each deployment's prompt_config, at `orq://deployments/{key}/prompt_config`."""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, INVALID_PARAMS, ListResourcesResult, Resource

from orq_mcp.orq.errors import OrqError
from orq_mcp.surface.paging import InvalidCursor, page_after
from orq_mcp.surface.tenant import Caller, Unresolved, caller_of
from orq_mcp.surface.tool_errors import explain, quoted

URI_TEMPLATE = "orq://deployments/{key}/prompt_config"
MIME_TYPE = "application/json"
PAGE_SIZE = 100


def prompt_config_uri(key: str) -> str:
    return URI_TEMPLATE.format(key=key)


async def prompt_config(key: str, ctx: Context) -> str:
    """The deployment's prompt_config as orq stores it: model, parameters, messages, tools."""
    caller = caller_of(ctx)
    if isinstance(caller, Unresolved):
        raise ResourceError(caller.reason)
    try:
        deployment = await caller.deployment(key)
    except OrqError as exc:
        raise ResourceError(explain(exc, caller.subject("deployment", key))) from None
    if deployment is None and caller.settings.allows(key) and not caller.deployments.complete:
        raise ResourceError(  # a partial cache cannot prove absence (see orq/catalog.py)
            f"Deployment '{quoted(key)}' is not among the deployments this server caches (the workspace has more), so "
            "it may still exist: get_deployment_config and invoke_deployment reach it by key."
        )
    if deployment is None:
        raise ResourceNotFoundError(
            f"Deployment '{quoted(key)}' was not found. "
            "Call list_deployments or resources/list to see the available keys."
        )
    return json.dumps(deployment.prompt_config.model_dump(mode="json", exclude_unset=True), ensure_ascii=False)


async def list_resources(caller: Caller, cursor: str | None) -> ListResourcesResult:
    """One prompt_config resource per deployment, paged by the last key seen."""
    if isinstance(caller, Unresolved):
        return ListResourcesResult(resources=[])  # nothing to show until the caller can be served
    try:
        page, next_cursor = page_after(await caller.visible_deployments(), cursor, PAGE_SIZE, lambda d: d.key)
    except OrqError as exc:
        raise MCPError(code=INTERNAL_ERROR, message=explain(exc, caller.subject("deployment"))) from None
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


def register_resources(server: MCPServer[Any]) -> None:
    """The template; its listing comes from the workspace (listings.py), not from MCPServer's static list."""
    server.resource(URI_TEMPLATE, name="prompt_config", title="Deployment prompt_config", mime_type=MIME_TYPE)(
        prompt_config
    )
