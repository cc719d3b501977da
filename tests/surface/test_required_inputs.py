"""One rule for every invoking tool: a required variable without a value is refused before orq is called.

Most clients cannot elicit (Claude Code, Cursor, the SDK clients), so these tests drive the real server over
stdio with a client that declares no elicitation capability. The rule: a variable the template needs, with no
default, and absent (or null) in the inputs is refused, naming the variable and the message that uses it; an
explicit "" is a value. invoke_deployment and the --expose tools share it.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from orq_mcp.sandbox import EmulatorState, EmulatorThread
from tests.helpers import error_text, ok
from tests.processes import server_env

WHERE = {
    "company_name": "company_name (used in message 1, system)",
    "language": "language (used in message 1, system)",
    "customer_name": "customer_name (used in message 2, user)",
    "ticket_body": "ticket_body (used in message 2, user)",
}
PREFIX = "Missing input(s) for deployment 'support-triage': "


@asynccontextmanager
async def without_forms(emulator: EmulatorThread, tmp_path: Path) -> AsyncIterator[Client]:
    """The real server over stdio, `support-triage` exposed, and a client that declares no elicitation."""
    env = server_env(emulator.base_url)
    args = ["-m", "orq_mcp", "--expose", "support-triage"]
    params = StdioServerParameters(command=sys.executable, args=args, env=env)
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:  # no elicitation callback: no forms
            yield client


def paid_calls(state: EmulatorState) -> list[Any]:
    return state.requests_for("stream") + state.requests_for("invoke")


async def test_invoke_deployment_refuses_missing_variables_naming_where_they_are_used(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path
) -> None:
    async with without_forms(emulator, tmp_path) as client:
        refused = error_text(await client.call_tool("invoke_deployment", {"key": "support-triage"}))
    assert PREFIX + ", ".join(WHERE.values()) + ". " in refused
    assert "orq was not called" in refused
    assert paid_calls(emulator_state) == []


async def test_an_explicit_empty_string_is_a_value_and_null_is_not(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path
) -> None:
    inputs: dict[str, Any] = {"company_name": "Acme Bikes", "language": "", "customer_name": None}
    async with without_forms(emulator, tmp_path) as client:
        refused = error_text(await client.call_tool("invoke_deployment", {"key": "support-triage", "inputs": inputs}))
        assert PREFIX + WHERE["customer_name"] + ", " + WHERE["ticket_body"] + ". " in refused
        assert paid_calls(emulator_state) == []
        inputs.update(customer_name="", ticket_body="")
        ok(await client.call_tool("invoke_deployment", {"key": "support-triage", "inputs": inputs}))
    (sent,) = paid_calls(emulator_state)
    assert sent.body["inputs"] == inputs


async def test_the_exposed_tool_follows_the_same_rule(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path
) -> None:
    given = {"company_name": "Acme Bikes", "language": "English"}
    async with without_forms(emulator, tmp_path) as client:
        exposed = error_text(await client.call_tool("support_triage", given))
        direct = error_text(await client.call_tool("invoke_deployment", {"key": "support-triage", "inputs": given}))
    assert exposed.startswith(PREFIX + WHERE["customer_name"] + ", " + WHERE["ticket_body"] + ". ")
    assert direct.endswith(exposed)  # the fixed tool's error only gains the SDK's "Error executing tool" prefix
    assert paid_calls(emulator_state) == []


async def test_checking_costs_one_read_of_versions_however_many_calls_arrive(
    client: Client, emulator_state: EmulatorState
) -> None:
    question = {"key": "faq-assistant", "messages": [{"role": "user", "content": "Do you ship to Norway?"}]}
    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(client.call_tool, "invoke_deployment", question)
    assert len(emulator_state.requests_for("stream")) == 20
    assert len(emulator_state.requests_for("versions")) == 1  # read once, by whichever call came first
