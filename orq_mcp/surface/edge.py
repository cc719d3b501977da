"""The edge of every request: its protocol errors kept short, and its caller's tenant found once.

Two middlewares, outermost first. `ShortErrors` keeps what an error says within bounds: an error quotes what the
client sent (a URI, a name), and a megabyte sent is not a megabyte answered; crash details (ours or a library's)
stay in the log. `FindTenant` looks the caller's tenant up once and hands it to everything downstream as the
request's lifespan context. Neither scrubs: every message the server sends (results, errors, notifications, its
own requests) is scrubbed at the transport's exit (serving/outbound.py), the one place all of them pass.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR
from pydantic import ValidationError

from orq_mcp.surface.tenants import OneTenant, TenantPerKey
from orq_mcp.surface.tool_errors import quoted

logger = logging.getLogger(__name__)

Request = ServerRequestContext[Any, Any]
WITHHELD = (
    "orq-mcp could not serve this request safely, so its answer was withheld. "
    "Retry; if it persists, check the server log."
)
# Any one text of a protocol error, at most: ours are shorter, so a longer one quotes the client's input at length
# (the SDK's own "Unknown resource: <uri>", say). Our messages quote through tool_errors.quoted, shorter still.
MAX_ERROR_TEXT = 1000


class ShortErrors:
    """Protocol errors cut to MAX_ERROR_TEXT per text; any other failure answered with WITHHELD, its details logged."""

    async def __call__(self, ctx: Request, call_next: CallNext) -> HandlerResult:
        try:
            return await call_next(ctx)
        except MCPError as exc:
            error = exc.error
            raise MCPError(
                code=error.code, message=quoted(error.message, MAX_ERROR_TEXT), data=_short(error.data)
            ) from None
        except ValidationError:
            raise  # the SDK answers it as INVALID_PARAMS without echoing anything
        except Exception:
            logger.exception("Request %r failed", ctx.method)
            raise MCPError(code=INTERNAL_ERROR, message=WITHHELD) from None


class FindTenant:
    """Looks the caller's tenant up in the lifespan's tenant directory; downstream reads it, typed, as the
    request's lifespan context."""

    async def __call__(self, ctx: Request, call_next: CallNext) -> HandlerResult:
        tenants = ctx.lifespan_context
        if not isinstance(tenants, OneTenant | TenantPerKey):  # only if the server was built without create_server
            raise MCPError(code=INTERNAL_ERROR, message="orq-mcp is not set up: build the server with create_server()")
        return await call_next(replace(ctx, lifespan_context=tenants.find(ctx.request)))


def _short(value: Any) -> Any:
    """A copy of an error's data (JSON-like) with every string shortened."""
    if isinstance(value, str):
        return quoted(value, MAX_ERROR_TEXT)
    if isinstance(value, dict):
        return {k: _short(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_short(v) for v in value]
    return value
