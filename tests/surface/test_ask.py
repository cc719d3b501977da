"""Ask, don't fail: missing variables are asked for with a form, in both protocol eras.

A 2026-07-28 client gets an input-required result and retries with the answers; a handshake-era
client is sent `elicitation/create`. Declining, dismissing, or a client without elicitation all get
the error the call had before.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp_types import ElicitRequestFormParams, ElicitRequestParams, ElicitResult, TextContent

from orq_mcp.config.settings import Settings
from orq_mcp.sandbox import EmulatorState
from tests.conftest import connected

GIVEN = {"company_name": "Acme Bikes", "language": "English"}
ANSWERS = {"customer_name": "Priya", "ticket_body": "Where is my bike?"}
ERAS = ["auto", "legacy"]  # in-process "auto" speaks 2026-07-28; "legacy" forces the initialize handshake


class Form:
    """An elicitation callback that answers with `action` and records what it was asked."""

    def __init__(self, action: str = "accept") -> None:
        self.action = action
        self.asked: list[ElicitRequestFormParams] = []

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        self.asked.append(params)
        properties = params.requested_schema["properties"]
        content = {name: ANSWERS[name] for name in properties} if self.action == "accept" else None
        return ElicitResult(action=self.action, content=content)  # type: ignore[arg-type]


def exposing(settings: Settings) -> Settings:
    return settings.model_copy(update={"expose": ("all",)})


def text(result: Any) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


@pytest.mark.parametrize("mode", ERAS)
async def test_a_deployment_tool_asks_for_its_missing_variables(
    settings: Settings, emulator_state: EmulatorState, mode: str
) -> None:
    form = Form()
    async with connected(exposing(settings), mode=mode, elicitation_callback=form) as client:
        result = await client.call_tool("support_triage", GIVEN)
    assert not result.is_error, text(result)
    (asked,) = form.asked
    assert "customer_name, ticket_body" in asked.message
    assert set(asked.requested_schema["properties"]) == set(ANSWERS)
    assert emulator_state.requests_for("stream")[-1].body["inputs"] == {**GIVEN, **ANSWERS}


@pytest.mark.parametrize("mode", ERAS)
async def test_invoke_deployment_asks_for_what_inputs_lack(
    settings: Settings, emulator_state: EmulatorState, mode: str
) -> None:
    form = Form()
    async with connected(settings, mode=mode, elicitation_callback=form) as client:
        result = await client.call_tool("invoke_deployment", {"key": "support-triage", "inputs": GIVEN})
    assert not result.is_error, text(result)
    assert len(form.asked) == 1
    assert emulator_state.requests_for("stream")[-1].body["inputs"] == {**GIVEN, **ANSWERS}


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_a_refused_form_gets_the_missing_inputs_error(
    settings: Settings, emulator_state: EmulatorState, mode: str, action: str
) -> None:
    form = Form(action)
    async with connected(exposing(settings), mode=mode, elicitation_callback=form) as client:
        result = await client.call_tool("support_triage", GIVEN)
        direct = await client.call_tool("invoke_deployment", {"key": "support-triage", "inputs": GIVEN})
    for answer in (result, direct):
        assert answer.is_error
        refused = "Missing input(s) for deployment 'support-triage': customer_name (used in message 2, user), "
        assert refused in text(answer)
    assert emulator_state.requests_for("stream") == []


async def test_without_elicitation_nothing_is_asked(settings: Settings, emulator_state: EmulatorState) -> None:
    async with connected(exposing(settings)) as client:
        refused = await client.call_tool("support_triage", GIVEN)
        direct = await client.call_tool("invoke_deployment", {"key": "support-triage", "inputs": GIVEN})
    for answer in (refused, direct):  # one rule for both (tests/surface/test_required_inputs.py has it over stdio)
        assert answer.is_error
        assert "orq was not called" in text(answer)
    assert emulator_state.requests_for("stream") == []


@pytest.mark.parametrize("mode", ERAS)
async def test_a_form_never_asks_for_a_list_or_an_object(
    settings: Settings, emulator_state: EmulatorState, mode: str
) -> None:
    form = Form()
    async with connected(settings, mode=mode, elicitation_callback=form) as client:
        result = await client.call_tool("invoke_deployment", {"key": "account-review", "inputs": {"company": "Acme"}})
    assert result.is_error
    assert "customer (an object; used in message 2, user), orders (a list; used in message 2, user)" in text(result)
    assert form.asked == []  # a form holds text fields only
    assert emulator_state.requests_for("stream") == []
