"""The MCP surface: `create_server(settings)` builds the server; nothing exists until it is called."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx2
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp_types import CallToolResult, InputRequiredResult
from mcp_types import Tool as MCPTool
from pydantic import ValidationError

from orq_mcp import __version__
from orq_mcp.catalog import DeploymentCatalog
from orq_mcp.client import OrqClient, RetryPolicy, create_http_client
from orq_mcp.redact import Redactor
from orq_mcp.resources import register_resources
from orq_mcp.settings import Settings
from orq_mcp.state import AppState, app_state
from orq_mcp.tools import TOOLS

INSTRUCTIONS = """\
Tools for orq.ai deployments (managed prompt + model configurations).
1. list_deployments: find a deployment and the {{variables}} its prompt needs.
2. get_deployment_config: inspect its model, messages and parameters (no model call).
3. invoke_deployment: run it with `inputs` for the variables (and optional chat `messages`).
The completion streams back as progress notifications while it is generated.
list_prompts browses the prompt library."""


class OrqMCPServer(MCPServer[AppState]):
    """MCPServer that rejects unknown arguments and words validation errors for an agent."""

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
        tools = await super().list_tools()
        # Advertise what call_tool enforces: an unknown argument is a mistake, not something to drop.
        for tool in tools:
            tool.input_schema = {**tool.input_schema, "additionalProperties": False}
        return tools

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Any = None
    ) -> CallToolResult | InputRequiredResult:
        redactor = _redactor(context)
        try:
            await self._reject_unknown_arguments(name, arguments)
            result = await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise  # a crash: the SDK already withholds its text from the client
        except ToolError as exc:
            cause = exc.__cause__
            text = _invalid_arguments(name, cause) if isinstance(cause, ValidationError) else str(exc)
            raise ToolError(redactor.text(text)) from cause
        return redactor.result(result) if isinstance(result, CallToolResult) else result

    async def _reject_unknown_arguments(self, name: str, arguments: dict[str, Any]) -> None:
        if self._argument_names is None:
            self._argument_names = {
                tool.name: frozenset(tool.input_schema.get("properties", {})) for tool in await super().list_tools()
            }
        allowed = self._argument_names.get(name)
        unknown = sorted(set(arguments) - allowed) if allowed is not None else []
        if unknown:
            valid = ", ".join(sorted(allowed or ())) or "none"
            raise ToolError(
                f"Invalid arguments for {name}: unknown argument(s) {', '.join(map(repr, unknown))}. "
                f"Valid arguments: {valid}."
            )


def create_server(
    settings: Settings, *, http_client: httpx2.AsyncClient | None = None, retry: RetryPolicy | None = None
) -> OrqMCPServer:
    """Build the server.

    `http_client` (owned by the caller) is used when given, else one is made per lifespan;
    `retry` overrides the policy derived from settings (tests use it to avoid real waits).
    """

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncIterator[AppState]:
        async with AsyncExitStack() as stack:
            http = http_client
            if http is None:
                http = await stack.enter_async_context(create_http_client(settings.base_url, settings.timeouts))
            key = settings.api_key.get_secret_value() if settings.api_key else ""
            orq = OrqClient(http, key, timeouts=settings.timeouts, retry=retry or settings.retry)
            yield AppState(settings=settings, orq=orq, catalog=DeploymentCatalog(orq))

    server = OrqMCPServer(
        "orq-mcp",
        title="orq.ai deployments",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        log_level="DEBUG" if settings.verbose else "INFO",
    )
    for fn, hints, title in TOOLS:
        server.add_tool(fn, title=title, annotations=hints)
    register_resources(server)
    return server


def _redactor(context: Any) -> Redactor:
    try:
        return app_state(context).redactor_for(context)
    except (AttributeError, RuntimeError, ValueError):
        return Redactor(())


def _invalid_arguments(tool: str, error: ValidationError) -> str:
    problems = [f"{_location(e['loc'])}: {e['msg']}" for e in error.errors(include_url=False, include_input=False)]
    return f"Invalid arguments for {tool}: " + "; ".join(problems) + ". Fix them and call again."


def _location(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc) or "arguments"
