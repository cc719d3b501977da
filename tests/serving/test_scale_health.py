"""`/healthz` for load balancers: answered without credentials, saying nothing secret, on every HTTP transport."""

from __future__ import annotations

import pytest

from orq_mcp.sandbox import EmulatorThread
from tests.conftest import API_KEY
from tests.processes import HttpServer, loopback_http_client

TOKEN = "access-token-5d1c0b8e7a9f4e21-0123456789abcdef"


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_healthz_answers_without_the_token_and_shows_no_secret(
    emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory, transport: str
) -> None:
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url, "ORQ_MCP_AUTH_TOKEN": TOKEN}
    server = HttpServer.start(transport, env, tmp_path_factory.mktemp(f"orq-mcp-health-{transport}")).ready()
    try:
        base = f"http://127.0.0.1:{server.port}"
        async with loopback_http_client() as http:
            health = await http.get(f"{base}/healthz")
            head = await http.head(f"{base}/healthz")
            gated = await http.get(server.url)  # everything else still wants the token
        assert health.status_code == 200
        body = health.json()
        assert set(body) == {"status", "server", "version", "pid"}
        assert body["status"] == "ok"
        assert body["pid"] == server.process.pid
        assert API_KEY not in health.text
        assert TOKEN not in health.text
        assert emulator.base_url not in health.text
        assert head.status_code == 200
        assert gated.status_code == 401
    finally:
        server.stop()
    assert API_KEY not in server.stderr()
    assert "Traceback" not in server.stderr()
