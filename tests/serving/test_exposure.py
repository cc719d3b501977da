"""Issue #3, secrets and exposure: who can reach an HTTP server, with which credentials, and what each caller sees.

Real `python -m orq_mcp --transport http|sse` processes on loopback ports against the session's orq emulator, to
which a second workspace (tenant B) is added. The servers all start with the module, so that they boot in
parallel, and are shared by its tests:

- `local`: Streamable HTTP on the default address, with the deployment allow-list `ALLOWED`;
- `remote`: Streamable HTTP on 0.0.0.0 with `--allow-remote`, `ORQ_MCP_AUTH_TOKEN`, `ORQ_MCP_ALLOWED_HOSTS` and
  `ORQ_MCP_ALLOWED_ORIGINS` (the documented way to serve other machines), reached here through 127.0.0.1;
- `token_sse`: legacy SSE on the default address with `ORQ_MCP_AUTH_TOKEN`;
- `tenant_http`, `tenant_sse`: `--multi-tenant` (no server key at all), each client bringing its own orq key.

Tenant A's key is the session's `API_KEY` (the sample workspace); tenant B's workspace stays in the session
emulator after this module, under a key no other test sends.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from orq_mcp.sandbox import EmulatorState, EmulatorThread, Workspace
from orq_mcp.sandbox.data import SAMPLE_DEPLOYMENTS, SAMPLE_PROMPTS
from tests.conftest import API_KEY
from tests.helpers import error_text, ok
from tests.processes import (
    MODULE,
    STARTUP_TIMEOUT,
    HttpServer,
    free_port,
    listening_addresses,
    loopback_http_client,
    server_env,
    start_on_default_host,
)

TOKEN = "orq-mcp-access-token-9d41c7e2b05a4f38"
TENANT_A_KEY = API_KEY  # the sample workspace
TENANT_B_KEY = "sk-orq-tenant-b-canary-2c6f0e9a17d3"
UNKNOWN_KEY = "sk-orq-unknown-canary-81b5d2f4c0e7"
# What a multi-tenant server tells a caller orq refused (orq's own 401 message also mentions the header).
TENANT_KEY_HINT = "Check the orq API key your MCP client sends as `Authorization: Bearer <key>`."
SECRETS = (API_KEY, TOKEN, TENANT_B_KEY, UNKNOWN_KEY)
ALLOWED = ("faq-assistant", "support-triage")
ALLOWED_ORIGIN = "https://inspector.example"
SAMPLE_KEYS = sorted(d["key"] for d in SAMPLE_DEPLOYMENTS)
TENANT_B_KEYS = ["scooter-helpdesk", "warranty-claims-bot"]
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
# Pace of the emulator's streams when two tenants' generations must overlap.
OVERLAP_CHUNK_DELAY = 0.01


def tenant_b_workspace() -> Workspace:
    """A second workspace: two deployments, named unlike anything in the sample workspace, and no prompts."""
    base = next(d for d in SAMPLE_DEPLOYMENTS if d["key"] == "faq-assistant")
    deployments = []
    models = [("gpt-4o", "openai"), ("claude-3-5-haiku-20241022", "anthropic")]
    for index, (key, (model, provider)) in enumerate(zip(TENANT_B_KEYS, models, strict=True)):
        deployment = copy.deepcopy(base)
        deployment.update(
            id=f"b0b0b0b0-0000-4000-8000-00000000000{index}",
            key=key,
            description=f"Tenant B's {key}",
            created=f"2025-05-0{index + 1}T10:00:00.000Z",
            updated=f"2025-05-0{index + 1}T10:00:00.000Z",
        )
        deployment["prompt_config"].update(model=model, provider=provider)
        deployment["prompt_config"]["messages"] = [
            {"role": "system", "content": f"You are {key} for Bolt Scooters. Answer in one sentence."}
        ]
        deployments.append(deployment)
    return Workspace(deployments=deployments, prompts=[])


# Servers ------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers(emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, HttpServer]]:
    emulator.state.add_workspace(TENANT_B_KEY, tenant_b_workspace())
    base = {"ORQ_BASE_URL": emulator.base_url, "ORQ_MCP_PROGRESS_INTERVAL": "0.02"}
    keyed = {**base, "ORQ_API_KEY": API_KEY}
    started: dict[str, HttpServer] = {}

    def log_dir(name: str) -> Path:
        return tmp_path_factory.mktemp(f"exposure-{name}")

    try:
        allow_listed = {**keyed, "ORQ_DEPLOYMENTS": ",".join(ALLOWED)}
        started["local"] = start_on_default_host("http", allow_listed, log_dir("local"))
        started["remote"] = HttpServer.start(
            "http",
            {
                **keyed,
                "ORQ_MCP_AUTH_TOKEN": TOKEN,
                "ORQ_MCP_ALLOWED_HOSTS": "127.0.0.1:*",
                "ORQ_MCP_ALLOWED_ORIGINS": ALLOWED_ORIGIN,
            },
            log_dir("remote"),
            args=["--allow-remote"],
            host="0.0.0.0",
        )
        started["token_sse"] = start_on_default_host("sse", {**keyed, "ORQ_MCP_AUTH_TOKEN": TOKEN}, log_dir("tsse"))
        for transport in ("http", "sse"):
            started[f"tenant_{transport}"] = HttpServer.start(
                transport, base, log_dir(f"tenant-{transport}"), args=["--multi-tenant"]
            )
        yield started
    finally:
        for server in started.values():  # all at once, then wait for each
            if server.process.poll() is None:
                server.process.terminate()
        for server in started.values():
            server.stop()


def ready(servers: dict[str, HttpServer], name: str) -> HttpServer:
    return servers[name].ready()


# Helpers ------------------------------------------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def connect(server: HttpServer, headers: dict[str, str] | None = None) -> AsyncIterator[Client]:
    """An MCP client to `server` (Streamable HTTP or SSE) sending `headers` with every HTTP request."""
    with anyio.fail_after(STARTUP_TIMEOUT):
        if server.transport == "sse":
            transport: Any = sse_client(server.url, headers=headers, httpx_client_factory=loopback_http_client)
            async with Client(transport) as client:
                yield client
            return
        async with (
            loopback_http_client(headers) as http,
            Client(streamable_http_client(server.url, http_client=http)) as client,
        ):
            yield client


async def post_initialize(server: HttpServer, headers: dict[str, str] | None = None) -> httpx2.Response:
    async with loopback_http_client(timeout=10) as http:
        return await http.post(server.url, json=INITIALIZE, headers={**MCP_HEADERS, **(headers or {})})


async def open_sse(server: HttpServer, headers: dict[str, str] | None = None) -> httpx2.Response:
    """GET /sse and give back the response status and headers without waiting for the (endless) body."""
    async with (
        loopback_http_client(timeout=10) as http,
        http.stream("GET", server.url, headers={"Accept": "text/event-stream", **(headers or {})}) as response,
    ):
        if response.status_code != 200:
            await response.aread()
        return response


@dataclass
class Progress:
    messages: list[str] = field(default_factory=list)

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        assert message
        self.messages.append(message)

    @property
    def text(self) -> str:
        return "".join(self.messages)


async def invoke_streamed(client: Client, arguments: dict[str, Any]) -> tuple[str, Progress]:
    progress = Progress()
    result = await client.call_tool("invoke_deployment", arguments, progress_callback=progress)
    return ok(result)["text"], progress


async def deployment_keys(client: Client) -> list[str]:
    return sorted(d["key"] for d in ok(await client.call_tool("list_deployments", {"limit": 50}))["deployments"])


async def resource_keys(client: Client) -> list[str]:
    listed = await client.list_resources(cache_mode="bypass")
    return sorted(
        str(r.uri).removeprefix("orq://deployments/").removesuffix("/prompt_config") for r in listed.resources
    )


def question(tag: str) -> dict[str, Any]:
    return {"role": "user", "content": f"Question {tag}: when will my order arrive?"}


# Binding ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("transport", "host", "via_env"),
    [("http", "0.0.0.0", False), ("sse", "::", False), ("http", "192.0.2.7", True)],
)
def test_a_non_loopback_host_is_refused_without_allow_remote(
    emulator: EmulatorThread, servers: dict[str, HttpServer], transport: str, host: str, via_env: bool
) -> None:
    # (`servers` is only requested so that the module's servers boot while these short-lived processes run.)
    port = free_port()
    env = server_env(emulator.base_url)
    args = ["--transport", transport, "--port", str(port)]
    if via_env:
        env["ORQ_MCP_HOST"] = host
    else:
        args += ["--host", host]
    done = subprocess.run([*MODULE, *args], env=env, capture_output=True, timeout=STARTUP_TIMEOUT, check=False)
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert done.stdout == b""
    assert len(stderr.splitlines()) == 1, stderr
    assert stderr.endswith("\n")
    assert "--allow-remote" in stderr
    assert host in stderr
    assert API_KEY not in stderr


def test_allow_remote_listens_everywhere_warns_and_serves(servers: dict[str, HttpServer]) -> None:
    remote = ready(servers, "remote")
    assert listening_addresses(remote.process.pid, remote.port) == {"0.0.0.0"}
    warnings = [line for line in remote.stderr().splitlines() if " WARNING orq_mcp" in line]
    assert len(warnings) == 1, remote.stderr()
    (warning,) = warnings
    assert "0.0.0.0" in warning
    assert "reachable from other machines" in warning
    assert "bearer token required" in warning
    # ORQ_MCP_ALLOWED_HOSTS is set, so there is no second warning about Host checks being off.
    assert "DNS-rebinding" not in remote.stderr()


async def test_the_remote_server_serves_through_loopback(servers: dict[str, HttpServer]) -> None:
    remote = ready(servers, "remote")
    async with connect(remote, bearer(TOKEN)) as client:
        assert await deployment_keys(client) == SAMPLE_KEYS


def test_the_default_address_is_loopback(servers: dict[str, HttpServer]) -> None:
    for name, path in (("local", "/mcp"), ("token_sse", "/sse")):
        server = ready(servers, name)
        assert listening_addresses(server.process.pid, server.port) == {"127.0.0.1"}, name
        assert f"on http://127.0.0.1:{server.port}{path}" in server.stderr(), server.stderr()
        assert " WARNING orq_mcp" not in server.stderr(), server.stderr()


# DNS rebinding ------------------------------------------------------------------------------------------------------


async def test_dns_rebinding_is_refused_over_streamable_http(servers: dict[str, HttpServer]) -> None:
    local = ready(servers, "local")
    port = local.port
    assert (await post_initialize(local)).status_code == 200
    assert (await post_initialize(local, {"Host": f"localhost:{port}"})).status_code == 200
    assert (await post_initialize(local, {"Origin": f"http://localhost:{port}"})).status_code == 200
    assert (await post_initialize(local, {"Origin": f"http://127.0.0.1:{port}"})).status_code == 200
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.evil.example:{port}"):
        response = await post_initialize(local, {"Host": host})
        assert response.status_code == 421, (host, response.text)
    for origin in ("http://evil.example", f"http://evil.example:{port}", "null"):
        response = await post_initialize(local, {"Origin": origin})
        assert response.status_code == 403, (origin, response.text)


async def test_configured_hosts_and_origins_are_enforced_off_loopback(servers: dict[str, HttpServer]) -> None:
    remote = ready(servers, "remote")
    assert (await post_initialize(remote, bearer(TOKEN))).status_code == 200
    assert (await post_initialize(remote, {**bearer(TOKEN), "Origin": ALLOWED_ORIGIN})).status_code == 200
    response = await post_initialize(remote, {**bearer(TOKEN), "Host": f"evil.example:{remote.port}"})
    assert response.status_code == 421
    for origin in ("http://evil.example", f"http://localhost:{remote.port}"):  # loopback origins are not implied
        response = await post_initialize(remote, {**bearer(TOKEN), "Origin": origin})
        assert response.status_code == 403, origin


async def test_dns_rebinding_is_refused_over_sse(servers: dict[str, HttpServer]) -> None:
    # The token does not get a request past the Host/Origin checks.
    sse = ready(servers, "token_sse")
    assert (await open_sse(sse, bearer(TOKEN))).status_code == 200
    assert (await open_sse(sse, {**bearer(TOKEN), "Host": "evil.example"})).status_code == 421
    assert (await open_sse(sse, {**bearer(TOKEN), "Host": f"evil.example:{sse.port}"})).status_code == 421
    assert (await open_sse(sse, {**bearer(TOKEN), "Origin": "http://evil.example"})).status_code == 403


async def test_a_refused_sse_connection_is_logged_without_a_traceback(servers: dict[str, HttpServer]) -> None:
    sse = ready(servers, "token_sse")
    before = sse.stderr()
    assert (await open_sse(sse, {**bearer(TOKEN), "Host": "evil.example"})).status_code == 421
    await anyio.sleep(0.5)  # whatever the server logs about this request comes right after its answer
    added = sse.stderr()[len(before) :]
    assert "Traceback" not in added, added
    assert " ERROR " not in added, added


# Access token -------------------------------------------------------------------------------------------------------

WRONG_AUTHORIZATIONS = [
    "",
    "Bearer",
    "Bearer wrong-token",
    f"Bearer {TOKEN[:-1]}",  # a prefix of the right token
    f"Bearer {TOKEN[:1]}",
    f"Bearer {TOKEN}x",  # the right token with more after it
    f"Bearer {TOKEN * 40}",  # much longer
    f"Bearer {TOKEN.upper()}",
    f"Basic {TOKEN}",
    TOKEN,  # no scheme
]


def assert_refused(response: httpx2.Response, what: str) -> None:
    assert response.status_code == 401, (what, response.status_code, response.text)
    assert response.headers.get("www-authenticate", "").startswith("Bearer"), (what, response.headers)
    assert TOKEN not in response.text


async def test_the_access_token_guards_streamable_http(servers: dict[str, HttpServer]) -> None:
    remote = ready(servers, "remote")
    assert_refused(await post_initialize(remote), "no Authorization header")
    for authorization in WRONG_AUTHORIZATIONS:
        assert_refused(await post_initialize(remote, {"Authorization": authorization}), authorization)
    assert (await post_initialize(remote, bearer(TOKEN))).status_code == 200
    assert (await post_initialize(remote, {"Authorization": f"bearer {TOKEN}"})).status_code == 200
    # An SDK client without the token cannot even connect.
    with pytest.RaisesGroup(MCPError, flatten_subgroups=True, allow_unwrapped=True):
        async with connect(remote, bearer("wrong-token")):
            pass


async def test_the_right_token_gets_a_full_session(
    servers: dict[str, HttpServer], emulator_state: EmulatorState
) -> None:
    for name in ("remote", "token_sse"):
        server = ready(servers, name)
        async with connect(server, bearer(TOKEN)) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            assert {"list_deployments", "get_deployment_config", "invoke_deployment", "list_prompts"} <= tools
            assert await deployment_keys(client) == SAMPLE_KEYS
            emulator_state.chunk_delay = OVERLAP_CHUNK_DELAY
            text, progress = await invoke_streamed(client, {"key": "faq-assistant", "messages": [question(name)]})
            emulator_state.chunk_delay = 0.002
            assert f"Question {name}" in text
            assert len(progress.messages) >= 2
            assert progress.text == text
    streams = emulator_state.requests_for("stream")
    assert len(streams) == 2
    assert all(record.api_key == API_KEY for record in streams)


async def test_the_access_token_guards_sse_and_its_message_endpoint(servers: dict[str, HttpServer]) -> None:
    sse = ready(servers, "token_sse")
    assert_refused(await open_sse(sse), "no Authorization header")
    for authorization in WRONG_AUTHORIZATIONS:
        assert_refused(await open_sse(sse, {"Authorization": authorization}), authorization)

    sessions: list[str] = []
    transport = sse_client(
        sse.url, headers=bearer(TOKEN), httpx_client_factory=loopback_http_client, on_session_created=sessions.append
    )
    async with Client(transport) as client:
        assert sessions
        endpoint = f"http://127.0.0.1:{sse.port}/messages/?session_id={sessions[0]}"
        # A notification the server ignores (it cancels nothing), so that no stray reply reaches the client.
        ping = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 424242}}
        async with loopback_http_client(timeout=10) as http:
            # Knowing a live session's id is not enough to post into it.
            assert_refused(await http.post(endpoint, json=ping), "message without a token")
            refused = await http.post(endpoint, json=ping, headers=bearer(TOKEN[:-1]))
            assert_refused(refused, "message with a prefix of the token")
            accepted = await http.post(endpoint, json=ping, headers=bearer(TOKEN))
            assert accepted.status_code == 202, accepted.text
        assert await deployment_keys(client) == SAMPLE_KEYS


# Multi-tenant -------------------------------------------------------------------------------------------------------


async def test_a_tenant_without_a_key_is_refused(servers: dict[str, HttpServer]) -> None:
    http, sse = ready(servers, "tenant_http"), ready(servers, "tenant_sse")
    for authorization in ("", "Bearer", f"Basic {TENANT_B_KEY}", TENANT_B_KEY):
        headers = {"Authorization": authorization} if authorization else {}
        response = await post_initialize(http, headers)
        assert response.status_code == 401, (authorization, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "orq API key" in response.json()["error_description"]
        response = await open_sse(sse, headers)
        assert response.status_code == 401, (authorization, response.status_code)


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_each_tenant_sees_only_its_own_workspace(
    servers: dict[str, HttpServer], emulator_state: EmulatorState, transport: str
) -> None:
    server = ready(servers, f"tenant_{transport}")
    async with connect(server, bearer(TENANT_A_KEY)) as a, connect(server, bearer(TENANT_B_KEY)) as b:
        for _ in range(2):  # the second resources/list reads the tenant's cached deployment list
            assert await deployment_keys(a) == SAMPLE_KEYS
            assert await deployment_keys(b) == TENANT_B_KEYS
            assert await resource_keys(a) == SAMPLE_KEYS
            assert await resource_keys(b) == TENANT_B_KEYS

        # Each one's deployments do not exist for the other.
        for client, foreign in ((a, TENANT_B_KEYS[0]), (b, "support-triage")):
            for tool in ("get_deployment_config", "invoke_deployment"):
                message = error_text(await client.call_tool(tool, {"key": foreign}))
                assert f"Deployment '{foreign}' was not found" in message, message
            with pytest.raises(MCPError) as unknown:
                await client.read_resource(f"orq://deployments/{foreign}/prompt_config")
            assert f"'{foreign}'" in unknown.value.message
        a_config = ok(await a.call_tool("get_deployment_config", {"key": "faq-assistant"}))
        b_config = ok(await b.call_tool("get_deployment_config", {"key": TENANT_B_KEYS[0]}))
        assert (a_config["model"], b_config["model"]) == ("mistral-small-latest", "gpt-4o")
        read = await b.read_resource(f"orq://deployments/{TENANT_B_KEYS[1]}/prompt_config")
        assert json.loads(read.contents[0].text)["provider"] == "anthropic"  # type: ignore[union-attr]

        # Prompts: tenant B has none, tenant A the sample ones.
        a_prompts = ok(await a.call_tool("list_prompts", {"limit": 50}))["prompts"]
        assert sorted(p["display_name"] for p in a_prompts) == sorted(p["display_name"] for p in SAMPLE_PROMPTS)
        assert ok(await b.call_tool("list_prompts", {"limit": 50}))["prompts"] == []
        assert (await b.list_prompts(cache_mode="bypass")).prompts == []
        assert len((await a.list_prompts(cache_mode="bypass")).prompts) == len(SAMPLE_PROMPTS)

    # Every orq call was made with the key of the tenant it served, and found only that tenant's deployments.
    for record in emulator_state.requests:
        assert record.api_key in (TENANT_A_KEY, TENANT_B_KEY), record
        if record.route in ("get_config", "stream") and record.status == 200:
            owner = TENANT_B_KEY if record.body["key"] in TENANT_B_KEYS else TENANT_A_KEY
            assert record.api_key == owner, record


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_concurrent_tenants_stream_only_their_own_text(
    servers: dict[str, HttpServer], emulator_state: EmulatorState, transport: str
) -> None:
    server = ready(servers, f"tenant_{transport}")
    emulator_state.chunk_delay = OVERLAP_CHUNK_DELAY
    rounds = 3
    results: dict[tuple[str, int], tuple[str, Progress]] = {}
    async with connect(server, bearer(TENANT_A_KEY)) as a, connect(server, bearer(TENANT_B_KEY)) as b:
        plan = [
            (tenant, i, client, key)
            for i in range(rounds)
            for tenant, client, key in (("A", a, "faq-assistant"), ("B", b, TENANT_B_KEYS[i % 2]))
        ]

        async def run(tenant: str, i: int, client: Client, key: str) -> None:
            arguments = {"key": key, "messages": [question(f"{tenant}{i}")]}
            results[tenant, i] = await invoke_streamed(client, arguments)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for job in plan:
                    tg.start_soon(run, *job)

    assert len(results) == 2 * rounds
    for (tenant, i), (text, progress) in results.items():
        assert f"Question {tenant}{i}:" in text
        assert progress.text == text, (tenant, i)
        assert len(progress.messages) >= 2
        model = "mistral-small-latest" if tenant == "A" else ("gpt-4o" if i % 2 == 0 else "claude-3-5-haiku")
        assert text.startswith(f"[{model}"), text
    assert len({text for text, _ in results.values()}) == 2 * rounds

    streams = emulator_state.requests_for("stream")
    assert len(streams) == 2 * rounds
    tenant_of = {id(r): r.body["messages"][-1]["content"].removeprefix("Question ")[0] for r in streams}
    a_streams = [r for r in streams if tenant_of[id(r)] == "A"]
    b_streams = [r for r in streams if tenant_of[id(r)] == "B"]
    # The two tenants' generations overlapped in time.
    assert any(
        a.started_at < (b.finished_at or 0) and b.started_at < (a.finished_at or 0)
        for a in a_streams
        for b in b_streams
    )
    for record in streams:
        content = record.body["messages"][-1]["content"]
        tenant = content.removeprefix("Question ")[0]
        assert record.api_key == (TENANT_A_KEY if tenant == "A" else TENANT_B_KEY), (content, record.api_key)
        assert (record.body["key"] in TENANT_B_KEYS) == (tenant == "B")


async def test_an_unknown_key_is_told_to_check_its_authorization_header(
    servers: dict[str, HttpServer], emulator_state: EmulatorState
) -> None:
    server = ready(servers, "tenant_http")
    async with connect(server, bearer(UNKNOWN_KEY)) as client:
        message = error_text(await client.call_tool("invoke_deployment", {"key": "faq-assistant"}))
        for text in (message, error_text(await client.call_tool("get_deployment_config", {"key": "faq-assistant"}))):
            assert "orq rejected the API key" in text, text
            assert TENANT_KEY_HINT in text, text
            assert "ORQ_API_KEY" not in text, text
            assert UNKNOWN_KEY not in text
        for list_them in (client.list_resources, client.list_prompts):
            with pytest.raises(MCPError) as listed:
                await list_them(cache_mode="bypass")
            assert TENANT_KEY_HINT in listed.value.message
            assert UNKNOWN_KEY not in listed.value.message
    assert emulator_state.requests
    assert all(record.api_key == UNKNOWN_KEY for record in emulator_state.requests)
    (stream,) = emulator_state.requests_for("stream")
    assert (stream.status, stream.chunks_sent) == (401, 0)  # orq refused before any generation


@pytest.mark.parametrize("tool", ["list_deployments", "list_prompts"])
async def test_an_unknown_key_listing_is_told_to_check_its_authorization_header(
    servers: dict[str, HttpServer], tool: str
) -> None:
    server = ready(servers, "tenant_http")
    async with connect(server, bearer(UNKNOWN_KEY)) as client:
        text = error_text(await client.call_tool(tool, {}))
    assert "orq rejected the API key" in text, text
    assert UNKNOWN_KEY not in text
    assert "ORQ_API_KEY" not in text, text
    assert TENANT_KEY_HINT in text, text


async def test_the_printed_configs_placeholder_as_a_bearer_is_named_and_orq_not_called(
    servers: dict[str, HttpServer], emulator_state: EmulatorState
) -> None:
    """`orq-mcp config cursor --transport http --multi-tenant` prints `Bearer your-orq-api-key`."""
    server = ready(servers, "tenant_http")
    emulator_state.clear_log()
    async with connect(server, bearer("your-orq-api-key")) as client:
        text = error_text(await client.call_tool("invoke_deployment", {"key": "faq-assistant"}))
    assert "The key after `Authorization: Bearer` is the example placeholder" in text, text
    assert "ORQ_API_KEY" not in text, text
    assert emulator_state.requests == []


async def test_a_tenants_cached_lists_never_hold_another_tenants_deployments(
    servers: dict[str, HttpServer], emulator_state: EmulatorState
) -> None:
    server = ready(servers, "tenant_http")
    async with connect(server, bearer(TENANT_B_KEY)) as b:
        assert await resource_keys(b) == TENANT_B_KEYS  # B's cache is filled
        async with connect(server, bearer(TENANT_A_KEY)) as a:
            assert await resource_keys(a) == SAMPLE_KEYS  # A's is filled, after B's
            # A refreshes: the whole list again, and the config lookup that reads A's cache.
            assert await deployment_keys(a) == SAMPLE_KEYS
            ok(await a.call_tool("get_deployment_config", {"key": "support-triage"}))
            assert await resource_keys(a) == SAMPLE_KEYS
        for _ in range(3):
            assert await resource_keys(b) == TENANT_B_KEYS
            assert await deployment_keys(b) == TENANT_B_KEYS
            assert error_text(await b.call_tool("get_deployment_config", {"key": "support-triage"}))
        config = ok(await b.call_tool("get_deployment_config", {"key": TENANT_B_KEYS[1]}))
        assert config["model"] == "claude-3-5-haiku-20241022"


# Allow-list ---------------------------------------------------------------------------------------------------------


async def test_the_allow_list_holds_over_http(servers: dict[str, HttpServer], emulator_state: EmulatorState) -> None:
    local = ready(servers, "local")
    async with connect(local) as client:
        assert await deployment_keys(client) == sorted(ALLOWED)
        assert await resource_keys(client) == sorted(ALLOWED)
        emulator_state.clear_log()
        for hidden in ("product-copywriter", "release-notes-writer"):
            for tool in ("invoke_deployment", "get_deployment_config"):
                message = error_text(await client.call_tool(tool, {"key": hidden}))
                assert f"Deployment '{hidden}' is in the workspace, but this server's allow-list" in message, message
            with pytest.raises(MCPError):
                await client.read_resource(f"orq://deployments/{hidden}/prompt_config")
        assert emulator_state.requests_for("stream") == []
        assert emulator_state.requests_for("get_config") == []
        # The allowed ones still work.
        text, progress = await invoke_streamed(client, {"key": "faq-assistant", "messages": [question("allowed")]})
        assert progress.text == text
    (stream,) = emulator_state.requests_for("stream")
    assert stream.body["key"] == "faq-assistant"


# Logs ---------------------------------------------------------------------------------------------------------------


def test_no_server_logged_a_traceback_or_a_secret(servers: dict[str, HttpServer]) -> None:
    # Runs last: every test above went through these servers.
    for name, server in servers.items():
        server.ready()
        log = server.stderr()
        assert "orq-mcp" in log, name
        assert "Traceback" not in log, (name, log)
        for secret in SECRETS:
            assert secret not in log, (name, secret)
        assert server.stdout() == "", name
