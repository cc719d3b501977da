"""The version behind a deployment, chosen by one rule in the client and the emulator (docs/orq-api.md,
"The version behind a deployment"): the live version holding the deployment's own prompt, read page by page.
"""

from __future__ import annotations

import copy
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from orq_mcp.orq import variables
from orq_mcp.orq.client import OrqClient
from orq_mcp.orq.models import Deployment
from orq_mcp.orq.templates import Variable
from orq_mcp.orq.variables import variables_for
from orq_mcp.sandbox import EmulatorState, EmulatorThread, Workspace, versions
from orq_mcp.sandbox.data import SAMPLE_DEPLOYMENTS, sample_versions
from orq_mcp.sandbox.data_versions import ROUTER_DRAFTS, TICKET_ROUTER
from orq_mcp.sandbox.versions import make_version
from tests.helpers import ok, sample_version
from tests.paths import REPO
from tests.processes import server_env

ROUTER = [
    Variable("queue", required=False, default="general", description="Queue for tickets no rule matches"),
    Variable("ticket_body", description="The ticket text"),
]
GREETING = [
    Variable("shop", required=False, default="Acme Bikes", description="Shop the greeting comes from"),
    Variable("name", description="Customer's first name"),
    Variable("vip", required=False, description="Whether the customer is a VIP", type="any"),
    Variable("sign_off", required=False, description="Closing line"),
]


async def deployment(orq: OrqClient, key: str) -> Deployment:
    page = await orq.list_deployments(limit=50)
    return next(d for d in page.data if d.key == key)


async def test_twelve_newer_drafts_do_not_hide_the_live_version(orq: OrqClient, emulator_state: EmulatorState) -> None:
    assert await variables_for(orq, await deployment(orq, "ticket-router")) == ROUTER
    pages = emulator_state.requests_for("versions")
    assert ROUTER_DRAFTS > variables.FIRST_PAGE
    assert [r.query.get("limit") for r in pages] == [str(variables.FIRST_PAGE), str(variables.PAGE)]


async def test_the_variant_the_list_shows_wins_over_a_newer_live_variant(orq: OrqClient) -> None:
    assert await variables_for(orq, await deployment(orq, "greeting-writer")) == GREETING


async def test_the_emulator_renders_with_the_same_versions(orq: OrqClient) -> None:
    greeting = await orq.get_config({"key": "greeting-writer", "inputs": {"name": "Bo", "vip": True}})
    assert [m.content for m in greeting.messages] == [
        "You write greetings for Acme Bikes.",
        "Greet Bo as one of our VIP customers. See you soon!",
    ]
    router = await orq.get_config({"key": "ticket-router", "inputs": {"ticket_body": "My bell is broken."}})
    assert router.messages[0].content == "Answer with one queue name. When unsure, answer general."


def test_client_and_emulator_choose_the_same_version_for_every_sample() -> None:
    samples = sample_versions()
    for sample in SAMPLE_DEPLOYMENTS:
        saved = samples[sample["key"]]
        chosen = sample_version(sample, saved)
        assert chosen is not None
        assert chosen.id == versions.version_behind(sample, saved)["_id"], sample["key"]


async def test_over_stdio_list_deployments_shows_the_live_defaults(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path
) -> None:
    env = server_env(emulator.base_url)
    params = StdioServerParameters(command=sys.executable, args=["-m", "orq_mcp"], env=env)
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            listed = ok(await client.call_tool("list_deployments", {"limit": 50}))
    by_key = {d["key"]: d["variables"] for d in listed["deployments"]}
    assert by_key["ticket-router"][0] == {
        "name": "queue",
        "required": False,
        "default": "general",
        "description": "Queue for tickets no rule matches",
    }
    assert [(v["name"], v["required"]) for v in by_key["greeting-writer"]] == [
        ("shop", False),
        ("name", True),
        ("vip", False),
        ("sign_off", False),
    ]


# -- the page cap, at its default and with a realistic history ---------------------------------------------------


def history(drafts: int) -> Workspace:
    """ticket-router with `drafts` drafts newer than its live version (hours apart, so they sort)."""
    router = copy.deepcopy(TICKET_ROUTER)
    saved = [make_version(router, variables=[{"key": "queue", "value": "live"}], timestamp="2024-12-01T00:00:00.000Z")]
    for n in range(drafts):
        stamp = (datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        saved.append(make_version(router, status="draft", version=f"d{n}", timestamp=stamp, variables=[]))
    return Workspace(deployments=[router], versions={"ticket-router": saved})


async def test_a_live_version_deep_in_the_history_is_found_within_the_cap(
    orq: OrqClient, emulator_state: EmulatorState
) -> None:
    drafts = variables.FIRST_PAGE + 10 * variables.PAGE  # the live version opens the twelfth page
    emulator_state.add_workspace("deep-history", history(drafts))
    deep = orq.with_api_key("deep-history")
    found = await variables_for(deep, await deployment(deep, "ticket-router"))
    assert found[0] == Variable("queue", required=False, default="live")
    assert len(emulator_state.requests_for("versions")) == 12 <= variables.MAX_PAGES


async def test_past_the_page_cap_the_best_version_seen_is_used(orq: OrqClient, emulator_state: EmulatorState) -> None:
    drafts = variables.FIRST_PAGE + variables.MAX_PAGES * variables.PAGE  # the live version is past the last page
    emulator_state.add_workspace("endless-history", history(drafts))
    endless = orq.with_api_key("endless-history")
    found = await variables_for(endless, await deployment(endless, "ticket-router"))
    assert found[0] == Variable("queue")  # the newest draft holding the deployment's prompt: no default
    assert len(emulator_state.requests_for("versions")) == variables.MAX_PAGES


def test_the_documented_rule_states_the_caps_the_code_uses() -> None:
    documented = (REPO / "docs" / "orq-api.md").read_text(encoding="utf-8")
    read = variables.FIRST_PAGE + (variables.MAX_PAGES - 1) * variables.PAGE
    caps = f"({variables.FIRST_PAGE} first, then {variables.PAGE}, orq's maximum)"
    assert caps in documented
    assert f"{variables.MAX_PAGES} pages ({read} versions)" in documented
