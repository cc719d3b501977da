"""The SSE reader on its own: line endings, reads split anywhere, comments, the unterminated last event."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from orq_mcp.orq.sse import Event, EventTooLarge, read_events


async def body(*pieces: bytes) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def events(*pieces: bytes, max_size: int = 1 << 20) -> list[Event]:
    return [event async for event in read_events(body(*pieces), max_size)]


async def test_events_with_every_line_ending() -> None:
    for end in (b"\n", b"\r\n", b"\r"):
        got = await events(b"data: one" + end + end + b"data: two" + end + end)
        assert got == [Event("one"), Event("two")], end


@pytest.mark.parametrize("split", range(1, 40))
async def test_a_read_may_split_anywhere(split: int) -> None:
    raw = b'data: {"a":"\xc3\xa9"}\r\n\r\nevent: error\r\ndata: x\r\n\r\n'  # includes a two-byte UTF-8 character
    assert await events(raw[:split], raw[split:]) == [Event('{"a":"é"}'), Event("x", "error")]


async def test_crlf_split_between_reads_is_one_line_end() -> None:
    assert await events(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == [Event("a\nb")]


async def test_comments_multiline_data_and_a_bom() -> None:
    raw = b"\xef\xbb\xbf: keep-alive\ndata: first\ndata:second\nid: 7\nretry: 10\n\n"
    assert await events(raw) == [Event("first\nsecond")]


async def test_blank_lines_without_data_dispatch_nothing() -> None:
    assert await events(b"\n\nevent: ping\n\n: only a comment\n\n") == []


async def test_the_last_event_without_its_blank_line_is_still_read() -> None:
    assert await events(b"data: done\n\nevent: error\ndata: boom\n") == [
        Event("done"),
        Event("boom", "error", terminated=False),
    ]
    assert await events(b"data: cut mid-li") == [Event("cut mid-li", terminated=False)]
    assert await events(b"data: ends in CR\r") == [Event("ends in CR", terminated=False)]


async def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert await events(b"data: \xff\xfe\n\n") == [Event("\ufffd\ufffd")]


async def test_oversized_events_and_endless_lines_are_refused() -> None:
    with pytest.raises(EventTooLarge):
        await events(b"data: " + b"x" * 100 + b"\n" + b"data: " + b"y" * 100 + b"\n\n", max_size=150)
    with pytest.raises(EventTooLarge):
        await events(b"data: ", b"z" * 200, b"z" * 200, max_size=300)


async def test_an_endless_line_is_refused_at_the_read_that_passes_the_cap() -> None:
    reads = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal reads
        yield b"data: "
        for _ in range(1000):  # bounded: 100 kB, far past the cap
            reads += 1
            yield b"x" * 100

    with pytest.raises(EventTooLarge):
        async for _ in read_events(endless(), 1000):
            pass
    assert reads == 10  # 6 + 10 x 100 characters pass 1000: nothing after that read is consumed


async def test_the_cap_counts_the_event_so_far_and_its_unfinished_line() -> None:
    with pytest.raises(EventTooLarge):
        await events(b"data: " + b"a" * 600 + b"\n", b"data: " + b"b" * 500, max_size=1000)


async def test_a_crlf_split_by_an_empty_read_is_still_one_line_end() -> None:
    assert await events(b"data: a\r", b"", b"\n\r\n") == [Event("a")]
