"""The workspace-drawn surface through the SDK client: exposed tools, MCP prompts, live lists, fitting results."""

from __future__ import annotations

import copy
import json
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError

from orq_mcp.config.settings import Settings
from orq_mcp.orq.client import OrqClient, create_http_client
from orq_mcp.sandbox import EmulatorState, Fault, sample_workspace
from orq_mcp.surface.invocation.fitted import result_size
from orq_mcp.surface.naming import unique_names
from orq_mcp.surface.tenants import new_tenant
from orq_mcp.surface.toolsets import FIXED_TOOL_NAMES
from orq_mcp.surface.toolsets.exposed import ExposedTools
from tests.conftest import API_KEY, FAST_RETRY
from tests.helpers import text_of

TICKET = {"company_name": "Acme Bikes", "language": "English", "customer_name": "Priya", "ticket_body": "Hello"}
# The four fixed tools are sent on every turn of every conversation that has this server enabled; hosts
# typically warn around 10-20k tokens of tools for all servers together. The budget grew with the surface, from
# 7,000 characters (issue #4) to 15,100 (issues 10, 15, 16: strict messages with tool calls and reasoning, the
# `options` pass-through fields, typed variables, non-chat outputs); issue 17 brought it back to 10,000 (~2,500
# tokens) with the strict messages schema kept: `options` is a described object the server's model validates,
# single-use $defs are inlined, and output schemas (read by clients to validate and type the structured result,
# not by the model) keep their types and lose their prose. The README states this figure.
TOOLS_LIST_BUDGET = 10_000
# Each exposed deployment adds its description, one line per variable and a small messages schema;
# 1,500 characters (~375 tokens) lets a workspace expose a dozen deployments for less than the fixed tools.
PER_DEPLOYMENT_TOOL_BUDGET = 1_500


def wire_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


# -- per-deployment tools --------------------------------------------------------------------------


def test_names_are_valid_unique_and_stable() -> None:
    keys = ["support-triage", "support_triage", "Support Triage!", "list_prompts", "2024-report", "x" * 80]
    names = unique_names(keys, reserved={"list_prompts"})
    assert names["support_triage"] == "support_triage"  # already valid: kept
    assert len(set(names.values())) == len(keys)
    for name in names.values():
        assert name[0].isalpha()
        assert len(name) <= 48
        assert all(c.islower() or c.isdigit() or c == "_" for c in name)
    # A suffix depends only on the key: removing a colliding neighbour does not rename the others.
    assert unique_names(["support-triage", "support_triage"])["support-triage"] == names["support-triage"]


async def test_exposed_deployments_become_tools(connect: Any) -> None:
    client = await connect(expose=("support-triage", "faq-assistant"))
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert {"support_triage", "faq_assistant"} <= set(tools)
    assert "product_copywriter" not in tools
    triage = tools["support_triage"]
    assert "Classifies an inbound support ticket" in (triage.description or "")
    assert "openai/gpt-4o-mini" in (triage.description or "")
    assert triage.input_schema["required"] == ["company_name", "language", "customer_name", "ticket_body"]
    assert all(triage.input_schema["properties"][v]["type"] == "string" for v in TICKET)
    assert "messages" in triage.input_schema["properties"]
    assert triage.input_schema["additionalProperties"] is False
    assert triage.output_schema is None  # the shape is invoke_deployment's; not repeated per deployment
    assert triage.annotations == tools["invoke_deployment"].annotations


async def test_an_exposed_tool_is_invoke_deployment(connect: Any, emulator_state: EmulatorState) -> None:
    client = await connect(expose=("all",))
    updates: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append(message or "")

    messages = [{"role": "user", "content": "Any news?"}]
    result = await client.call_tool("support_triage", {**TICKET, "messages": messages}, progress_callback=on_progress)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert "".join(updates) == result.structured_content["text"]
    sent = emulator_state.requests_for("stream")[-1].body
    assert sent["key"] == "support-triage"
    assert sent["inputs"] == TICKET
    assert sent["messages"] == [{"role": "user", "content": "Any news?"}]
    direct = await client.call_tool(
        "invoke_deployment", {"key": "support-triage", "inputs": TICKET, "messages": messages}
    )
    assert direct.structured_content is not None
    assert direct.structured_content["text"] == result.structured_content["text"]


async def test_missing_variables_are_refused_before_orq(connect: Any, emulator_state: EmulatorState) -> None:
    client = await connect(expose=("all",))
    result = await client.call_tool("support_triage", {"company_name": "Acme Bikes", "language": "English"})
    assert result.is_error
    assert "customer_name (used in message 2, user), ticket_body (used in message 2, user)" in text_of(result)
    assert "orq was not called" in text_of(result)
    assert emulator_state.requests_for("stream") == []
    result = await client.call_tool("support_triage", {**TICKET, "tone": "warm"})
    assert "unknown argument(s) 'tone'" in text_of(result)
    result = await client.call_tool("support_triage", {**TICKET, "language": 7})
    assert "language: Input should be a valid string" in text_of(result)  # worded as for the fixed tools


async def test_exposing_respects_the_allow_list(connect: Any) -> None:
    client = await connect(expose=("all",), deployments=frozenset({"faq-assistant"}))
    names = {t.name for t in (await client.list_tools()).tools}
    assert names == {"list_deployments", "get_deployment_config", "invoke_deployment", "list_prompts", "faq_assistant"}


# -- prompts ---------------------------------------------------------------------------------------


async def test_orq_prompts_are_mcp_prompts(client: Client) -> None:
    listed = {p.name: p for p in (await client.list_prompts()).prompts}
    assert set(listed) == {p["display_name"] for p in sample_workspace().prompts}
    summariser = listed["ticket-summariser"]
    assert [(a.name, a.required) for a in summariser.arguments or []] == [("product_line", True), ("ticket_body", True)]
    rendered = await client.get_prompt("ticket-summariser", {"product_line": "e-bikes", "ticket_body": "It squeaks"})
    contents = [(m.role, m.content.text) for m in rendered.messages]  # type: ignore[union-attr]
    assert contents[0][0] == "user"
    assert "Product line: e-bikes." in contents[0][1]
    assert contents[1] == ("user", "It squeaks")


async def test_prompt_errors_are_protocol_errors(client: Client) -> None:
    with pytest.raises(MCPError, match="needs these arguments: ticket_body"):
        await client.get_prompt("ticket-summariser", {"product_line": "e-bikes"})
    with pytest.raises(MCPError, match="Unknown prompt 'nope'"):
        await client.get_prompt("nope", {})


async def test_prompts_are_paginated(client: Client, emulator_state: EmulatorState) -> None:
    workspace = emulator_state.workspace_for(API_KEY)
    assert workspace is not None
    template = workspace.prompts[0]
    for i in range(150):
        extra = copy.deepcopy(template)
        extra["_id"] = f"01JPROMPT{i:017d}"
        extra["display_name"] = f"generated-{i:03d}"
        workspace.prompts.append(extra)
    try:
        names, cursor = [], None
        while True:
            page = await client.list_prompts(cursor=cursor)
            names += [p.name for p in page.prompts]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len(names) == len(set(names)) == len(workspace.prompts)
    finally:
        del workspace.prompts[-150:]


# -- live lists ------------------------------------------------------------------------------------


async def test_changes_are_announced_to_handshake_era_clients(connect: Any, emulator_state: EmulatorState) -> None:
    seen: list[str] = []
    expected = {"notifications/tools/list_changed", "notifications/resources/updated"}
    all_seen = anyio.Event()

    async def on_message(message: Any) -> None:
        method = getattr(getattr(message, "root", message), "method", None)
        if method:
            seen.append(method)
        if expected <= set(seen):
            all_seen.set()

    client = await connect("legacy", cache_ttl=1, expose=("all",), message_handler=on_message)
    assert client.server_capabilities.tools is not None
    assert client.server_capabilities.tools.list_changed is True
    assert client.server_capabilities.resources is not None
    assert client.server_capabilities.resources.subscribe is True
    assert client.server_capabilities.prompts is not None
    assert client.server_capabilities.prompts.list_changed is True
    before = {t.name for t in (await client.list_tools()).tools}
    with pytest.warns(Warning, match="resources/subscribe"):
        await client.subscribe_resource("orq://deployments/faq-assistant/prompt_config")

    workspace = emulator_state.workspace_for(API_KEY)
    assert workspace is not None
    added = copy.deepcopy(next(d for d in workspace.deployments if d["key"] == "faq-assistant"))
    added.update(key="returns-helper", id="5f0c0e1e-0000-4000-8000-000000000001", created="2026-11-01T00:00:00.000Z")
    faq = next(d for d in workspace.deployments if d["key"] == "faq-assistant")
    workspace.deployments.append(added)
    faq["prompt_config"]["messages"][0]["content"] += " Always mention the returns policy."
    try:
        with anyio.fail_after(10):
            await all_seen.wait()
        assert "notifications/resources/list_changed" in seen
        assert {t.name for t in (await client.list_tools()).tools} == before | {"returns_helper"}
    finally:
        workspace.deployments.remove(added)
        original = sample_workspace().deployment("faq-assistant")
        assert original is not None
        faq["prompt_config"]["messages"][0]["content"] = original["prompt_config"]["messages"][0]["content"]


async def test_changes_reach_2026_listeners(connect: Any, emulator_state: EmulatorState) -> None:
    client = await connect(cache_ttl=1)
    workspace = emulator_state.workspace_for(API_KEY)
    assert workspace is not None
    async with client.listen(resources_list_changed=True, prompts_list_changed=True) as subscription:
        await client.list_resources()
        await client.list_prompts()
        removed = workspace.prompts.pop()
        try:
            with anyio.fail_after(10):
                async for event in subscription:
                    if type(event).__name__ == "PromptsListChanged":
                        break
        finally:
            workspace.prompts.append(removed)


async def test_lists_are_cached_between_refreshes(client: Client, emulator_state: EmulatorState) -> None:
    for _ in range(5):
        await client.list_resources()
        await client.list_prompts()
        await client.list_tools()
    assert len(emulator_state.requests_for("list_deployments")) == 1
    assert len(emulator_state.requests_for("list_prompts")) == 1


# -- results that fit --------------------------------------------------------------------------------


async def test_tools_list_stays_within_budget(client: Client, connect: Any) -> None:
    tools = (await client.list_tools()).tools
    size = wire_size([t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools])
    per_tool = ", ".join(
        f"{t.name} {wire_size(t.model_dump(by_alias=True, exclude_none=True, mode='json')):,}" for t in tools
    )
    assert size <= TOOLS_LIST_BUDGET, (
        f"tools/list is {size:,} characters ({per_tool}); the budget is {TOOLS_LIST_BUDGET:,}"
    )
    exposed = await connect(expose=("all",))
    every = (await exposed.list_tools()).tools
    extra = wire_size([t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in every]) - size
    assert extra <= PER_DEPLOYMENT_TOOL_BUDGET * (len(every) - len(tools))


async def test_long_completions_are_cut_with_a_notice(connect: Any, emulator_state: EmulatorState) -> None:
    client = await connect(max_result_chars=5_000)
    emulator_state.add_fault(Fault("stream", "huge_response", size=50_000, chunk_size=2048))
    updates: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append(message or "")

    result = await client.call_tool("invoke_deployment", {"key": "faq-assistant"}, progress_callback=on_progress)
    assert not result.is_error
    assert len(text_of(result)) <= 5_000
    assert "it has 50,000 characters, the limit is 5,000" in text_of(result)
    assert len("".join(updates)) == 50_000  # the whole text still streamed
    assert result.structured_content is not None
    assert result.structured_content["text"] == text_of(result)


async def test_long_lists_are_paged_to_fit(connect: Any) -> None:
    client = await connect(max_result_chars=1_000)
    result = await client.call_tool("list_deployments", {"limit": 50})
    assert len(text_of(result)) <= 1_000
    page = result.structured_content
    assert page is not None
    assert 1 <= len(page["deployments"]) < 5
    rest = await client.call_tool("list_deployments", {"limit": 50, "cursor": page["next_cursor"]})
    assert rest.structured_content is not None
    keys = [d["key"] for d in page["deployments"] + rest.structured_content["deployments"]]
    assert len(keys) == len(set(keys))


async def test_huge_configs_are_shortened(connect: Any, emulator_state: EmulatorState) -> None:
    workspace = emulator_state.workspace_for(API_KEY)
    assert workspace is not None
    faq = next(d for d in workspace.deployments if d["key"] == "faq-assistant")
    original = faq["prompt_config"]["messages"][0]["content"]
    faq["prompt_config"]["messages"][0]["content"] = original + " Policy: " + "lorem ipsum " * 5_000
    try:
        client = await connect(max_result_chars=4_000)
        result = await client.call_tool("get_deployment_config", {"key": "faq-assistant"})
        assert not result.is_error
        assert len(text_of(result)) <= 4_000
        assert result_size(result) <= 4_000  # the text block and the structured copy together
        assert "characters cut by orq-mcp" in text_of(result)
        assert result.structured_content is not None
        assert result.structured_content["model"] == "mistral-small-latest"
    finally:
        faq["prompt_config"]["messages"][0]["content"] = original


async def test_deployment_tools_are_built_once_per_deployment_list(settings: Settings) -> None:
    """Building a tool means a pydantic model and its schema: done when the cached list changes, not per call."""
    async with create_http_client(settings.base_url) as http:
        orq = OrqClient(http, "", retry=FAST_RETRY)
        tenant = new_tenant(settings.model_copy(update={"expose": ("all",)}), orq, API_KEY)
        exposed = ExposedTools(FIXED_TOOL_NAMES)
        first = await exposed.of(tenant)
        again = await exposed.of(tenant)
    assert first
    assert all(again[name] is tool for name, tool in first.items())
