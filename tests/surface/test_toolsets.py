"""Toolsets (issue 19): which tools a server offers (`--toolsets`), what each toolset costs in `tools/list`, and the
agents, knowledge, feedback and traces tools through a real SDK client (in memory; tests/e2e/test_e2e_toolsets.py runs
them across processes).

The default set is chosen by measurement: its tools/list stays within DEFAULT_TOOLS_LIST_BUDGET, and each toolset
stays within its own budget, so the README's table of sizes (generated from these measurements) holds.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp_types import ElicitRequestFormParams, ElicitRequestParams, ElicitResult

from orq_mcp.config.settings import DEFAULT_TOOLSETS, TOOLSET_NAMES, Settings, SettingsError
from orq_mcp.sandbox import EmulatorState, Fault
from orq_mcp.surface.invocation.fitted import result_size
from orq_mcp.surface.toolsets import BY_NAME
from tests.conftest import API_KEY, connected
from tests.helpers import error_text, ok, text_of
from tests.surface.test_workspace_surface import TOOLS_LIST_BUDGET, wire_size

# What the tools of each toolset may add to every turn of a conversation, in characters of compact JSON. The
# deployments' four are held to TOOLS_LIST_BUDGET (tests/surface/test_workspace_surface.py).
TOOLSET_BUDGETS = {
    "deployments": TOOLS_LIST_BUDGET,
    "agents": 4_500,
    "knowledge": 2_300,
    "feedback": 1_500,
    "traces": 1_400,
}
# The default toolsets' tools/list (issue 19): at most this, however the toolsets grow.
DEFAULT_TOOLS_LIST_BUDGET = 12_000
# With --dynamic-toolsets a server starts with list_toolsets and enable_toolset only.
DYNAMIC_START_BUDGET = 1_500
ORDER = {"key": "order-assistant", "message": "Where is my order NL-20391?", "variables": {"company_name": "Acme"}}


async def tools_of(client: Client) -> list[dict[str, Any]]:
    return [t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in (await client.list_tools()).tools]


async def names_of(client: Client) -> list[str]:
    return [tool["name"] for tool in await tools_of(client)]


# Which toolsets, and their sizes ------------------------------------------------------------------------------------


async def test_each_toolset_offers_its_tools_and_stays_within_its_budget(connect: Any) -> None:
    sizes = {}
    for name in TOOLSET_NAMES:
        client = await connect(toolsets=(name,))
        tools = await tools_of(client)
        assert [tool["name"] for tool in tools] == list(BY_NAME[name].tool_names)
        sizes[name] = wire_size(tools)
    over = {name: size for name, size in sizes.items() if size > TOOLSET_BUDGETS[name]}
    assert not over, f"toolsets over their budgets {TOOLSET_BUDGETS}: {over}"


async def test_the_default_toolsets_are_measured_to_fit(connect: Any) -> None:
    """The default is what fits: the deployments (today's tools), and no other toolset with them within 12,000
    characters but feedback or traces alone, neither of much use without the others (README, Toolsets)."""
    default = await connect()
    assert set(await names_of(default)) == {n for t in DEFAULT_TOOLSETS for n in BY_NAME[t].tool_names}
    assert wire_size(await tools_of(default)) <= DEFAULT_TOOLS_LIST_BUDGET
    with_agents = await connect(toolsets=("deployments", "agents"))
    assert wire_size(await tools_of(with_agents)) > DEFAULT_TOOLS_LIST_BUDGET  # why agents are not in the default
    everything_small = await connect(toolsets=("deployments", "feedback", "traces"))
    assert wire_size(await tools_of(everything_small)) > DEFAULT_TOOLS_LIST_BUDGET


async def test_toolsets_all_offers_every_tool_in_toolset_order(connect: Any) -> None:
    client = await connect(toolsets=TOOLSET_NAMES)
    assert await names_of(client) == [n for t in TOOLSET_NAMES for n in BY_NAME[t].tool_names]


def test_toolsets_are_named_from_the_known_ones() -> None:
    env = {"ORQ_API_KEY": API_KEY}
    assert Settings.load({**env, "ORQ_MCP_TOOLSETS": "traces, agents"}).offered_toolsets == ("agents", "traces")
    assert Settings.load(env, toolsets="all,agents").offered_toolsets == TOOLSET_NAMES
    with pytest.raises(SettingsError, match="ORQ_MCP_TOOLSETS / --toolsets: 'agnets': no such toolset"):
        Settings.load({**env, "ORQ_MCP_TOOLSETS": "agnets"})
    with pytest.raises(SettingsError, match="--dynamic-toolsets keeps each caller's toolsets"):
        Settings.load({**env, "ORQ_MCP_DYNAMIC_TOOLSETS": "1"}, transport="http", workers=2)
    assert Settings.load({**env, "ORQ_MCP_AGENTS": "order-assistant"}).agents == frozenset({"order-assistant"})


async def test_a_tool_of_a_toolset_not_offered_says_how_to_get_it(connect: Any, emulator_state: EmulatorState) -> None:
    client = await connect()
    refused = error_text(await client.call_tool("list_agents", {}))
    assert refused == (
        "Tool 'list_agents' is in the agents toolset, which this server does not offer (it offers: deployments). "
        "Its operator can add it with --toolsets or ORQ_MCP_TOOLSETS."
    )
    assert emulator_state.requests_for("list_agents") == []


# Read-only, allow-lists ---------------------------------------------------------------------------------------------


async def test_read_only_hides_every_tool_that_spends_or_writes(connect: Any, emulator_state: EmulatorState) -> None:
    client = await connect(toolsets=TOOLSET_NAMES, read_only=True)
    tools = await tools_of(client)
    assert {"invoke_deployment", "invoke_agent", "submit_feedback"}.isdisjoint(tool["name"] for tool in tools)
    assert {"list_agents", "get_agent_task", "search_knowledge", "get_trace"} <= {tool["name"] for tool in tools}
    assert all(tool["annotations"]["readOnlyHint"] for tool in tools)
    assert "invokes nothing and writes nothing" in (client.instructions or "")
    for name, arguments in [("invoke_agent", ORDER), ("submit_feedback", {"trace_id": "t", "property": "rating"})]:
        refused = error_text(await client.call_tool(name, arguments))
        assert refused.startswith(f"Tool '{name}' is not offered: this server is read-only (--read-only)"), refused
    assert emulator_state.requests_for("agent_response") == emulator_state.requests_for("feedback") == []


async def test_the_agent_allow_list_holds_for_every_agent_tool(connect: Any, emulator_state: EmulatorState) -> None:
    client = await connect(toolsets=("agents",), agents=frozenset({"tagline-writer"}), expose=("all",))
    listed = ok(await client.call_tool("list_agents", {}))
    assert [agent["key"] for agent in listed["agents"]] == ["tagline-writer"]
    assert "agent_order_assistant" not in await names_of(client)
    assert "agent_tagline_writer" in await names_of(client)
    refused = error_text(await client.call_tool("invoke_agent", ORDER))
    assert refused.startswith(
        "Agent 'order-assistant' is in the workspace, but this server's allow-list (ORQ_MCP_AGENTS"
    )
    task = error_text(await client.call_tool("get_agent_task", {"key": "order-assistant", "task_id": "x"}))
    assert task == refused
    assert emulator_state.requests_for("agent_response") == []
    ok(await client.call_tool("invoke_agent", {"key": "tagline-writer", "message": "A bike bell"}))


# Agents ------------------------------------------------------------------------------------------------------------


async def test_list_agents_says_what_each_needs_and_uses(connect: Any) -> None:
    client = await connect(toolsets=("agents",))
    agents = {agent["key"]: agent for agent in ok(await client.call_tool("list_agents", {}))["agents"]}
    assert agents["order-assistant"]["variables"] == [{"name": "company_name", "required": True}]
    assert agents["order-assistant"]["tools"] == ["lookup_order"]
    assert agents["help-desk"]["variables"] == [{"name": "language", "required": False, "default": "English"}]
    assert agents["tagline-writer"]["model"] == "anthropic/claude-3-5-haiku-latest"
    page = ok(await client.call_tool("list_agents", {"limit": 1}))
    rest = ok(await client.call_tool("list_agents", {"limit": 5, "cursor": page["next_cursor"]}))
    assert [a["key"] for a in page["agents"] + rest["agents"]] == list(agents)


async def test_invoke_agent_streams_its_text_and_continues_its_task(
    connect: Any, emulator_state: EmulatorState
) -> None:
    client = await connect(toolsets=("agents",))
    pieces: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        pieces.append(message or "")

    first = await client.call_tool("invoke_agent", ORDER, progress_callback=on_progress)
    run = ok(first)
    assert len(pieces) > 1
    assert "".join(pieces) == run["text"]
    assert run["status"] == "completed"
    assert run["task_id"]
    assert run["trace_id"]
    (call,) = run["tool_calls"]
    assert call == {
        "name": "lookup_order",
        "status": "done",
        "arguments": {"order_number": "NL-20391"},
        "result": {"order_number": "NL-20391", "status": "shipped", "carrier": "PostNL", "eta": "2025-06-12"},
    }
    assert f"task_id: {run['task_id']}" in text_of(first)  # hosts that show the model only text still continue
    assert 'Used lookup_order({"order_number":"NL-20391"})' in text_of(first)
    follow_up = {**ORDER, "message": "And when does it arrive?", "task_id": run["task_id"]}
    second = ok(await client.call_tool("invoke_agent", follow_up))
    assert second["task_id"] == run["task_id"]
    assert second["text"].startswith('(Turn 2 of this task; you first said: "Where is my order NL-20391?".)')
    sent = emulator_state.requests_for("agent_response")[-1].body
    assert sent["task_id"] == run["task_id"]
    assert sent["stream"] is True
    task = ok(await client.call_tool("get_agent_task", {"key": "order-assistant", "task_id": run["task_id"]}))
    assert task["text"] == second["text"]
    assert task["status"] == "completed"


async def test_a_missing_agent_variable_is_refused_before_orq_is_called(
    connect: Any, emulator_state: EmulatorState
) -> None:
    client = await connect(toolsets=("agents",))
    refused = error_text(await client.call_tool("invoke_agent", {"key": "order-assistant", "message": "Hi"}))
    assert refused == (
        "Missing variable(s) for agent 'order-assistant': company_name. The agent's instructions read each one and "
        'it has no default, so orq was not called. Give each a value in `variables` (an explicit "" is one).'
    )
    assert emulator_state.requests_for("agent_response") == []
    # A default is a value: help-desk's language need not be given.
    ok(await client.call_tool("invoke_agent", {"key": "help-desk", "message": "How long does shipping take?"}))


class Form:
    def __init__(self, action: str) -> None:
        self.action = action
        self.asked: list[str] = []

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        assert isinstance(params, ElicitRequestFormParams)
        self.asked.append(params.message)
        content = {"company_name": "Acme Bikes"} if self.action == "accept" else None
        return ElicitResult(action=self.action, content=content)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("action", ["accept", "decline"])
async def test_a_client_that_shows_forms_is_asked_for_an_agent_variable(
    settings: Settings, emulator_state: EmulatorState, mode: str, action: str
) -> None:
    form = Form(action)
    changed = settings.model_copy(update={"toolsets": ("agents",)})
    async with connected(changed, mode=mode, elicitation_callback=form) as client:
        result = await client.call_tool("invoke_agent", {"key": "order-assistant", "message": "Where is NL-20391?"})
    assert form.asked == ["The orq agent 'order-assistant' needs a value for: company_name."]
    if action == "accept":
        assert ok(result)["text"].startswith("Acme Bikes support here.")
        assert emulator_state.requests_for("agent_response")[-1].body["variables"] == {"company_name": "Acme Bikes"}
    else:
        assert error_text(result).startswith("Missing variable(s) for agent 'order-assistant'")
        assert emulator_state.requests_for("agent_response") == []


async def test_an_agent_failure_keeps_its_text_and_names_its_task(connect: Any, emulator_state: EmulatorState) -> None:
    client = await connect(toolsets=("agents",))
    emulator_state.add_fault(Fault("agent_response", "error_event", after_chunks=6))
    failed = error_text(await client.call_tool("invoke_agent", ORDER))
    assert failed.startswith(
        "The agent's run failed: The model provider returned an error while the agent was running (code 500). Retry "
        "the call, or start a new task (without task_id). get_agent_task with task_id '"
    )
    assert failed.endswith("Text generated before the failure (17 characters):\nAcme support here")


async def test_unknown_agents_and_tasks_say_what_to_do(connect: Any) -> None:
    client = await connect(toolsets=("agents",))
    unknown = error_text(await client.call_tool("invoke_agent", {**ORDER, "key": "order-asistant"}))
    assert unknown.endswith("Call list_agents to see the available keys. Did you mean 'order-assistant'?")
    task = error_text(await client.call_tool("get_agent_task", {"key": "order-assistant", "task_id": "01NOPE"}))
    assert task.startswith("Task '01NOPE' was not found (HTTP 404")
    assert task.endswith("Check the task_id (an invoke_agent result names it), or start a new task without one.")


async def test_a_long_agent_answer_is_cut_to_fit_and_every_piece_still_streams(
    connect: Any, emulator_state: EmulatorState
) -> None:
    """help-desk answers with the passage it found: a long passage makes a long answer, and a long tool result."""
    workspace = emulator_state.workspace_for(API_KEY)
    assert workspace is not None
    base_id = workspace.knowledge_bases[0]["_id"]
    original = workspace.knowledge_chunks[base_id]
    shipping = {**original[0], "text": original[0]["text"] + " Shipping details follow." * 1_000}
    workspace.knowledge_chunks[base_id] = (shipping, *original[1:])
    pieces: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        pieces.append(message or "")

    try:
        client = await connect(toolsets=("agents",), max_result_chars=3_000)
        question = {"key": "help-desk", "message": "How long does shipping take?"}
        result = await client.call_tool("invoke_agent", question, progress_callback=on_progress)
    finally:
        workspace.knowledge_chunks[base_id] = original
    run = ok(result)
    assert result_size(result) <= 3_000
    assert "orq-mcp cut this result: it has" in run["text"]
    assert run["task_id"]
    assert len("".join(pieces)) > 25_000  # the whole answer streamed, though the result is cut
    assert run["tool_calls"][0]["name"] == "retrieve_knowledge_bases"  # shortened, not dropped
    assert f"task_id: {run['task_id']}" in text_of(result)


# Knowledge, feedback, traces ---------------------------------------------------------------------------------------


async def test_search_knowledge_returns_passages_with_their_sources(connect: Any) -> None:
    client = await connect(toolsets=("knowledge",))
    bases = ok(await client.call_tool("list_knowledge_bases", {}))["knowledge_bases"]
    assert [base["key"] for base in bases] == ["acme-help-center", "acme-2023-catalogue"]
    found = ok(
        await client.call_tool(
            "search_knowledge", {"knowledge_id_or_key": "acme-help-center", "query": "return a bike refund"}
        )
    )
    best = found["chunks"][0]
    assert best["file_name"] == "returns-and-refunds.md"
    assert best["page"] == 1
    assert best["score"] > 0
    by_id = ok(await client.call_tool("search_knowledge", {"knowledge_id_or_key": bases[0]["id"], "query": "refund"}))
    assert by_id["chunks"]


async def test_search_knowledge_cuts_long_passages_to_fit(connect: Any, emulator_state: EmulatorState) -> None:
    workspace = emulator_state.workspace_for(API_KEY)
    assert workspace is not None
    base_id = workspace.knowledge_bases[0]["_id"]
    original = workspace.knowledge_chunks[base_id]
    long = [{**chunk, "text": chunk["text"] + " refund policy" * 2_000} for chunk in original]
    workspace.knowledge_chunks[base_id] = tuple(long)
    try:
        client = await connect(toolsets=("knowledge",), max_result_chars=4_000)
        result = await client.call_tool(
            "search_knowledge", {"knowledge_id_or_key": base_id, "query": "refund", "top_k": 5}
        )
        found = ok(result)
    finally:
        workspace.knowledge_chunks[base_id] = original
    assert result_size(result) <= 4_000
    assert len(found["chunks"]) == 5
    assert all(chunk["file_name"] for chunk in found["chunks"])
    assert any("characters cut by orq-mcp" in chunk["text"] for chunk in found["chunks"])


async def test_a_bad_knowledge_filter_is_refused_before_orq(connect: Any, emulator_state: EmulatorState) -> None:
    client = await connect(toolsets=("knowledge",))
    arguments = {"knowledge_id_or_key": "acme-help-center", "query": "x", "filter_by": {"year": {"near": 2024}}}
    refused = error_text(await client.call_tool("search_knowledge", arguments))
    assert refused.startswith("Invalid arguments for search_knowledge: filter_by")
    assert emulator_state.requests_for("knowledge_search") == []
    missing = error_text(await client.call_tool("search_knowledge", {"knowledge_id_or_key": "nope", "query": "x"}))
    assert missing.endswith("Call list_knowledge_bases to see the available ids and keys.")


async def test_feedback_is_checked_before_orq_and_stored_on_the_invocations_trace(
    connect: Any, emulator_state: EmulatorState
) -> None:
    client = await connect(toolsets=("deployments", "feedback", "traces"))
    question = {"key": "faq-assistant", "messages": [{"role": "user", "content": "Do you ship to Norway?"}]}
    trace_id = ok(await client.call_tool("invoke_deployment", question))["trace_id"]
    for value, problem in [("great", "'rating' takes one of: good, bad"), (True, "value")]:
        refused = error_text(
            await client.call_tool("submit_feedback", {"trace_id": trace_id, "property": "rating", "value": value})
        )
        assert refused.startswith("Invalid arguments for submit_feedback: "), refused
        assert problem in refused, refused
    assert emulator_state.requests_for("feedback") == []
    stored = ok(
        await client.call_tool("submit_feedback", {"trace_id": trace_id, "property": "rating", "value": "good"})
    )
    assert stored["trace_id"] == trace_id
    assert stored["value"] == "good"
    assert stored["id"]
    workspace = emulator_state.workspace_for(API_KEY)
    assert workspace is not None
    assert workspace.feedback[-1]["trace_id"] == trace_id
    defects = {"trace_id": trace_id, "property": "defects", "value": ["hallucination"]}
    assert ok(await client.call_tool("submit_feedback", defects))["value"] == ["hallucination"]


async def test_get_trace_summarises_the_spans(connect: Any) -> None:
    client = await connect(toolsets=("agents", "traces"))
    run = ok(await client.call_tool("invoke_agent", ORDER))
    trace = ok(await client.call_tool("get_trace", {"trace_id": run["trace_id"]}))
    assert trace["name"] == "agent order-assistant"
    assert trace["status"] == "ok"
    assert [span["name"] for span in trace["spans"]] == [
        "agent order-assistant",
        "chat gpt-4o-mini",
        "tool lookup_order",
        "chat gpt-4o-mini",
    ]
    assert trace["usage"] == run["usage"]
    assert trace["models"] == ["gpt-4o-mini"]
    assert trace["spans_left_out"] is False
    assert trace["errors"] == []
    unknown = error_text(await client.call_tool("get_trace", {"trace_id": "0" * 32}))
    assert "was not found" in unknown
    assert unknown.endswith("(a new one may take a moment to appear).")


async def test_a_trace_too_large_for_the_result_leaves_out_spans_and_says_so(
    connect: Any, emulator_state: EmulatorState
) -> None:
    client = await connect(toolsets=("agents", "traces"), max_result_chars=1_000)
    run = ok(await client.call_tool("invoke_agent", ORDER))
    result = await client.call_tool("get_trace", {"trace_id": run["trace_id"]})
    trace = ok(result)
    assert result_size(result) <= 1_000
    assert 1 <= len(trace["spans"]) < 4
    assert trace["spans_left_out"] is True
    assert trace["usage"] == run["usage"]  # the totals stay


# One wording for every tool's errors -------------------------------------------------------------------------------


async def test_every_tool_error_reads_the_same_way_fixed_or_exposed(connect: Any) -> None:
    """No tool error carries the SDK's `Error executing tool <name>:` prefix (only a crash reads so): a fixed tool
    and an exposed one refuse the same thing in the same words."""
    client = await connect(toolsets=TOOLSET_NAMES, expose=("support-triage", "order-assistant"))
    given = {"company_name": "Acme Bikes", "language": "English"}
    fixed = error_text(await client.call_tool("invoke_deployment", {"key": "support-triage", "inputs": given}))
    exposed = error_text(await client.call_tool("support_triage", given))
    assert fixed == exposed
    assert fixed.startswith("Missing input(s) for deployment 'support-triage'")
    fixed = error_text(await client.call_tool("invoke_agent", {"key": "order-assistant", "message": "Hi"}))
    exposed = error_text(await client.call_tool("agent_order_assistant", {"message": "Hi"}))
    assert fixed == exposed
    assert fixed.startswith("Missing variable(s) for agent 'order-assistant'")
    errors = [
        await client.call_tool("get_deployment_config", {"key": "nope"}),
        await client.call_tool("list_agents", {"limit": 0}),
        await client.call_tool("get_trace", {"trace_id": "nope"}),
        await client.call_tool("agent_order_assistant", {"message": ""}),
        await client.call_tool("support_triage", {"nope": 1}),
    ]
    for result in errors:
        assert not error_text(result).startswith("Error executing tool"), error_text(result)
    assert error_text(errors[1]).startswith("Invalid arguments for list_agents: limit:")
    assert error_text(errors[3]).startswith("Invalid arguments for agent_order_assistant: message:")


# Exposed agents ----------------------------------------------------------------------------------------------------


async def test_expose_gives_each_agent_a_tool_with_its_variables(connect: Any, emulator_state: EmulatorState) -> None:
    client = await connect(toolsets=("deployments", "agents"), expose=("order-assistant", "help-desk"))
    tools = {tool["name"]: tool for tool in await tools_of(client)}
    order = tools["agent_order_assistant"]
    assert order["title"] == "Order assistant"
    assert order["inputSchema"]["required"] == ["message", "company_name"]
    assert set(order["inputSchema"]["properties"]) == {"message", "company_name", "task_id"}
    assert "orq agent 'order-assistant' (openai/gpt-4o-mini)" in order["description"]
    assert tools["agent_help_desk"]["inputSchema"]["required"] == ["message"]
    assert "agent_tagline_writer" not in tools
    run = ok(await client.call_tool("agent_order_assistant", {"message": "Where is NL-20391?", "company_name": "Acme"}))
    assert run["tool_calls"][0]["name"] == "lookup_order"
    sent = emulator_state.requests_for("agent_response")[-1].body
    assert sent["variables"] == {"company_name": "Acme"}
    again = ok(
        await client.call_tool(
            "agent_order_assistant", {"message": "And?", "company_name": "Acme", "task_id": run["task_id"]}
        )
    )
    assert again["task_id"] == run["task_id"]


async def test_exposed_agents_need_the_agents_toolset(connect: Any, emulator_state: EmulatorState) -> None:
    client = await connect(expose=("all",))
    assert not [name for name in await names_of(client) if name.startswith("agent_")]
    assert emulator_state.requests_for("list_agents") == []  # agents are not even read
