"""Issue #11, items 4-7: attacks on the HTTP transports, scripted against real servers on loopback.

Each test starts its own `python -m orq_mcp --transport http|sse` process against the session's orq emulator,
with limits lowered through the documented environment variables so that an attack stays small (a few hundred
requests at most) and every test ends by itself.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from orq_mcp.sandbox import EmulatorThread
from tests.conftest import API_KEY
from tests.processes import MODULE, HttpServer, clean_env, loopback_http_client
from tests.test_exposure import INITIALIZE, MCP_HEADERS

TOKEN = "orq-mcp-attack-token-5e0b8d13c9a24f67b1"
GUESSES = 200


@pytest.fixture
def start(emulator: EmulatorThread, tmp_path: Path) -> Iterator[object]:
    """Start servers with `start(transport, env, args)`; all are stopped after the test."""
    started: list[HttpServer] = []

    def launch(transport: str = "http", env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> HttpServer:
        log_dir = tmp_path / f"server-{len(started)}"
        log_dir.mkdir()
        base = {"ORQ_BASE_URL": emulator.base_url, "ORQ_MCP_PROGRESS_INTERVAL": "0.02"}
        if "--multi-tenant" not in args:
            base["ORQ_API_KEY"] = API_KEY
        server = HttpServer.start(transport, {**base, **(env or {})}, log_dir, args=args)
        started.append(server)
        return server.ready()

    yield launch
    for server in started:
        server.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def initialize(http: httpx2.AsyncClient, url: str, headers: dict[str, str] | None = None) -> httpx2.Response:
    return await http.post(url, json=INITIALIZE, headers={**MCP_HEADERS, **(headers or {})})


# Item 5: weak tokens and guessing -----------------------------------------------------------------------------------


def test_a_short_access_token_is_refused_at_start_up_with_how_to_make_one() -> None:
    short = "only-31-characters-long-token!!"
    assert len(short) == 31
    env = clean_env(ORQ_API_KEY=API_KEY, ORQ_MCP_AUTH_TOKEN=short)
    done = subprocess.run([*MODULE, "--transport", "http"], env=env, capture_output=True, timeout=30, check=False)
    assert done.returncode == 2
    assert done.stdout == b""
    message = done.stderr.decode()
    assert "ORQ_MCP_AUTH_TOKEN" in message
    assert "at least 32 characters" in message
    assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in message
    assert short not in message


async def test_guessing_the_token_is_throttled_and_refusals_are_logged_within_a_budget(start) -> None:  # type: ignore[no-untyped-def]
    server = start("http", {"ORQ_MCP_AUTH_TOKEN": TOKEN})
    statuses: list[int] = []
    async with loopback_http_client(timeout=10) as http:
        for guess in range(GUESSES):
            statuses.append((await initialize(http, server.url, bearer(f"{TOKEN[:-4]}{guess:04d}"))).status_code)
        # Even the right token waits once the address is throttled: guessing cannot be sped up by luck.
        throttled = await initialize(http, server.url, bearer(TOKEN))
    assert statuses.count(401) <= 20, statuses
    assert statuses.count(429) >= GUESSES - 20
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    assert "Wait" in throttled.json()["error_description"]
    assert TOKEN not in throttled.text
    refusals = [line for line in server.stderr().splitlines() if "127.0.0.1" in line and "running on" not in line]
    assert len(refusals) <= 3, refusals  # not one line per request (the access log included)
    assert "Traceback" not in server.stderr()


async def test_another_address_is_not_throttled_by_a_guesser(start) -> None:  # type: ignore[no-untyped-def]
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
