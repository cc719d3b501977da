"""Who is asking: every request is served for one `Tenant`, looked up once at the edge (edge.py).

A tenant is one orq key's view of orq: its client, its cached lists, the redactor for its key,
the allow-lists, and the wording of errors about its key and the deployments and agents it names (left out by
an allow-list, not found, close to another). How a request's tenant is found (one made at start,
or one per caller's key) is tenants.py's; nothing downstream asks which.

In multi-tenant and query-config modes the allow-list is the operator's: a caller learns only that the
deployment it named itself is left out, never what the list holds.
"""

from __future__ import annotations

import difflib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from orq_mcp.config.settings import Settings
from orq_mcp.orq.agent_models import Agent
from orq_mcp.orq.catalog import Catalog
from orq_mcp.orq.client import OrqClient
from orq_mcp.orq.errors import NotFoundError, OrqError
from orq_mcp.orq.models import Deployment, Prompt
from orq_mcp.orq.redact import Redactor
from orq_mcp.orq.templates import Variable
from orq_mcp.orq.variables import variables_by_key
from orq_mcp.surface.named_keys import AGENT_ALLOW_LIST, ALLOW_LIST
from orq_mcp.surface.tool_errors import Subject, not_found, tool_error

if TYPE_CHECKING:
    from orq_mcp.surface.live import LiveLists

MAX_CACHED_VERSIONS = 10_000
# What a key names: a deployment or an agent, each with its list, its allow-list and the tool that lists it.
Keyed = Literal["deployment", "agent"]
_ALLOW_LISTS: dict[Keyed, str] = {"deployment": ALLOW_LIST, "agent": AGENT_ALLOW_LIST}
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
    agents: Catalog[Agent]
    redactor: Redactor
    key_hint: str = SERVER_KEY_HINT
    # Refreshes this tenant's lists and announces changes (the single tenant of a server only).
    live: LiveLists | None = None
    # Each deployment version's variables: reading them costs an orq call, and a version never changes.
    variables_cache: dict[tuple[str, str, str | None], list[Variable]] = field(default_factory=dict)
    # One read of unknown versions at a time: every invocation checks its variables, and fifty arriving
    # together for a new deployment should cost one read of its versions, not fifty.
    variables_lock: anyio.Lock = field(default_factory=anyio.Lock)

    async def visible_deployments(self) -> list[Deployment]:
        """The cached deployments this server may show, newest first."""
        return [d for d in await self.deployments.all() if self.settings.allows(d.key)]

    async def deployment(self, key: str) -> Deployment | None:
        return await self.deployments.get(key) if self.settings.allows(key) else None

    async def listed(self, key: str) -> Listed:
        """The deployment and its variables, read once for a call; the allow-list's refusal if it leaves `key` out."""
        await self.refuse_unless_allowed(key)
        try:
            deployment = await self.deployments.get(key)
        except OrqError:
            return Listed()  # the catalog cannot say; orq will, when called
        if deployment is None:
            return Listed()
        return Listed(deployment, (await self.variables_of([deployment]))[key])

    async def suggestions(self, key: str, kind: Keyed = "deployment") -> list[str]:
        """Close matches for a mistyped key, among the deployments (or agents) the caller may see."""
        try:
            keys = [item.key for item in await self._catalog(kind).all() if self._allows(kind, item.key)]
        except OrqError:
            return []  # a hint is a nicety; the error it decorates matters more
        return difflib.get_close_matches(key, keys, n=3, cutoff=0.5)

    async def visible_agents(self) -> list[Agent]:
        """The cached agents this server may show, newest first."""
        return [a for a in await self.agents.all() if self.settings.allows_agent(a.key)]

    async def listed_agent(self, key: str) -> Agent | None:
        """The agent as the catalog lists it, read once for a call (None when the catalog cannot say: orq will);
        the allow-list's refusal if it leaves `key` out."""
        await self.refuse_unless_allowed(key, "agent")
        try:
            return await self.agents.get(key)
        except OrqError:
            return None

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

    async def refuse_unless_allowed(self, key: str, kind: Keyed = "deployment") -> None:
        """Raise the allow-list's answer for a deployment (or agent) it leaves out: said so when the workspace has
        it."""
        if self._allows(kind, key):
            return
        catalog = self._catalog(kind)
        keys: set[str] = set()
        try:
            in_workspace = await catalog.get(key) is not None
            keys = {item.key for item in await catalog.all()}
        except OrqError:
            in_workspace = False  # orq will not say: the plain answer
        if not in_workspace:
            subject = self.subject(kind, key)
            subject.suggestions = await self.suggestions(key, kind)  # among the ones the caller may see
            raise not_found(subject)
        label, lister = kind.capitalize(), f"list_{kind}s"
        if self.settings.per_caller_keys:  # the operator's list: say it is left out, not what is in it
            raise ToolError(
                f"{label} '{key}' is in your workspace, but this server serves only the {kind}s its operator "
                f"chose, and not this one. Call {lister} to see the ones you can use here."
            )
        named = self.settings.deployments if kind == "deployment" else self.settings.agents
        unmatched = [name for name in named or () if name not in keys]
        close = difflib.get_close_matches(key, unmatched, n=1)  # the typo that was likely meant for this key
        typo = f" (it names '{close[0]}', which the workspace does not have)" if close else ""
        raise ToolError(
            f"{label} '{key}' is in the workspace, but this server's allow-list ({_ALLOW_LISTS[kind]}) leaves it "
            f"out, so it cannot be used here. To use it, add it to that list in this server's configuration{typo} "
            f"and restart the server; or call {lister} to see the ones you can use."
        )

    @asynccontextmanager
    async def explained(self, key: str, kind: str = "deployment") -> AsyncIterator[None]:
        """orq's failures inside the block come out as tool errors about `kind` `key` (a deployment, an agent, a
        knowledge base, a trace...), in words the agent can act on (the closest keys, for a deployment or an agent
        orq does not find)."""
        try:
            yield
        except OrqError as exc:
            subject = self.subject(kind, key)
            keyed: Keyed | None = "agent" if kind == "agent" else "deployment" if kind == "deployment" else None
            if isinstance(exc, NotFoundError) and keyed is not None:
                subject.suggestions = await self.suggestions(key, keyed)
            raise tool_error(exc, subject) from None

    def _catalog(self, kind: Keyed) -> Catalog[Any]:
        return self.agents if kind == "agent" else self.deployments

    def _allows(self, kind: Keyed, key: str) -> bool:
        return self.settings.allows_agent(key) if kind == "agent" else self.settings.allows(key)


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
