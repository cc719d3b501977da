"""Issue #11, items 7 (pool share), 8-11: a misbehaving orq must not hang, exhaust or crash the server.

Each test drives a hostile upstream on loopback (tests/hostile.py) or the emulator's faults, bounded in
bytes and time; the event-loop stall is measured by a ticker task, never asserted as a duration of work.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR
from pydantic import SecretStr

from orq_mcp.config.settings import Settings
from orq_mcp.orq.catalog import MAX_ITEMS, Catalog, deployment_catalog
from orq_mcp.orq.client import DeferredTransport, OrqClient, Timeouts, create_http_client
from orq_mcp.orq.errors import InvalidResponseError, InvocationTimeoutError, TooManyStreamsError
from orq_mcp.orq.models import Deployment
from orq_mcp.orq.slots import StreamSlots
from orq_mcp.orq.streaming import _ToolCallBuilder
from orq_mcp.sandbox import EmulatorState, EmulatorThread, Fault, sample_workspace
from orq_mcp.surface.tool_errors import Subject, explain
from tests.conftest import API_KEY, FAST_RETRY, served
from tests.helpers import error_text, wait_until
from tests.hostile import Reply, Request, Upstream, hostile_upstream, stall_meter
from tests.processes import server_env

CHUNK = b'data: {"choices":[{"index":0,"message":{"role":"assistant","content":"a"}}]}\n\n'
DEEP = b"[" * 100_000 + b"]" * 100_000
EMPTY_PAGE = b'{"object":"list","data":[],"has_more":false}'
# What the event loop may lose in one go while a hostile body is read; before the fixes: seconds.
MAX_STALL = 0.3
TIMEOUTS = Timeouts(connect=2, read=5, stream=5, invoke=30)


def sse(*pieces: bytes | float) -> Reply:
    return Reply(content_type="text/event-stream", body=pieces)


def routes(**replies: Reply) -> Callable[[Request], Reply]:
    """A handler answering by path (`deployments`, `stream`), with an empty list for any other list."""

    def handle(request: Request) -> Reply:
        name = request.path.removeprefix("/v2/").replace("deployments/", "")
        return replies.get(name) or Reply(body=[EMPTY_PAGE])

    return handle


@asynccontextmanager
async def orq_at(upstream: Upstream, timeouts: Timeouts = TIMEOUTS) -> AsyncIterator[OrqClient]:
    async with create_http_client(upstream.base_url, timeouts) as http:
        yield OrqClient(http, API_KEY, timeouts=timeouts, retry=FAST_RETRY)


def server_settings(upstream: Upstream, **extra: object) -> Settings:
    return Settings(**{"api_key": SecretStr(API_KEY), "base_url": upstream.base_url, "cache_ttl": 0, **extra})


# -- 8. deadlines ---------------------------------------------------------------------------------------------


def trickle() -> Iterator[bytes | float]:
    """Three chunks, then one byte every 50 ms: never silent long enough for the stream timeout."""
    yield CHUNK * 3
    for byte in CHUNK * 100:
        yield bytes([byte])
        yield 0.05


async def test_a_trickling_stream_meets_the_invocation_deadline() -> None:
    with hostile_upstream(lambda _: Reply(content_type="text/event-stream", body=trickle())) as upstream:
        timeouts = Timeouts(connect=2, read=2, stream=1, invoke=1.0)
        async with orq_at(upstream, timeouts) as orq:
            with anyio.fail_after(10), pytest.raises(InvocationTimeoutError) as caught:
                await orq.invoke({"key": "slow"})
    assert caught.value.partial_text == "aaa"
    assert "1-second limit" in caught.value.message


async def test_the_deadline_tool_error_keeps_the_text_so_far() -> None:
    with hostile_upstream(routes(stream=Reply(content_type="text/event-stream", body=trickle()))) as upstream:
        async with (
            served(server_settings(upstream, invoke_timeout=1.0, stream_timeout=1.0)) as server,
            Client(server) as client,
        ):
            with anyio.fail_after(10):
                result = await client.call_tool("invoke_deployment", {"key": "slow"})
    text = error_text(result)
    assert "limit for one call" in text
    assert "ORQ_MCP_INVOKE_TIMEOUT" in text
    assert text.endswith("Text generated before the failure (3 characters):\naaa")


async def test_the_deadline_over_stdio_from_the_environment(tmp_path: Path) -> None:
    """The real process, configured by ORQ_MCP_INVOKE_TIMEOUT, stops the trickle and keeps serving."""
    settings = {"ORQ_MCP_INVOKE_TIMEOUT": "1", "ORQ_STREAM_TIMEOUT": "1", "ORQ_MCP_CACHE_TTL": "0"}
    with hostile_upstream(routes(stream=Reply(content_type="text/event-stream", body=trickle()))) as upstream:
        env = server_env(upstream.base_url, **settings)
        params = StdioServerParameters(command=sys.executable, args=["-m", "orq_mcp"], env=env)
        with (tmp_path / "stderr.log").open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                with anyio.fail_after(20):
                    result = await client.call_tool("invoke_deployment", {"key": "slow"})
                    listed = await client.call_tool("list_deployments", {})
    assert "1-second limit" in error_text(result)
    assert error_text(result).endswith("\naaa")
    assert not listed.is_error
    stderr = (tmp_path / "stderr.log").read_text()
    assert "Traceback" not in stderr
    assert API_KEY not in stderr


def test_the_invocation_deadline_is_a_setting() -> None:
    settings = Settings.load({"ORQ_MCP_INVOKE_TIMEOUT": "90"})
    assert settings.timeouts.invoke == 90
    assert Settings().timeouts.invoke == 600


# -- 9. size and CPU bounds -----------------------------------------------------------------------------------


def endless_line() -> Iterator[bytes]:
    yield b"data: "
    for _ in range(800):  # 50 MB, no newline
        yield b"x" * 65536


async def test_an_endless_sse_line_is_refused_early_without_stalling_the_loop() -> None:
    with hostile_upstream(lambda _: Reply(content_type="text/event-stream", body=endless_line())) as upstream:
        async with orq_at(upstream) as orq, stall_meter() as stall:
            with anyio.fail_after(30), pytest.raises(InvalidResponseError, match="stream event larger"):
                await orq.invoke({"key": "huge"})
    assert stall[0] < MAX_STALL


def big_page(count: int) -> bytes:
    items = [
        {
            "id": f"dep_{i:06d}",
            "key": f"key-{i:06d}",
            "description": "A deployment of a very large workspace",
            "prompt_config": {"model": "gpt-4o-mini", "provider": "openai", "messages": [{"role": "system"}]},
        }
        for i in range(count)
    ]
    return json.dumps({"object": "list", "data": items, "has_more": False}).encode()


def pieces_of(body: bytes, size: int = 65536) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


async def test_a_page_of_100000_deployments_is_refused_without_stalling_the_loop() -> None:
    page = big_page(100_000)
    assert len(page) > 15_000_000  # the attack: below the old 20 MB body cap, so it used to be parsed
    with hostile_upstream(routes(deployments=Reply(body=pieces_of(page)))) as upstream:
        async with orq_at(upstream) as orq, stall_meter() as stall:
            with anyio.fail_after(30), pytest.raises(InvalidResponseError, match="larger than 4 MB"):
                await orq.list_deployments(limit=50)
    assert stall[0] < MAX_STALL
    assert upstream.count("/v2/deployments") == 1  # a body too large would come back as large: not retried


async def test_a_small_page_with_too_many_items_is_refused_before_validation() -> None:
    tiny = json.dumps({"data": [{"id": f"d{i}", "key": f"k{i}"} for i in range(100_000)], "has_more": False})
    assert len(tiny) < 4 * 1024 * 1024
    with hostile_upstream(routes(deployments=Reply(body=pieces_of(tiny.encode())))) as upstream:
        async with orq_at(upstream) as orq, stall_meter() as stall:
            refusal = "100,000 items on a page of at most 50"
            with anyio.fail_after(30), pytest.raises(InvalidResponseError, match=refusal):
                await orq.list_deployments(limit=50)
    assert stall[0] < MAX_STALL


# -- 10. pagination -------------------------------------------------------------------------------------------


def page_of(ids: range, has_more: bool = True) -> Reply:
    data = [{"id": f"dep_{i:06d}", "key": f"key-{i:06d}"} for i in ids]
    return Reply(body=[json.dumps({"object": "list", "data": data, "has_more": has_more}).encode()])


def looping_pages(request: Request) -> Reply:
    """Page A, then page B, whose last cursor leads back to page A."""
    if request.path != "/v2/deployments":
        return Reply(body=[EMPTY_PAGE])
    return page_of(range(50, 100)) if request.query.get("starting_after") == "dep_000049" else page_of(range(50))


def endless_workspace(request: Request) -> Reply:
    """100,000 deployments, 50 a page."""
    if request.path != "/v2/deployments":
        return Reply(body=[EMPTY_PAGE])
    after = request.query.get("starting_after")
    start = int(after.removeprefix("dep_")) + 1 if after else 0
    end = min(start + 50, 100_000)
    return page_of(range(start, end), has_more=end < 100_000)


@asynccontextmanager
async def catalog_at(handler: Callable[[Request], Reply]) -> AsyncIterator[tuple[Upstream, Catalog[Deployment]]]:
    with hostile_upstream(handler) as upstream:
        async with orq_at(upstream) as orq:
            yield upstream, deployment_catalog(orq, ttl=60)


async def test_a_cursor_loop_ends_the_catalog_which_says_it_is_incomplete() -> None:
    async with catalog_at(looping_pages) as (upstream, catalog):
        with anyio.fail_after(20):
            items = await catalog.all()
    assert [d.key for d in items] == [f"key-{i:06d}" for i in range(100)]
    assert catalog.complete is False
    assert upstream.count("/v2/deployments") == 3  # A, B, and A again: the loop is seen there


async def test_resources_list_over_a_cursor_loop_comes_to_an_end() -> None:
    with hostile_upstream(looping_pages) as upstream:
        async with served(server_settings(upstream)) as server, Client(server) as client:
            names: list[str] = []
            cursor: str | None = None
            for _ in range(20):  # the old answer repeated the same nextCursor forever
                with anyio.fail_after(20):
                    result = await client.list_resources(cursor=cursor)
                names.extend(r.name for r in result.resources)
                cursor = result.next_cursor
                if cursor is None:
                    break
    assert cursor is None
    assert sorted(names) == [f"key-{i:06d}" for i in range(100)]


def duplicated_key(request: Request) -> Reply:
    """250 deployments in pages of 50, where the 200th reuses the 100th's key (with its own id)."""
    if request.path != "/v2/deployments":
        return Reply(body=[EMPTY_PAGE])
    after = request.query.get("starting_after")
    start = int(after.removeprefix("dep_")) + 1 if after else 0
    data = [{"id": f"dep_{i:06d}", "key": f"key-{99 if i == 199 else i:06d}"} for i in range(start, start + 50)]
    return Reply(body=[json.dumps({"data": data, "has_more": start + 50 < 250}).encode()])


async def test_resources_list_over_a_duplicated_key_comes_to_an_end() -> None:
    with hostile_upstream(duplicated_key) as upstream:
        async with served(server_settings(upstream)) as server, Client(server) as client:
            cursors: list[str | None] = [None]
            for _ in range(10):  # a key standing for two items sent the walk back to the same page for ever
                with anyio.fail_after(20):
                    result = await client.list_resources(cursor=cursors[-1])
                cursors.append(result.next_cursor)
                if result.next_cursor is None:
                    break
    assert cursors == [None, "key-000099", "key-000200", None]


async def test_a_workspace_larger_than_the_cache_is_marked_incomplete() -> None:
    async with catalog_at(endless_workspace) as (upstream, catalog):
        with anyio.fail_after(60):
            items = await catalog.all()
            missing = await catalog.get(f"key-{MAX_ITEMS + 1:06d}")
    assert len(items) == MAX_ITEMS
    assert missing is None
    assert catalog.complete is False
    assert upstream.count("/v2/deployments") == MAX_ITEMS // 50  # not one page more


def heavy_workspace(request: Request) -> Reply:
    """30 deployments of 200 kB each (long prompts): 50 of them would make a 6 MB page."""
    if request.path != "/v2/deployments":
        return Reply(body=[EMPTY_PAGE])
    after = request.query.get("starting_after")
    start = int(after.removeprefix("dep_")) + 1 if after else 0
    end = min(start + int(request.query["limit"]), 30)
    data = [{"id": f"dep_{i:06d}", "key": f"key-{i:06d}", "description": "x" * 200_000} for i in range(start, end)]
    return Reply(body=pieces_of(json.dumps({"data": data, "has_more": end < 30}).encode()))


async def test_a_catalog_of_long_deployments_asks_for_smaller_pages() -> None:
    async with catalog_at(heavy_workspace) as (upstream, catalog):
        with anyio.fail_after(30):
            items = await catalog.all()
            again = await catalog.all(refresh=True)
    assert len(items) == len(again) == 30
    assert catalog.complete is True
    sizes = [r.query["limit"] for r in upstream.requests]
    assert sizes == ["50", "25", "12", "12", "12", "12", "12", "12"]  # the size that fits is kept for the refresh


async def test_reading_past_the_cached_part_does_not_claim_not_found() -> None:
    with hostile_upstream(endless_workspace) as upstream:
        async with served(server_settings(upstream, cache_ttl=60)) as server, Client(server) as client:
            with anyio.fail_after(60), pytest.raises(MCPError) as caught:
                await client.read_resource(f"orq://deployments/key-{MAX_ITEMS + 1:06d}/prompt_config")
            cached = await client.read_resource("orq://deployments/key-000001/prompt_config")
    assert "may still exist" in caught.value.message
    assert "not found" not in caught.value.message
    assert cached.contents


# -- 11. deep JSON --------------------------------------------------------------------------------------------


async def test_a_deep_5xx_body_is_an_invalid_response_and_is_retried() -> None:
    with hostile_upstream(routes(deployments=Reply(status=500, body=[DEEP]))) as upstream:
        async with orq_at(upstream) as orq:
            with pytest.raises(InvalidResponseError, match="nested too deeply"):
                await orq.list_deployments()
    assert upstream.count("/v2/deployments") == 3


async def test_a_deep_page_is_an_invalid_response_and_is_retried() -> None:
    with hostile_upstream(routes(deployments=Reply(body=[b'{"data":' + DEEP + b"}"]))) as upstream:
        async with orq_at(upstream) as orq:
            with pytest.raises(InvalidResponseError):
                await orq.list_deployments()
    assert upstream.count("/v2/deployments") == 3


async def test_a_deep_stream_chunk_is_an_invalid_response_with_the_text_so_far() -> None:
    deep_chunk = b'data: {"usage":' + DEEP + b"}\n\n"
    with hostile_upstream(routes(stream=sse(CHUNK, deep_chunk))) as upstream:
        async with orq_at(upstream) as orq:
            with pytest.raises(InvalidResponseError) as caught:
                await orq.invoke({"key": "deep"})
    assert caught.value.partial_text == "a"
    assert upstream.count("/v2/deployments/stream") == 1  # an invocation is paid for: never retried


async def test_a_deep_error_on_opening_a_stream_is_not_retried() -> None:
    with hostile_upstream(routes(stream=Reply(status=502, body=[DEEP]))) as upstream:
        async with orq_at(upstream) as orq:
            with pytest.raises(InvalidResponseError):
                await orq.invoke({"key": "deep"})
    assert upstream.count("/v2/deployments/stream") == 1


async def test_resources_list_answers_a_deep_5xx_with_an_internal_error(caplog: pytest.LogCaptureFixture) -> None:
    with hostile_upstream(routes(deployments=Reply(status=500, body=[DEEP]))) as upstream:
        async with served(server_settings(upstream)) as server, Client(server) as client:
            with pytest.raises(MCPError) as caught:
                await client.list_resources()
    assert caught.value.code == INTERNAL_ERROR
    assert "nested too deeply" in caught.value.message
    assert upstream.count("/v2/deployments") == 3  # retried like any malformed read
    assert not [r for r in caplog.records if r.exc_info]  # an upstream's garbage is no crash: no traceback


def test_deep_tool_call_arguments_are_kept_as_text() -> None:
    deep = "[" * 100_000
    builder = _ToolCallBuilder(name="f")
    builder.arguments.add(deep, final=False)
    assert builder.result()["arguments"] == deep


# -- 7. the pool: streams get a bounded share -----------------------------------------------------------------

OTHER_KEY = "sk-orq-second-tenant-1f2e3d4c5b6a"


async def test_invocations_get_a_fair_bounded_share_of_the_pool(
    emulator: EmulatorThread, emulator_state: EmulatorState
) -> None:
    emulator_state.add_workspace(OTHER_KEY, sample_workspace())
    emulator_state.add_fault(Fault("stream", "hang", times=-1))  # every invocation holds its connection
    timeouts = Timeouts(connect=2, read=2, stream=30)
    # A pool of 8: without a cap, 10 hanging invocations take every connection and reads time out.
    transport = DeferredTransport(limits=httpx2.Limits(max_connections=8, max_keepalive_connections=4))
    refusals: list[str] = []

    async def invoke(orq: OrqClient) -> None:
        try:
            await orq.invoke({"key": "faq-assistant"})
        except TooManyStreamsError as exc:
            refusals.append(exc.message)

    async with create_http_client(emulator.base_url, timeouts, transport=transport) as http:
        mine = OrqClient(http, API_KEY, timeouts=timeouts, streams=StreamSlots(total=5, per_key=3, wait=0.2))
        theirs = mine.with_api_key(OTHER_KEY)
        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(invoke, mine)
            assert await wait_until(lambda: len(refusals) == 3, 5)
            for _ in range(4):
                tg.start_soon(invoke, theirs)
            assert await wait_until(lambda: len(refusals) == 5, 5)
            assert len(emulator_state.requests_for("stream")) == 5  # 3 of mine, 2 of theirs: the global cap
            with anyio.fail_after(5):  # reads still find connections
                assert (await mine.list_deployments()).data
                assert (await theirs.get_config({"key": "faq-assistant"})).model
            tg.cancel_scope.cancel()
    assert refusals[:3] == [refusals[0]] * 3
    assert "for this API key (the limit is 3)" in refusals[0]
    assert "maximum of 5 concurrent invocations" in refusals[-1]
    assert all("retry shortly" in r for r in refusals)


async def test_a_refused_invocation_tells_the_agent_to_retry_shortly() -> None:
    slots = StreamSlots(total=2, per_key=1, wait=0.05)
    async with slots.hold("a"):
        with pytest.raises(TooManyStreamsError) as caught:
            async with slots.hold("a"):
                pass
        async with slots.hold("b"):  # another key still has its share
            assert slots.in_use == 2
    assert slots.in_use == 0
    message = explain(caught.value, Subject(name="faq-assistant"))
    assert message == (
        "Too many concurrent invocations for this API key (the limit is 1); retry shortly, once some have finished."
    )


def test_the_stream_caps_are_settings_below_the_pool_size() -> None:
    slots = Settings.load({"ORQ_MCP_MAX_STREAMS": "40", "ORQ_MCP_MAX_STREAMS_PER_KEY": "10"}).stream_slots()
    assert (slots.total, slots.per_key) == (40, 10)
    with pytest.raises(ValueError, match="ORQ_MCP_MAX_STREAMS"):
        Settings.load({"ORQ_MCP_MAX_STREAMS": "200"})
