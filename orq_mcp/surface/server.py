"""The MCP surface: `create_server(settings)` builds the server; nothing exists until it is called."""

from __future__ import annotations

import functools
import inspect
import json
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import httpx2
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel import NotificationOptions
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp_types import (
    CallToolResult,
    EmptyResult,
    GetPromptRequestParams,
    InputRequiredResult,
    ListToolsResult,
    PaginatedRequestParams,
    SubscribeRequestParams,
    TextContent,
    UnsubscribeRequestParams,
)
from mcp_types import Tool as MCPTool
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from orq_mcp import __version__
from orq_mcp.orq.client import OrqClient, RetryPolicy, create_http_client
from orq_mcp.orq.errors import OrqError
from orq_mcp.orq.redact import Redactor
from orq_mcp.serving.settings import Settings
from orq_mcp.surface import prompts
from orq_mcp.surface.exposed import STATIC_TOOL_NAMES, exposed_tools
from orq_mcp.surface.live import LiveLists, Snapshot, digest
from orq_mcp.surface.resources import prompt_config_uri, register_resources
from orq_mcp.surface.schema import compact_schema
from orq_mcp.surface.state import AppState, app_state
from orq_mcp.surface.tool_errors import unknown_arguments
from orq_mcp.surface.tools import TOOLS

logger = logging.getLogger(__name__)

INSTRUCTIONS = """\
Tools for orq.ai deployments (managed prompt + model configurations).
1. list_deployments: find a deployment and the {{variables}} its prompt needs.
2. get_deployment_config: inspect its model, messages and parameters (no model call).
3. invoke_deployment: run it with `inputs` for the variables (and optional chat `messages`).
The completion streams back as progress notifications while it is generated.
list_prompts browses the prompt library."""

# Shortest wait between background refreshes of the lists.
MIN_REFRESH_INTERVAL = 1.0


class OrqMCPServer(MCPServer[AppState]):
    """MCPServer with compact schemas, per-deployment tools, and agent-worded argument errors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._argument_names: dict[str, frozenset[str]] | None = None

    def add_tool(self, *args: Any, **kwargs: Any) -> None:
        super().add_tool(*args, **kwargs)
        self._argument_names = None

    def remove_tool(self, name: str) -> None:
        super().remove_tool(name)
        self._argument_names = None

    async def list_tools(self) -> list[MCPTool]:
        """The fixed tools, their schemas trimmed of pydantic noise; unknown arguments are refused."""
        tools = await super().list_tools()
        for tool in tools:
            tool.input_schema = {**compact_schema(tool.input_schema, arguments=True), "additionalProperties": False}
            tool.output_schema = compact_schema(tool.output_schema)
        return tools

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Any = None
    ) -> CallToolResult | InputRequiredResult:
        redactor = _redactor(context)
        try:
            _require_plain_json(name, arguments)
            result = await self._call(name, arguments, context)
        except UnexpectedToolError:
            raise  # a crash: the SDK already withholds its text from the client
        except ToolError as exc:
            cause = exc.__cause__
            text = _invalid_arguments(name, cause) if isinstance(cause, ValidationError) else str(exc)
            raise ToolError(redactor.text(text)) from cause
        return _scrub_result(redactor, result) if isinstance(result, CallToolResult) else result

    async def _call(self, name: str, arguments: dict[str, Any], context: Any) -> CallToolResult | InputRequiredResult:
        if name not in STATIC_TOOL_NAMES and context is not None:
            tool = (await exposed_tools(app_state(context), context)).get(name)
            if tool is not None:
                try:
                    return await tool.call(context, arguments)
                except ToolError:
                    raise
                except Exception as exc:  # the same contract as the SDK's own tools: no crash text leaks
                    logger.exception("Tool %r raised an unexpected exception", name)
                    raise UnexpectedToolError(f"Error executing tool {name}") from exc
        await self._reject_unknown_arguments(name, arguments)
        return await super().call_tool(name, arguments, context)

    async def _reject_unknown_arguments(self, name: str, arguments: dict[str, Any]) -> None:
        if self._argument_names is None:
            self._argument_names = {
                tool.name: frozenset(tool.input_schema.get("properties", {})) for tool in await super().list_tools()
            }
        allowed = self._argument_names.get(name)
        if allowed is not None and (unknown := sorted(set(arguments) - allowed)):
            raise unknown_arguments(name, unknown, allowed)

    async def list_all_tools(self, ctx: ServerRequestContext[AppState, Any], params: PaginatedRequestParams) -> Any:
        """tools/list: the fixed tools, then one per exposed deployment (from the cached workspace)."""
        tools = await self.list_tools()
        try:
            tools += [tool.definition for tool in (await exposed_tools(ctx.lifespan_context, ctx)).values()]
        except (OrqError, ToolError) as exc:  # orq being down must not hide the tools that still work
            logger.warning("Listing per-deployment tools failed: %s", getattr(exc, "message", exc))
        return ListToolsResult(tools=tools)


def create_server(
    settings: Settings, *, http_client: httpx2.AsyncClient | None = None, retry: RetryPolicy | None = None
) -> OrqMCPServer:
    """Build the server.

    `http_client` (owned by the caller) is used when given, else one is made per lifespan;
    `retry` overrides the policy derived from settings (tests use it to avoid real waits).
    """
    bus = InMemorySubscriptionBus()

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        async with AsyncExitStack() as stack:
            http = http_client
            if http is None:
                http = await stack.enter_async_context(create_http_client(settings.base_url, settings.timeouts))
            key = settings.api_key.get_secret_value() if settings.api_key else ""
            orq = OrqClient(
                http,
                key,
                timeouts=settings.timeouts,
                retry=retry or settings.retry,
                max_response_chars=settings.max_response_chars,
                streams=settings.stream_slots(),
            )
            state = AppState(settings=settings, orq=orq)
            if settings.multi_tenant:  # each tenant's lists are fetched on demand; nothing runs in the background
                yield state
                return
            state.live = LiveLists(bus, functools.partial(_snapshot, state))
            if settings.cache_ttl <= 0:  # no cache: every list is fetched fresh, nothing to watch
                yield state
                return
            async with anyio.create_task_group() as tg:
                tg.start_soon(state.live.run, max(settings.cache_ttl, MIN_REFRESH_INTERVAL))
                yield state
                tg.cancel_scope.cancel()

    server = OrqMCPServer(
        "orq-mcp",
        title="orq.ai deployments",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level="DEBUG" if settings.verbose else "INFO",
        subscriptions=bus,
        middleware=[_remember_connection],
    )
    for fn, hints, title in TOOLS:
        server.add_tool(fn, title=title, description=inspect.cleandoc(fn.__doc__ or ""), annotations=hints)
    register_resources(server)
    _register_live_handlers(server)
    return server


def _register_live_handlers(server: OrqMCPServer) -> None:
    """Handlers MCPServer has no public hook for: lists drawn from the workspace, and subscriptions."""
    lowlevel = server._lowlevel_server
    lowlevel.add_request_handler("tools/list", PaginatedRequestParams, server.list_all_tools)
    lowlevel.add_request_handler("prompts/list", PaginatedRequestParams, prompts.list_prompts)
    lowlevel.add_request_handler("prompts/get", GetPromptRequestParams, prompts.get_prompt)
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, _subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, _unsubscribe)
    # Handshake-era clients learn from `initialize` whether to expect list_changed; say yes.
    lowlevel.create_initialization_options = functools.partial(  # type: ignore[method-assign]
        lowlevel.create_initialization_options,
        NotificationOptions(prompts_changed=True, resources_changed=True, tools_changed=True),
    )


async def _remember_connection(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    live = getattr(ctx.lifespan_context, "live", None)
    if live is not None and ctx.request_id is not None and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        live.remember(ctx.session)
    return await call_next(ctx)


async def _subscribe(ctx: ServerRequestContext[AppState, Any], params: SubscribeRequestParams) -> Any:
    live = ctx.lifespan_context.live
    return await live.subscribe(ctx, params) if live else EmptyResult()


async def _unsubscribe(ctx: ServerRequestContext[AppState, Any], params: UnsubscribeRequestParams) -> Any:
    live = ctx.lifespan_context.live
    return await live.unsubscribe(ctx, params) if live else EmptyResult()


async def _snapshot(state: AppState, refresh: bool) -> Snapshot:
    """What the single-tenant workspace looks like to clients: cached, or fetched afresh."""
    workspace = state.default_workspace()
    deployments = [d for d in await workspace.deployments.all(refresh=refresh) if state.allows(d.key)]
    try:
        prompt_list = prompts.describe_all(await workspace.prompts.all(refresh=refresh))
    except OrqError as exc:  # a key without access to prompts still gets deployment changes announced
        logger.debug("Prompts unavailable for the live lists: %s", exc.message)
        prompt_list = None
    tools = await exposed_tools(state, None, deployments)
    return Snapshot(
        tools=digest([tool.definition.model_dump(mode="json") for tool in tools.values()]),
        resources=digest([(d.key, d.description) for d in deployments]),
        configs={prompt_config_uri(d.key): digest(d.prompt_config.model_dump(mode="json")) for d in deployments},
        prompts=digest(prompt_list),
    )


def _scrub_result(redactor: Redactor, result: CallToolResult) -> CallToolResult:
    if not redactor:
        return result
    content = [
        TextContent(type="text", text=redactor.text(block.text)) if isinstance(block, TextContent) else block
        for block in result.content
    ]
    structured = redactor.value(result.structured_content) if result.structured_content is not None else None
    return result.model_copy(update={"content": content, "structured_content": structured})


def _redactor(context: Any) -> Redactor:
    try:
        return app_state(context).redactor_for(context)
    except (AttributeError, RuntimeError, ValueError):
        return Redactor(())


def _require_plain_json(tool: str, arguments: dict[str, Any]) -> None:
    """Refuse what JSON-RPC can carry but orq's JSON body cannot, before it fails deep in the request.

    Python's JSON reader accepts NaN, Infinity and 1e999 (as infinity) and lone surrogates
    ("\\ud800"); neither can be sent on to orq.
    """
    try:
        json.dumps(arguments, ensure_ascii=False, allow_nan=False).encode()
    except UnicodeEncodeError:
        problem = "text contains an unpaired surrogate (\\ud800-\\udfff), which is not valid Unicode"
    except RecursionError:
        problem = "values are nested too deeply"
    except ValueError:
        problem = "numbers must be finite (NaN, Infinity and out-of-range values such as 1e999 cannot be sent)"
    else:
        return
    raise ToolError(f"Invalid arguments for {tool}: {problem}. Fix them and call again.")


def _invalid_arguments(tool: str, error: ValidationError) -> str:
    problems = [f"{_location(e['loc'])}: {e['msg']}" for e in error.errors(include_url=False, include_input=False)]
    return f"Invalid arguments for {tool}: " + "; ".join(problems) + ". Fix them and call again."


def _location(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc) or "arguments"
