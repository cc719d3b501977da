"""Serving over HTTP safely: DNS-rebinding checks, access tokens, tenant keys."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from mcp.server.transport_security import (
    DEFAULT_MAX_REQUEST_BODY_SIZE,
    TransportSecurityMiddleware,
    TransportSecuritySettings,
)
from mcp_types import INVALID_REQUEST
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from orq_mcp.config.credentials import bearer_token, query_config_key, query_config_problem
from orq_mcp.config.keys import key_problem
from orq_mcp.config.settings import Settings, is_loopback
from orq_mcp.orq.redact import Redactor
from orq_mcp.serving.http.asgi import handshake_era_post, read_body
from orq_mcp.serving.http.connections import BodyDeadline
from orq_mcp.serving.http.disconnect import AbandonOnDisconnect
from orq_mcp.serving.http.event_stores import abandon_grace, event_store_for
from orq_mcp.serving.http.health import Health
from orq_mcp.serving.http.nesting import NestingGuard
from orq_mcp.serving.http.sessions import SessionGuard, SseSessionGuard
from orq_mcp.serving.http.throttle import Buckets, FailureThrottle, RefusalLog, client_address
from orq_mcp.serving.outbound import ScrubbedEventStore, ScrubbedResponses

if TYPE_CHECKING:
    from orq_mcp.surface.server import OrqMCPServer
    from orq_mcp.surface.tenants import Redactors

logger = logging.getLogger(__name__)

LOCAL_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
LOCAL_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
PATHS = {"http": "/mcp", "sse": "/sse"}


def build_http_app(server: OrqMCPServer, settings: Settings, failures: Buckets | None = None) -> ASGIApp:
    """The ASGI app for `--transport http|sse`, wrapped in the access control the settings ask for; every
    response leaves through the scrubbing exit (outbound.py).

    `failures` holds the token throttle's buckets when they are shared with other workers."""
    gated = _gated_app(server, settings, FailureThrottle(buckets=failures))
    return Health(ScrubbedResponses(gated, caller_redactor(settings, server.redactors)))


def caller_redactor(settings: Settings, redactors: Redactors) -> Callable[[Scope], Redactor]:
    """How to find the redactor for a request's caller: by the orq key it brings, in the modes where callers do."""
    if settings.multi_tenant:
        return lambda scope: redactors.for_key(bearer_token(Headers(scope=scope)))
    if settings.query_config:
        return lambda scope: redactors.for_key(query_config_key(QueryParams(scope.get("query_string", b""))))
    return lambda scope: redactors.server


def _gated_app(server: OrqMCPServer, settings: Settings, throttle: FailureThrottle) -> ASGIApp:
    security = transport_security(settings)
    if settings.transport == "http":
        events = event_store_for(settings)
        sdk_app = server.streamable_http_app(
            transport_security=security,
            host=settings.host,
            session_idle_timeout=settings.session_idle_timeout,
            max_sessions=settings.max_sessions,
            stateless_http=settings.sessionless,
            event_store=ScrubbedEventStore(events.store, server.redactors.server) if events else None,
            retry_interval=events.retry_ms if events else None,
        )
        resumable = events.wrap(sdk_app, security) if events else sdk_app
        guarded = NestingGuard(AbandonOnDisconnect(JsonRpcShapeGuard(resumable), grace=abandon_grace(settings)))
        shared = settings.event_store.startswith(("redis://", "rediss://", "unix://"))
        app: ASGIApp = SessionGuard(
            guarded, settings.max_sessions_per_client, settings.session_idle_timeout, shared_resumes=shared
        )
    else:
        sse_app = SseGuard(server.sse_app(transport_security=security, host=settings.host), security)
        app = SseSessionGuard(sse_app, settings.max_sessions_per_client, PATHS["sse"])
    app = BodyDeadline(app, settings.request_timeout)
    if settings.auth_token is not None:
        expected = hashlib.sha256(settings.auth_token.get_secret_value().encode()).digest()
        valid = "a valid ORQ_MCP_AUTH_TOKEN"
        return BearerGate(app, lambda token: None if _same(token, expected) else "", valid, throttle)
    if settings.multi_tenant:
        return BearerGate(app, lambda token: key_problem(token) if token else "", "your orq API key", throttle)
    if settings.query_config:
        return QueryKeyGate(app)
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


class JsonRpcShapeGuard:
    """Answers -32600 Invalid Request to a handshake-era POST that is JSON but not one JSON-RPC message.

    The SDK's 2026-07-28 entry does this itself. Its handshake-era entry answers such bodies with
    -32602 and pydantic's report (the input echoed back), and takes a request whose id is an
    object or null for a notification, which gets no answer at all.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = handshake_era_post(scope)
        if headers is None or not headers.get("content-type", "").lower().startswith("application/json"):
            await self._app(scope, receive, send)
            return
        body, replay = await read_body(receive, DEFAULT_MAX_REQUEST_BODY_SIZE)
        problem = jsonrpc_problem(body) if body is not None else None
        if problem is None:  # valid, not JSON (-32700 is the SDK's), or too large (413 is the SDK's)
            await self._app(scope, replay, send)
            return
        error = {"code": INVALID_REQUEST, "message": f"Invalid Request: {problem}"}
        await JSONResponse({"jsonrpc": "2.0", "id": None, "error": error}, status_code=400)(scope, receive, send)


def jsonrpc_problem(body: bytes) -> str | None:
    """What keeps `body` from being one JSON-RPC 2.0 message, or None (also when it is not JSON at all)."""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict):
        return "the body must be one JSON-RPC message, a JSON object"
    if message.get("jsonrpc") != "2.0":
        return 'jsonrpc must be "2.0"'
    if "method" not in message:
        return None if "id" in message and ("result" in message or "error" in message) else "a request needs a method"
    if not isinstance(message["method"], str):
        return "method must be a string"
    request_id = message.get("id", 0)
    if isinstance(request_id, bool) or not isinstance(request_id, str | int):
        return "the id must be a string or an integer"
    if "params" in message and not isinstance(message["params"], dict):
        return "params must be an object"
    return None


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
    """Answers 401 to any HTTP request whose `Authorization: Bearer` token `problem` finds fault with.

    `problem(token)` is None to let the request through, else what is wrong with the token ("" for
    nothing to say). An address refused too often in a row is answered 429 with Retry-After for a while,
    whatever it sends, and refusals are logged within a budget: guessing the token is slow and cannot
    fill the disk.
    """

    def __init__(
        self, app: ASGIApp, problem: Callable[[str | None], str | None], what: str, throttle: FailureThrottle
    ) -> None:
        self._app = app
        self._problem = problem
        self._what = what
        self._throttle = throttle
        self._log = RefusalLog(logger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        address = client_address(scope)
        wait = self._throttle.retry_after(address)
        if wait:
            self._log.refused(address, "Throttled HTTP requests from %s after repeated refusals", address)
            description = f"Too many refused requests from your address. Wait {wait} s, then send {self._what}."
            response = _refusal("too_many_attempts", description, 429, {"Retry-After": str(wait)})
        elif (problem := self._problem(bearer_token(Headers(scope=scope)))) is None:
            await self._app(scope, receive, send)
            return
        else:
            self._throttle.failed(address)
            self._log.refused(address, "Refused an HTTP request from %s without %s", address, self._what)
            description = f"Send {self._what} as `Authorization: Bearer <token>`."
            if problem:
                description = f"The bearer token is not {self._what}: {problem}. {description}"
            response = _refusal("invalid_token", description, 401, {"WWW-Authenticate": 'Bearer realm="orq-mcp"'})
        await response(scope, receive, send)


class QueryKeyGate:
    """`--query-config`: answers 401 to a request whose query-string configuration holds no possible orq key.

    A request without any configuration goes on (it may list the tools; a call says what to configure).
    Not throttled: behind a hosting gateway every caller may arrive from the gateway's one address.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._log = RefusalLog(logger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = query_config_problem(QueryParams(scope.get("query_string", b""))) if scope["type"] == "http" else None
        if problem is None:
            await self._app(scope, receive, send)
            return
        address = client_address(scope)
        self._log.refused(address, "Refused an HTTP request from %s: its configuration holds no orq key", address)
        description = (
            f"The orq API key in this connection's configuration is not one: {problem}. Set `orqApiKey` in this "
            "server's configuration to your orq API key, then reconnect."
        )
        await _refusal("invalid_token", description, 401, {})(scope, receive, send)


def _refusal(error: str, description: str, status: int, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=headers)
