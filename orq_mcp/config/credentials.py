"""How an HTTP caller's credentials arrive: `Authorization: Bearer <token>`, or a query-string config.

Shared by the access gate (which checks the bearer) and the tenant lookup (which takes the
caller's orq key from the bearer in multi-tenant mode, or from the query-string configuration
Smithery sends in `--query-config` mode), so every reader parses them the same way.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping

from starlette.datastructures import Headers, QueryParams
from starlette.types import Scope

from orq_mcp.config.keys import key_problem


def bearer_token(headers: Mapping[str, str] | None) -> str | None:
    if not headers:
        return None
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def caller_credential(scope: Scope) -> str:
    """Everything that identifies an HTTP caller, for binding sessions and streams to it: the bearer token and
    the orq key of a query-string configuration, each "" when absent.

    Both, always: behind a shared gateway token (`--query-config` with ORQ_MCP_AUTH_TOKEN) every tenant sends
    the same bearer, and only the key in its URL tells them apart.
    """
    bearer = bearer_token(Headers(scope=scope)) or ""
    configured = query_config_key(QueryParams(scope.get("query_string", b""))) or ""
    return f"{bearer}\n{configured}"


# Smithery passes a user's configuration per connection in the URL: `?config=<base64 JSON>`, or (its newer form)
# one query parameter per field. Either may carry the orq key under one of these names.
CONFIG_KEY_FIELDS = ("orqApiKey", "apiKey", "ORQ_API_KEY")
CONFIG_PARAMETER = "config"
# Every query parameter that may carry a key: what the log scrubs (orq/redact.py decodes the names first).
URL_CREDENTIALS = (CONFIG_PARAMETER, *CONFIG_KEY_FIELDS)
MAX_CONFIG_CHARS = 8192


def query_config_key(params: Mapping[str, str] | None) -> str | None:
    """The orq key in a request's query-string configuration, or None."""
    if not params:
        return None
    for name in CONFIG_KEY_FIELDS:
        if value := (params.get(name) or "").strip():
            return value
    config = _decode_config(params.get(CONFIG_PARAMETER) or "")
    for name in CONFIG_KEY_FIELDS:
        value = config.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def query_config_problem(params: Mapping[str, str] | None) -> str | None:
    """Why the query-string configuration cannot hold an orq key (None when it can, or holds none)."""
    raw = (params or {}).get(CONFIG_PARAMETER) or ""
    if len(raw) > MAX_CONFIG_CHARS:
        return f"it is {len(raw):,} characters long; a configuration is at most {MAX_CONFIG_CHARS:,}"
    key = query_config_key(params)
    return key_problem(key) if key else None


def _decode_config(raw: str) -> dict[str, object]:
    if not raw or len(raw) > MAX_CONFIG_CHARS:
        return {}
    try:
        decoded = json.loads(base64.urlsafe_b64decode(raw.replace("+", "-").replace("/", "_") + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        return {}
    return decoded if isinstance(decoded, dict) else {}
