"""Issue 15, item 3: a caller's orq key of any length or shape, refused before the server does any work for it.

With `--multi-tenant` or `--query-config` (the Dockerfile's default) each caller brings its orq key, and the
server builds a redactor for each new one. A 15,000-character bearer used to take 4-28 s to answer, +170 MB, with
`/healthz` waiting as long. Now a key longer than orq's longest (config/credentials.py: MAX_KEY_CHARS), or with a
character no key has, is answered 401 at once, and what is kept for plausible keys is bounded.

Every server here runs at its default settings.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import anyio
import httpx2
import pytest

from orq_mcp.config.keys import MAX_KEY_CHARS
from orq_mcp.config.settings import Settings
from orq_mcp.sandbox import EmulatorThread
from orq_mcp.surface.tenant import Unresolved
from orq_mcp.surface.tenants import MAX_KEPT_KEY_CHARS, MAX_TENANTS, Recent, TenantPerKey
from tests.processes import HttpServer, loopback_http_client, rss_bytes
from tests.serving.test_exposure import INITIALIZE, MCP_HEADERS

MODES = ["--multi-tenant", "--query-config"]
# Load-tolerant bounds (a busy shared machine): a refusal takes milliseconds; the old code took 5 s and more per key,
# /healthz waiting as long.
FAST = 3.0
HEALTH_STALL = 2.0


@pytest.fixture(params=MODES, ids=[m.strip("-") for m in MODES])
def hosted(request: pytest.FixtureRequest, emulator: EmulatorThread, tmp_path: Path) -> Iterator[HttpServer]:
    server = HttpServer.start("http", {"ORQ_BASE_URL": emulator.base_url}, tmp_path, args=[request.param]).ready()
    try:
        yield server
    finally:
        server.stop()


def multi_tenant(server: HttpServer) -> bool:
    return "--multi-tenant" in server.process.args  # type: ignore[operator]


def carrying(server: HttpServer, key: str) -> tuple[str, dict[str, str]]:
    """The URL and headers of a request carrying `key` the way this server takes keys."""
    if multi_tenant(server):
        return server.url, {**MCP_HEADERS, "Authorization": f"Bearer {key}"}
    return f"{server.url}?orqApiKey={quote(key, safe='')}", dict(MCP_HEADERS)


async def initialize(http: httpx2.AsyncClient, server: HttpServer, key: str) -> tuple[httpx2.Response, float]:
    """An initialize carrying `key`; the response and how long it took."""
    url, headers = carrying(server, key)
    started = time.monotonic()
    response = await http.post(url, json=INITIALIZE, headers=headers)
    return response, time.monotonic() - started


async def raw_post(server: HttpServer, key: str) -> int | None:
    """POST an initialize carrying `key` over a bare socket (httpx refuses URLs this long): the status
    answered, or None if the server closed the connection before answering."""
    url, headers = carrying(server, key)
    target = url.removeprefix(f"http://127.0.0.1:{server.port}")
    body = json.dumps(INITIALIZE).encode()
    lines = [f"POST {target} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in {**headers, "Content-Type": "application/json"}.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    async with await anyio.connect_tcp("127.0.0.1", server.port) as stream:
        with contextlib.suppress(OSError, anyio.BrokenResourceError):
            await stream.send(request)
        try:
            head = await stream.receive()
        except (OSError, anyio.EndOfStream, anyio.BrokenResourceError):
            return None
    return int(head.split(b" ", 2)[1])


class HealthWatch:
    """Polls /healthz meanwhile and keeps the longest wait for an answer."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.answered = 0


@asynccontextmanager
async def health_watched(server: HttpServer) -> AsyncIterator[HealthWatch]:
    watch = HealthWatch()
    url = f"http://127.0.0.1:{server.port}/healthz"

    async def poll(http: httpx2.AsyncClient) -> None:
        while True:
            started = time.monotonic()
            assert (await http.get(url)).status_code == 200
            watch.worst = max(watch.worst, time.monotonic() - started)
            watch.answered += 1
            await anyio.sleep(0.02)

    async with loopback_http_client(timeout=60) as http, anyio.create_task_group() as tg:
        tg.start_soon(poll, http)
        try:
            yield watch
        finally:
            tg.cancel_scope.cancel()


def description(response: httpx2.Response) -> str:
    return str(response.json()["error_description"])


async def test_a_key_too_long_is_refused_at_once_while_health_answers(hosted: HttpServer) -> None:
    before = rss_bytes(hosted.process.pid)
    async with loopback_http_client(timeout=60) as http, health_watched(hosted) as health:
        for _ in range(3):  # each a new key: nothing may be kept or built for any of them
            key = "sk-orq-" + secrets.token_urlsafe(11_250)  # 15,007 random characters (repeats would be cheap)
            refused, took = await initialize(http, hosted, key)
            assert refused.status_code == 401, refused.text
            assert took < FAST, f"a 15,000-character key took {took:.1f} s to refuse"
            assert f"at most {MAX_KEY_CHARS:,}" in description(refused)
            assert key[100:120] not in refused.text  # the key is not quoted back
        # A megabyte of key does not even reach the app: the request's headers (or URL) pass the 16 KiB uvicorn
        # reads, and it answers 400 and closes the connection at once (often before the client is done sending).
        started = time.monotonic()
        status = await raw_post(hosted, "sk-orq-" + secrets.token_urlsafe(750_000))
        took = time.monotonic() - started
        assert status in (400, None), status
        assert took < FAST, f"a 1 MB key took {took:.1f} s to refuse"
        await anyio.sleep(0.3)  # a few more polls, to see it still answers
    assert health.answered >= 3
    assert health.worst < HEALTH_STALL, f"/healthz waited {health.worst:.2f} s"
    grown = rss_bytes(hosted.process.pid) - before
    assert grown < 20 * 2**20, f"refusing four keys grew the server by {grown / 2**20:.0f} MiB"


@pytest.mark.parametrize(
    "key",
    ['sk-orq-"quoted"-0123456789', "sk-orq-with space-0123456789", "sk-orq-<script>-0123456789", "short"],
    ids=["quote", "space", "angle-brackets", "too-short"],
)
async def test_a_key_with_characters_no_key_has_is_refused(hosted: HttpServer, key: str) -> None:
    async with loopback_http_client(timeout=30) as http:
        refused, _ = await initialize(http, hosted, key)
    assert refused.status_code == 401, refused.text
    assert "orq key" in description(refused)  # says why: the shape of the key, not a failed lookup


async def test_the_longest_key_is_served_and_one_more_character_is_not(hosted: HttpServer) -> None:
    longest = ("sk-orq-" + secrets.token_urlsafe(MAX_KEY_CHARS) + "~+/=")[-MAX_KEY_CHARS:]
    async with loopback_http_client(timeout=30) as http:
        served, _ = await initialize(http, hosted, longest)
        refused, _ = await initialize(http, hosted, longest + "x")
    assert served.status_code == 200, served.text
    assert refused.status_code == 401


async def test_a_configuration_too_long_to_read_is_refused(emulator: EmulatorThread, tmp_path: Path) -> None:
    server = HttpServer.start("http", {"ORQ_BASE_URL": emulator.base_url}, tmp_path, args=["--query-config"]).ready()
    config = base64.b64encode(json.dumps({"orqApiKey": "k" * 9_000}).encode()).decode()
    try:
        async with loopback_http_client(timeout=30) as http:
            refused = await http.post(f"{server.url}?config={config}", json=INITIALIZE, headers=MCP_HEADERS)
    finally:
        server.stop()
    assert refused.status_code == 401
    assert "configuration" in description(refused)


@pytest.mark.slow
async def test_memory_for_many_of_the_longest_keys_is_bounded(hosted: HttpServer) -> None:
    """Each plausible key gets a redactor (about 1.4 KB per character): the keys kept are bounded in characters."""
    async with loopback_http_client(timeout=60) as http:
        await initialize(http, hosted, "sk-orq-" + secrets.token_urlsafe(64))  # the first request's own allocations
        before = rss_bytes(hosted.process.pid)
        for _ in range(150):
            key = ("sk-orq-" + secrets.token_urlsafe(MAX_KEY_CHARS))[:MAX_KEY_CHARS]
            served, _ = await initialize(http, hosted, key)
            assert served.status_code == 200
            url, headers = carrying(hosted, key)  # end the session: an address may only hold so many
            await http.delete(url, headers={**headers, "mcp-session-id": served.headers["mcp-session-id"]})
    grown = rss_bytes(hosted.process.pid) - before
    # 150 keys of 1,024 characters made 150 redactors of ~1.4 MB; only those of the last 32 keys are kept.
    assert grown < 120 * 2**20, f"150 keys grew the server by {grown / 2**20:.0f} MiB"


def test_keys_kept_are_bounded_by_count_and_by_characters_at_the_defaults() -> None:
    """MAX_TENANTS keys of 128 characters fit; past that, or past MAX_KEPT_KEY_CHARS, the oldest go first."""
    recent: Recent[str] = Recent()
    keys = [f"{n:04d}".ljust(128, "k") for n in range(MAX_TENANTS + 1)]
    for key in keys[:MAX_TENANTS]:
        recent.get(key, str.upper)
    assert len(recent) == MAX_TENANTS
    assert MAX_TENANTS * 128 == MAX_KEPT_KEY_CHARS
    recent.get(keys[MAX_TENANTS], str.upper)  # one key too many: the least recently used goes
    assert len(recent) == MAX_TENANTS
    made: list[str] = []
    recent.get(keys[0], lambda key: made.append(key) or key)  # it was the one evicted: made again
    assert made == [keys[0]]
    recent.get("x" * MAX_KEY_CHARS, str.upper)  # a long key pushes out as many characters as it brings
    assert len(recent) == MAX_TENANTS - MAX_KEY_CHARS // 128 + 1


def test_the_tenant_lookup_builds_nothing_for_a_key_no_orq_key_could_be() -> None:
    """The HTTP gates refuse such keys first; the lookup refuses them too, whatever reaches it."""
    built: list[str] = []
    settings = Settings(transport="http", multi_tenant=True)
    tenants = TenantPerKey(lambda key, redactor: built.append(key), settings)  # type: ignore[arg-type,func-returns-value]
    request = SimpleNamespace(headers={"authorization": "Bearer " + "k" * (MAX_KEY_CHARS + 1)})
    found = tenants.find(request)
    assert isinstance(found, Unresolved)
    assert f"at most {MAX_KEY_CHARS:,}" in found.reason
    assert built == []
    assert len(tenants) == 0
