"""Keeping API keys out of everything the server emits: results, errors, streamed text and logs.

The rule: a secret is scrubbed wherever 12 or more consecutive characters of it appear, so a
masked echo (`sk-abc123def456****`) or a key cut in half gives nothing away; a run of key
characters is replaced whole. The base64 forms of a secret count too. JSON escapes
(`\\u0042earer ...`) are undone by parsing before scrubbing, which is the callers' job: they parse
first and scrub the strings.

No MCP imports: the orq client uses it too, to scrub its own key from what orq sends back.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any

REPLACEMENT = "[redacted]"
# Any bearer credential a log line might quote, known to the server or not (tenant keys).
BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
# Credentials a URL may carry (a per-connection config), as uvicorn's access log would quote them.
URL_CREDENTIAL = re.compile(r"(?i)([?&](?:config|orqApiKey|apiKey|ORQ_API_KEY)=)[^&\s\"']+")
# A run this long of a secret is scrubbed; shorter runs are ordinary text (hex digits, words).
FRAGMENT = 12
# Shorter strings would redact ordinary words; no real key is this short.
MIN_SECRET_LENGTH = 8


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        grams: set[str] = set()
        pieces: set[str] = set()  # what could be the start of a run once more text arrives
        for secret in _variants({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}):
            size = min(FRAGMENT, len(secret))
            grams.update(secret[i : i + size] for i in range(len(secret) - size + 1))
            pieces.update(secret[i : i + n] for n in range(1, size) for i in range(len(secret) - n + 1))
        self._grams = grams
        self._pieces = pieces
        self._size = min((len(g) for g in grams), default=FRAGMENT)
        # One alternation of literals: sre scans 1 MB against ~100 of them in about 20 ms.
        self._pattern = re.compile("|".join(map(re.escape, sorted(grams, key=len, reverse=True)))) if grams else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        """Where secret runs are in `text`, each extended as far as the run goes."""
        if self._pattern is None:
            return
        position = 0
        while (match := self._pattern.search(text, position)) is not None:
            end = match.end()
            while end < len(text) and text[end - self._size + 1 : end + 1] in self._grams:
                end += 1
            yield match.start(), end
            position = end

    def text(self, text: str) -> str:
        return _replace(text, list(self.spans(text))) if self._pattern is not None else text

    def open_tail(self, text: str) -> int:
        """Length of the longest end of `text` that is part of a secret, so could grow into a run of one."""
        for length in range(min(len(text), self._size - 1), 0, -1):
            if text[-length:] in self._pieces:
                return length
        return 0

    def value(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string (keys included) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def stream(self) -> StreamRedactor:
        return StreamRedactor(self)


class StreamRedactor:
    """Redacts text that arrives in pieces: a secret may straddle two of them.

    `feed` returns what is safe to pass on now, holding back an end that is part of a secret (and
    any secret run that reaches the end) until the next piece, or `flush`, settles it.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._held = ""

    def feed(self, text: str) -> str:
        if not self._redactor:
            return text
        pending = self._held + text
        spans = list(self._redactor.spans(pending))
        cut = len(pending) - self._redactor.open_tail(pending)
        for start, end in spans:
            if end >= cut:  # a run touching the held tail may go on in the next piece
                cut = min(cut, start)
        self._held = pending[cut:]
        return _replace(pending[:cut], [(s, e) for s, e in spans if e <= cut])

    def flush(self) -> str:
        rest, self._held = self._redactor.text(self._held), ""
        return rest


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    parts, position = [], 0
    for start, end in spans:
        parts += [text[position:start], REPLACEMENT]
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _variants(secrets: Iterable[str]) -> Iterator[str]:
    """Each secret, and the stable middle of its base64 encodings at the three byte alignments."""
    for secret in secrets:
        yield secret
        for shift in range(3):
            encoded = base64.b64encode(b"\0" * shift + secret.encode()).decode()
            middle = encoded[(shift * 4 + 2) // 3 + 1 : -4]
            if len(middle) >= FRAGMENT:
                yield middle
                yield middle.replace("+", "-").replace("/", "_")


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
        text = BEARER.sub(r"\1" + REPLACEMENT, self._redactor.text(text))
        return URL_CREDENTIAL.sub(r"\1" + REPLACEMENT, text)
