"""The standard proxy variables (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY) for the connection to orq.

httpx ignores them when it is handed a transport of its own, as orq_mcp.orq.client does; so the serving layer
reads them here, with the standard library's rules (either case, NO_PROXY honoured), and gives the transport
its proxy.
"""

from __future__ import annotations

import urllib.request
from typing import Any
from urllib.parse import urlsplit

from orq_mcp.orq.client import POOL_LIMITS, DeferredTransport
from orq_mcp.serving.settings import is_loopback


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for requests to `url`; None when none is set or NO_PROXY matches."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    if (
        not proxies
        or is_loopback(parts.hostname or "")
        or urllib.request.proxy_bypass_environment(parts.netloc, proxies)
    ):
        return None  # loopback (the --sandbox emulator, a local gateway) is never proxied
    return proxies.get(parts.scheme) or proxies.get("all")


def transport_options(url: str) -> dict[str, Any]:
    """Keyword arguments for `create_http_client`: a transport through the proxy, when one applies to `url`."""
    proxy = proxy_for(url)
    return {"transport": DeferredTransport(limits=POOL_LIMITS, proxy=proxy)} if proxy else {}
