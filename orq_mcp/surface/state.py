"""What every handler shares for the life of the server: settings, the orq client, caches.

In multi-tenant mode each MCP client brings its own orq key (`Authorization: Bearer <key>`);
everything keyed on the workspace (the orq client's credentials, the deployment cache, the
keys to scrub from output) is then looked up per request and never shared across keys.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from orq_mcp.orq.catalog import Catalog, deployment_catalog, prompt_catalog
from orq_mcp.orq.client import OrqClient
from orq_mcp.orq.errors import OrqError
from orq_mcp.orq.models import Deployment, Prompt
from orq_mcp.orq.redact import Redactor
from orq_mcp.serving.settings import Settings
from orq_mcp.surface.live import LiveLists
from orq_mcp.surface.tool_errors import Subject

# Tools get the MCPServer `Context`; low-level handlers (resources/list) the raw request context.
RequestLike = Context[Any] | ServerRequestContext[Any, Any]
V = TypeVar("V")

MAX_TENANTS = 256
MISSING_TENANT_KEY = (
    "This server runs in multi-tenant mode: send your orq API key as `Authorization: Bearer <key>` "
    "in your MCP client's HTTP headers."
)


class TenantCache(Generic[V]):
    """Per-key values, least recently used evicted; keys are stored only as hashes."""

    def __init__(self, factory: Callable[[str], V], limit: int = MAX_TENANTS) -> None:
        self._factory = factory
        self._limit = limit
        self._values: OrderedDict[str, V] = OrderedDict()

    def get(self, api_key: str) -> V:
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        value = self._values.get(digest)
        if value is None:
            value = self._values[digest] = self._factory(api_key)
            while len(self._values) > self._limit:
                self._values.popitem(last=False)
        self._values.move_to_end(digest)
        return value

    def __len__(self) -> int:
        return len(self._values)


@dataclass
class Workspace:
    """One orq workspace's cached lists (one per key in multi-tenant mode)."""

    deployments: Catalog[Deployment]
    prompts: Catalog[Prompt]


@dataclass
class AppState:
    settings: Settings
    orq: OrqClient
    workspaces: TenantCache[Workspace] = field(init=False)
    # Refreshes the lists and announces changes (single-tenant servers only).
    live: LiveLists | None = None

    def __post_init__(self) -> None:
        self.workspaces = TenantCache(self._new_workspace)

    def _new_workspace(self, key: str) -> Workspace:
        orq, ttl = self._client(key), self.settings.cache_ttl
        return Workspace(deployments=deployment_catalog(orq, ttl), prompts=prompt_catalog(orq, ttl))

    # -- who is asking ---------------------------------------------------------------------------

    def tenant_key(self, ctx: RequestLike) -> str:
        """The orq key this request acts with: the server's, or in multi-tenant mode the caller's."""
        if not self.settings.multi_tenant:
            return self.settings.api_key.get_secret_value() if self.settings.api_key else ""
        key = bearer_token(request_headers(ctx))
        if not key:
            raise ToolError(MISSING_TENANT_KEY)
        return key

    def orq_for(self, ctx: RequestLike) -> OrqClient:
        return self._client(self.tenant_key(ctx))

    def workspace(self, ctx: RequestLike) -> Workspace:
        return self.workspaces.get(self.tenant_key(ctx))

    def default_workspace(self) -> Workspace:
        """The server key's workspace (single-tenant mode), for work done outside any request."""
        return self.workspaces.get(self.settings.api_key.get_secret_value() if self.settings.api_key else "")

    def _client(self, key: str) -> OrqClient:
        return self.orq.with_api_key(key) if self.settings.multi_tenant else self.orq

    # -- policy ----------------------------------------------------------------------------------

    def allows(self, key: str) -> bool:
        """Whether the deployment allow-list (ORQ_DEPLOYMENTS) lets agents see this deployment."""
        return self.settings.deployments is None or key in self.settings.deployments

    async def deployments(self, ctx: RequestLike) -> list[Deployment]:
        """The cached deployments this server may show, newest first."""
        return [d for d in await self.workspace(ctx).deployments.all() if self.allows(d.key)]

    async def deployment(self, ctx: RequestLike, key: str) -> Deployment | None:
        return await self.workspace(ctx).deployments.get(key) if self.allows(key) else None

    async def suggestions(self, ctx: RequestLike, key: str) -> list[str]:
        """Close matches for a mistyped key, among the deployments the caller may see."""
        import difflib  # only an error needs it; not worth loading at start-up

        try:
            keys = [d.key for d in await self.deployments(ctx)]
        except OrqError:
            return []  # a hint is a nicety; the error it decorates matters more
        return difflib.get_close_matches(key, keys, n=3, cutoff=0.5)

    def subject(self, ctx: RequestLike, kind: str, name: str | None = None) -> Subject:
        subject = Subject(kind=kind, name=name)
        if self.settings.multi_tenant:
            subject.key_hint = "Check the orq API key your MCP client sends as `Authorization: Bearer <key>`."
        return subject

    def redactor_for(self, ctx: RequestLike) -> Redactor:
        """Scrubs every key this request could have used from what goes back to the client."""
        keys = [self.settings.api_key.get_secret_value()] if self.settings.api_key else []
        if self.settings.multi_tenant:
            keys.append(bearer_token(request_headers(ctx)) or "")
        return Redactor(keys)


def app_state(ctx: Context[Any]) -> AppState:
    state = ctx.request_context.lifespan_context
    if not isinstance(state, AppState):  # only possible if the server was built without create_server
        raise RuntimeError("orq-mcp state is missing: build the server with create_server()")
    return state


def request_headers(ctx: RequestLike) -> Mapping[str, str] | None:
    """The HTTP headers of the request being served (None on stdio)."""
    request = ctx.request_context.request if isinstance(ctx, Context) else ctx.request
    return getattr(request, "headers", None)


def bearer_token(headers: Mapping[str, str] | None) -> str | None:
    if not headers:
        return None
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
