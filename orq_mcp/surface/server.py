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
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp_types import CallToolResult, GetPromptResult, Icon, InputRequiredResult
from mcp_types import Tool as MCPTool
from pydantic import ValidationError

from orq_mcp import __version__
from orq_mcp.config.settings import Settings
from orq_mcp.orq.client import RetryPolicy
from orq_mcp.surface import prompts
from orq_mcp.surface.arguments import invalid_arguments, refuse_unknown, require_plain_json
from orq_mcp.surface.edge import FindTenant, ShortErrors
from orq_mcp.surface.lifespan import SharedRuntime, build_runtime
from orq_mcp.surface.listings import WorkspaceListings
from orq_mcp.surface.resources import register_resources
from orq_mcp.surface.schema import compact_schema
from orq_mcp.surface.tenant import caller_of, tenant_of
from orq_mcp.surface.tenants import Redactors, Tenants
from orq_mcp.surface.tool_errors import quoted
from orq_mcp.surface.toolsets import FIXED_TOOL_NAMES, FIXED_TOOLS
from orq_mcp.surface.toolsets.exposed import ExposedTools

logger = logging.getLogger(__name__)

INSTRUCTIONS = """\
Tools for orq.ai deployments (managed prompt + model configurations).
1. list_deployments: find a deployment and the {{variables}} its prompt needs.
2. get_deployment_config: inspect its model, messages and parameters (no model call).
3. invoke_deployment: run it with `inputs` for the variables (and optional chat `messages`).
The completion streams back as progress notifications while it is generated.
list_prompts browses the prompt library."""

READ_ONLY_INSTRUCTIONS = """\
Read-only tools for orq.ai deployments (managed prompt + model configurations); this server invokes nothing.
1. list_deployments: find a deployment and the {{variables}} its prompt needs.
2. get_deployment_config: inspect its model, messages and parameters (no model call).
list_prompts browses the prompt library."""

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
    """MCPServer with compact schemas, per-deployment tools, workspace prompts, agent-worded argument errors."""

    def __init__(self, *args: Any, redactors: Redactors, exposed: ExposedTools, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fixed_tools: list[MCPTool] | None = None
        # How to scrub what goes to each caller: the transports' exit asks it for every answer (serving/outbound.py).
        self.redactors = redactors
        self.exposed = exposed

    def add_tool(self, *args: Any, **kwargs: Any) -> None:
        super().add_tool(*args, **kwargs)
        self._fixed_tools = None

    def remove_tool(self, name: str) -> None:
        super().remove_tool(name)
        self._fixed_tools = None

    async def list_tools(self) -> list[MCPTool]:
        """The fixed tools, their schemas trimmed of pydantic noise; unknown arguments are refused."""
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
        try:
            require_plain_json(name, arguments)
            if name not in FIXED_TOOL_NAMES and context is not None:
                return await self._call_deployment_tool(name, arguments, context)
            await self.list_tools()  # builds the trimmed tools once; read the cached ones, not fresh copies
            fixed = next((tool for tool in self._fixed_tools or [] if tool.name == name), None)
            if fixed is not None:
                refuse_unknown(fixed, arguments)
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise  # a crash: the SDK already withholds its text from the client
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(invalid_arguments(name, exc.__cause__)) from exc.__cause__
            raise

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Any, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        """prompts/get serves the workspace's prompt library (MCPServer's own registry is empty)."""
        if context is None:  # the SDK always passes the request's; a direct call without one has no caller to serve
            raise RuntimeError("orq-mcp serves prompts/get within a request: call get_prompt with its context")
        return await prompts.get_prompt(caller_of(context), name, arguments)

    async def _call_deployment_tool(
        self, name: str, arguments: dict[str, Any], context: Context
    ) -> CallToolResult | InputRequiredResult:
        tool = (await self.exposed.of(tenant_of(context))).get(name)
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


def create_server(
    settings: Settings, *, http_client: httpx2.AsyncClient, retry: RetryPolicy | None = None
) -> OrqMCPServer:
    """Build the server over `http_client`, the connection to orq (owned by the caller: serving/upstream.py makes
    it as the settings ask). `retry` overrides the policy derived from settings (tests use it to avoid real waits).
    """
    bus = InMemorySubscriptionBus()
    redactors = Redactors(settings)
    exposed = ExposedTools(reserved=FIXED_TOOL_NAMES)
    # Legacy SSE enters the lifespan once per connection: they all share one runtime (see lifespan.py).
    shared = SharedRuntime(
        build_runtime(settings, http_client, redactors=redactors, bus=bus, exposed=exposed, retry=retry)
    )

    def lifespan(_: MCPServer[Tenants]) -> AbstractAsyncContextManager[Tenants]:
        return shared.use()

    server = OrqMCPServer(
        "orq-mcp",
        title="orq.ai deployments",
        version=__version__,
        instructions=READ_ONLY_INSTRUCTIONS if settings.read_only else INSTRUCTIONS,
        icons=[ICON],
        website_url="https://orq.ai",
        lifespan=lifespan,
        log_level="DEBUG" if settings.verbose else "INFO",
        subscriptions=bus,
        # A client may reuse these as long as the server reuses its own copies (private: they are per caller);
        # one that listens hears of a change sooner.
        cache_hints=dict.fromkeys(CACHED_METHODS, CacheHint(ttl_ms=round(settings.cache_ttl * 1000))),
        redactors=redactors,
        exposed=exposed,
        # Outermost first: errors kept short around everything; the tenant found once for what follows.
        middleware=[ShortErrors(), FindTenant(), WorkspaceListings(exposed)],
    )
    for fn, hints, title in FIXED_TOOLS:
        if settings.read_only and not hints.read_only_hint:
            continue  # --read-only: agents may look, not spend
        server.add_tool(fn, title=title, description=inspect.cleandoc(fn.__doc__ or ""), annotations=hints)
    register_resources(server)
    server.completion()(_no_completion)  # declares the capability; listings.py fills in the values
    return server


async def _no_completion(ref: Any, argument: Any, context: Any) -> None:
    return None
