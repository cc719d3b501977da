"""The progress relay's contract, checked directly (timing-free where possible)."""

from __future__ import annotations

import contextlib
import itertools

import anyio
import pytest

from orq_mcp.orq.redact import FRAGMENT, REPLACEMENT, Redactor
from orq_mcp.surface.invocation.progress import relay_progress

SECRET = "sk-canary-7f3a9c1e5b2d4a6f8e0c"
# How long a test waits for what should take milliseconds before it fails: a busy machine may pause a process for
# seconds, and a passing test never waits this long.
STALL = 10


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


class GatedSink(Sink):
    """A client that takes the first notification at once and each later one only when the test opens
    the gate, so the test can hold a send in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = anyio.Event()
        self.in_flight = anyio.Event()

    async def send(self, progress: float, message: str) -> None:
        if self.sent:
            self.in_flight.set()
            await self.gate.wait()
        await super().send(progress, message)


async def wait_for_sent(sink: Sink, count: int) -> None:
    with anyio.fail_after(STALL):
        while len(sink.sent) < count:  # noqa: ASYNC110 - the sink is the code under test's client
            await anyio.sleep(0.001)


async def test_a_piece_goes_out_at_once_when_nothing_is_in_flight() -> None:
    sink = Sink()
    async with relay_progress(sink.send) as relay:
        await relay.add("Hello")
        await wait_for_sent(sink, 1)
        await relay.add(" world")
        await wait_for_sent(sink, 2)
        assert sink.sent == [(5, "Hello"), (11, " world")]  # no timer: each went out on its own
    sink.closed = True


async def test_the_first_piece_goes_out_before_add_returns() -> None:
    sink = Sink()
    async with relay_progress(sink.send, interval=10) as relay:
        await relay.add("Hello")
        assert sink.sent == [(5, "Hello")]  # even with a busy loop, the client sees the first token at once
    sink.closed = True


async def test_what_arrives_during_a_send_is_batched_into_the_next() -> None:
    sink = GatedSink()
    pieces = ["Hi", " there", ",", " how", " are", " you", "?"]
    async with relay_progress(sink.send) as relay:
        await relay.add(pieces[0])  # sent before add returns
        await relay.add(pieces[1])  # picked up by the sender, held in flight by the client
        with anyio.fail_after(STALL):
            await sink.in_flight.wait()
        for piece in pieces[2:]:
            await relay.add(piece)
        sink.gate.set()
    sink.closed = True
    assert sink.sent == [(2, "Hi"), (8, " there"), (22, "".join(pieces[2:]))]
    check_contract(sink, "".join(pieces))


async def test_a_late_piece_is_sent_after_the_interval_not_at_the_end() -> None:
    sink = Sink()
    async with relay_progress(sink.send, interval=0.05) as relay:
        await relay.add("a")
        await wait_for_sent(sink, 1)
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
            await wait_for_sent(sink, 1)
            await relay.add(" pending")
            await anyio.sleep(5)
    assert sink.sent == [(5, "first")]


async def test_cancellation_during_a_send_drops_what_is_pending() -> None:
    sink = GatedSink()
    scrub = Redactor([SECRET]).stream()
    with anyio.move_on_after(0.2):
        async with relay_progress(sink.send, scrub=scrub) as relay:
            await relay.add("first")
            await relay.add(" second")
            await sink.in_flight.wait()
            await relay.add(" pending " + SECRET[:6])
            await anyio.sleep(5)
    sink.gate.set()
    await anyio.sleep(0.05)  # room for a wrongly surviving sender to send
    # The send in flight was cancelled with the call; nothing followed it.
    assert sink.sent == [(5, "first")]


async def test_a_secret_split_across_pieces_never_reaches_the_client() -> None:
    sink = Sink()
    scrub = Redactor([SECRET]).stream()
    pieces = ["key: ", SECRET[:7], SECRET[7:15], SECRET[15:] + " done"]
    async with relay_progress(sink.send, scrub=scrub) as relay:
        for piece in pieces:
            await relay.add(piece)
            await anyio.sleep(0.01)  # each piece sent on its own, so a leak would show
    # The first 7 characters went out as ordinary text with their piece; the piece that made them a run of 12
    # was replaced, and the rest of the run after it never shown.
    check_contract(sink, "key: " + SECRET[:7] + REPLACEMENT + " done")
    assert all(SECRET[i : i + FRAGMENT] not in sink.text for i in range(len(SECRET) - FRAGMENT + 1))


@pytest.mark.parametrize("fail", [False, True], ids=["exit", "error"])
async def test_a_piece_ending_in_key_characters_is_sent_at_once(fail: bool) -> None:
    sink = Sink()
    scrub = Redactor([SECRET]).stream()
    with pytest.raises(ValueError, match="upstream broke") if fail else contextlib.nullcontext():
        async with relay_progress(sink.send, scrub=scrub) as relay:
            await relay.add("ends with " + SECRET[:4])  # could begin the key, but 4 characters are ordinary text
            assert sink.text == "ends with " + SECRET[:4]  # the first piece leaves before `add` returns
            await relay.add(" and " + SECRET[:11])
            await wait_for_sent(sink, 2)
            assert sink.text == "ends with " + SECRET[:4] + " and " + SECRET[:11]
            if fail:
                raise ValueError("upstream broke")
    check_contract(sink, "ends with " + SECRET[:4] + " and " + SECRET[:11])


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
