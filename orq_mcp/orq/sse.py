"""Reading a server-sent-events body (docs/orq-api.md, Streams), one event at a time.

Follows the SSE rules orq's stream needs: lines end in LF, CRLF or CR (also across reads), `:`
starts a comment, several `data:` lines join with newlines, a blank line ends an event, and a
leading BOM is dropped. Unlike a strict reader it also hands over an event the body ended in the
middle of (marked `terminated=False`): a server that writes an error event and closes without the
blank line still gets heard, and the caller can tell a cut-off event from a bad one.

Linear in the body's size: each read is scanned once, and a line split over many reads is kept as
pieces joined once when it ends. The size cap covers the event so far plus its unfinished line and
is checked after every read, so an endless line is refused as soon as it passes the cap.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

_LINE_END = re.compile(r"\r\n|\r|\n")


class EventTooLarge(ValueError):
    """One event (or one line) grew past the size the reader accepts."""


@dataclass(frozen=True)
class Event:
    data: str
    event: str = "message"
    terminated: bool = True  # False: the body ended before the blank line that closes the event


class _Builder:
    """The event being read, field by field."""

    def __init__(self, max_size: int) -> None:
        self._max_size = max_size
        self._name = ""
        self._data: list[str] = []
        self.size = 0

    def line(self, line: str) -> Event | None:
        """Take one line; a blank one completes the event (if it has data)."""
        if not line:
            return self.finish(terminated=True)
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            self.size += len(value) + 1
            if self.size > self._max_size:
                raise EventTooLarge(self._max_size)
            self._data.append(value)
        elif field == "event":
            self._name = value
        return None

    def finish(self, *, terminated: bool) -> Event | None:
        event = Event("\n".join(self._data), self._name or "message", terminated) if self._data else None
        self._name, self._data, self.size = "", [], 0
        return event


class _Lines:
    """Cuts decoded text into lines; the unfinished last line is kept as pieces until it ends."""

    def __init__(self) -> None:
        self._pieces: list[str] = []
        self.pending = 0  # characters of the unfinished line
        self._after_cr = False  # the last read ended in CR: a LF starting the next one is its other half

    def feed(self, text: str) -> list[str]:
        if self._after_cr and text:
            text = text.removeprefix("\n")
            self._after_cr = False
        if not text:
            return []
        if "\n" not in text and "\r" not in text:  # most reads of a long line: two fast scans, no regex
            self._pieces.append(text)
            self.pending += len(text)
            return []
        self._after_cr = text.endswith("\r")
        parts = _LINE_END.split(text)
        parts[0] = "".join(self._pieces) + parts[0] if self._pieces else parts[0]
        last = parts.pop()
        self._pieces, self.pending = ([last], len(last)) if last else ([], 0)
        return parts

    def rest(self) -> str | None:
        """The unfinished line at the end of the body, if any."""
        return "".join(self._pieces) if self._pieces else None


async def read_events(body: AsyncIterable[bytes], max_size: int) -> AsyncIterator[Event]:
    """The events of an SSE body, as they complete."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    builder = _Builder(max_size)
    lines = _Lines()
    started = False
    async for raw in body:
        text = decoder.decode(raw)
        if not started and text:
            text, started = text.removeprefix("\ufeff"), True
        for line in lines.feed(text):
            event = builder.line(line)
            if event is not None:
                yield event
        if builder.size + lines.pending > max_size:  # a line that never ends is as bad as an event that never does
            raise EventTooLarge(max_size)
    tail = lines.feed(decoder.decode(b"", final=True))
    rest = lines.rest()
    for line in [*tail, rest] if rest is not None else tail:
        event = builder.line(line)
        if event is not None:
            yield event
    event = builder.finish(terminated=False)
    if event is not None:
        yield event
