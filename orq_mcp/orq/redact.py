"""Keeping API keys out of everything the server emits: results, errors, streamed text and logs.

The rule: a secret is scrubbed wherever 12 or more consecutive characters of it appear, so a
masked echo (`sk-abc123def456****`) or a key cut in half gives nothing away; a run of key
characters is replaced whole. The base64 forms of a secret count too. JSON escapes
(`\\u0042earer ...`) are undone by parsing before scrubbing, which is the callers' job: they parse
first and scrub the strings.

How, in time linear in the text whatever the key's length: any 12 characters of a text contain one
whole block of the text cut every 6 characters, and that block is a piece of the secret. So the text
is cut into 6-byte blocks in C (`struct`), the blocks are looked up in the set of every 6-character
piece of the secrets (a set operation, in C too), and only around a block found there are the
12-character windows looked up in the set of the secrets' 12-character pieces. Text holding no
piece of a secret costs two passes in C; per secret the two sets hold about 10 entries per character.

No MCP imports: the orq client uses it too, to scrub its own key from what orq sends back.
"""

from __future__ import annotations

import base64
import logging
import re
import struct
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import unquote_plus

REPLACEMENT = "[redacted]"
# Any bearer credential a log line might quote, known to the server or not (tenant keys).
BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
# A query parameter in a request line (uvicorn's access log quotes the query string as it was sent).
QUERY_PARAMETER = re.compile(r"([?&])([^=&\s\"'#]*)=([^&\s\"'#]*)")
# A run this long of a secret is scrubbed; shorter runs are ordinary text (hex digits, words).
FRAGMENT = 12
# Shorter strings would redact ordinary words; no real key is this short.
MIN_SECRET_LENGTH = 8
# Text is compared as ASCII bytes: any other character stands for itself as "?" (on both sides), and
# url-safe base64 is read as standard base64 (`-` as `+`, `_` as `/`), so one set covers both alphabets.
_NORMAL = bytes.maketrans(b"-_", b"+/")
_BLOCKS_PER_UNPACK = 256
# Characters JSON writers (json.dumps, pydantic) never escape: printable ASCII but the quote and backslash.
_JSON_LITERAL = re.compile(r"[ !#-\[\]-~]*")


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        kept = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        variants = [_bytes(v) for v in secret_forms(kept)]
        # The window: 12, or a shorter secret whole (then every secret's runs of that length count).
        self._size = min([FRAGMENT, *(len(v) for v in variants)])
        self._block = (self._size + 1) // 2  # any window of `_size` holds a whole block cut at this stride
        self._grams = frozenset(v[i : i + self._size] for v in variants for i in range(len(v) - self._size + 1))
        self._pieces = frozenset(v[i : i + self._block] for v in variants for i in range(len(v) - self._block + 1))
        self._pairs = frozenset(v[i : i + 2] for v in variants for i in range(len(v) - 1))  # where a run may go on
        # Whether a serialised JSON text shows each secret as it is (JSON escapes none of its characters), so
        # scanning the text finds whatever scrubbing its strings one by one would.
        self.literal_in_json = all(_JSON_LITERAL.fullmatch(secret) for secret in kept)
        self._unpack = struct.Struct(f"{self._block}s" * _BLOCKS_PER_UNPACK).unpack_from

    def __bool__(self) -> bool:
        return bool(self._grams)

    @property
    def window(self) -> int:
        """The length of the shortest run that is scrubbed: 12, or a shorter secret's whole length."""
        return self._size

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        """Where secret runs are in `text`: each a maximal stretch covered by secret windows that overlap or touch."""
        if not self._grams or len(text) < self._size:
            return
        data = _bytes(text)
        size, grams, step = self._size, self._grams, self._block
        whole = len(data) - len(data) % step  # blocks are whole: any window holds one
        stride = step * _BLOCKS_PER_UNPACK
        settled = 0  # every window starting before this is accounted for
        for offset in range(0, whole, stride):
            if offset + stride <= settled:
                continue  # inside a run already found
            for block in self._blocks_found(data, offset, min(offset + stride, whole)):
                if block < settled:  # each window holding it starts before `settled`
                    continue
                last = min(block, len(data) - size)
                for i in range(max(block + step - size, settled), last + 1):
                    if data[i : i + size] in grams:
                        settled = self._run_end(data, i + size)
                        yield i, settled
                        break
                else:
                    settled = last + 1

    def text(self, text: str) -> str:
        return _replace(text, list(self.spans(text))) if self._grams else text

    def found_in(self, text: str) -> bool:
        """Whether `text` holds a run of a secret (what `text` would replace)."""
        return next(self.spans(text), None) is not None

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

    def _run_end(self, data: bytes, end: int) -> int:
        """Where the run of secret windows reaching `end` stops. The furthest window first (the one starting at
        `end`, then those overlapping it), so a run costs about one lookup per window length, not per character."""
        size, grams = self._size, self._grams
        while True:
            if data[end : end + size] in grams:
                end += size
                continue
            if data[end - 1 : end + 1] not in self._pairs:
                return end  # every window overlapping `end` holds these two characters, and no secret does
            for i in range(min(end - 1, len(data) - size), end - size, -1):
                if data[i : i + size] in grams:
                    end = i + size
                    break
            else:
                return end

    def _blocks_found(self, data: bytes, start: int, stop: int) -> list[int]:
        """Offsets of the blocks from `start` to `stop` (cut every `_block` bytes) that are pieces of a secret."""
        step, pieces = self._block, self._pieces
        if stop - start == step * _BLOCKS_PER_UNPACK:
            blocks: Sequence[bytes] = self._unpack(data, start)
        else:
            blocks = [data[i : i + step] for i in range(start, stop, step)]
        if pieces.isdisjoint(blocks):
            return []
        return [start + n * step for n, block in enumerate(blocks) if block in pieces]


class StreamRedactor:
    """Redacts text that arrives in pieces, passing each piece on the moment it arrives: a secret may straddle them.

    The rule forbids a run of 12 (the window) characters of a secret, so the end of a piece that could begin one
    (at most 11 characters) is ordinary text and goes out with its piece. It is kept as context: if the next piece
    completes a run with it, the rest of the run is replaced, so a client sees at most 11 characters of the key and
    then `[redacted]`, never 12 in a row. A run that reaches the end of a piece is replaced at once; if the next
    piece goes on with it, that part is dropped (its `[redacted]` is already out), so one run gives one
    replacement. Nothing is ever held back.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        # The last window-less-one characters of the text so far: a run reaching into the next piece starts in them.
        self._context = ""
        self._keep = redactor.window - 1
        self._run_open = False  # what was passed on ends with the [redacted] of a run that reaches the end so far

    def feed(self, text: str) -> str:
        if not self._redactor or not text:
            return text
        context = self._context
        joined = context + text
        self._context = joined[-self._keep :]
        spans = list(self._redactor.spans(joined))
        if not spans:
            self._run_open = False
            return text
        begin = len(context)
        parts, position = [], begin
        for start, end in spans:
            parts.append(joined[position : max(start, begin)])
            if not (start <= begin and self._run_open):  # else the run goes on behind the [redacted] already sent
                parts.append(REPLACEMENT)
            position = end
        parts.append(joined[position:])
        self._run_open = spans[-1][1] == len(joined)
        return "".join(parts)


def _bytes(text: str) -> bytes:
    """`text` as one byte per character (see _NORMAL), so offsets in one are offsets in the other."""
    return text.encode("ascii", "replace").translate(_NORMAL)


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    parts, position = [], 0
    for start, end in spans:
        parts += [text[position:start], REPLACEMENT]
        position = end
    parts.append(text[position:])
    return "".join(parts)


def secret_forms(secrets: Iterable[str]) -> Iterator[str]:
    """Each secret, and the stable middle of its base64 encoding at the three byte alignments."""
    for secret in secrets:
        yield secret
        for shift in range(3):
            encoded = base64.b64encode(b"\0" * shift + secret.encode()).decode()
            middle = encoded[(shift * 4 + 2) // 3 + 1 : -4]
            if len(middle) >= FRAGMENT:
                yield middle  # its url-safe form is the same once normalised (_NORMAL)


def scrub_url_credentials(text: str, names: Iterable[str]) -> str:
    """`text` with the value of every query parameter called one of `names` redacted.

    Names are compared decoded and without regard to case, as a server reading the query would
    see them: `?orq%41piKey=` is `orqApiKey`.
    """
    wanted = {name.lower() for name in names}

    def redact(match: re.Match[str]) -> str:
        if unquote_plus(match.group(2)).lower() not in wanted:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}={REPLACEMENT}"

    return QUERY_PARAMETER.sub(redact, text) if wanted else text


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (with its arguments applied) before any handler sees it.

    Besides the secrets it knows, it redacts any bearer token and the credentials a URL may carry
    (`url_credentials`: the query parameters that hold a key, as a caller sends them).
    """

    def __init__(self, redactor: Redactor, url_credentials: Iterable[str] = ()) -> None:
        super().__init__()
        self._redactor = redactor
        self._url_credentials = tuple(url_credentials)

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
        return scrub_url_credentials(text, self._url_credentials)
