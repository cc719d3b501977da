"""The MCP surface: `create_server(settings)` builds the server; nothing exists until it is called."""

from __future__ import annotations

import base64
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
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
from orq_mcp.orq.client import OrqClient, RetryPolicy, create_http_client
from orq_mcp.serving.proxy import transport_options
from orq_mcp.serving.settings import Settings
from orq_mcp.surface import prompts
from orq_mcp.surface.arguments import invalid_arguments, require_plain_json, unknown_arguments
from orq_mcp.surface.exposed import STATIC_TOOL_NAMES, exposed_tools
from orq_mcp.surface.live import LiveLists
from orq_mcp.surface.named_keys import NamedKeysCheck
from orq_mcp.surface.resources import register_resources
from orq_mcp.surface.schema import compact_schema
from orq_mcp.surface.shared import SharedRuntime
from orq_mcp.surface.tenant import (
    CALLER_KEY_HINT,
    CONFIG_KEY_HINT,
    OneTenant,
    Redactors,
    TenantPerKey,
    keyless,
    new_tenant,
    tenant_of,
)
from orq_mcp.surface.tool_errors import quoted
from orq_mcp.surface.tools import TOOLS
from orq_mcp.surface.workspace import Edge, Runtime, Workspace, snapshot

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

# Shortest wait between background refreshes of the lists.
MIN_REFRESH_INTERVAL = 1.0
# Served from the deployment and prompt caches, so as fresh as ORQ_MCP_CACHE_TTL says (2026-07-28 `ttlMs`).
CACHED_METHODS: tuple[CacheableMethod, ...] = (
    "tools/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "prompts/list",
)


class OrqMCPServer(MCPServer[Runtime]):
    """MCPServer with compact schemas, per-deployment tools, workspace prompts, agent-worded argument errors."""

    def __init__(self, *args: Any, redactors: Redactors, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fixed_tools: list[MCPTool] | None = None
        # How to scrub what goes to each caller: the transports' exit asks it for every answer (serving/exit.py).
        self.redactors = redactors

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
            if name not in STATIC_TOOL_NAMES and context is not None:
                return await self._call_deployment_tool(name, arguments, context)
            await self._reject_unknown_arguments(name, arguments)
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
        caller = context.request_context.lifespan_context if context is not None else None
        return await prompts.get_prompt(caller, name, arguments)

    async def _call_deployment_tool(self, name: str, arguments: dict[str, Any], context: Context) -> CallToolResult:
        tool = (await exposed_tools(tenant_of(context))).get(name)
        if tool is None:  # the SDK would quote the name whole, however long
            raise ToolError(f"Unknown tool: {quoted(name)}. Call tools/list for the tools this server offers.")
        try:
            return await tool.call(context, arguments)
        except ToolError:
            raise
        except Exception as exc:  # the same contract as the SDK's own tools: no crash text leaks
            logger.exception("Tool %r raised an unexpected exception", name)
            raise UnexpectedToolError(f"Error executing tool {name}") from exc

    async def _reject_unknown_arguments(self, name: str, arguments: dict[str, Any]) -> None:
        await self.list_tools()  # builds the trimmed tools once; read the cached ones, not fresh copies
        fixed = self._fixed_tools or []
        allowed = next((tool.input_schema.get("properties", {}) for tool in fixed if tool.name == name), None)
        if allowed is not None and (unknown := sorted(set(arguments) - set(allowed))):
            raise unknown_arguments(name, unknown, allowed)


def create_server(
    settings: Settings, *, http_client: httpx2.AsyncClient | None = None, retry: RetryPolicy | None = None
) -> OrqMCPServer:
    """Build the server.

    `http_client` (owned by the caller) is used when given, else one is made per lifespan;
    `retry` overrides the policy derived from settings (tests use it to avoid real waits).
    """
    bus = InMemorySubscriptionBus()
    redactors = Redactors(settings)

    async def build(stack: AsyncExitStack) -> tuple[Runtime, Callable[[], Awaitable[None]] | None]:
        http = http_client
        if http is None:
            options = transport_options(settings.base_url)  # honours HTTPS_PROXY and NO_PROXY
            http = await stack.enter_async_context(create_http_client(settings.base_url, settings.timeouts, **options))
        orq = OrqClient(
            http,
            "",
            timeouts=settings.timeouts,
            retry=retry or settings.retry,
            max_response_chars=settings.max_response_chars,
            streams=settings.stream_slots(),
            defaults=settings.request_defaults,
        )
        if settings.per_caller_keys:  # each tenant's lists are fetched on demand; nothing runs in the background
            hint = CONFIG_KEY_HINT if settings.query_config else CALLER_KEY_HINT
            factory = functools.partial(new_tenant, settings, orq, key_hint=hint)
            return Runtime(TenantPerKey(factory, settings, redactors)), None
        if settings.api_key is None:
            return Runtime(keyless(settings.api_key_stand_in)), None
        # The server's own key: the keys its settings name are held against its workspace (named_keys.py).
        key = settings.api_key.get_secret_value()
        tenant = new_tenant(settings, orq, key, redactors.server, on_deployments=NamedKeysCheck(settings))
        tenant.live = LiveLists(bus, functools.partial(snapshot, tenant))
        if settings.cache_ttl <= 0:  # no cache: every list is fetched fresh, nothing to watch
            return Runtime(OneTenant(tenant)), None
        return Runtime(OneTenant(tenant)), functools.partial(
            tenant.live.run, max(settings.cache_ttl, MIN_REFRESH_INTERVAL)
        )

    # Legacy SSE enters the lifespan once per connection: they all share one runtime (see shared.py).
    shared = SharedRuntime(build)

    def lifespan(_: MCPServer[Runtime]) -> AbstractAsyncContextManager[Runtime]:
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
        # Outermost first: the edge resolves the tenant and scrubs the answer around everything else.
        middleware=[Edge(), Workspace()],
    )
    for fn, hints, title in TOOLS:
        if settings.read_only and not hints.read_only_hint:
            continue  # --read-only: agents may look, not spend
        server.add_tool(fn, title=title, description=inspect.cleandoc(fn.__doc__ or ""), annotations=hints)
    register_resources(server)
    server.completion()(_no_completion)  # declares the capability; workspace.py fills in the values
    return server


async def _no_completion(ref: Any, argument: Any, context: Any) -> None:
    return None
