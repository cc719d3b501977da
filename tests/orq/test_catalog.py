"""Unit tests of orq_mcp/orq/catalog.py: the TTL cache of a workspace's deployments (and prompts).

A fake `fetch_page` serves an in-memory list with orq's cursor rules (the cursor is the last item's id),
and a fake clock stands in for time, so nothing here waits or touches the network.
"""

from __future__ import annotations

import anyio
import pytest

from orq_mcp.orq import catalog as catalog_module
from orq_mcp.orq.catalog import MISS_REFRESH_INTERVAL, Catalog
from orq_mcp.orq.errors import BodyTooLargeError, OrqConnectionError
from orq_mcp.orq.models import Deployment, Page
from tests.helpers import Clock

TTL = 60.0


def deployment(n: int) -> Deployment:
    return Deployment(id=f"id-{n}", key=f"key-{n}")


class Upstream:
    """orq's list endpoint over `items`: pages of `size` after the item whose id is the cursor."""

    def __init__(self, items: list[Deployment]) -> None:
        self.items = items
        self.calls: list[tuple[str | None, int]] = []

    async def __call__(self, cursor: str | None, size: int) -> Page[Deployment]:
        self.calls.append((cursor, size))
        start = 0 if cursor is None else [d.id for d in self.items].index(cursor) + 1
        data = self.items[start : start + size]
        return Page[Deployment](data=data, has_more=start + size < len(self.items))


def catalog_of(fetch: Upstream, clock: Clock, page_size: int = 50, ttl: float = TTL) -> Catalog[Deployment]:
    return Catalog(fetch, lambda d: d.key, page_size=page_size, ttl=ttl, clock=clock)


def keys(items: list[Deployment]) -> list[str]:
    return [d.key for d in items]


# -- time to live -----------------------------------------------------------------------------------------------


async def test_the_list_is_fetched_once_within_the_ttl() -> None:
    upstream, clock = Upstream([deployment(1), deployment(2)]), Clock()
    catalog = catalog_of(upstream, clock)
    first = await catalog.all()
    clock.now += TTL - 0.001
    second = await catalog.all()
    assert keys(first) == keys(second) == ["key-1", "key-2"]
    assert len(upstream.calls) == 1


async def test_the_list_is_fetched_again_once_the_ttl_has_passed() -> None:
    upstream, clock = Upstream([deployment(1)]), Clock()
    catalog = catalog_of(upstream, clock)
    await catalog.all()
    upstream.items.append(deployment(2))
    clock.now += TTL
    assert keys(await catalog.all()) == ["key-1", "key-2"]
    assert len(upstream.calls) == 2


async def test_shown_is_the_last_list_however_old_without_fetching() -> None:
    """What callers were last shown: the live lists compare orq's list with it, so it must not be refetched."""
    upstream, clock = Upstream([deployment(1)]), Clock()
    catalog = catalog_of(upstream, clock)
    await catalog.all()
    upstream.items.append(deployment(2))
    clock.now += TTL * 10
    assert keys(await catalog.shown()) == ["key-1"]
    assert len(upstream.calls) == 1
    assert keys(await catalog.all()) == ["key-1", "key-2"]  # expired: the next plain read fetches
    assert keys(await catalog.shown()) == ["key-1", "key-2"]


async def test_shown_fetches_a_list_never_fetched() -> None:
    upstream, clock = Upstream([deployment(1)]), Clock()
    assert keys(await catalog_of(upstream, clock).shown()) == ["key-1"]
    assert len(upstream.calls) == 1


async def test_refresh_fetches_even_within_the_ttl() -> None:
    upstream, clock = Upstream([deployment(1)]), Clock()
    catalog = catalog_of(upstream, clock)
    await catalog.all()
    upstream.items.append(deployment(2))
    assert keys(await catalog.all(refresh=True)) == ["key-1", "key-2"]
    assert len(upstream.calls) == 2


async def test_the_ttl_counts_from_the_last_refresh() -> None:
    upstream, clock = Upstream([deployment(1)]), Clock()
    catalog = catalog_of(upstream, clock)
    await catalog.all()
    clock.now += TTL / 2
    await catalog.all(refresh=True)
    clock.now += TTL / 2 + 1  # past the first fetch's expiry, not the refresh's
    await catalog.all()
    assert len(upstream.calls) == 2


async def test_a_zero_ttl_fetches_on_every_call() -> None:
    upstream, clock = Upstream([deployment(1)]), Clock()
    catalog = catalog_of(upstream, clock, ttl=0)
    await catalog.all()
    await catalog.all()
    assert len(upstream.calls) == 2


async def test_concurrent_callers_share_one_fetch() -> None:
    gate = anyio.Event()
    upstream = Upstream([deployment(1)])

    async def slow(cursor: str | None, size: int) -> Page[Deployment]:
        await gate.wait()
        return await upstream(cursor, size)

    catalog = Catalog(slow, lambda d: d.key, page_size=50, ttl=TTL, clock=Clock())
    results: list[list[Deployment]] = []

    async def call() -> None:
        results.append(await catalog.all())

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(call)
            await anyio.wait_all_tasks_blocked()  # one caller in the fetch, four waiting for it
            gate.set()
    assert len(upstream.calls) == 1
    assert [keys(r) for r in results] == [["key-1"]] * 5


async def test_a_failed_first_fetch_is_tried_again_by_the_next_caller() -> None:
    upstream, clock = Upstream([deployment(1)]), Clock()
    failures = [OrqConnectionError("down", request_sent=False)]

    async def flaky(cursor: str | None, size: int) -> Page[Deployment]:
        if failures:
            raise failures.pop()
        return await upstream(cursor, size)

    catalog = Catalog(flaky, lambda d: d.key, page_size=50, ttl=TTL, clock=clock)
    with pytest.raises(OrqConnectionError):
        await catalog.all()
    assert keys(await catalog.all()) == ["key-1"]


async def test_a_failed_refresh_keeps_the_previous_list() -> None:
    upstream, clock = Upstream([deployment(1)]), Clock()
    failing = False

    async def flaky(cursor: str | None, size: int) -> Page[Deployment]:
        if failing:
            raise OrqConnectionError("down", request_sent=False)
        return await upstream(cursor, size)

    catalog = Catalog(flaky, lambda d: d.key, page_size=50, ttl=TTL, clock=clock)
    await catalog.all()
    failing = True
    with pytest.raises(OrqConnectionError):
        await catalog.all(refresh=True)
    assert keys(await catalog.all()) == ["key-1"]


# -- get: a miss refreshes, at most once per MISS_REFRESH_INTERVAL ----------------------------------------------


async def test_get_finds_an_item_by_its_name_without_refetching() -> None:
    upstream, clock = Upstream([deployment(1), deployment(2)]), Clock()
    catalog = catalog_of(upstream, clock)
    await catalog.all()
    clock.now += MISS_REFRESH_INTERVAL * 2
    found = await catalog.get("key-2")
    assert found is not None
    assert found.id == "id-2"
    assert len(upstream.calls) == 1


async def test_get_looks_items_up_by_name_not_by_id() -> None:
    catalog = catalog_of(Upstream([deployment(1)]), Clock())
    assert await catalog.get("id-1") is None


async def test_a_miss_right_after_a_fetch_does_not_fetch_again() -> None:
    upstream = Upstream([deployment(1)])
    catalog = catalog_of(upstream, Clock())
    assert await catalog.get("key-404") is None
    assert len(upstream.calls) == 1


async def test_a_miss_finds_an_item_created_since_the_last_fetch() -> None:
    upstream, clock = Upstream([deployment(1)]), Clock()
    catalog = catalog_of(upstream, clock)
    await catalog.all()
    upstream.items.insert(0, deployment(2))
    clock.now += MISS_REFRESH_INTERVAL
    found = await catalog.get("key-2")
    assert found is not None
    assert found.id == "id-2"
    assert len(upstream.calls) == 2


async def test_misses_refresh_at_most_once_per_interval() -> None:
    upstream, clock = Upstream([deployment(1)]), Clock()
    catalog = catalog_of(upstream, clock)
    await catalog.all()
    clock.now += MISS_REFRESH_INTERVAL
    assert await catalog.get("unknown-a") is None  # refreshes
    for n in range(10):  # different unknown names within the interval: no refresh each
        clock.now += (MISS_REFRESH_INTERVAL - 0.01) / 10
        assert await catalog.get(f"unknown-{n}") is None
    assert len(upstream.calls) == 2
    clock.now += 0.01
    assert await catalog.get("unknown-b") is None
    assert len(upstream.calls) == 3


async def test_a_miss_after_the_ttl_fetches_only_once() -> None:
    upstream, clock = Upstream([deployment(1)]), Clock()
    catalog = catalog_of(upstream, clock)
    await catalog.all()
    clock.now += TTL
    assert await catalog.get("key-404") is None  # the expired list is fetched; the miss adds no second fetch
    assert len(upstream.calls) == 2


# -- paging through orq's list ------------------------------------------------------------------------------------


async def test_paging_follows_has_more_with_the_last_items_id() -> None:
    upstream = Upstream([deployment(n) for n in range(7)])
    catalog = catalog_of(upstream, Clock(), page_size=3)
    items = await catalog.all()
    assert keys(items) == [f"key-{n}" for n in range(7)]
    assert upstream.calls == [(None, 3), ("id-2", 3), ("id-5", 3)]
    assert catalog.complete is True


async def test_an_empty_workspace_is_one_call_and_complete() -> None:
    upstream = Upstream([])
    catalog = catalog_of(upstream, Clock())
    assert await catalog.all() == []
    assert upstream.calls == [(None, 50)]
    assert catalog.complete is True


async def test_an_empty_page_that_claims_more_ends_the_list() -> None:
    calls: list[str | None] = []

    async def empty_but_more(cursor: str | None, size: int) -> Page[Deployment]:
        calls.append(cursor)
        return Page[Deployment](data=[], has_more=True)

    catalog = Catalog(empty_but_more, lambda d: d.key, page_size=50, clock=Clock())
    assert await catalog.all() == []
    assert calls == [None]  # there is no cursor to follow


async def test_an_empty_page_that_claims_more_leaves_the_catalog_incomplete() -> None:
    async def more_after_one(cursor: str | None, size: int) -> Page[Deployment]:
        data = [deployment(1)] if cursor is None else []
        return Page[Deployment](data=data, has_more=True)

    catalog = Catalog(more_after_one, lambda d: d.key, page_size=1, clock=Clock())
    assert keys(await catalog.all()) == ["key-1"]
    assert catalog.complete is False


async def test_one_name_keeps_its_first_newest_item() -> None:
    newest, older = Deployment(id="id-new", key="dup"), Deployment(id="id-old", key="dup")
    upstream = Upstream([newest, deployment(1), older])
    catalog = catalog_of(upstream, Clock(), page_size=2)
    items = await catalog.all()
    assert [(d.key, d.id) for d in items] == [("dup", "id-new"), ("key-1", "id-1")]
    assert catalog.complete is True


async def test_a_cursor_pointing_back_stops_the_refresh_incomplete() -> None:
    calls: list[str | None] = []
    pages = {
        None: Page[Deployment](data=[deployment(1), deployment(2)], has_more=True),
        "id-2": Page[Deployment](data=[deployment(3), deployment(4)], has_more=True),
        "id-4": Page[Deployment](data=[deployment(1), deployment(2)], has_more=True),  # back to the start
    }

    async def looping(cursor: str | None, size: int) -> Page[Deployment]:
        calls.append(cursor)
        return pages[cursor]

    catalog = Catalog(looping, lambda d: d.key, page_size=2, clock=Clock())
    with anyio.fail_after(5):
        items = await catalog.all()
    assert keys(items) == ["key-1", "key-2", "key-3", "key-4"]
    assert calls == [None, "id-2", "id-4"]
    assert catalog.complete is False


async def test_a_page_repeating_itself_stops_after_the_second_request() -> None:
    calls: list[str | None] = []

    async def same_page(cursor: str | None, size: int) -> Page[Deployment]:
        calls.append(cursor)
        return Page[Deployment](data=[deployment(1)], has_more=True)

    catalog = Catalog(same_page, lambda d: d.key, page_size=1, clock=Clock())
    with anyio.fail_after(5):
        assert keys(await catalog.all()) == ["key-1"]
    assert calls == [None, "id-1"]
    assert catalog.complete is False


async def test_an_endless_list_stops_after_max_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog_module, "MAX_PAGES", 4)
    calls: list[str | None] = []

    async def endless(cursor: str | None, size: int) -> Page[Deployment]:
        calls.append(cursor)
        # Fresh ids every page, but always the same name: no loop to detect, nothing new to keep.
        return Page[Deployment](data=[Deployment(id=f"id-{len(calls)}", key="same")], has_more=True)

    catalog = Catalog(endless, lambda d: d.key, page_size=1, clock=Clock())
    assert keys(await catalog.all()) == ["same"]
    assert len(calls) == 4
    assert catalog.complete is False


async def test_complete_comes_back_when_a_later_refresh_reaches_the_end() -> None:
    looping = True
    upstream = Upstream([deployment(1)])

    async def fetch(cursor: str | None, size: int) -> Page[Deployment]:
        if looping:
            return Page[Deployment](data=[deployment(1)], has_more=True)
        return await upstream(cursor, size)

    catalog = Catalog(fetch, lambda d: d.key, page_size=1, clock=Clock())
    await catalog.all()
    assert catalog.complete is False
    looping = False
    await catalog.all(refresh=True)
    assert catalog.complete is True


# -- the item cap -------------------------------------------------------------------------------------------------


async def test_a_workspace_larger_than_the_cap_is_cut_and_incomplete(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog_module, "MAX_ITEMS", 5)
    upstream = Upstream([deployment(n) for n in range(9)])
    catalog = catalog_of(upstream, Clock(), page_size=3)
    items = await catalog.all()
    assert keys(items) == [f"key-{n}" for n in range(5)]  # the first (newest) five
    assert len(upstream.calls) == 2  # stopped as soon as the cap was passed
    assert catalog.complete is False


async def test_reaching_the_cap_with_more_to_come_asks_for_no_further_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog_module, "MAX_ITEMS", 4)
    upstream = Upstream([deployment(n) for n in range(6)])
    catalog = catalog_of(upstream, Clock(), page_size=2)
    assert len(await catalog.all()) == 4
    assert len(upstream.calls) == 2
    assert catalog.complete is False


async def test_a_workspace_of_exactly_the_cap_is_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog_module, "MAX_ITEMS", 4)
    upstream = Upstream([deployment(n) for n in range(4)])
    catalog = catalog_of(upstream, Clock(), page_size=2)
    assert len(await catalog.all()) == 4
    assert catalog.complete is True


async def test_a_miss_in_an_incomplete_catalog_still_refreshes_only_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog_module, "MAX_ITEMS", 2)
    upstream, clock = Upstream([deployment(n) for n in range(5)]), Clock()
    catalog = catalog_of(upstream, clock, page_size=2)
    await catalog.all()
    assert len(upstream.calls) == 1  # the cap is reached on the first page
    clock.now += MISS_REFRESH_INTERVAL
    assert await catalog.get("key-4") is None  # beyond the cap
    assert await catalog.get("key-3") is None
    assert len(upstream.calls) == 2
    assert catalog.complete is False


# -- pages too large to read --------------------------------------------------------------------------------------


async def test_a_page_too_large_is_asked_for_again_at_half_the_size() -> None:
    upstream = Upstream([deployment(n) for n in range(5)])
    sizes: list[int] = []

    async def heavy(cursor: str | None, size: int) -> Page[Deployment]:
        sizes.append(size)
        if size > 2:
            raise BodyTooLargeError("too large")
        return await upstream(cursor, size)

    catalog = Catalog(heavy, lambda d: d.key, page_size=8, clock=Clock())
    assert keys(await catalog.all()) == [f"key-{n}" for n in range(5)]
    assert sizes == [8, 4, 2, 2, 2]
    sizes.clear()
    await catalog.all(refresh=True)
    assert sizes == [2, 2, 2]  # the size that fitted is kept for the next refresh


async def test_a_single_item_too_large_is_an_error() -> None:
    sizes: list[int] = []

    async def always_too_large(cursor: str | None, size: int) -> Page[Deployment]:
        sizes.append(size)
        raise BodyTooLargeError("too large")

    catalog = Catalog(always_too_large, lambda d: d.key, page_size=4, clock=Clock())
    with pytest.raises(BodyTooLargeError):
        await catalog.all()
    assert sizes == [4, 2, 1]
