"""The in-memory event store stays bounded: per stream, in total, and by age."""

from __future__ import annotations

import time

import pytest
from mcp.server.streamable_http import EventMessage
from mcp_types import JSONRPCNotification

from orq_mcp.serving import events
from orq_mcp.serving.events import MemoryEventStore, SessionCell, abandon_grace
from orq_mcp.serving.settings import Settings


def note(n: int) -> JSONRPCNotification:
    return JSONRPCNotification(jsonrpc="2.0", method="notifications/progress", params={"progress": n})


async def replayed_after(store: MemoryEventStore, event_id: str) -> list[int]:
    got: list[EventMessage] = []

    async def collect(message: EventMessage) -> None:
        got.append(message)

    await store.replay_events_after(event_id, collect)
    return [m.message.params["progress"] for m in got]  # type: ignore[union-attr, index]


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
    assert await replayed_after(store, ids[2]) == []  # forgotten: nothing to resume from


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
    monkeypatch.setattr(events.time, "monotonic", lambda: now + 61)
    await store.store_event("2", note(1))
    assert store.size == 1
    assert await replayed_after(store, first) == []


def test_the_abandon_grace_is_zero_unless_a_client_could_resume() -> None:
    assert abandon_grace(Settings(transport="http")) == 30.0
    assert abandon_grace(Settings(transport="http", resume_grace=5)) == 5.0
    assert abandon_grace(Settings(transport="http", event_store="off")) == 0.0
    assert abandon_grace(Settings(transport="http", stateless=True)) == 0.0
    assert abandon_grace(Settings(transport="http", workers=2)) == 0.0
    with pytest.raises(ValueError, match="less than or equal to 30"):
        Settings(transport="http", resume_grace=31)
