"""Identifiers and timestamps in the formats orq.ai uses (ULIDs, trace ids, ISO-8601 with ms)."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

CROCKFORD32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(now_ms: int | None = None) -> str:
    """A 26-char Crockford base32 ULID: 48-bit millisecond timestamp followed by 80 random bits."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = ((ms & ((1 << 48) - 1)) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(CROCKFORD32[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def trace_id() -> str:
    """32 lowercase hex characters (W3C trace id)."""
    return secrets.token_hex(16)


def span_id() -> str:
    """16 lowercase hex characters (W3C span id)."""
    return secrets.token_hex(8)


def tool_call_id() -> str:
    """An OpenAI-style tool call id such as ``call_Xk29fQe81LmZ0pV7``."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "call_" + "".join(secrets.choice(alphabet) for _ in range(16))


def iso_now() -> str:
    """The current UTC time as ``2025-04-03T10:21:07.392Z``."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
