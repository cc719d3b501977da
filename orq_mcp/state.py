"""What every handler shares for the life of the server: settings, the orq client, caches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context

from orq_mcp.catalog import DeploymentCatalog
from orq_mcp.client import OrqClient
from orq_mcp.redact import Redactor
from orq_mcp.settings import Settings
from orq_mcp.tool_errors import Subject

# Tools get the MCPServer `Context`; low-level handlers (resources/list) the raw request context.
RequestLike = Context[Any] | ServerRequestContext[Any, Any]


@dataclass
class AppState:
    settings: Settings
    orq: OrqClient
    catalog: DeploymentCatalog

    def orq_for(self, ctx: RequestLike) -> OrqClient:
        """The orq client to use for this request."""
        return self.orq

    def catalog_for(self, ctx: RequestLike) -> DeploymentCatalog:
        return self.catalog

    def subject(self, ctx: RequestLike, kind: str, name: str | None = None) -> Subject:
        return Subject(kind=kind, name=name)

    def redactor_for(self, ctx: RequestLike) -> Redactor:
        """Scrubs every key this request could have used from what goes back to the client."""
        return Redactor([self.settings.api_key.get_secret_value()] if self.settings.api_key else [])


def app_state(ctx: Context[Any]) -> AppState:
    state = ctx.request_context.lifespan_context
    if not isinstance(state, AppState):  # only possible if the server was built without create_server
        raise RuntimeError("orq-mcp state is missing: build the server with create_server()")
    return state
