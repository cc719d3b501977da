"""Keeping API keys out of everything the server emits: results, errors and log lines."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from mcp_types import CallToolResult, TextContent

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

    def result(self, result: CallToolResult) -> CallToolResult:
        if not self._secrets:
            return result
        content = [
            TextContent(type="text", text=self.text(block.text)) if isinstance(block, TextContent) else block
            for block in result.content
        ]
        structured = self.value(result.structured_content) if result.structured_content is not None else None
        return result.model_copy(update={"content": content, "structured_content": structured})


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
