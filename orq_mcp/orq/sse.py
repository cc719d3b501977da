"""Reading a server-sent-events body (reference §5c), one event at a time.

Follows the SSE rules orq's stream needs: lines end in LF, CRLF or CR (also across reads), `:`
starts a comment, several `data:` lines join with newlines, a blank line ends an event, and a
leading BOM is dropped. Unlike a strict reader it also hands over an event the body ended in the
middle of (marked `terminated=False`): a server that writes an error event and closes without the
blank line still gets heard, and the caller can tell a cut-off event from a bad one.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

_LINE_END = re.compile(r"\r\n|\r|\n")


class EventTooLarge(ValueError):
    """One event grew past the size the reader accepts."""


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
        self._size = 0

    def line(self, line: str) -> Event | None:
        """Take one line; a blank one completes the event (if it has data)."""
        if not line:
            return self.finish(terminated=True)
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            self._size += len(value) + 1
            if self._size > self._max_size:
                raise EventTooLarge(self._max_size)
            self._data.append(value)
        elif field == "event":
            self._name = value
        return None

    def finish(self, *, terminated: bool) -> Event | None:
        event = Event("\n".join(self._data), self._name or "message", terminated) if self._data else None
        self._name, self._data, self._size = "", [], 0
        return event


async def read_events(body: AsyncIterable[bytes], max_size: int) -> AsyncIterator[Event]:
    """The events of an SSE body, as they complete."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    builder = _Builder(max_size)
    pending = ""
    started = False
    async for raw in body:
        text = decoder.decode(raw)
        if not started and text:
            text, started = text.removeprefix("\ufeff"), True
        pending += text
        start = 0
        for match in _LINE_END.finditer(pending):
            if match.group() == "\r" and match.end() == len(pending):
                break  # maybe the first half of a CRLF split across two reads
            event = builder.line(pending[start : match.start()])
            start = match.end()
            if event is not None:
                yield event
        pending = pending[start:]
        if len(pending) > max_size:  # a line that never ends is as bad as an event that never does
            raise EventTooLarge(max_size)
    pending += decoder.decode(b"", final=True)
    lines = _LINE_END.split(pending)
    for line in lines[:-1] if lines[-1] == "" else lines:  # "" after the last line end is no line
        event = builder.line(line)
        if event is not None:
            yield event
    event = builder.finish(terminated=False)
    if event is not None:
        yield event
