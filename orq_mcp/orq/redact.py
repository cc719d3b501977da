"""Keeping API keys out of everything the server emits: results, errors, streamed text and logs.

No MCP imports: the orq client uses it too, to scrub its own key from what orq sends back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

REPLACEMENT = "[redacted]"
# Any bearer credential a log line might quote, known to the server or not (tenant keys).
BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
# Shorter strings would redact ordinary words; no real key is this short.
MIN_SECRET_LENGTH = 8


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def text(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REPLACEMENT)
        return text

    def value(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def stream(self) -> StreamRedactor:
        return StreamRedactor(self._secrets)


class StreamRedactor:
    """Redacts text that arrives in pieces: a secret may straddle two of them.

    `feed` returns what is safe to pass on now, holding back a tail that could be the start
    of a secret until the next piece (or `flush`) settles it.
    """

    def __init__(self, secrets: list[str]) -> None:
        self._redactor = Redactor(secrets)
        self._secrets = secrets
        self._held = ""

    def feed(self, text: str) -> str:
        if not self._secrets:
            return text
        pending = self._redactor.text(self._held + text)
        keep = max((_open_prefix(pending, secret) for secret in self._secrets), default=0)
        self._held = pending[len(pending) - keep :] if keep else ""
        return pending[: len(pending) - keep]

    def flush(self) -> str:
        rest, self._held = self._redactor.text(self._held), ""
        return rest


def _open_prefix(text: str, secret: str) -> int:
    """Length of the longest end of `text` that is the beginning of `secret`."""
    for length in range(min(len(text), len(secret) - 1), 0, -1):
        if secret.startswith(text[-length:]):
            return length
    return 0


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (with its arguments applied) before any handler sees it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        return True

    def _clean(self, text: str) -> str:
        return BEARER.sub(r"\1" + REPLACEMENT, self._redactor.text(text))
