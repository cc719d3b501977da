"""Which event store a server keeps its resumable streams in (ORQ_MCP_EVENT_STORE): memory, Redis, or none, and
how long a request whose client dropped its stream is kept for it to come back."""

from __future__ import annotations

from dataclasses import dataclass

from mcp.server.streamable_http import EventStore
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp

from orq_mcp.config.settings import Settings
from orq_mcp.serving.http.resume import RETRY_MS, Follow, SessionScope


@dataclass(frozen=True)
class Events:
    """The event store of one server process, and the middleware that scopes it to sessions."""

    store: EventStore
    retry_ms: int = RETRY_MS
    follow: Follow | None = None  # set when the store is shared: resume streams other replicas started

    def wrap(self, app: ASGIApp, security: TransportSecuritySettings) -> ASGIApp:
        return SessionScope(app, self.follow, security)


def resumable(settings: Settings) -> bool:
    return settings.event_store != "off" and not settings.sessionless


def abandon_grace(settings: Settings) -> float:
    """How long a request whose client dropped its stream keeps its upstream stream before abandoning it.

    The hook for freeing upstream streams nobody will read (issue 11): at once (0) when no client could
    resume the stream, else ORQ_MCP_RESUME_GRACE, time for the client to come back with Last-Event-ID.
    """
    return settings.resume_grace if resumable(settings) else 0.0


def event_store_for(settings: Settings) -> Events | None:
    """The store for the settings, or None when streams are not resumable (off, or no sessions to resume)."""
    if not resumable(settings):
        return None
    if settings.event_store == "memory":
        from orq_mcp.serving.http.memory_events import MemoryEventStore

        return Events(MemoryEventStore())
    from orq_mcp.serving.http.redis_events import RedisEventStore

    store = RedisEventStore.from_url(settings.event_store, idle=settings.resume_grace)
    return Events(store, follow=store.follow)
