"""The MCP surface: `create_server(settings)` builds the server; nothing exists until it is called."""

from __future__ import annotations

import base64
import inspect
import logging
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx2
from mcp.server.caching import CacheableMethod, CacheHint
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError, UnexpectedToolError
from mcp_types import CallToolResult, GetPromptResult, Icon, InputRequiredResult
from mcp_types import Tool as MCPTool
from pydantic import ValidationError

from orq_mcp import __version__
from orq_mcp.config.settings import Settings
from orq_mcp.orq.client import RetryPolicy
from orq_mcp.surface import prompts
from orq_mcp.surface.arguments import invalid_arguments, refuse_unknown, require_plain_json
from orq_mcp.surface.callers_bus import CallersBus
from orq_mcp.surface.edge import FindTenant, ShortErrors
from orq_mcp.surface.instructions import instructions
from orq_mcp.surface.lifespan import SharedRuntime, build_runtime
from orq_mcp.surface.listings import WorkspaceListings
from orq_mcp.surface.resources import register_resources
from orq_mcp.surface.schema import compact_schema
from orq_mcp.surface.tenant import caller_of, tenant_of
from orq_mcp.surface.tenants import Redactors, Tenants
from orq_mcp.surface.tool_errors import quoted
from orq_mcp.surface.toolsets import FIXED_TOOL_NAMES, TOOLSETS, ToolSpec
from orq_mcp.surface.toolsets.dynamic import ToolsetChoices, dynamic_tools
from orq_mcp.surface.toolsets.exposed import ExposedTools

logger = logging.getLogger(__name__)

# A small inline mark, so hosts that show server icons need not fetch anything.
ICON = Icon(
    src="data:image/svg+xml;base64,"
    + base64.b64encode(
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" '
        b'fill="#1f2937"/><text x="32" y="42" font-family="sans-serif" font-size="26" font-weight="700" '
        b'fill="#f9fafb" text-anchor="middle">orq</text></svg>'
    ).decode(),
    mime_type="image/svg+xml",
    sizes=["any"],
)

# Served from the deployment and prompt caches, so as fresh as ORQ_MCP_CACHE_TTL says (2026-07-28 `ttlMs`).
CACHED_METHODS: tuple[CacheableMethod, ...] = (
    "tools/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "prompts/list",
)


class OrqMCPServer(MCPServer[Tenants]):
    """MCPServer with compact schemas, toolsets per caller, per-deployment and per-agent tools, workspace prompts,
    and every tool error in its own words."""

    def __init__(
        self, *args: Any, redactors: Redactors, exposed: ExposedTools, choices: ToolsetChoices, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._fixed_tools: list[MCPTool] | None = None
        # How to scrub what goes to each caller: the transports' exit asks it for every answer (serving/outbound.py).
        self.redactors = redactors
        self.exposed = exposed
        self.choices = choices

    def add_tool(self, *args: Any, **kwargs: Any) -> None:
        super().add_tool(*args, **kwargs)
        self._fixed_tools = None

    def remove_tool(self, name: str) -> None:
        super().remove_tool(name)
        self._fixed_tools = None

    async def list_tools(self) -> list[MCPTool]:
        """Every registered tool, its schemas trimmed of pydantic noise; unknown arguments are refused. Which of
        them a caller sees is its toolsets' affair (listings.py)."""
        if self._fixed_tools is None:
            tools = await super().list_tools()
            for tool in tools:
                tool.input_schema = {**compact_schema(tool.input_schema, arguments=True), "additionalProperties": False}
                tool.output_schema = compact_schema(tool.output_schema)
            self._fixed_tools = tools
        return [tool.model_copy() for tool in self._fixed_tools]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Any = None
    ) -> CallToolResult | InputRequiredResult:
        """Every tool's call, one path: a fixed tool the caller's toolsets hold, or an exposed one; whichever fails
        says so in the same words (ours, not wrapped: only a crash reads `Error executing tool <name>`)."""
        try:
            require_plain_json(name, arguments)
            if context is not None:
                hidden = self.choices.hidden(name, context.request_context, caller_of(context))
                if hidden is not None:
                    raise ToolError(hidden)
                if name not in FIXED_TOOL_NAMES:
                    return await self._call_exposed_tool(name, arguments, context)
            await self.list_tools()  # builds the trimmed tools once; read the cached ones, not fresh copies
            fixed = next((tool for tool in self._fixed_tools or [] if tool.name == name), None)
            if fixed is not None:
                refuse_unknown(fixed, arguments)
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise  # a crash: the SDK already withholds its text from the client
        except ToolError as exc:
            raise ToolError(_own_words(name, exc)) from exc.__cause__

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Any, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        """prompts/get serves the workspace's prompt library (MCPServer's own registry is empty)."""
        if context is None:  # the SDK always passes the request's; a direct call without one has no caller to serve
            raise RuntimeError("orq-mcp serves prompts/get within a request: call get_prompt with its context")
        return await prompts.get_prompt(caller_of(context), name, arguments)

    async def _call_exposed_tool(
        self, name: str, arguments: dict[str, Any], context: Context
    ) -> CallToolResult | InputRequiredResult:
        tenant = tenant_of(context)
        visible = self.choices.visible(context.request_context, tenant)
        tool = (await self.exposed.of(tenant, visible)).get(name)
        if tool is None:  # the SDK would quote the name whole, however long
            raise ToolError(f"Unknown tool: {quoted(name)}. Call tools/list for the tools this server offers.")
        refuse_unknown(tool.definition, arguments)
        try:
            return await tool.call(context, arguments)
        except ToolError:
            raise
        except Exception as exc:  # the same contract as the SDK's own tools: no crash text leaks
            logger.exception("Tool %r raised an unexpected exception", name)
            raise UnexpectedToolError(f"Error executing tool {name}") from exc


def _own_words(name: str, error: ToolError) -> str:
    """A tool's error as the tool worded it: the SDK prefixes what a fixed tool raised with `Error executing tool
    <name>: ` (the original is its `__cause__`), which an exposed tool's error never had; arguments that fail the
    tool's schema are worded as ours (arguments.py)."""
    cause = error.__cause__
    if isinstance(cause, ValidationError):
        return invalid_arguments(name, cause)
    if isinstance(cause, ToolError | ResourceError):
        return str(cause)
    return str(error)


def _offered_tools(settings: Settings) -> list[ToolSpec]:
    """The fixed tools this server registers: the offered toolsets' (every toolset's, when callers may enable
    more), in tools/list order, less what --read-only leaves out (tools that spend or write)."""
    wanted = set(settings.reachable_toolsets)
    return [
        spec
        for toolset in TOOLSETS
        if toolset.name in wanted
        for spec in toolset.tools
        if not settings.read_only or spec[1].read_only_hint
    ]


def create_server(
    settings: Settings, *, http_client: httpx2.AsyncClient, retry: RetryPolicy | None = None
) -> OrqMCPServer:
    """Build the server over `http_client`, the connection to orq (owned by the caller: serving/upstream.py makes
    it as the settings ask). `retry` overrides the policy derived from settings (tests use it to avoid real waits).
    """
    bus = CallersBus()
    redactors = Redactors(settings)
    offered = _offered_tools(settings)
    choices = ToolsetChoices(settings, bus, frozenset(fn.__name__ for fn, _, _ in offered))
    tools = [*dynamic_tools(choices), *offered] if settings.dynamic_toolsets else offered
    exposed = ExposedTools(reserved=FIXED_TOOL_NAMES, fixed=len(tools))
    # Legacy SSE enters the lifespan once per connection: they all share one runtime (see lifespan.py).
    shared = SharedRuntime(
        build_runtime(settings, http_client, redactors=redactors, bus=bus, exposed=exposed, retry=retry)
    )

    def lifespan(_: MCPServer[Tenants]) -> AbstractAsyncContextManager[Tenants]:
        return shared.use()

    # With dynamic toolsets tools/list changes when a caller enables one: a client must not reuse it meanwhile.
    cached = [m for m in CACHED_METHODS if not (settings.dynamic_toolsets and m == "tools/list")]
    server = OrqMCPServer(
        "orq-mcp",
        title="orq.ai deployments",
        version=__version__,
        instructions=instructions(settings),
        icons=[ICON],
        website_url="https://orq.ai",
        lifespan=lifespan,
        log_level="DEBUG" if settings.verbose else "INFO",
        subscriptions=bus,
        # A client may reuse these as long as the server reuses its own copies (private: they are per caller);
        # one that listens hears of a change sooner.
        cache_hints=dict.fromkeys(cached, CacheHint(ttl_ms=round(settings.cache_ttl * 1000))),
        redactors=redactors,
        exposed=exposed,
        choices=choices,
        # Outermost first: errors kept short around everything; the tenant found once for what follows.
        middleware=[ShortErrors(), FindTenant(), WorkspaceListings(exposed, choices)],
    )
    for fn, hints, title in tools:
        server.add_tool(fn, title=title, description=inspect.cleandoc(fn.__doc__ or ""), annotations=hints)
    register_resources(server)
    server.completion()(_no_completion)  # declares the capability; listings.py fills in the values
    return server


async def _no_completion(ref: Any, argument: Any, context: Any) -> None:
    return None
