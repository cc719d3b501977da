"""Issue #11, items 4-7: attacks on the HTTP transports, scripted against real servers on loopback.

Each test starts its own `python -m orq_mcp --transport http|sse` process against the session's orq emulator,
with limits lowered through the documented environment variables so that an attack stays small (a few hundred
requests at most) and every test ends by itself.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import resource
import socket
import struct
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TypeVar

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from orq_mcp.config.settings import Settings
from orq_mcp.sandbox import EmulatorState, EmulatorThread
from orq_mcp.sandbox.faults import Fault
from orq_mcp.serving.http import shared_buckets as shared_table
from orq_mcp.serving.http.disconnect import AbandonOnDisconnect
from orq_mcp.serving.http.shared_buckets import SharedBuckets
from orq_mcp.serving.http.throttle import MAX_TRACKED_ADDRESSES, Buckets, FailureThrottle, LocalBuckets, RefusalLog
from tests.conftest import API_KEY
from tests.helpers import ok, wait_until
from tests.processes import MODULE, HttpServer, free_port, loopback_http_client, server_env, server_group
from tests.serving.test_exposure import INITIALIZE, MCP_HEADERS, TENANT_B_KEY, tenant_b_workspace

TOKEN = "orq-mcp-attack-token-5e0b8d13c9a24f67b1"
GUESSES = 200
T = TypeVar("T")


StartServer = Callable[..., HttpServer]


@pytest.fixture
def start(emulator: EmulatorThread, tmp_path: Path) -> Iterator[StartServer]:
    """Start servers with `start(transport, env, args)`; all are stopped after the test."""
    # Hostile clients may make a server log what it refused: these logs are checked by the tests that read them.
    with server_group(tmp_path, check_logs=False) as group:

        def launch(
            transport: str = "http", env: dict[str, str] | None = None, args: tuple[str, ...] = ()
        ) -> HttpServer:
            base = {"ORQ_BASE_URL": emulator.base_url, "ORQ_MCP_PROGRESS_INTERVAL": "0.02"}
            if "--multi-tenant" not in args:
                base["ORQ_API_KEY"] = API_KEY
            return group.start(f"server-{len(group.started)}", transport, {**base, **(env or {})}, args).ready()

        yield launch


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def initialize(http: httpx2.AsyncClient, url: str, headers: dict[str, str] | None = None) -> httpx2.Response:
    return await http.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **(headers or {})})


# Item 5: weak tokens and guessing -----------------------------------------------------------------------------------


def test_a_short_access_token_is_refused_at_start_up_with_how_to_make_one() -> None:
    short = "only-31-characters-long-token!!"
    assert len(short) == 31
    env = server_env(ORQ_MCP_AUTH_TOKEN=short)
    done = subprocess.run([*MODULE, "--transport", "http"], env=env, capture_output=True, timeout=30, check=False)
    assert done.returncode == 2
    assert done.stdout == b""
    message = done.stderr.decode()
    assert "ORQ_MCP_AUTH_TOKEN" in message
    assert "at least 32 characters" in message
    assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in message
    assert short not in message


async def test_guessing_the_token_is_throttled_and_refusals_are_logged_within_a_budget(start: StartServer) -> None:
    server = start("http", {"ORQ_MCP_AUTH_TOKEN": TOKEN})
    statuses: list[int] = []
    started = time.monotonic()
    async with loopback_http_client(timeout=10) as http:
        for guess in range(GUESSES):
            statuses.append((await initialize(http, server.url, bearer(f"{TOKEN[:-4]}{guess:04d}"))).status_code)
        # Even the right token waits once the address is throttled: guessing cannot be sped up by luck.
        throttled = await initialize(http, server.url, bearer(TOKEN))
    # 20 at once, then 10 a minute earned back: a slow (loaded) run may earn a few.
    allowed = 20 + int((time.monotonic() - started) * 10 / 60)
    assert statuses.count(401) <= allowed, statuses
    assert statuses.count(429) >= GUESSES - allowed
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    assert "Wait" in throttled.json()["error_description"]
    assert TOKEN not in throttled.text
    refusals = [line for line in server.stderr().splitlines() if "127.0.0.1" in line and "running on" not in line]
    assert len(refusals) <= 3, refusals  # not one line per request (the access log included)
    assert "Traceback" not in server.stderr()


async def test_another_address_is_not_throttled_by_a_guesser(start: StartServer) -> None:
    server = start("http", {"ORQ_MCP_AUTH_TOKEN": TOKEN})
    async with loopback_http_client(timeout=10) as http:
        for guess in range(30):
            await initialize(http, server.url, bearer(f"wrong-{guess}"))
        assert (await initialize(http, server.url, bearer(TOKEN))).status_code == 429
    # 127.0.0.2 is another client address on this machine (all of 127/8 is loopback).
    transport = httpx2.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx2.AsyncClient(transport=transport, timeout=10) as other:
        response = await initialize(other, server.url, bearer(TOKEN))
    assert response.status_code == 200, response.text


# Item 4: sessions belong to the credential that opened them ---------------------------------------------------------

BOGUS_KEY = "sk-orq-bogus-attacker-key-4b1d"
SLOW_CHUNK_DELAY = 0.05  # a sample reply then streams for ~2.5 s


@asynccontextmanager
async def legacy_client(url: str, headers: dict[str, str], session_ids: list[str]) -> AsyncIterator[Client]:
    """A handshake-era (2025-11-25) MCP client; the session ids the server hands it go to `session_ids`."""

    async def remember(response: httpx2.Response) -> None:
        if "mcp-session-id" in response.headers and response.headers["mcp-session-id"] not in session_ids:
            session_ids.append(response.headers["mcp-session-id"])

    async with loopback_http_client(headers) as http:
        http.event_hooks["response"].append(remember)
        async with Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
            yield client


async def hijack(http: httpx2.AsyncClient, url: str, session_id: str, key: str) -> list[httpx2.Response]:
    """Everything a holder of someone else's session id tries: cancel its calls, open its stream, delete it."""
    headers = {**MCP_HEADERS, **bearer(key), "Mcp-Session-Id": session_id, "Mcp-Protocol-Version": "2025-11-25"}
    answers = []
    for request_id in range(6):  # the SDK client numbers its requests from 0
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": request_id}}
        answers.append(await http.post(url, json=cancel, headers=headers))
    answers.append(await http.get(url, headers={**headers, "Accept": "text/event-stream"}))
    answers.append(await http.delete(url, headers=headers))
    return answers


@pytest.mark.parametrize("attacker", [BOGUS_KEY, "tenant-b"])
async def test_another_credential_cannot_drive_a_tenants_session(
    start: StartServer, emulator_state: EmulatorState, attacker: str
) -> None:
    emulator_state.add_workspace(TENANT_B_KEY, tenant_b_workspace())
    server = start("http", args=("--multi-tenant",))
    attacker_key = TENANT_B_KEY if attacker == "tenant-b" else BOGUS_KEY
    session_ids: list[str] = []
    async with legacy_client(server.url, bearer(API_KEY), session_ids) as victim:

        async def attack(http: httpx2.AsyncClient) -> tuple[list[httpx2.Response], list[httpx2.Response]]:
            (session_id,) = session_ids
            stolen = await hijack(http, server.url, session_id, attacker_key)
            return stolen, await hijack(http, server.url, uuid.uuid4().hex, attacker_key)

        answers, unknown = await attack_mid_call(victim, emulator_state, attack)
        assert [a.status_code for a in answers] == [404] * len(answers)
        # Exactly what an unknown session gets: nothing tells the attacker the session exists.
        assert [(a.status_code, a.content) for a in answers] == [(u.status_code, u.content) for u in unknown]
        assert ok(await victim.call_tool("list_deployments", {"limit": 1}))["deployments"]  # the session lives


async def attack_mid_call(
    victim: Client, state: EmulatorState, attack: Callable[[httpx2.AsyncClient], Awaitable[T]]
) -> T:
    """Run `attack` while the victim's slow invocation streams; the invocation must still run to its end."""
    state.chunk_delay = SLOW_CHUNK_DELAY
    replies: list[dict[str, object]] = []
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg, loopback_http_client(timeout=10) as http:

            async def invoke() -> None:
                replies.append(ok(await victim.call_tool("invoke_deployment", {"key": "faq-assistant"})))

            tg.start_soon(invoke)
            assert await emulator_state_streaming(state)
            result = await attack(http)
    state.chunk_delay = 0.002
    assert replies[0]["text"]
    return result


async def emulator_state_streaming(state: EmulatorState) -> bool:
    return await wait_until(lambda: any(r.chunks_sent for r in state.requests_for("stream")), within=10)


# Item 6: sessions per client, idle sessions ---------------------------------------------------------------------------

SESSIONS_TRIED = 200


async def test_one_address_cannot_take_every_session(start: StartServer) -> None:
    env = {"ORQ_MCP_MAX_SESSIONS_PER_CLIENT": "20", "ORQ_MCP_MAX_SESSIONS": "100"}
    server = start("http", env)
    async with loopback_http_client(timeout=10) as http:
        answers = [await initialize(http, server.url) for _ in range(SESSIONS_TRIED)]
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == 20, statuses
    assert statuses.count(429) == SESSIONS_TRIED - 20
    refusal = answers[-1].json()["error"]["message"]
    assert "Too many open sessions from your address (20)" in refusal
    assert "DELETE" in refusal
    # Another client still gets a whole session.
    transport = httpx2.AsyncHTTPTransport(local_address="127.0.0.2")
    async with (
        httpx2.AsyncClient(transport=transport, timeout=30) as other,
        Client(streamable_http_client(server.url, http_client=other), mode="legacy") as client,
    ):
        assert ok(await client.call_tool("list_deployments", {"limit": 1}))["deployments"]


async def test_idle_sessions_expire_and_free_their_place(start: StartServer) -> None:
    server = start("http", {"ORQ_MCP_MAX_SESSIONS_PER_CLIENT": "5", "ORQ_MCP_SESSION_IDLE_TIMEOUT": "1"})
    async with loopback_http_client(timeout=10) as http:
        opened = [await initialize(http, server.url) for _ in range(5)]
        assert [a.status_code for a in opened] == [200] * 5
        assert (await initialize(http, server.url)).status_code == 429
        reopened = False
        for _ in range(40):  # up to 10 s: a place frees up about 2 s after the sessions fell idle
            reopened = (await initialize(http, server.url)).status_code == 200
            if reopened:
                break
            await anyio.sleep(0.25)
        assert reopened
        headers = {**MCP_HEADERS, "Mcp-Session-Id": opened[0].headers["mcp-session-id"]}
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        assert (await http.post(server.url, json=ping, headers=headers)).status_code == 404


# Item 7: a client that hangs up frees its orq stream --------------------------------------------------------------

ABANDONED = 50


async def open_legacy_session(http: httpx2.AsyncClient, url: str) -> dict[str, str]:
    """Initialize a 2025-06-18 session by hand; the headers its later requests need."""
    opened = await initialize(http, url, {"Mcp-Protocol-Version": "2025-06-18"})
    assert opened.status_code == 200, opened.text
    headers = {**MCP_HEADERS, "Mcp-Session-Id": opened.headers["mcp-session-id"], "Mcp-Protocol-Version": "2025-06-18"}
    initialized = await http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
    assert initialized.status_code == 202, initialized.text
    return headers


async def call_and_hang_up(
    port: int, headers: dict[str, str], request_id: int, hang_up: anyio.Event, reset: bool = False
) -> None:
    """POST a streaming `tools/call`, wait for the response to start and for `hang_up`, then close the connection
    (FIN, or RST)."""
    call = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": "invoke_deployment", "arguments": {"key": "faq-assistant"}, "_meta": {"progressToken": 1}},
    }
    body = json.dumps(call).encode()
    head = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(head.encode() + b"\r\n" + body)
        assert (await stream.receive()).startswith(b"HTTP/1.1 200")
        await hang_up.wait()
        if reset:  # linger 0: close() sends RST instead of FIN
            raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def open_upstream(state: EmulatorState) -> list[object]:
    return [r for r in state.requests_for("stream") if r.disconnected_at is None and r.finished_at is None]


# Without an event store nothing can resume a stream, so it is abandoned at once; with one (the default), a
# client has ORQ_MCP_RESUME_GRACE seconds (30 by default) to come back with Last-Event-ID before its upstream
# stream closes.
DEFAULT_GRACE = Settings.model_fields["resume_grace"].default
ABANDON_AFTER = {
    "at-once": ({"ORQ_MCP_EVENT_STORE": "off"}, 0.0),
    "after-grace": ({"ORQ_MCP_RESUME_GRACE": "2"}, 2.0),
    "after-default-grace": ({}, DEFAULT_GRACE),
}
TRICKLE_DELAY = 3.0  # a reply then takes minutes: it outlasts every grace by far
CLOSED_LATE_BY = 10.0  # what a loaded machine may add before 50 abandoned streams are all closed


@pytest.mark.parametrize(
    ("upstream", "hang_up", "resumable"),
    [
        ("hangs", "fin", "at-once"),
        ("trickles", "rst", "after-grace"),
        pytest.param("trickles", "fin", "after-default-grace", marks=pytest.mark.slow),
    ],
)
async def test_abandoned_invocations_free_their_upstream_streams(
    start: StartServer, emulator_state: EmulatorState, upstream: str, hang_up: str, resumable: str
) -> None:
    env, grace = ABANDON_AFTER[resumable]
    server = start("http", env)
    if upstream == "hangs":
        emulator_state.add_fault(Fault("stream", "hang", times=ABANDONED))  # orq never answers these
    else:
        # Kept until every stream has closed: a stream that started at a brisker pace could end by itself.
        emulator_state.chunk_delay = TRICKLE_DELAY
    async with loopback_http_client(timeout=10) as http:
        headers = await open_legacy_session(http, server.url)
        hang_up_now = anyio.Event()
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for request_id in range(ABANDONED):
                    tg.start_soon(
                        call_and_hang_up, server.port, headers, 100 + request_id, hang_up_now, hang_up == "rst"
                    )
                # Every call reaches orq before its client leaves: one dropped sooner is cancelled before it costs
                # anything (seen on a busy machine), and would leave nothing upstream for this test to watch.
                assert await wait_until(lambda: len(emulator_state.requests_for("stream")) == ABANDONED, within=30)
                hanging_up = time.monotonic()
                hang_up_now.set()
        hung_up_at = time.monotonic()
        if grace:  # resumable: kept for a client that comes back
            assert open_upstream(emulator_state)
        # The upstream streams close about when their clients left, or the grace after (before: never).
        closed = await wait_until(lambda: not open_upstream(emulator_state), within=grace + CLOSED_LATE_BY)
        assert closed, len(open_upstream(emulator_state))
        streams = emulator_state.requests_for("stream")
        assert all(r.disconnected_at is not None for r in streams), "a stream ran to its end instead"
        closed_at = max(r.disconnected_at or 0.0 for r in streams)
        # The session, and everyone else, carry on.
        ping = await http.post(server.url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=headers)
        assert ping.status_code == 200, ping.text
    emulator_state.chunk_delay = 0.002
    with anyio.fail_after(15):
        async with legacy_client(server.url, {}, []) as other:
            assert ok(await other.call_tool("list_deployments", {"limit": 1}))["deployments"]
            assert ok(await other.call_tool("invoke_deployment", {"key": "faq-assistant"}))["text"]
    assert closed_at - hanging_up >= grace  # kept for the whole grace, from the moment its client left
    assert closed_at - hung_up_at < grace + CLOSED_LATE_BY
    assert "Traceback" not in server.stderr()


RESUME_RACE_GRACE = 0.5  # the grace only has to run out: the order of events is what is tested


async def test_a_resume_that_came_before_the_server_saw_the_drop_still_counts() -> None:
    """The client resumed (GET with Last-Event-ID) before its dropped POST finished on the server: that is a
    resume within the grace. It used to be missed, and the resumed call was cancelled when the grace ran out."""
    session = {"mcp-session-id": "s1", "mcp-protocol-version": "2025-06-18"}
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "invoke_deployment"}}
    posted: list[dict[str, object]] = []

    def http_scope(method: str, **headers: str) -> dict[str, object]:
        raw = [(name.encode(), value.encode()) for name, value in {**session, **headers}.items()]
        return {"type": "http", "method": method, "path": "/mcp", "headers": raw}

    def receiving(*messages: dict[str, object]) -> Callable[[], Awaitable[dict[str, object]]]:
        queue = list(messages)

        async def receive() -> dict[str, object]:
            return queue.pop(0) if queue else {"type": "http.disconnect"}

        return receive

    async def ignore(message: dict[str, object]) -> None:
        return None

    async def app(scope: dict[str, object], receive: Callable[..., Awaitable[dict[str, object]]], send: object) -> None:
        if scope["method"] != "POST":
            return  # the resumed stream
        body = await receive()
        posted.append(json.loads(body["body"]))  # type: ignore[arg-type]
        if posted[-1].get("id") == call["id"]:
            assert (await receive())["type"] == "http.disconnect"  # the client dropped the stream...
            await guarded(http_scope("GET", **{"last-event-id": "e1"}), receiving(), ignore)  # ...and is back

    guarded = AbandonOnDisconnect(app, grace=RESUME_RACE_GRACE)  # type: ignore[arg-type]
    request = {"type": "http.request", "body": json.dumps(call).encode(), "more_body": False}
    with anyio.fail_after(10):
        await guarded(http_scope("POST"), receiving(request), ignore)
    assert [message.get("method") for message in posted] == ["tools/call"]  # no notifications/cancelled


# Item 6: slow clients and running out of files ------------------------------------------------------------------------

SLOW_CLIENTS = 100
FD_LIMIT = 128


async def closed_by_server(stream: anyio.abc.ByteStream) -> bool:
    """Wait for the server to end the connection (whatever it says first); False if it never does."""
    with anyio.move_on_after(10):
        try:
            while await stream.receive():
                pass
        except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError):
            pass
        return True
    return False


async def test_slow_clients_are_dropped_and_others_served(start: StartServer) -> None:
    server = start("http", {"ORQ_MCP_REQUEST_TIMEOUT": "1"})
    partial_headers = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application".encode()
    no_body = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Length: 500\r\n\r\n{{".encode()
    streams = [await anyio.connect_tcp("127.0.0.1", server.port) for _ in range(SLOW_CLIENTS)]
    try:
        for index, stream in enumerate(streams):
            await stream.send(no_body if index % 2 else partial_headers)
        started = time.monotonic()
        async with loopback_http_client(timeout=10) as http:
            assert (await initialize(http, server.url)).status_code == 200  # meanwhile, others are served
        results: list[bool] = [False] * SLOW_CLIENTS

        async def watch(index: int) -> None:
            results[index] = await closed_by_server(streams[index])

        async with anyio.create_task_group() as tg:
            for index in range(SLOW_CLIENTS):
                tg.start_soon(watch, index)
        dropped_within = time.monotonic() - started
    finally:
        for stream in streams:
            await stream.aclose()
    assert all(results), results.count(False)
    assert dropped_within < 5
    assert "Traceback" not in server.stderr()


def start_with_file_limit(emulator: EmulatorThread, log_dir: Path) -> HttpServer:
    """A server whose process may open only FD_LIMIT files, and must answer a request's headers within 2 s."""

    def low_file_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))

    env = server_env(emulator.base_url, ORQ_MCP_REQUEST_TIMEOUT="2")
    port = free_port()
    command = [*MODULE, "--transport", "http", "--port", str(port)]
    with (log_dir / "stdout.log").open("wb") as out, (log_dir / "stderr.log").open("wb") as err:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=err, preexec_fn=low_file_limit)
    return HttpServer("http", process, port, log_dir)


async def initialize_when_not_busy(url: str) -> httpx2.Response:
    """Initialize, retrying (up to 15 s) while the server answers 503 or closes at once because it is full."""
    async with loopback_http_client(timeout=15) as http:
        for _ in range(30):
            try:
                response = await initialize(http, url)
                if response.status_code != 503:
                    return response
                assert response.headers["retry-after"] == "1"
            except httpx2.TransportError:
                pass
            await anyio.sleep(0.5)
    raise AssertionError("the server stayed busy")


async def test_running_out_of_files_is_logged_once_and_the_server_recovers(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    server = start_with_file_limit(emulator, tmp_path)
    try:
        server.ready()
        flood = [await anyio.connect_tcp("127.0.0.1", server.port) for _ in range(2 * FD_LIMIT)]
        try:
            with anyio.fail_after(20):
                assert (await initialize_when_not_busy(server.url)).status_code == 200
        finally:
            for stream in flood:
                await stream.aclose()
        async with loopback_http_client(timeout=10) as http:
            assert (await initialize(http, server.url)).status_code == 200
    finally:
        server.stop()
    log = server.stderr()
    assert "Traceback" not in log
    assert log.count("open files") <= 2, log[-2000:]
    assert len(log) < 10_000


# Items 4 and 6 over legacy SSE ----------------------------------------------------------------------------------------


async def post_into(http: httpx2.AsyncClient, port: int, session_id: str, key: str) -> list[httpx2.Response]:
    """What a holder of someone else's SSE session id tries: cancel each of its calls."""
    url = f"http://127.0.0.1:{port}/messages/?session_id={session_id}"
    answers = []
    for request_id in range(6):
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": request_id}}
        answers.append(await http.post(url, json=cancel, headers=bearer(key)))
    return answers


async def test_another_credential_cannot_post_into_a_tenants_sse_session(
    start: StartServer, emulator_state: EmulatorState
) -> None:
    server = start("sse", args=("--multi-tenant",))
    session_ids: list[str] = []
    transport = sse_client(
        server.url,
        headers=bearer(API_KEY),
        httpx_client_factory=loopback_http_client,
        on_session_created=session_ids.append,
    )
    async with Client(transport) as victim:

        async def attack(http: httpx2.AsyncClient) -> list[list[httpx2.Response]]:
            (session_id,) = session_ids
            # Spelled otherwise (the SDK accepts any UUID form), it is still the same session.
            spellings = [session_id, str(uuid.UUID(hex=session_id)).upper(), uuid.uuid4().hex]
            return [await post_into(http, server.port, spelling, BOGUS_KEY) for spelling in spellings]

        answers, dashed, unknown = await attack_mid_call(victim, emulator_state, attack)
        assert [a.status_code for a in answers + dashed] == [404] * 12
        assert [(a.status_code, a.content) for a in answers] == [(u.status_code, u.content) for u in unknown]
        assert ok(await victim.call_tool("list_deployments", {"limit": 1}))["deployments"]
    assert "Rejecting message" not in server.stderr()  # refused before the SDK, which would log each one


async def test_one_address_holds_a_bounded_number_of_sse_streams(start: StartServer) -> None:
    server = start("sse", {"ORQ_MCP_MAX_SESSIONS_PER_CLIENT": "5"})
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(loopback_http_client(timeout=10))
        headers = {"Accept": "text/event-stream"}
        for _ in range(5):
            opened = await stack.enter_async_context(http.stream("GET", server.url, headers=headers))
            assert opened.status_code == 200
        refused = await http.get(server.url, headers=headers)
        assert refused.status_code == 429
        assert "Too many open sessions from your address (5)" in refused.json()["error"]["message"]
        await opened.aclose()
        reopened = False
        for _ in range(40):  # up to 10 s: the place frees up once the server sees the stream closed
            async with http.stream("GET", server.url, headers=headers) as again:
                reopened = again.status_code == 200
            if reopened:
                break
            await anyio.sleep(0.25)
        assert reopened


# The budgets themselves, on a clock the test moves ------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def local_buckets() -> Buckets:
    return LocalBuckets()


def shared_buckets() -> Buckets:
    return SharedBuckets(multiprocessing.get_context("spawn"), MAX_TRACKED_ADDRESSES)


BUCKETS = pytest.mark.parametrize("buckets", [local_buckets, shared_buckets], ids=["one process", "workers"])


@BUCKETS
def test_a_throttled_address_earns_attempts_back_over_time(buckets: Callable[[], Buckets]) -> None:
    clock = FakeClock()
    throttle = FailureThrottle(burst=3, per_minute=6, clock=clock, buckets=buckets())
    for _ in range(3):
        assert throttle.retry_after("10.0.0.1") == 0
        throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 10  # one attempt back every 10 s
    assert throttle.retry_after("10.0.0.2") == 0
    clock.now += 10
    assert throttle.retry_after("10.0.0.1") == 0
    throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 10


def test_the_throttle_remembers_a_bounded_number_of_addresses() -> None:
    throttle = FailureThrottle(burst=1, per_minute=1, clock=FakeClock())
    for index in range(MAX_TRACKED_ADDRESSES + 100):
        throttle.failed(f"10.{index // 65536}.{index // 256 % 256}.{index % 256}")
    assert throttle.tracked == MAX_TRACKED_ADDRESSES
    assert throttle.retry_after("10.0.0.0") == 0  # the oldest was forgotten
    assert throttle.retry_after(f"10.0.{(MAX_TRACKED_ADDRESSES + 99) // 256}.{(MAX_TRACKED_ADDRESSES + 99) % 256}") > 0


def test_the_workers_table_forgets_the_longest_refused_first_and_stays_bounded() -> None:
    clock = FakeClock()
    throttle = FailureThrottle(
        burst=1, per_minute=1, clock=clock, buckets=SharedBuckets(multiprocessing.get_context("spawn"), 64)
    )
    for index in range(1000):
        clock.now += 1
        throttle.failed(f"10.0.{index // 256}.{index % 256}")
    assert throttle.tracked == 64  # a fixed table: never more
    assert throttle.retry_after("10.0.3.231") > 0  # the last refused (index 999) is remembered
    assert throttle.retry_after("10.0.0.0") == 0  # the first long forgotten


def refuse_often(buckets: SharedBuckets, times: int) -> None:
    """In a spawned process: count `times` refusals of one address.

    Here the lock is waited for as long as it takes. On a busy machine a process holding it can be paused beyond
    LOCK_WAIT (0.05 s; measured under the load of parallel test runs: 2 of 2,000 refusals lost), and the others then
    go on without it: the way out when a worker died holding it, which may count a refusal short (shared_buckets.py).
    What this test checks is that each read-modify-write under the lock is whole.
    """
    shared_table.LOCK_WAIT = 60.0  # this spawned process's own copy of the module
    throttle = FailureThrottle(burst=10_000, per_minute=1e-9, buckets=buckets)
    for _ in range(times):
        throttle.failed("192.0.2.7")


def test_refusals_counted_by_several_processes_at_once_are_none_lost() -> None:
    context = multiprocessing.get_context("spawn")
    buckets = SharedBuckets(context, 64)
    processes = [context.Process(target=refuse_often, args=(buckets, 500)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [process.exitcode for process in processes] == [0] * 4
    counted = buckets.get("192.0.2.7")
    assert counted is not None
    assert round(counted[0]) == 10_000 - 4 * 500  # every read-modify-write whole, across processes


def test_refusals_log_one_line_per_address_a_minute_and_a_summary(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    refusals = RefusalLog(logging.getLogger("test.refusals"), period=60, clock=clock)
    with caplog.at_level(logging.INFO, logger="test.refusals"):
        for _ in range(120):  # two minutes, a second at a time
            clock.now += 1
            for address in ("10.0.0.1", "10.0.0.2"):
                for _ in range(50):
                    refusals.refused(address, "Refused %s", address)
    lines = [record.getMessage() for record in caplog.records]
    assert lines.count("Refused 10.0.0.1") == 2
    assert lines.count("Refused 10.0.0.2") == 2
    summaries = [line for line in lines if line.startswith("Refused ") and "more HTTP requests" in line]
    assert len(summaries) == 2  # one a minute
    assert all("from 2 client address(es)" in summary for summary in summaries)
    assert len(lines) == 6  # for 12,000 refusals
