"""The connection to orq, made one way for every command: one pooled HTTP client, the proxy variables honoured,
and a span per request when OpenTelemetry is set up. The server is given it (surface/server.py builds none).

httpx ignores HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY when it is handed a transport of its own, as
orq_mcp.orq.client does; so they are read here, with the standard library's rules (either case, NO_PROXY
honoured), and the transport is given its proxy.
"""

from __future__ import annotations

import urllib.request
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import urlsplit

import httpx2

from orq_mcp.config.settings import Settings, is_loopback
from orq_mcp.orq.client import POOL_LIMITS, DeferredTransport, create_http_client
from orq_mcp.orq.tracing import instrument, tracing_configured


def orq_http(settings: Settings) -> AbstractAsyncContextManager[httpx2.AsyncClient]:
    """The HTTP client for orq at `settings.base_url`, to be entered (and so closed) by the caller."""
    http = create_http_client(settings.base_url, settings.timeouts, **_transport_options(settings.base_url))
    if tracing_configured():  # e.g. under `opentelemetry-instrument` (the otel extra)
        instrument(http)
    return http


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for requests to `url`; None when none is set or NO_PROXY matches."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    if (
        not proxies
        or is_loopback(parts.hostname or "")
        # CPython's own NO_PROXY rules on every platform (proxy_bypass would ask macOS's and Windows' settings
        # too); typeshed does not list the function.
        or urllib.request.proxy_bypass_environment(parts.netloc, proxies)  # pyright: ignore[reportAttributeAccessIssue]
    ):
        return None  # loopback (the --sandbox emulator, a local gateway) is never proxied
    return proxies.get(parts.scheme) or proxies.get("all")


def _transport_options(url: str) -> dict[str, Any]:
    """Keyword arguments for `create_http_client`: a transport through the proxy, when one applies to `url`."""
    proxy = proxy_for(url)
    return {"transport": DeferredTransport(limits=POOL_LIMITS, proxy=proxy)} if proxy else {}
