"""The in-memory event store stays bounded: per stream and in total, in count and in bytes, and by age; a resume
that asks for an evicted event gets a clear answer."""

from __future__ import annotations

import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from mcp.server.streamable_http import EventMessage
from mcp_types import JSONRPCError, JSONRPCMessage, JSONRPCNotification, JSONRPCResponse
from starlette.types import Receive, Scope, Send

from orq_mcp.config.settings import Settings
from orq_mcp.sandbox import EmulatorState, EmulatorThread
from orq_mcp.sandbox.faults import Fault
from orq_mcp.serving.http import memory_events
from orq_mcp.serving.http import resume as events
from orq_mcp.serving.http.event_stores import abandon_grace
from orq_mcp.serving.http.memory_events import MemoryEventStore
from orq_mcp.serving.http.resume import SessionCell
from tests.conftest import API_KEY
from tests.helpers import wait_until
from tests.mcp_wire import Session, call_and_drop, invoke, messages, resume, sse_events
from tests.processes import HttpServer, loopback_http_client, rss_bytes


def note(n: int, text: str = "") -> JSONRPCNotification:
    params = {"progressToken": "p", "progress": n, **({"message": text} if text else {})}
    return JSONRPCNotification(jsonrpc="2.0", method="notifications/progress", params=params)


def answer(request_id: int) -> JSONRPCResponse:
    return JSONRPCResponse(jsonrpc="2.0", id=request_id, result={"content": []})


@dataclass
class Replay:
    messages: list[JSONRPCMessage]
    ids: list[str | None]
    stream: str | None

    @property
    def progress(self) -> list[int]:
        return [
            m.params["progress"]
            for m in self.messages
            if isinstance(m, JSONRPCNotification) and m.params and "progress" in m.params
        ]


async def replay(store: MemoryEventStore, event_id: str) -> Replay:
    got: list[EventMessage] = []

    async def collect(message: EventMessage) -> None:
        got.append(message)

    stream = await store.replay_events_after(event_id, collect)
    return Replay([m.message for m in got], [m.event_id for m in got], stream)


async def replayed_after(store: MemoryEventStore, event_id: str) -> list[int]:
    return (await replay(store, event_id)).progress


@pytest.fixture(autouse=True)
def session() -> SessionCell:
    cell = SessionCell()
    events._current.set(cell)
    return cell


async def test_a_stream_keeps_its_latest_events() -> None:
    store = MemoryEventStore(per_stream=5, total=100)
    ids = [await store.store_event("1", note(n)) for n in range(12)]
    assert store.size == 5
    assert await replayed_after(store, ids[7]) == [8, 9, 10, 11]


async def test_all_streams_together_stay_under_the_total() -> None:
    store = MemoryEventStore(per_stream=100, total=20)
    for stream in range(10):
        for n in range(5):
            await store.store_event(str(stream), note(n))
    assert store.size == 20


async def test_old_events_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryEventStore(ttl=60)
    first = await store.store_event("1", note(0))
    now = time.monotonic()
    monkeypatch.setattr(memory_events.time, "monotonic", lambda: now + 61)
    await store.store_event("2", note(1))
    assert store.size == 1
    assert (await replay(store, first)) == Replay([], [], "1")  # unanswered: the live tail may still come


KB = 1024
PIECE = "x" * KB


async def test_a_stream_keeps_its_latest_bytes() -> None:
    store = MemoryEventStore(per_stream_bytes=100 * KB)
    for n in range(1000):  # 1 MB of progress
        await store.store_event("1", note(n, PIECE))
    assert 90 * KB < store.bytes <= 100 * KB
    assert store.size < 100


async def test_all_streams_together_stay_under_their_bytes() -> None:
    store = MemoryEventStore(per_stream_bytes=100 * KB, total_bytes=300 * KB)
    for stream in range(10):
        for n in range(50):
            await store.store_event(str(stream), note(n, PIECE))
    assert 290 * KB < store.bytes <= 300 * KB
    oldest_first = [(await replay(store, f"{stream}")).stream for stream in range(10)]
    assert oldest_first == [None] * 10  # not an event id: nothing


@pytest.mark.parametrize("per_stream", [1, 2, 100, 5000])
async def test_the_byte_count_is_what_the_store_holds(per_stream: int) -> None:
    """EVENT_OVERHEAD and STREAM_OVERHEAD are what events and streams cost beyond their JSON, so the byte caps
    bound real memory, for streams of one event (a quick call's answer) as for long ones."""
    store = MemoryEventStore(per_stream=10**6, total=10**6, per_stream_bytes=10**9, total_bytes=10**9)
    pieces = [note(n, "y" * 200) for n in range(5000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n, piece in enumerate(pieces):
            await store.store_event(str(n // per_stream), piece)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert 0.9 * store.bytes <= held <= 1.05 * store.bytes, (held, store.bytes)


async def test_a_resume_after_an_evicted_event_gets_a_notice_then_what_is_kept() -> None:
    store = MemoryEventStore(per_stream=5, total=100)
    ids = [await store.store_event("1", note(n)) for n in range(12)]
    got = await replay(store, ids[2])
    notice = got.messages[0]
    assert isinstance(notice, JSONRPCNotification)
    assert notice.method == "notifications/message"
    assert notice.params is not None
    assert notice.params["level"] == "warning"
    assert "no longer had 4 event(s) of this stream" in notice.params["data"]
    assert "the answer is complete" in notice.params["data"]
    assert got.progress == [7, 8, 9, 10, 11]
    assert got.stream == "1"  # the live tail follows
    # The notice has an id of its own: resuming after it picks up where it left off, with no second notice.
    assert got.ids[0] is not None
    assert await replayed_after(store, got.ids[0]) == [7, 8, 9, 10, 11]
    assert len((await replay(store, got.ids[0])).messages) == 5


async def test_a_resume_after_a_dropped_answer_gets_an_error_saying_to_ask_again() -> None:
    store = MemoryEventStore(per_stream=100, total=10)
    first = await store.store_event("7", note(0))
    await store.store_event("7", answer(7))
    for n in range(10):  # other streams push the answered one out
        await store.store_event("8", note(n))
    got = await replay(store, first)
    (error,) = got.messages
    assert isinstance(error, JSONRPCError)
    assert error.id == 7
    assert "no longer keeps the answer to this request" in error.error.message
    assert "Send the request again" in error.error.message
    assert got.stream is None  # nothing more will come


async def test_a_resume_from_another_session_gets_nothing_even_after_eviction(session: SessionCell) -> None:
    store = MemoryEventStore(per_stream=3, total=100)
    ids = [await store.store_event("1", note(n)) for n in range(6)]
    events._current.set(SessionCell())
    assert await replay(store, ids[0]) == Replay([], [], None)
    assert await replay(store, ids[5]) == Replay([], [], None)
    assert await replay(store, "not-an-event") == Replay([], [], None)


async def session_key_seen(query: str, bearer: str = "gateway-token") -> str | None:
    """The store key SessionScope gives a request for session "s-1" with these credentials."""
    seen: list[str | None] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(events.current_session_key())

    headers = [(b"authorization", f"Bearer {bearer}".encode()), (b"mcp-session-id", b"s-1")]
    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": headers, "query_string": query.encode()}
    await events.SessionScope(app)(scope, None, None)  # type: ignore[arg-type]
    return seen[0]


async def test_a_stream_is_bound_to_the_tenant_key_as_well_as_the_bearer() -> None:
    """Behind one gateway token (--query-config with ORQ_MCP_AUTH_TOKEN), tenants differ only by their key."""
    tenant_a = await session_key_seen("orqApiKey=sk-orq-tenant-a-0123456789")
    assert tenant_a == await session_key_seen("orqApiKey=sk-orq-tenant-a-0123456789")
    assert tenant_a != await session_key_seen("orqApiKey=sk-orq-tenant-b-0123456789")
    assert tenant_a != await session_key_seen("orqApiKey=sk-orq-tenant-a-0123456789", bearer="another-token")
    assert tenant_a != await session_key_seen("")


def test_the_abandon_grace_is_zero_unless_a_client_could_resume() -> None:
    assert abandon_grace(Settings(transport="http")) == 30.0
    assert abandon_grace(Settings(transport="http", resume_grace=5)) == 5.0
    assert abandon_grace(Settings(transport="http", event_store="off")) == 0.0
    assert abandon_grace(Settings(transport="http", stateless=True)) == 0.0
    assert abandon_grace(Settings(transport="http", workers=2)) == 0.0
    with pytest.raises(ValueError, match="less than or equal to 30"):
        Settings(transport="http", resume_grace=31)


# At default settings, through a real server: 100 answers of 1 MB each, streamed as progress to resumable sessions.

ANSWERS = 100
ANSWER_CHARS = 1_000_000  # ORQ_MCP_MAX_RESPONSE_CHARS's default: the longest answer the server lets through
SESSIONS = 4
MB = 2**20
# What a busy process adds besides the store's 32 MiB (allocator slack, buffers of the answers in flight).
# Measured on 2 shared cores: +41 MB in all; +106 MB when the store was bounded in count only (it kept every event).
RSS_SLACK = 48 * MB


async def answer_in_full(session: Session, request_id: int) -> int:
    """POST an invocation with a progress token and read its stream to the answer; the characters of progress."""
    received = 0
    async with session.http.stream("POST", session.url, json=invoke(request_id), headers=session.headers()) as response:
        assert response.status_code == 200
        async for event in sse_events(response.aiter_lines()):
            for message in messages([event]):
                if message.get("method") == "notifications/progress":
                    received += len(message["params"]["message"])
                elif message.get("id") == request_id:
                    assert "result" in message, message
                    return received
    raise AssertionError("the stream ended without the answer")


@pytest.mark.slow
async def test_100_answers_of_1_mb_grow_the_memory_store_only_to_its_bytes(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path
) -> None:
    """And a client that dropped its stream before them, resuming after them, is told its answer is gone."""
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url}  # every limit at its default
    server = HttpServer.start("http", env, tmp_path).ready()
    try:
        emulator_state.chunk_delay = 0
        emulator_state.add_fault(Fault("stream", "huge_response", size=ANSWER_CHARS, times=-1))
        async with loopback_http_client() as http:
            sessions = [Session(http, server.url) for _ in range(SESSIONS + 1)]
            for session in sessions:
                await session.open()
            await answer_in_full(sessions[0], 1000)  # warm: pools, caches, the first large buffers
            dropped = await call_and_drop(sessions[-1], 1, after_messages=2)
            assert await wait_until(lambda: all(r.finished_at for r in emulator_state.requests_for("stream")), 60)
            before = rss_bytes(server.process.pid)
            with anyio.fail_after(600):  # ~40 s on an idle machine
                async with anyio.create_task_group() as group:
                    for index, session in enumerate(sessions[:SESSIONS]):

                        async def answers(session: Session = session, first: int = index * ANSWERS) -> None:
                            for request_id in range(first, first + ANSWERS // SESSIONS):
                                assert await answer_in_full(session, request_id + 2) == ANSWER_CHARS

                        group.start_soon(answers)
            grown = rss_bytes(server.process.pid) - before
            with anyio.fail_after(30):
                late = messages(await resume(sessions[-1], server.url, dropped[-1].id or "", 1))
    finally:
        server.stop()
    print(f"\n{ANSWERS} answers of {ANSWER_CHARS:,} characters: the server grew {grown / MB:.0f} MB")
    assert grown <= memory_events.MAX_BYTES + RSS_SLACK, f"grew {grown / MB:.0f} MB"
    (error,) = late
    assert error["id"] == 1
    assert "no longer keeps the answer to this request" in error["error"]["message"]
    assert "Send the request again" in error["error"]["message"]
    assert "Traceback" not in server.stderr()
