"""Logging: everything on stderr (in stdio mode stdout is the protocol), the key and URL credentials scrubbed."""

from __future__ import annotations

import logging
import sys

from orq_mcp.config.credentials import URL_CREDENTIALS
from orq_mcp.config.settings import Settings
from orq_mcp.orq.redact import RedactingFilter, Redactor


def configure_logging(settings: Settings) -> None:
    """Everything goes to stderr: in stdio mode stdout is the protocol."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    secret = [settings.api_key.get_secret_value()] if settings.api_key else []
    handler.addFilter(RedactingFilter(Redactor(secret), URL_CREDENTIALS))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if settings.verbose else logging.INFO)
    # Request-by-request transport chatter only helps when debugging.
    for noisy in ("httpx2", "httpcore", "httpcore2", "mcp", "sse_starlette", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if settings.verbose else logging.WARNING)
