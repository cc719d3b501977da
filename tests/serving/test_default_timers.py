"""Issue 15: timers, caps and graces at their defaults, where other tests shorten them to stay small.

Each setting a test lowers through its environment variable is covered here (or in test_long_generations.py,
test_attacks_http.py and test_stdio.py) at its default value: the README's figure is the one wired in, and the
server behaves by it. The costly ones run for real at default (the request timeout, the resume grace); the
rest check what the running server says and does at its default.

Each lowered setting, and what covers its default:
- ORQ_MCP_REQUEST_TIMEOUT (1-2 s elsewhere): test_long_generations, headers and body cut at 10 s, longer
  answers uncut;
- ORQ_MCP_RESUME_GRACE (2 s): test_attacks_http, abandoned streams freed 30 s after; here, across replicas;
- ORQ_MCP_SESSION_IDLE_TIMEOUT (1 s): here, the running server's refusal names 900 s;
- ORQ_MCP_MAX_SESSIONS and _PER_CLIENT (100, 20, 5): here, 128 per address and 1000 in all, for real;
- ORQ_MCP_INVOKE_TIMEOUT, ORQ_STREAM_TIMEOUT, ORQ_TIMEOUT (1 s): here, the README's figures are the ones the orq
  client is handed; test_long_generations, a 90-second generation silent for 65 s of it, at defaults.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import httpx2
import pytest

from orq_mcp.config.settings import ENV_VARS, Settings
from orq_mcp.sandbox import EmulatorState, EmulatorThread
from orq_mcp.serving.http.connections import SHUTDOWN_GRACE
from orq_mcp.serving.workers import STOP_TIMEOUT
from tests.conftest import API_KEY
from tests.mcp_wire import Session, call_and_drop, messages, resume
from tests.processes import HttpServer, loopback_http_client, server_group
from tests.scale_tools import README, redis_server
from tests.serving.test_exposure import INITIALIZE, MCP_HEADERS
from tests.serving.test_protocol_abuse import ENVELOPE, modern_headers

# A README table row: | `ORQ_...` | ... |, the default in the column after the flag's (or after the variable's).
ROW = re.compile(r"^\| `(ORQ_[A-Z_]+)` \|(.*)\|$", re.MULTILINE)
NUMBER = re.compile(r"`(\d+(?:\.\d+)?)`")
TIMERS = {  # the timers and caps other tests lower, each of which must have its figure in the README
    "ORQ_MCP_REQUEST_TIMEOUT",
    "ORQ_MCP_RESUME_GRACE",
    "ORQ_MCP_SESSION_IDLE_TIMEOUT",
    "ORQ_MCP_MAX_SESSIONS",
    "ORQ_MCP_MAX_SESSIONS_PER_CLIENT",
    "ORQ_MCP_INVOKE_TIMEOUT",
    "ORQ_STREAM_TIMEOUT",
    "ORQ_TIMEOUT",
}


def readme_numeric_defaults() -> dict[str, float]:
    """Each setting whose README row gives a number as its default, with that number."""
    found = {}
    for variable, rest in ROW.findall(README.read_text(encoding="utf-8")):
        cells = [cell.strip() for cell in rest.split("|")]
        default = cells[1] if len(cells) == 3 else cells[0]  # with a flag column, or without one
        number = NUMBER.fullmatch(default)
        if number:
            found[variable] = float(number.group(1))
    return found


def test_every_numeric_default_in_the_readme_is_the_one_wired_in() -> None:
    shown = readme_numeric_defaults()
    assert set(shown) >= TIMERS, TIMERS - set(shown)
    defaults = Settings()
    wired = {variable: float(getattr(defaults, ENV_VARS[variable])) for variable in shown if variable in ENV_VARS}
    assert wired == {variable: shown[variable] for variable in wired}
    assert defaults.timeouts.invoke == shown["ORQ_MCP_INVOKE_TIMEOUT"]  # what the orq client is handed
    assert defaults.timeouts.stream == shown["ORQ_STREAM_TIMEOUT"]
    assert defaults.timeouts.read == shown["ORQ_TIMEOUT"]


def test_the_readme_states_the_stopping_times_in_force() -> None:
    readme = " ".join(README.read_text(encoding="utf-8").split())
    assert f"gives the calls in flight {SHUTDOWN_GRACE:.0f} s to finish" in readme
    assert f"kills one still running {STOP_TIMEOUT:.0f} s later" in readme
    assert SHUTDOWN_GRACE < STOP_TIMEOUT  # a worker drains before its supervisor gives up on it


# Sessions: per address and in all, and how long an idle one lives --------------------------------------------------

PER_CLIENT = Settings.model_fields["max_sessions_per_client"].default
ALL_SESSIONS = Settings.model_fields["max_sessions"].default
IDLE = Settings.model_fields["session_idle_timeout"].default
ADDRESSES = [f"127.0.0.{i}" for i in range(1, 10)]  # every address of 127/8 is this machine


@pytest.fixture
def at_defaults(emulator: EmulatorThread, tmp_path: Path) -> Iterator[Callable[..., HttpServer]]:
    """Start `--transport http` servers with nothing but the key and the emulator; stopped after the test."""
    base = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url}
    with server_group(tmp_path) as group:

        def start(name: str, env: dict[str, str] | None = None) -> HttpServer:
            return group.start(name, "http", {**base, **(env or {})}).ready()

        yield start


async def open_sessions(url: str, address: str, count: int) -> list[httpx2.Response]:
    transport = httpx2.AsyncHTTPTransport(local_address=address)
    async with httpx2.AsyncClient(transport=transport, timeout=30) as http:
        return [await http.post(url, json=INITIALIZE, headers=MCP_HEADERS) for _ in range(count)]


@pytest.mark.slow
async def test_the_session_caps_and_idle_timeout_at_their_defaults(at_defaults: Callable[..., HttpServer]) -> None:
    assert (PER_CLIENT, ALL_SESSIONS, IDLE) == (128, 1000, 900)  # the README's figures
    server = at_defaults("http")
    first = await open_sessions(server.url, ADDRESSES[0], PER_CLIENT + 1)
    assert [r.status_code for r in first] == [200] * PER_CLIENT + [429]
    refusal = first[-1].json()["error"]["message"]
    assert f"Too many open sessions from your address ({PER_CLIENT})" in refusal
    assert f"idle ones close after {IDLE:.0f} s" in refusal  # the idle timeout the running server applies
    statuses = [r.status_code for r in first[:-1]]
    for address in ADDRESSES[1:]:  # 8 more addresses: room for 1024 more than one, past the cap in all
        statuses += [r.status_code for r in await open_sessions(server.url, address, PER_CLIENT)]
    assert statuses.count(200) == ALL_SESSIONS
    assert set(statuses) == {200, 503}
    async with loopback_http_client(timeout=10) as http:  # the 2026-07-28 protocol has no sessions: still served
        discover = {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": ENVELOPE}}
        discovered = await http.post(server.url, json=discover, headers=modern_headers("server/discover"))
    assert discovered.status_code == 200, discovered.text


# The resume grace across replicas (Redis) ---------------------------------------------------------------------------

GRACE = Settings.model_fields["resume_grace"].default
LATE_BY = 10.0  # what a loaded machine may add before the follower notices the silence


@pytest.mark.slow
@pytest.mark.timeout(GRACE + 120)
async def test_a_resume_on_another_replica_ends_after_the_default_grace(
    at_defaults: Callable[..., HttpServer], emulator_state: EmulatorState, tmp_path: Path
) -> None:
    """The replica streaming a call dies; the replica the client resumed on ends the stream after 30 s of silence."""
    assert GRACE == 30  # the README's figure
    with redis_server(tmp_path) as url:
        a, b = at_defaults("a", {"ORQ_MCP_EVENT_STORE": url}), at_defaults("b", {"ORQ_MCP_EVENT_STORE": url})
        emulator_state.chunk_delay = 0.1
        async with loopback_http_client() as http:
            session = Session(http, a.url)
            await session.open()
            with anyio.fail_after(20):
                before = await call_and_drop(session, 2, after_messages=3)
            a.process.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            with anyio.fail_after(GRACE + LATE_BY + 20):
                after = await resume(session, b.url, before[1].id or "", 2)
            ended_at = time.monotonic()
    assert not any(m.get("id") == 2 for m in messages(after))  # no answer: the request died with A
    assert GRACE - 1 <= ended_at - killed_at <= GRACE + LATE_BY
