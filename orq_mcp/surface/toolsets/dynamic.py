"""Which toolsets each caller has: the operator's (--toolsets), plus, with --dynamic-toolsets, the ones it enabled
itself with `enable_toolset` (found with `list_toolsets`).

A choice belongs to whoever made it, never to the whole server: in multi-tenant mode one caller's enabled toolsets
must not change another's tools/list. Its scope is the connection where one lasts (a handshake-era session, on
stdio, Streamable HTTP or SSE), so each session starts afresh; else the caller (a 2026-07-28 request stands alone,
on a connection of its own, as does a handshake-era one served without sessions), whose choice then holds for
every request made with its orq key: on stdio that is the one client, over HTTP each tenant (with the server's
own key, everyone who reaches the server). Both are held weakly: a closed connection, or an evicted tenant, takes
its choice along.

Enabling a toolset announces `tools/list_changed` to that scope only: on the enabling request's own stream in the
handshake era, and to the scope's `subscriptions/listen` streams in the 2026-07-28 era (callers_bus.py).
"""

from __future__ import annotations

import weakref
from contextlib import AbstractContextManager
from typing import Annotated, Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.subscriptions import ToolsListChanged
from mcp_types import CallToolResult, ToolAnnotations, ToolListChangedNotification
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field

from orq_mcp.config.settings import Settings, ToolsetName
from orq_mcp.surface.callers_bus import CallersBus
from orq_mcp.surface.live import connection_of
from orq_mcp.surface.results import tool_result
from orq_mcp.surface.tenant import Caller, Unresolved, caller_of
from orq_mcp.surface.toolsets import TOOLSET_OF, TOOLSETS, ToolSpec

Request = ServerRequestContext[Any, Any]
# Finding and enabling toolsets reads nothing of orq and changes nothing but what this caller is shown.
DISCOVER = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


class ToolsetChoices:
    def __init__(self, settings: Settings, bus: CallersBus, offered_tools: frozenset[str]) -> None:
        self.dynamic = settings.dynamic_toolsets
        self._settings = settings
        self._offered = frozenset(settings.offered_toolsets)
        self._tools = offered_tools  # the fixed tools this server registered (read-only leaves some out)
        self._bus = bus
        self._enabled: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()

    def scope(self, request: Request, caller: Caller) -> Any:
        """Whose choice a request sees: its connection where one lasts, else its caller."""
        # A 2026-07-28 request comes on a connection of its own (the SDK makes one per request, on stdio too).
        handshake = request.protocol_version not in MODERN_PROTOCOL_VERSIONS
        lasting = handshake and (self._settings.transport == "stdio" or not self._settings.sessionless)
        return connection_of(request.session) if lasting else caller

    def listening_as(self, request: Request, caller: Caller) -> AbstractContextManager[None]:
        """Around a `subscriptions/listen` request: its stream hears what its scope enables."""
        return self._bus.listening_as(self.scope(request, caller))

    def visible(self, request: Request, caller: Caller) -> frozenset[str]:
        """The toolsets this request's caller has."""
        if not self.dynamic:
            return self._offered
        return self._offered | self._enabled.get(self.scope(request, caller), set())

    def hidden(self, name: str, request: Request, caller: Caller) -> str | None:
        """Why fixed tool `name` is not this caller's to call (a sentence saying what to do), or None if it is."""
        toolset = TOOLSET_OF.get(name)
        if toolset is None or (name in self._tools and toolset in self.visible(request, caller)):
            return None
        if name not in self._tools and self._settings.read_only:
            return f"Tool '{name}' is not offered: this server is read-only (--read-only): it runs and writes nothing."
        if self.dynamic:
            return (
                f"Tool '{name}' is in the {toolset} toolset, which is not enabled here: call enable_toolset with "
                f"name '{toolset}', then call {name} again."
            )
        offered = ", ".join(sorted(self._offered)) or "none"
        return (
            f"Tool '{name}' is in the {toolset} toolset, which this server does not offer (it offers: {offered}). "
            "Its operator can add it with --toolsets or ORQ_MCP_TOOLSETS."
        )

    async def enable(self, request: Request, caller: Caller, toolset: str) -> bool:
        """Enable `toolset` for the request's scope and announce the change there; False if it was already."""
        scope = self.scope(request, caller)
        if isinstance(scope, Unresolved):  # no caller to hold a choice for: say what is missing
            raise scope.error()
        enabled = self._enabled.setdefault(scope, set())
        if toolset in self._offered or toolset in enabled:
            return False
        enabled.add(toolset)
        if request.protocol_version in MODERN_PROTOCOL_VERSIONS:
            await self._bus.publish_to(scope, ToolsListChanged())
        else:
            changed = ToolListChangedNotification()
            await request.session.send_notification(changed, related_request_id=request.request_id)
        return True

    def tools_of(self, toolset: str) -> list[str]:
        """The tools of `toolset` this server offers, in tools/list order."""
        return [name for name, owner in TOOLSET_OF.items() if owner == toolset and name in self._tools]


class ToolsetInfo(BaseModel):
    name: str
    about: str
    tools: list[str]
    enabled: bool


class ToolsetList(BaseModel):
    toolsets: list[ToolsetInfo]


class EnabledToolset(BaseModel):
    toolset: str
    tools: list[str] = Field(description="Now in tools/list.")
    newly_enabled: bool


def dynamic_tools(choices: ToolsetChoices) -> tuple[ToolSpec, ...]:
    """list_toolsets and enable_toolset, over `choices`."""

    async def list_toolsets(ctx: Context) -> Annotated[CallToolResult, ToolsetList]:
        """List the toolsets this server offers: what each is for, its tools, and whether it is enabled here.
        enable_toolset adds one."""
        visible = choices.visible(ctx.request_context, caller_of(ctx))
        found = [
            ToolsetInfo(name=t.name, about=t.about, tools=choices.tools_of(t.name), enabled=t.name in visible)
            for t in TOOLSETS
        ]
        return tool_result(ToolsetList(toolsets=found))

    async def enable_toolset(
        ctx: Context,
        name: Annotated[ToolsetName, Field(description="A toolset from list_toolsets.")],
    ) -> Annotated[CallToolResult, EnabledToolset]:
        """Enable a toolset for this session: its tools join tools/list (clients are told it changed)."""
        newly = await choices.enable(ctx.request_context, caller_of(ctx), name)
        return tool_result(EnabledToolset(toolset=name, tools=choices.tools_of(name), newly_enabled=newly))

    return ((list_toolsets, DISCOVER, "List toolsets"), (enable_toolset, DISCOVER, "Enable toolset"))
