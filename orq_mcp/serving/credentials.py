"""How an HTTP caller's credential arrives: `Authorization: Bearer <token>`.

Shared by the access gate (which checks it) and the tenant lookup (which, in multi-tenant
mode, uses it as the caller's orq key), so both read the header the same way.
"""

from __future__ import annotations

from collections.abc import Mapping


def bearer_token(headers: Mapping[str, str] | None) -> str | None:
    if not headers:
        return None
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
