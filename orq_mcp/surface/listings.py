"""The edge of every request, and the one home of everything drawn from the workspace.

`Edge` is the outermost middleware of our own: it finds the caller's tenant once and hands it to
everything downstream as the request's lifespan context, and keeps protocol errors short: an error
quotes what the client sent (a URI, a name), and a megabyte sent is not a megabyte answered. It
does not scrub: every message the server sends (results, errors, notifications, its own requests)
is scrubbed at the transport's exit (serving/outbound.py), the one place all of them pass.

Inside it, `Workspace` serves what the workspace decides: per-deployment tools added to
`tools/list`, `resources/list`, `prompts/list`, argument completion, resource subscriptions, and the list-changed
capabilities a handshake-era client reads from `initialize`. It wraps the SDK's own handlers
(`call_next`) and amends their wire results, so the SDK still shapes every envelope. Answers
the SDK must shape from scratch (a `tools/call` of a deployment tool, `prompts/get`) go through
MCPServer's public `call_tool`/`get_prompt`, which server.py routes back here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INTERNAL_ERROR,
    EmptyResult,
    PaginatedRequestParams,
    SubscribeRequestParams,
    UnsubscribeRequestParams,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from orq_mcp.orq.errors import OrqError
from orq_mcp.surface import prompts, resources
from orq_mcp.surface.completion import complete
from orq_mcp.surface.exposed import exposed_tools
from orq_mcp.surface.live import Snapshot, digest
from orq_mcp.surface.tenant import Caller, OneTenant, Tenant, TenantPerKey
from orq_mcp.surface.tool_errors import quoted

logger = logging.getLogger(__name__)

Request = ServerRequestContext[Any, Any]
WITHHELD = (
    "orq-mcp could not serve this request safely, so its answer was withheld. "
    "Retry; if it persists, check the server log."
)
# Any one text of a protocol error, at most: ours are shorter, so a longer one quotes the client's input at length
# (the SDK's own "Unknown resource: <uri>", say). Our messages quote through tool_errors.quoted, shorter still.
MAX_ERROR_TEXT = 1000


@dataclass
class Runtime:
    """What the lifespan yields: how to find each request's tenant."""

    tenants: OneTenant | TenantPerKey


class Edge:
    """Resolve the caller once; keep protocol errors short, and crash details (ours or a library's) in the log."""

    async def __call__(self, ctx: Request, call_next: CallNext) -> HandlerResult:
        runtime = ctx.lifespan_context
        if not isinstance(runtime, Runtime):  # only possible if the server was built without create_server
            raise MCPError(code=INTERNAL_ERROR, message="orq-mcp is not set up: build the server with create_server()")
        caller = runtime.tenants.find(ctx.request)
        # The resolved tenant travels as the request's lifespan context: handlers read one value, typed.
        ctx = replace(ctx, lifespan_context=caller)
        try:
            return await call_next(ctx)
        except MCPError as exc:
            error = exc.error
            raise MCPError(
                code=error.code, message=quoted(error.message, MAX_ERROR_TEXT), data=_short(error.data)
            ) from None
        except ValidationError:
            raise  # the SDK answers it as INVALID_PARAMS without echoing anything
        except Exception:
            logger.exception("Request %r failed", ctx.method)
            raise MCPError(code=INTERNAL_ERROR, message=WITHHELD) from None


class Workspace:
    """Serves the requests whose answer depends on the caller's workspace."""

    def __init__(self) -> None:
        self._routes: dict[str, Callable[[Request, Caller, CallNext], Awaitable[HandlerResult]]] = {
            "initialize": self._initialize,
            "tools/list": self._list_tools,
            "resources/list": self._list_resources,
            "prompts/list": self._list_prompts,
            "resources/subscribe": self._subscribe,
            "resources/unsubscribe": self._unsubscribe,
            "completion/complete": self._complete,
        }

    async def __call__(self, ctx: Request, call_next: CallNext) -> HandlerResult:
        caller: Caller = ctx.lifespan_context
        live = caller.live if isinstance(caller, Tenant) else None
        # Handshake-era clients hear of changes on their connection, so remember it.
        if live is not None and ctx.request_id is not None and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            live.remember(ctx.session)
        route = self._routes.get(ctx.method)
        return await route(ctx, caller, call_next) if route else await call_next(ctx)

    async def _initialize(self, ctx: Request, caller: Caller, call_next: CallNext) -> HandlerResult:
        """Handshake-era clients learn from `initialize` whether to expect list_changed: say yes."""
        result = await call_next(ctx)
        capabilities = result.get("capabilities") if isinstance(result, dict) else None
        if isinstance(capabilities, dict):
            for name in ("tools", "resources", "prompts"):
                if isinstance(capabilities.get(name), dict):
                    capabilities[name]["listChanged"] = True
            if isinstance(capabilities.get("resources"), dict):
                capabilities["resources"]["subscribe"] = True
        return result

    async def _list_tools(self, ctx: Request, caller: Caller, call_next: CallNext) -> HandlerResult:
        """The fixed tools, then one per exposed deployment (from the cached workspace)."""
        result = await call_next(ctx)
        if not isinstance(caller, Tenant) or not isinstance(result, dict):
            return result
        try:
            tools = await exposed_tools(caller)
        except OrqError as exc:  # orq being down must not hide the tools that still work
            logger.warning("Listing per-deployment tools failed: %s", exc.message)
            return result
        listed = [tool.definition.model_dump(by_alias=True, mode="json", exclude_none=True) for tool in tools.values()]
        return {**result, "tools": [*result.get("tools", []), *listed]}

    async def _list_resources(self, ctx: Request, caller: Caller, call_next: CallNext) -> HandlerResult:
        params = PaginatedRequestParams.model_validate(ctx.params or {})
        result = await _sdk_envelope(ctx, call_next)
        page = await resources.list_resources(caller, params.cursor)
        return _amend(result, page.model_dump(by_alias=True, mode="json", exclude_none=True))

    async def _list_prompts(self, ctx: Request, caller: Caller, call_next: CallNext) -> HandlerResult:
        params = PaginatedRequestParams.model_validate(ctx.params or {})
        result = await _sdk_envelope(ctx, call_next)
        page = await prompts.list_prompts(caller, params.cursor)
        return _amend(result, page.model_dump(by_alias=True, mode="json", exclude_none=True))

    async def _complete(self, ctx: Request, caller: Caller, call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)  # validates the request; the SDK's answer is an empty completion
        found = await complete(caller, dict(ctx.params or {}))
        return _amend(result, {"completion": found.model_dump(by_alias=True, mode="json", exclude_none=True)})

    async def _subscribe(self, ctx: Request, caller: Caller, call_next: CallNext) -> HandlerResult:
        # Handshake-era only, so there is no envelope to keep; 2026-07-28 has no such method (the SDK says so).
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return await call_next(ctx)
        params = SubscribeRequestParams.model_validate(ctx.params or {})
        live = caller.live if isinstance(caller, Tenant) else None
        return await live.subscribe(ctx, params) if live else EmptyResult()

    async def _unsubscribe(self, ctx: Request, caller: Caller, call_next: CallNext) -> HandlerResult:
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return await call_next(ctx)
        params = UnsubscribeRequestParams.model_validate(ctx.params or {})
        live = caller.live if isinstance(caller, Tenant) else None
        return await live.unsubscribe(ctx, params) if live else EmptyResult()


async def snapshot(tenant: Tenant, refresh: bool) -> Snapshot:
    """What the workspace looks like to clients: cached, or fetched afresh (for the live lists)."""
    deployments = await tenant.visible_deployments(refresh=refresh)
    try:
        prompt_list = prompts.describe_all(await tenant.prompts.all(refresh=refresh))
    except OrqError as exc:  # a key without access to prompts still gets deployment changes announced
        logger.debug("Prompts unavailable for the live lists: %s", exc.message)
        prompt_list = None
    tools = await exposed_tools(tenant)  # the catalog's list was just refreshed (or read) above
    return Snapshot(
        tools=digest([tool.definition.model_dump(mode="json") for tool in tools.values()]),
        resources=digest([(d.key, d.description) for d in deployments]),
        configs={
            resources.prompt_config_uri(d.key): digest(d.prompt_config.model_dump(mode="json")) for d in deployments
        },
        prompts=digest(prompt_list),
    )


async def _sdk_envelope(ctx: Request, call_next: CallNext) -> HandlerResult:
    """The SDK's own (empty) list, asked without our cursor, for the envelope it shapes around it."""
    params = {k: v for k, v in (ctx.params or {}).items() if k != "cursor"}
    return await call_next(replace(ctx, params=params))


def _amend(result: HandlerResult, page: dict[str, Any]) -> HandlerResult:
    if not isinstance(result, dict):
        return page
    amended = {k: v for k, v in result.items() if k != "nextCursor"}
    return {**amended, **page}


def _short(value: Any) -> Any:
    """A copy of an error's data (JSON-like) with every string shortened."""
    if isinstance(value, str):
        return quoted(value, MAX_ERROR_TEXT)
    if isinstance(value, dict):
        return {k: _short(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_short(v) for v in value]
    return value
