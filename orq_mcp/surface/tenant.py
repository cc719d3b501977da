"""Who is asking: every request is served for one `Tenant`, looked up once at the edge.

A tenant is one orq key's view of orq: its client, its cached lists, the redactor for its key,
the allow-list, and the wording of errors about its key. A single-tenant server has one, made
at start; a multi-tenant server finds the caller's by the bearer token the request carries
(kept per key, least recently used evicted, keys held only as hashes). The two are two ways of
finding a tenant; nothing downstream asks which.

A caller's key that cannot be an orq key (serving/credentials.py: too long, or characters no key
has) gets no tenant and no redactor: what is built per key costs time and memory in proportion
to its length, so only plausible keys are worth it, and only so many characters of them are kept.
"""

from __future__ import annotations

import difflib
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from orq_mcp.orq.catalog import Catalog, deployment_catalog, prompt_catalog
from orq_mcp.orq.client import OrqClient
from orq_mcp.orq.errors import OrqError
from orq_mcp.orq.models import Deployment, Prompt
from orq_mcp.orq.redact import Redactor
from orq_mcp.orq.templates import Variable
from orq_mcp.orq.variables import variables_by_key
from orq_mcp.serving.credentials import bearer_token, key_problem, query_config_key
from orq_mcp.serving.settings import Settings, stand_in_advice, stand_in_for_key
from orq_mcp.surface.tool_errors import Subject

if TYPE_CHECKING:
    from orq_mcp.surface.live import LiveLists

T = TypeVar("T")

MAX_TENANTS = 256
# What is kept per key grows with its length (about 1.4 KB of redactor per character): the keys kept
# are bounded in characters too. Room for MAX_TENANTS keys of 128 characters (orq's are about 100).
MAX_KEPT_KEY_CHARS = MAX_TENANTS * 128
MAX_CACHED_VERSIONS = 10_000
SERVER_KEY_HINT = "Check that ORQ_API_KEY holds a valid orq API key for this workspace and restart the server."
CALLER_KEY_HINT = "Check the orq API key your MCP client sends as `Authorization: Bearer <key>`."
CONFIG_KEY_HINT = "Check the orqApiKey in this connection's configuration."
WHERE_THE_KEY_GOES = (
    "in the `env` of this server's entry in your MCP client's configuration: Claude Desktop's "
    "claude_desktop_config.json, Cursor's .cursor/mcp.json, VS Code's .vscode/mcp.json, or Claude Code's "
    "`claude mcp add` (in a terminal, `orq-mcp config <client>` prints the entry for this installation). Then "
    "restart the server (or reload the client). To try it without an account, start it with --sandbox."
)
NO_KEY = (
    "orq-mcp has no orq API key, so it cannot reach orq yet. Set ORQ_API_KEY to your orq.ai API key (create "
    f"one in your orq.ai workspace settings, under API Keys) {WHERE_THE_KEY_GOES}"
)
MISSING_CONFIG_KEY = (
    "No orq API key was configured for this connection: set `orqApiKey` in this server's configuration "
    "(on Smithery: the server's configuration form), then reconnect."
)
MISSING_CALLER_KEY = (
    "This server runs in multi-tenant mode: send your orq API key as `Authorization: Bearer <key>` "
    "in your MCP client's HTTP headers."
)
IMPLAUSIBLE_KEY = "The orq API key this request carries is not one: {problem}. {hint}"


@dataclass
class Tenant:
    settings: Settings
    orq: OrqClient
    deployments: Catalog[Deployment]
    prompts: Catalog[Prompt]
    redactor: Redactor
    key_hint: str = SERVER_KEY_HINT
    # Refreshes this tenant's lists and announces changes (the single tenant of a server only).
    live: LiveLists | None = None
    # Per-deployment tools built from the last deployment list seen (see exposed.py).
    exposed_cache: dict[str, Any] = field(default_factory=dict)
    # Each deployment version's variables: reading them costs an orq call, and a version never changes.
    variables_cache: dict[tuple[str, str, str | None], list[Variable]] = field(default_factory=dict)
    # One read of unknown versions at a time: every invocation checks its variables, and fifty arriving
    # together for a new deployment should cost one read of its versions, not fifty.
    variables_lock: anyio.Lock = field(default_factory=anyio.Lock)

    def allows(self, key: str) -> bool:
        """Whether the deployment allow-list (ORQ_DEPLOYMENTS) lets agents see this deployment."""
        return self.settings.deployments is None or key in self.settings.deployments

    async def visible_deployments(self, *, refresh: bool = False) -> list[Deployment]:
        """The cached deployments this server may show, newest first."""
        return [d for d in await self.deployments.all(refresh=refresh) if self.allows(d.key)]

    async def deployment(self, key: str) -> Deployment | None:
        return await self.deployments.get(key) if self.allows(key) else None

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


def new_tenant(
    settings: Settings,
    orq: OrqClient,
    key: str,
    redactor: Redactor | None = None,
    key_hint: str = SERVER_KEY_HINT,
    on_deployments: Callable[[list[Deployment], bool], None] | None = None,
) -> Tenant:
    """The tenant for `key`; `redactor` (made for the key with `Redactors`, if not given) scrubs its answers."""
    redactor = redactor if redactor is not None else Redactors(settings).for_key(key)
    client = orq.with_api_key(key, redactor)
    return Tenant(
        settings=settings,
        orq=client,
        deployments=deployment_catalog(client, settings.cache_ttl, on_deployments),
        prompts=prompt_catalog(client, settings.cache_ttl),
        redactor=redactor,
        key_hint=key_hint,
    )


class Recent(Generic[T]):
    """What was made for each of the most recent keys, at most `limit` of them and `max_chars` characters of keys;
    the least recently used go first. Keys are held as hashes."""

    def __init__(self, limit: int = MAX_TENANTS, max_chars: int = MAX_KEPT_KEY_CHARS) -> None:
        self._limit = limit
        self._max_chars = max_chars
        self._chars = 0
        self._kept: OrderedDict[bytes, tuple[T, int]] = OrderedDict()

    def get(self, key: str, make: Callable[[str], T]) -> T:
        digest = hashlib.sha256(key.encode()).digest()
        kept = self._kept.get(digest)
        if kept is None:
            kept = self._kept[digest] = (make(key), len(key))
            self._chars += len(key)
            while len(self._kept) > 1 and (len(self._kept) > self._limit or self._chars > self._max_chars):
                self._chars -= self._kept.popitem(last=False)[1][1]
        self._kept.move_to_end(digest)
        return kept[0]

    def __len__(self) -> int:
        return len(self._kept)


class Redactors:
    """The redactor for each caller's key, with the server's own key: made once per key and shared by whatever
    scrubs for that caller (the exit every answer passes, the tenant's streamed text, its orq client)."""

    def __init__(self, settings: Settings, recent: Recent[Redactor] | None = None) -> None:
        self._server_keys = _server_keys(settings)
        self.server = Redactor(self._server_keys)
        self._recent: Recent[Redactor] = recent if recent is not None else Recent()

    def for_key(self, key: str | None) -> Redactor:
        """The redactor for a caller's `key`; the server's own for no key or one that cannot be an orq key."""
        if not key or key_problem(key) is not None:
            return self.server  # such a key is refused; nothing is built for it
        return self._recent.get(key, lambda k: Redactor([*self._server_keys, k]))


class OneTenant:
    """Single-tenant mode: everyone is served with the server's own key (or told it is missing)."""

    def __init__(self, tenant: Caller) -> None:
        self.tenant = tenant

    def find(self, request: Any) -> Caller:
        return self.tenant


class TenantPerKey:
    """Each caller brings its orq key: the bearer token (multi-tenant mode) or the URL's config (query-config)."""

    def __init__(
        self,
        factory: Callable[[str, Redactor], Tenant],
        settings: Settings,
        redactors: Redactors | None = None,
        limit: int = MAX_TENANTS,
    ) -> None:
        self._factory = factory
        self._redactors = redactors if redactors is not None else Redactors(settings)
        self._tenants: Recent[Tenant] = Recent(limit)
        self._query_config = settings.query_config
        self._hint = CONFIG_KEY_HINT if settings.query_config else CALLER_KEY_HINT
        missing = MISSING_CONFIG_KEY if settings.query_config else MISSING_CALLER_KEY
        self._anonymous = Unresolved(missing)
        # A placeholder (Smithery's example config, a printed HTTP config) is answered here, not by orq's 401.
        self._key_field = "orqApiKey" if settings.query_config else "The key after `Authorization: Bearer`"

    def find(self, request: Any) -> Caller:
        if self._query_config:
            key = query_config_key(getattr(request, "query_params", None))
        else:
            key = bearer_token(getattr(request, "headers", None))
        if not key:
            return self._anonymous
        if stand_in := stand_in_for_key(key):
            return Unresolved(f"{self._key_field} is {stand_in}{stand_in_advice(stand_in)}, then reconnect.")
        if (problem := key_problem(key)) is not None:  # the HTTP gate refuses these first; nothing is built
            return Unresolved(IMPLAUSIBLE_KEY.format(problem=problem, hint=self._hint))
        return self._tenants.get(key, lambda k: self._factory(k, self._redactors.for_key(k)))

    def __len__(self) -> int:
        return len(self._tenants)


def keyless(stand_in: str | None = None) -> OneTenant:
    """A server started without a key (or with a placeholder for one, `stand_in` saying which): it lists what
    it offers, and every call says what to put where."""
    if stand_in is None:
        return OneTenant(Unresolved(NO_KEY))
    return OneTenant(Unresolved(f"ORQ_API_KEY is {stand_in}{stand_in_advice(stand_in)}, {WHERE_THE_KEY_GOES}"))


def _version_of(deployment: Deployment) -> tuple[str, str, str | None]:
    return deployment.key, deployment.version, deployment.updated


def _server_keys(settings: Settings) -> list[str]:
    return [settings.api_key.get_secret_value()] if settings.api_key else []


def tenant_of(ctx: Context[Any]) -> Tenant:
    """The tenant the edge resolved for this tool call (see workspace.py); a tool error if none was."""
    caller = ctx.request_context.lifespan_context
    if isinstance(caller, Unresolved):
        raise caller.error()
    if not isinstance(caller, Tenant):  # only possible if the server was built without create_server
        raise RuntimeError("orq-mcp found no tenant for this request: build the server with create_server()")
    return caller
