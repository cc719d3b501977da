"""Resumable streams shared by replicas through a real Redis: a client resumes on a replica it never spoke to.

Two replicas share one redis-server (started here). A handshake-era client starts a generation on replica A,
drops its connection, and resumes with Last-Event-ID on replica B, which replays from Redis and follows the
stream to its answer. When A dies instead, B replays what A kept and ends the stream after the grace period.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import httpx2
import pytest

from orq_mcp.sandbox import EmulatorState, EmulatorThread
from tests.conftest import API_KEY
from tests.mcp_wire import Session, Sse, assert_every_piece_once, call_and_drop, messages, resume
from tests.processes import HttpServer, loopback_http_client, server_group
from tests.scale_tools import redis_server
from tests.serving.test_exposure import TENANT_B_KEY, TOKEN

pytestmark = pytest.mark.asyncio(loop_scope="module")

CHUNK_DELAY = 0.03
GRACE = 2  # seconds a resumed, silent stream is followed before it is ended unanswered


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@contextmanager
def two_replicas(
    env: dict[str, str], redis_url: str, tmp_path_factory: pytest.TempPathFactory, args: tuple[str, ...] = ()
) -> Iterator[list[HttpServer]]:
    """Replicas a and b sharing `redis_url`; their logs must hold no traceback, key, token or Redis URL."""
    with server_group(tmp_path_factory.mktemp("orq-mcp-redis")) as group:
        started = [group.start(name, "http", {**env, "ORQ_MCP_EVENT_STORE": redis_url}, args) for name in "ab"]
        yield [server.ready() for server in started]
    for server in started:
        for secret in (API_KEY, TENANT_B_KEY, TOKEN, redis_url):
            assert secret not in server.stderr()


@pytest.fixture(scope="module")
def replicas(
    emulator: EmulatorThread, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[HttpServer]]:
    env = {
        "ORQ_API_KEY": API_KEY,
        "ORQ_BASE_URL": emulator.base_url,
        "ORQ_MCP_PROGRESS_INTERVAL": "0.02",
        "ORQ_MCP_RESUME_GRACE": str(GRACE),
    }
    with two_replicas(env, redis_url, tmp_path_factory) as started:
        yield started


async def dropped_mid_stream(http: httpx2.AsyncClient, url: str) -> tuple[Session, list[Sse]]:
    """A new session at `url` whose invocation (request 2) is dropped after its first messages."""
    session = Session(http, url)
    await session.open()
    with anyio.fail_after(20):
        return session, await call_and_drop(session, 2, after_messages=3)


async def test_a_client_resumes_on_another_replica_and_gets_every_piece_once(
    replicas: list[HttpServer], emulator_state: EmulatorState
) -> None:
    a, b = replicas
    emulator_state.chunk_delay = CHUNK_DELAY
    async with loopback_http_client() as http:
        session, before = await dropped_mid_stream(http, a.url)
        with anyio.fail_after(20):
            after = await resume(session, b.url, before[-1].id or "", 2)
        assert_every_piece_once(before, after, 2)

        # Another session (same request id) gets nothing from that stream, on either replica.
        intruder = Session(http, a.url)
        await intruder.open()
        for replica in (a, b):
            with anyio.fail_after(10):
                assert await nothing_replayed(intruder, replica.url, before[0].id or "", 2)

        # Nor does the owner's own session id under another credential: a stream is bound to its key.
        session.http.headers["Authorization"] = "Bearer someone-else-entirely"
        for replica in (a, b):
            with anyio.fail_after(10):
                assert await nothing_replayed(session, replica.url, before[0].id or "", 2)
        del session.http.headers["Authorization"]

        # A replay from the shared store keeps the DNS-rebinding checks of everything else.
        headers = session.headers(**{"Last-Event-ID": before[0].id or "", "Host": "evil.example"})
        assert (await http.get(b.url, headers=headers)).status_code == 421


async def nothing_replayed(session: Session, url: str, last_event_id: str, request_id: int) -> bool:
    """A resume by the wrong session or credential: refused as an unknown session (404) where the session lives,
    an empty replay where it does not (the shared store checks the owner)."""
    headers = session.headers(**{"Last-Event-ID": last_event_id})
    async with session.http.stream("GET", url, headers=headers) as response:
        if response.status_code == 404:
            return True
    return messages(await resume(session, url, last_event_id, request_id)) == []


async def test_when_the_streaming_replica_dies_the_resume_ends_after_the_grace_period(
    replicas: list[HttpServer], emulator_state: EmulatorState
) -> None:
    a, b = replicas
    emulator_state.chunk_delay = CHUNK_DELAY * 3
    async with loopback_http_client() as http:
        session = Session(http, a.url)
        await session.open()
        with anyio.fail_after(20):
            before = await call_and_drop(session, 2, after_messages=3)
        await anyio.sleep(CHUNK_DELAY * 3 * 10)  # A streams on without the client, keeping events in Redis
        a.process.send_signal(signal.SIGKILL)
        with anyio.fail_after(GRACE + 10):  # bounded: B gives up on a silent stream
            after = await resume(session, b.url, before[1].id or "", 2)
    replayed = messages(after)
    kept = messages(before)[1:]  # resumed after the first message: the others came again, in order, then more
    assert replayed[: len(kept)] == kept
    assert len(replayed) > len(kept)
    assert not any(m.get("id") == 2 for m in replayed)  # no answer: the request died with A


# Smithery-style hosting behind a shared gateway token: every tenant sends the same bearer token, and its own orq
# key in the URL. A stream is bound to both, so one tenant cannot replay another's, on any replica.


@pytest.fixture(scope="module")
def tenant_replicas(
    emulator: EmulatorThread, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[HttpServer]]:
    env = {"ORQ_BASE_URL": emulator.base_url, "ORQ_MCP_AUTH_TOKEN": TOKEN}  # no server key: each URL brings one
    # The dropped stream's request lives on for the grace (a client may resume it there): at the default 30 s, the
    # replica's shutdown would wait out its 10 s drain for it.
    env["ORQ_MCP_RESUME_GRACE"] = str(GRACE)
    with two_replicas(env, redis_url, tmp_path_factory, ("--query-config",)) as started:
        yield started


async def test_a_tenant_cannot_replay_another_tenants_stream_under_the_same_token(
    tenant_replicas: list[HttpServer], emulator_state: EmulatorState
) -> None:
    a, b = tenant_replicas
    emulator_state.chunk_delay = CHUNK_DELAY
    async with loopback_http_client(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        owner, before = await dropped_mid_stream(http, f"{a.url}?orqApiKey={API_KEY}")
        # Tenant B knows A's session id and event id (a log line, a shared proxy), and holds the gateway token.
        intruder = Session(http, f"{a.url}?orqApiKey={TENANT_B_KEY}")
        intruder.id = owner.id
        for replica in (a, b):
            with anyio.fail_after(10):
                assert await nothing_replayed(
                    intruder, f"{replica.url}?orqApiKey={TENANT_B_KEY}", before[0].id or "", 2
                )
        # The owner still resumes, on the other replica: the stream is theirs.
        with anyio.fail_after(20):
            after = await resume(owner, f"{b.url}?orqApiKey={API_KEY}", before[-1].id or "", 2)
    assert_every_piece_once(before, after, 2)
