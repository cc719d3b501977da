"""Finding each request's tenant: one made at start (single-tenant), or one per caller's key (multi-tenant and
query-config modes), kept for the most recent keys, least recently used evicted, keys held only as hashes.

A caller's key that cannot be an orq key (config/keys.py: too long, or characters no key has) gets no tenant and
no redactor: what is built per key costs time and memory in proportion to its length, so only plausible keys are
worth it, and only so many characters of them are kept.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from orq_mcp.config.credentials import bearer_token, query_config_key
from orq_mcp.config.keys import key_problem, stand_in_advice, stand_in_for_key
from orq_mcp.config.settings import Settings
from orq_mcp.orq.catalog import agent_catalog, deployment_catalog, prompt_catalog
from orq_mcp.orq.client import OrqClient
from orq_mcp.orq.models import Deployment
from orq_mcp.orq.redact import Redactor
from orq_mcp.surface.tenant import SERVER_KEY_HINT, Caller, Tenant, Unresolved

T = TypeVar("T")

MAX_TENANTS = 256
# What is kept per key grows with its length (about 1.4 KB of redactor per character): the keys kept
# are bounded in characters too. Room for MAX_TENANTS keys of 128 characters (orq's are about 100).
MAX_KEPT_KEY_CHARS = MAX_TENANTS * 128
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
        agents=agent_catalog(client, settings.cache_ttl),
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


Tenants = OneTenant | TenantPerKey


def _server_keys(settings: Settings) -> list[str]:
    return [settings.api_key.get_secret_value()] if settings.api_key else []
