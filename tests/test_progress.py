"""The progress relay's contract, checked directly (timing-free where possible)."""

from __future__ import annotations

import itertools

import anyio
import pytest

from orq_mcp.surface.progress import relay_progress


class Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[float, str]] = []
        self.closed = False

    async def send(self, progress: float, message: str) -> None:
        assert not self.closed, "progress sent after the relay closed"
        self.sent.append((progress, message))

    @property
    def text(self) -> str:
        return "".join(message for _, message in self.sent)


def check_contract(sink: Sink, text: str) -> None:
    assert sink.text == text
    progresses = [p for p, _ in sink.sent]
    assert progresses == sorted(set(progresses)), "progress must strictly increase"
    running = 0
    for progress, message in sink.sent:
        running += len(message)
        assert progress == running
        assert message


async def test_first_piece_goes_out_before_add_returns() -> None:
    sink = Sink()
    async with relay_progress(sink.send, interval=10) as relay:
        await relay.add("Hello")
        assert sink.sent == [(5, "Hello")]
    sink.closed = True


async def test_a_burst_is_coalesced_and_flushed_on_exit() -> None:
    sink = Sink()
    pieces = ["Hi", " there", ",", " how", " are", " you", "?"]
    async with relay_progress(sink.send, interval=10) as relay:
        for piece in pieces:
            await relay.add(piece)
    sink.closed = True
    assert len(sink.sent) == 2  # the first piece at once, the rest in one flush at the end
    check_contract(sink, "".join(pieces))


async def test_a_late_piece_is_sent_after_the_interval_not_at_the_end() -> None:
    sink = Sink()
    async with relay_progress(sink.send, interval=0.05) as relay:
        await relay.add("a")
        await relay.add("b")
        await anyio.sleep(0.2)  # far past the interval, well before the block ends
        assert sink.sent == [(1, "a"), (2, "b")]
    sink.closed = True


async def test_notifications_respect_the_interval() -> None:
    sink = Sink()
    times: list[float] = []

    async def send(progress: float, message: str) -> None:
        times.append(anyio.current_time())
        await sink.send(progress, message)

    async with relay_progress(send, interval=0.05) as relay:
        for i in range(40):
            await relay.add(f" w{i}")
            await anyio.sleep(0.005)
    check_contract(sink, "".join(f" w{i}" for i in range(40)))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.045 for gap in gaps[:-1])  # the final flush on exit may come sooner


async def test_an_error_flushes_pending_text_then_propagates_unwrapped() -> None:
    sink = Sink()

    async def fail_midway() -> None:
        async with relay_progress(sink.send, interval=10) as relay:
            await relay.add("partial")
            await relay.add(" text")
            raise ValueError("upstream broke")

    with pytest.raises(ValueError, match="upstream broke"):
        await fail_midway()
    check_contract(sink, "partial text")


async def test_cancellation_sends_nothing_more() -> None:
    sink = Sink()
    with anyio.move_on_after(0.05):
        async with relay_progress(sink.send, interval=10) as relay:
            await relay.add("first")
            await relay.add(" pending")
            await anyio.sleep(5)
    assert sink.sent == [(5, "first")]


async def test_a_failing_sender_does_not_fail_the_invocation() -> None:
    calls = 0

    async def broken(progress: float, message: str) -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("client went away")

    async with relay_progress(broken, interval=0) as relay:
        for piece in ["a", "b", "c"]:
            await relay.add(piece)
            await anyio.sleep(0.01)
    assert calls == 1


async def test_empty_pieces_are_ignored() -> None:
    sink = Sink()
    async with relay_progress(sink.send, interval=0) as relay:
        await relay.add("")
        await relay.add("x")
        await relay.add("")
    assert sink.sent == [(1, "x")]
