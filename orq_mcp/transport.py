"""Serving over HTTP safely: DNS-rebinding checks, access tokens, tenant keys."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from orq_mcp.settings import Settings, is_loopback
from orq_mcp.state import bearer_token

logger = logging.getLogger(__name__)

LOCAL_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
LOCAL_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
PATHS = {"http": "/mcp", "sse": "/sse"}


def build_http_app(server: MCPServer, settings: Settings) -> ASGIApp:
    """The ASGI app for `--transport http|sse`, wrapped in the access control the settings ask for."""
    security = transport_security(settings)
    if settings.transport == "http":
        app: ASGIApp = server.streamable_http_app(transport_security=security, host=settings.host)
    else:
        app = SseGuard(server.sse_app(transport_security=security, host=settings.host), security)
    if settings.auth_token is not None:
        expected = hashlib.sha256(settings.auth_token.get_secret_value().encode()).digest()
        return BearerGate(app, lambda token: _same(token, expected), "a valid ORQ_MCP_AUTH_TOKEN")
    if settings.multi_tenant:
        return BearerGate(app, bool, "your orq API key")
    return app


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """Host/Origin allow-lists: loopback names when local, plus whatever was configured."""
    hosts, origins = list(settings.allowed_hosts), list(settings.allowed_origins)
    if is_loopback(settings.host):
        hosts += LOCAL_HOSTS
        origins += LOCAL_ORIGINS
    elif not hosts:
        logger.warning(
            "Listening on %s without ORQ_MCP_ALLOWED_HOSTS: Host/Origin (DNS-rebinding) checks are off. "
            "Set ORQ_MCP_ALLOWED_HOSTS to the names clients use to reach this server.",
            settings.host,
        )
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def _same(token: str | None, expected_digest: bytes) -> bool:
    # Comparing digests keeps the comparison constant-time in the token's length too.
    given = hashlib.sha256((token or "").encode()).digest()
    return hmac.compare_digest(given, expected_digest) and token is not None


class SseGuard:
    """Refuses a bad Host/Origin on `GET /sse` before the SDK sees it.

    The SDK refuses it too, but then raises, so uvicorn logs a traceback per refused request:
    anyone who can reach the port could fill the logs. Checking first keeps the refusal quiet.
    """

    def __init__(self, app: ASGIApp, security: TransportSecuritySettings) -> None:
        self._app = app
        self._check = TransportSecurityMiddleware(security)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == PATHS["sse"]:
            refusal = await self._check.validate_request(Request(scope, receive), is_post=False)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self._app(scope, receive, send)


class BearerGate:
    """Answers 401 to any HTTP request whose `Authorization: Bearer` token `accept` refuses."""

    def __init__(self, app: ASGIApp, accept: Callable[[str | None], bool], what: str) -> None:
        self._app = app
        self._accept = accept
        self._what = what

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._accept(bearer_token(Headers(scope=scope))):
            await self._app(scope, receive, send)
            return
        logger.info("Refused an HTTP request without %s", self._what)
        response = JSONResponse(
            {"error": "invalid_token", "error_description": f"Send {self._what} as `Authorization: Bearer <token>`."},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="orq-mcp"'},
        )
        await response(scope, receive, send)
