"""Deployment keys named in the settings (`--deployments`, `--expose`) that the workspace lacks.

A typo there used to be accepted silently: the deployment then answered "not found" with no hint why. Once the
deployment list is known, each such name is logged once with the closest key; a call for a deployment the
allow-list leaves out says so. In multi-tenant mode the allow-list is the operator's: a caller learns that the
deployment it named is left out, never which ones the operator allows, and nothing is logged per tenant.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from orq_mcp.config.settings import Settings
from orq_mcp.sandbox import EmulatorState, EmulatorThread
from orq_mcp.surface.named_keys import problems
from tests.conftest import API_KEY
from tests.helpers import error_text, ok
from tests.processes import MODULE, HttpServer, read_log, server_env
from tests.serving.test_exposure import TENANT_B_KEY, bearer, connect, tenant_b_workspace

TYPO = "support-triag"  # for the sample workspace's support-triage
ALLOW_LIST = f"faq-assistant,{TYPO}"


async def test_a_mistyped_allow_list_or_expose_key_is_logged_once_with_the_closest_key(tmp_path: Path) -> None:
    args = [*MODULE[1:], "--sandbox", "--deployments", ALLOW_LIST, "--expose", f"faq-assistant,{TYPO},sql-helper"]
    # No cache: every list below is fetched afresh, and the warnings must still come once.
    params = StdioServerParameters(command=MODULE[0], args=args, env=server_env(key=None, ORQ_MCP_CACHE_TTL="0"))
    errlog = tmp_path / "stderr.log"
    with errlog.open("w") as err:
        async with Client(stdio_client(params, errlog=err)) as client:
            for _ in range(3):
                names = {tool.name for tool in (await client.list_tools()).tools}
                assert "faq_assistant" in names
                keys = [d["key"] for d in ok(await client.call_tool("list_deployments", {}))["deployments"]]
                assert keys == ["faq-assistant"]
            hidden = error_text(await client.call_tool("invoke_deployment", {"key": "support-triage"}))
            missing = error_text(await client.call_tool("invoke_deployment", {"key": "no-such-deployment"}))
    warnings = [line for line in read_log(errlog).splitlines() if "WARNING" in line]
    named = [line for line in warnings if "which this workspace does not have" in line]
    assert len(named) == 3, warnings
    assert sum(f"ORQ_DEPLOYMENTS / --deployments names '{TYPO}'" in line for line in named) == 1
    assert sum(f"ORQ_EXPOSE / --expose names '{TYPO}'" in line for line in named) == 1
    assert all("did you mean 'support-triage'?" in line for line in named if TYPO in line), named
    (unmatched,) = [line for line in named if "'sql-helper'" in line]
    assert "did you mean" not in unmatched  # nothing in the sample workspace is close
    # The deployment the typo was meant for: the allow-list left it out, and the call says so and where.
    assert "Deployment 'support-triage' is in the workspace, but this server's allow-list" in hidden, hidden
    assert "ORQ_DEPLOYMENTS / --deployments" in hidden
    assert f"'{TYPO}', which the workspace does not have" in hidden
    # A key that is nowhere is simply not found: the allow-list is no part of that answer.
    assert "Deployment 'no-such-deployment' was not found" in missing
    assert "allow-list" not in missing


@pytest.fixture
def operator_server(emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path) -> Iterator[HttpServer]:
    emulator_state.add_workspace(TENANT_B_KEY, tenant_b_workspace())
    env = {"ORQ_BASE_URL": emulator.base_url, "ORQ_DEPLOYMENTS": ALLOW_LIST}
    server = HttpServer.start("http", env, tmp_path, args=["--multi-tenant"]).ready()
    try:
        yield server
    finally:
        server.stop()


async def test_in_multi_tenant_mode_a_left_out_deployment_is_said_without_the_operators_list(
    operator_server: HttpServer,
) -> None:
    async with connect(operator_server, bearer(API_KEY)) as client:
        assert [d["key"] for d in ok(await client.call_tool("list_deployments", {}))["deployments"]] == [
            "faq-assistant"
        ]
        own = error_text(await client.call_tool("get_deployment_config", {"key": "support-triage"}))
    async with connect(operator_server, bearer(TENANT_B_KEY)) as client:
        assert ok(await client.call_tool("list_deployments", {}))["deployments"] == []
        other = error_text(await client.call_tool("invoke_deployment", {"key": "scooter-helpdesk"}))
    for text, key in ((own, "support-triage"), (other, "scooter-helpdesk")):
        assert f"Deployment '{key}' is in your workspace, but this server serves only" in text, text
        for operators in (f"'{TYPO}'", "ORQ_DEPLOYMENTS", "--deployments"):
            assert operators not in text, text
    operator_server.stop()
    log = operator_server.stderr()
    assert "does not have" not in log  # one tenant's workspace is no measure of the operator's list
    assert "scooter-helpdesk" not in log


def test_a_partial_list_proves_no_key_missing_but_an_exposed_key_left_out_is_still_named() -> None:
    settings = Settings.load({"ORQ_DEPLOYMENTS": "faq-assistant,support-triag", "ORQ_EXPOSE": "support-triage"})
    keys = ["faq-assistant", "support-triage"]
    (left_out,) = problems(settings, keys, complete=False)
    assert left_out.startswith("ORQ_EXPOSE / --expose names 'support-triage', which ORQ_DEPLOYMENTS")
    assert len(problems(settings, keys, complete=True)) == 2
    assert problems(Settings.load({"ORQ_EXPOSE": "all"}), keys, complete=True) == []
