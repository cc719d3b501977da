"""`GET /healthz` for load balancers: 200 and a small JSON body, no auth, nothing secret."""

from __future__ import annotations

import os

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from orq_mcp import __version__

HEALTH_PATH = "/healthz"


class Health:
    """Answers `GET|HEAD /healthz` itself and passes everything else on.

    It sits outside the access gate on purpose: a load balancer's probe carries no token. The body
    says only that this process serves, which version, and its process id (so an operator can
    see which worker answered); nothing about orq, keys or configuration.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == HEALTH_PATH and scope["method"] in ("GET", "HEAD"):
            body = {"status": "ok", "server": "orq-mcp", "version": __version__, "pid": os.getpid()}
            await JSONResponse(body, headers={"Cache-Control": "no-store"})(scope, receive, send)
            return
        await self._app(scope, receive, send)
