"""Who is asking: every request is served for one `Tenant`, looked up once at the edge (edge.py).

A tenant is one orq key's view of orq: its client, its cached lists, the redactor for its key,
the allow-list, and the wording of errors about its key. How a request's tenant is found (one
made at start, or one per caller's key) is tenants.py's; nothing downstream asks which.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from orq_mcp.config.settings import Settings
from orq_mcp.orq.catalog import Catalog
from orq_mcp.orq.client import OrqClient
from orq_mcp.orq.errors import OrqError
from orq_mcp.orq.models import Deployment, Prompt
from orq_mcp.orq.redact import Redactor
from orq_mcp.orq.templates import Variable
from orq_mcp.orq.variables import variables_by_key
from orq_mcp.surface.tool_errors import Subject

if TYPE_CHECKING:
    from orq_mcp.surface.live import LiveLists

MAX_CACHED_VERSIONS = 10_000
SERVER_KEY_HINT = "Check that ORQ_API_KEY holds a valid orq API key for this workspace and restart the server."


@dataclass(frozen=True)
class Listed:
    """A deployment as the catalog lists it, with its variables; both None when the catalog cannot say (orq
    will, when called: a deployment just created, say)."""

    deployment: Deployment | None = None
    variables: list[Variable] | None = None


# eq=False: a tenant is itself, not its fields (tools built for it are kept per tenant, by identity).
@dataclass(eq=False)
class Tenant:
    settings: Settings
    orq: OrqClient
    deployments: Catalog[Deployment]
    prompts: Catalog[Prompt]
    redactor: Redactor
    key_hint: str = SERVER_KEY_HINT
    # Refreshes this tenant's lists and announces changes (the single tenant of a server only).
    live: LiveLists | None = None
    # Each deployment version's variables: reading them costs an orq call, and a version never changes.
    variables_cache: dict[tuple[str, str, str | None], list[Variable]] = field(default_factory=dict)
    # One read of unknown versions at a time: every invocation checks its variables, and fifty arriving
    # together for a new deployment should cost one read of its versions, not fifty.
    variables_lock: anyio.Lock = field(default_factory=anyio.Lock)

    async def visible_deployments(self, *, refresh: bool = False) -> list[Deployment]:
        """The cached deployments this server may show, newest first."""
        return [d for d in await self.deployments.all(refresh=refresh) if self.settings.allows(d.key)]

    async def deployment(self, key: str) -> Deployment | None:
        return await self.deployments.get(key) if self.settings.allows(key) else None

    async def listed(self, key: str) -> Listed:
        """The deployment and its variables, read once for a call (the allow-list is the caller's to check)."""
        try:
            deployment = await self.deployments.get(key)
        except OrqError:
            return Listed()  # the catalog cannot say; orq will, when called
        if deployment is None:
            return Listed()
        return Listed(deployment, (await self.variables_of([deployment]))[key])

    async def suggestions(self, key: str) -> list[str]:
        """Close matches for a mistyped key, among the deployments the caller may see."""
        try:
            keys = [d.key for d in await self.visible_deployments()]
        except OrqError:
            return []  # a hint is a nicety; the error it decorates matters more
        return difflib.get_close_matches(key, keys, n=3, cutoff=0.5)

    async def variables_of(self, deployments: Sequence[Deployment]) -> dict[str, list[Variable]]:
        """Each deployment's variables (defaults and descriptions from the version behind it), read once per version."""
        if any(_version_of(d) not in self.variables_cache for d in deployments):
            async with self.variables_lock:
                unread = [d for d in deployments if _version_of(d) not in self.variables_cache]
                if len(self.variables_cache) + len(unread) > MAX_CACHED_VERSIONS:
                    self.variables_cache.clear()  # bounded: a workspace this large re-reads what it uses
                    unread = list(deployments)
                read = await variables_by_key(self.orq, unread) if unread else {}
                self.variables_cache.update({_version_of(d): read[d.key] for d in unread})
        return {d.key: self.variables_cache[_version_of(d)] for d in deployments}

    def subject(self, kind: str, name: str | None = None) -> Subject:
        return Subject(kind=kind, name=name, key_hint=self.key_hint)


@dataclass(frozen=True)
class Unresolved:
    """A request no tenant could be found for; `reason` tells the caller how to fix that."""

    reason: str

    def error(self) -> ToolError:
        return ToolError(self.reason)


Caller = Tenant | Unresolved


def _version_of(deployment: Deployment) -> tuple[str, str, str | None]:
    return deployment.key, deployment.version, deployment.updated


def caller_of(ctx: Context[Any, Any]) -> Caller:
    """Who the edge found this request is for (edge.py hands it on as the request's lifespan context)."""
    caller = ctx.request_context.lifespan_context
    if not isinstance(caller, Tenant | Unresolved):  # only possible if the server was built without create_server
        raise RuntimeError("orq-mcp found no tenant for this request: build the server with create_server()")
    return caller


def tenant_of(ctx: Context[Any, Any]) -> Tenant:
    """The tenant the edge resolved for this tool call; a tool error saying how to fix it if none was."""
    caller = caller_of(ctx)
    if isinstance(caller, Unresolved):
        raise caller.error()
    return caller
