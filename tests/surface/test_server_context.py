"""Server-wide environment and contact, added to requests as the SDK's request hook adds them.

orq-ai-sdk 4.17 (`_hooks/globalhook.py`) turns an `environment` into `context.environments` on get_config,
invoke and stream, a contact id into the `X-ORQ-CONTACT-ID` header, and writes `stream: false` into
get_config and invoke bodies. orq-mcp offers the first two as ORQ_ENVIRONMENT and ORQ_CONTACT_ID; unlike the
hook, a caller's own `context.environments` wins over the server's.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from orq_mcp.config.settings import Settings, SettingsError
from orq_mcp.sandbox import EmulatorState, EmulatorThread
from tests.helpers import error_text, ok
from tests.processes import server_env

TRIAGE_INPUTS = {"company_name": "Acme Bikes", "language": "English", "customer_name": "Priya", "ticket_body": "Hi"}
QUESTION = [{"role": "user", "content": "Do you ship to Norway?"}]


async def test_environment_and_contact_reach_orq_and_the_callers_context_wins(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path
) -> None:
    env = server_env(emulator.base_url, ORQ_ENVIRONMENT="production", ORQ_CONTACT_ID="contact-42")
    params = StdioServerParameters(command=sys.executable, args=["-m", "orq_mcp"], env=env)
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            ok(await client.call_tool("get_deployment_config", {"key": "support-triage", "inputs": TRIAGE_INPUTS}))
            ok(await client.call_tool("invoke_deployment", {"key": "faq-assistant", "messages": QUESTION}))
            own: dict[str, Any] = {"environments": "staging", "country": "NL"}
            routed = {"key": "support-triage", "inputs": TRIAGE_INPUTS, "context": own}
            ok(await client.call_tool("invoke_deployment", routed))
    (config,) = emulator_state.requests_for("get_config")
    assert config.body["context"] == {"environments": "production"}
    assert config.body["stream"] is False  # as the SDK's hook writes it
    faq, triage = emulator_state.requests_for("stream")
    assert faq.body["context"] == {"environments": "production"}
    assert triage.body["context"] == own  # the caller's routing wins
    assert all(r.status == 200 for r in emulator_state.requests)
    assert {r.headers.get("x-orq-contact-id") for r in emulator_state.requests} == {"contact-42"}


async def test_an_environment_no_variant_serves_is_orqs_routing_error(
    connect: Any, emulator_state: EmulatorState
) -> None:
    client = await connect(environment="development")  # support-triage routes production and staging only
    call = {"key": "support-triage", "inputs": TRIAGE_INPUTS}
    refused = error_text(await client.call_tool("invoke_deployment", call))
    assert "HTTP 422" in refused
    routed = emulator_state.requests_for("stream")[-1]
    assert routed.body["context"] == {"environments": "development"}


async def test_without_the_settings_nothing_is_added(client: Client, emulator_state: EmulatorState) -> None:
    ok(await client.call_tool("invoke_deployment", {"key": "faq-assistant", "messages": QUESTION}))
    (sent,) = emulator_state.requests_for("stream")
    assert "context" not in sent.body
    assert "x-orq-contact-id" not in sent.headers


def test_the_settings_load_from_the_environment() -> None:
    settings = Settings.load({"ORQ_ENVIRONMENT": " production ", "ORQ_CONTACT_ID": "contact-42"})
    assert (settings.environment, settings.contact_id) == ("production", "contact-42")
    assert (Settings().environment, Settings().contact_id) == (None, None)


@pytest.mark.parametrize("variable", ["ORQ_ENVIRONMENT", "ORQ_CONTACT_ID"])
@pytest.mark.parametrize("value", ["two\nlines", "x" * 300, "tab\there"])
def test_a_value_that_cannot_be_sent_is_refused_at_start(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.load({variable: value})
    assert variable in str(refused.value)
    assert value not in str(refused.value)
