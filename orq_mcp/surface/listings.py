"""What the caller's workspace decides, served inside the request edge (edge.py).

`WorkspaceListings` serves `tools/list` (the caller's toolsets, then its per-deployment and per-agent tools),
`resources/list`, `prompts/list`, argument completion, resource subscriptions, the list-changed capabilities a
handshake-era client reads from `initialize`, and files each 2026-07-28 `subscriptions/listen` stream under its
caller (toolsets/dynamic.py: one caller's changes are announced to that caller only). It wraps the SDK's own
handlers (`call_next`) and amends their wire results, so the SDK still shapes every envelope. Answers the SDK
must shape from scratch (a `tools/call` of a deployment tool, `prompts/get`) go through MCPServer's public
`call_tool`/`get_prompt`, which server.py routes back here. `snapshot` is the same workspace as the live lists
compare it (live.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp_types import (
    EmptyResult,
    PaginatedRequestParams,
    SubscribeRequestParams,
    UnsubscribeRequestParams,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from orq_mcp.orq.catalog import Catalog
from orq_mcp.orq.errors import OrqError
from orq_mcp.surface import prompts, resources
from orq_mcp.surface.completion import complete
from orq_mcp.surface.live import Snapshot, digest
from orq_mcp.surface.tenant import Caller, Tenant
from orq_mcp.surface.toolsets import TOOLSET_OF
from orq_mcp.surface.toolsets.dynamic import ToolsetChoices
from orq_mcp.surface.toolsets.exposed import ExposedTools

logger = logging.getLogger(__name__)

Request = ServerRequestContext[Any, Any]


class WorkspaceListings:
    """Serves the requests whose answer depends on the caller's workspace."""

    def __init__(self, exposed: ExposedTools, choices: ToolsetChoices) -> None:
        self._exposed = exposed
        self._choices = choices
        self._routes: dict[str, Callable[[Request, Caller, CallNext], Awaitable[HandlerResult]]] = {
            "initialize": self._initialize,
            "tools/list": self._list_tools,
            "resources/list": self._list_resources,
            "prompts/list": self._list_prompts,
            "resources/subscribe": self._subscribe,
            "resources/unsubscribe": self._unsubscribe,
            "completion/complete": self._complete,
            "subscriptions/listen": self._listen,
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
        """The fixed tools of the caller's toolsets, then one per exposed deployment and agent (from the cached
        workspace)."""
        result = await call_next(ctx)
        if not isinstance(result, dict):
            return result
        visible = self._choices.visible(ctx, caller)
        fixed = [tool for tool in result.get("tools", []) if _shown(tool.get("name"), visible)]
        result = {**result, "tools": fixed}
        if not isinstance(caller, Tenant):
            return result
        try:
            tools = await self._exposed.of(caller, visible)
        except OrqError as exc:  # orq being down must not hide the tools that still work
            logger.warning("Listing per-deployment tools failed: %s", exc.message)
            return result
        listed = [tool.definition.model_dump(by_alias=True, mode="json", exclude_none=True) for tool in tools.values()]
        return {**result, "tools": [*fixed, *listed]}

    async def _listen(self, ctx: Request, caller: Caller, call_next: CallNext) -> HandlerResult:
        """A 2026-07-28 listen stream, filed under its caller's scope: what one caller enables is announced to it."""
        with self._choices.listening_as(ctx, caller):
            return await call_next(ctx)

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


async def snapshot(exposed: ExposedTools, tenant: Tenant, refresh: bool) -> Snapshot:
    """What the workspace looks like to clients: as they were last shown it (refresh=False: the lists as last
    fetched, however old), or fetched afresh (for the live lists).

    "Last shown" must not refetch an expired list: the live lists' first refresh compares with it, and a list
    fetched anew there would already hold what changed since, which would then never be announced.
    """

    async def listed(catalog: Catalog[Any]) -> list[Any]:
        return await (catalog.all(refresh=True) if refresh else catalog.shown())

    deployments = [d for d in await listed(tenant.deployments) if tenant.settings.allows(d.key)]
    try:
        prompt_list = prompts.describe_all(await listed(tenant.prompts))
    except OrqError as exc:  # a key without access to prompts still gets deployment changes announced
        logger.debug("Prompts unavailable for the live lists: %s", exc.message)
        prompt_list = None
    toolsets = tenant.settings.reachable_toolsets
    if tenant.settings.expose and "agents" in toolsets:
        try:
            await listed(tenant.agents)  # the agents' tools are built from this list
        except OrqError as exc:  # a key without access to agents still gets deployment changes announced
            logger.debug("Agents unavailable for the live lists: %s", exc.message)
    tools = await exposed.of(tenant, toolsets, as_shown=not refresh)  # from the lists refreshed (or read) above
    return Snapshot(
        tools=digest([tool.definition.model_dump(mode="json") for tool in tools.values()]),
        resources=digest([(d.key, d.description) for d in deployments]),
        configs={
            resources.prompt_config_uri(d.key): digest(d.prompt_config.model_dump(mode="json")) for d in deployments
        },
        prompts=digest(prompt_list),
    )


def _shown(name: Any, visible: frozenset[str]) -> bool:
    """Whether a fixed tool is in one of the caller's toolsets; a tool of none (list_toolsets, enable_toolset) is
    everyone's."""
    toolset = TOOLSET_OF.get(name) if isinstance(name, str) else None
    return toolset is None or toolset in visible


async def _sdk_envelope(ctx: Request, call_next: CallNext) -> HandlerResult:
    """The SDK's own (empty) list, asked without our cursor, for the envelope it shapes around it."""
    params = {k: v for k, v in (ctx.params or {}).items() if k != "cursor"}
    return await call_next(replace(ctx, params=params))


def _amend(result: HandlerResult, page: dict[str, Any]) -> HandlerResult:
    """The SDK's envelope around our page. The envelope alone says how fresh it is (`ttlMs`, `cacheScope`, from
    the server's cache hints): the 2026-07-28 era has them, and a handshake-era result must not."""
    page = {k: v for k, v in page.items() if k not in _CACHE_FIELDS}
    if not isinstance(result, dict):
        return page
    amended = {k: v for k, v in result.items() if k != "nextCursor"}
    return {**amended, **page}


_CACHE_FIELDS = frozenset({"ttlMs", "cacheScope"})
