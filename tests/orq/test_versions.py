"""Deployment versions: the emulator's endpoint, the client, `variables_for`, and orq-style rendering."""

from __future__ import annotations

import sys
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from orq_ai_sdk.models import ListDeploymentVersionsResponseBody

from orq_mcp.orq.client import OrqClient
from orq_mcp.orq.models import Deployment
from orq_mcp.orq.templates import Variable
from orq_mcp.orq.variables import CONCURRENCY, placeholders, variables_by_key, variables_for
from orq_mcp.sandbox import EmulatorState, EmulatorThread, Fault
from orq_mcp.sandbox.data_templates import SAMPLE_REFERENCES
from tests.conftest import API_KEY
from tests.helpers import names, ok

AUTH = {"Authorization": f"Bearer {API_KEY}"}


async def deployment(orq: OrqClient, key: str) -> Deployment:
    page = await orq.list_deployments(limit=50)
    return next(d for d in page.data if d.key == key)


def versions(emulator: EmulatorThread, key: str, **query: Any) -> httpx2.Response:
    return httpx2.get(f"{emulator.base_url}/v2/deployments/{key}/versions", params=query, headers=AUTH, timeout=5)


# -- the emulator's versions endpoint ------------------------------------------------------------------


def test_versions_endpoint_matches_the_sdk_and_paginates(emulator: EmulatorThread, emulator_state: Any) -> None:
    every = versions(emulator, "support-triage")
    assert every.status_code == 200
    body = ListDeploymentVersionsResponseBody.model_validate(every.json())
    assert [v.status for v in body.data] == ["draft", "live", "published"]  # newest first
    assert body.data[1].settings is not None
    assert body.data[1].settings.engine == "text"
    first = versions(emulator, "support-triage", limit=1).json()
    assert first["has_more"] is True
    rest = versions(emulator, "support-triage", limit=5, starting_after=first["data"][0]["_id"]).json()
    assert [v["status"] for v in rest["data"]] == ["live", "published"]
    assert rest["has_more"] is False
    by_id = versions(emulator, "9b2f6c1e-4a7d-4c2b-9e51-7f0d3a6b8c21").json()
    assert by_id == every.json()


def test_versions_endpoint_refuses_unknown_keys_and_bad_auth(emulator: EmulatorThread, emulator_state: Any) -> None:
    assert versions(emulator, "no-such-deployment").status_code == 404
    anonymous = httpx2.get(f"{emulator.base_url}/v2/deployments/support-triage/versions", timeout=5)
    assert anonymous.status_code == 401
    assert versions(emulator, "support-triage", limit=51).status_code == 400


# -- variables_for -------------------------------------------------------------------------------------


async def test_jinja_deployment_variables_come_with_defaults_and_descriptions(orq: OrqClient) -> None:
    found = await variables_for(orq, await deployment(orq, "onboarding-email"))
    assert found == [
        Variable("company", required=False, default="Acme Bikes", description="Company the email is sent from"),
        Variable("tone", required=False, default="Friendly", description="Tone of voice"),
        Variable("customer", description="The new customer, an object with first_name", type="object"),
        Variable("plan", required=False, default="basic", description="Subscription plan: basic or pro"),
        Variable("steps", description="List of setup steps to mention", type="array"),
    ]


async def test_mustache_deployment_variables(orq: OrqClient) -> None:
    found = await variables_for(orq, await deployment(orq, "order-digest"))
    assert [(v.name, v.required, v.default, v.type) for v in found] == [
        ("customer_name", True, None, "string"),
        ("items", False, None, "any"),  # a section, and its inverted section says what an empty order shows
        ("note", False, "none", "string"),
    ]


async def test_skill_deployment_asks_only_for_real_inputs(orq: OrqClient) -> None:
    found = await variables_for(orq, await deployment(orq, "refund-assistant"))
    assert [(v.name, v.required) for v in found] == [("customer_name", True), ("question", True), ("store", False)]


async def test_the_live_version_wins_over_a_newer_draft(orq: OrqClient) -> None:
    found = await variables_for(orq, await deployment(orq, "support-triage"))
    assert [v.name for v in found] == ["company_name", "language", "customer_name", "ticket_body"]
    assert all(v.required and v.default is None for v in found)  # the draft's default is not live
    assert found[1].description == "Language of the reply"


@pytest.mark.parametrize("status", [403, 404, 500])
async def test_without_versions_the_placeholders_are_used(
    orq: OrqClient, emulator_state: EmulatorState, status: int
) -> None:
    target = await deployment(orq, "refund-assistant")
    emulator_state.add_fault(Fault("versions", "status", times=-1, status=status))
    found = await variables_for(orq, target)
    assert found == [Variable("customer_name"), Variable("question"), Variable("store")]


# -- orq-style rendering in the emulator ----------------------------------------------------------------


async def test_emulator_renders_jinja_with_defaults(orq: OrqClient) -> None:
    inputs = {"customer": {"first_name": "Ada"}, "plan": "pro", "steps": ["Pair the app", "Book a check-up"]}
    config = await orq.get_config({"key": "onboarding-email", "inputs": inputs})
    system, user = (m.content for m in config.messages)
    assert system == "You write onboarding emails for Acme Bikes. Tone: friendly."
    assert user == (
        "Write a welcome email to Ada. Mention the Pro features.\nFirst steps:\n- Pair the app\n- Book a check-up\n"
    )


async def test_emulator_renders_mustache_sections(orq: OrqClient) -> None:
    items = [{"name": "Bell", "quantity": 2}, {"name": "Lamp", "quantity": 1}]
    full = await orq.get_config({"key": "order-digest", "inputs": {"customer_name": "Bo", "items": items}})
    assert full.messages[0].content == "Summarise this order for Bo.\n- Bell x2\n- Lamp x1\nNote: none"
    empty = await orq.get_config({"key": "order-digest", "inputs": {"customer_name": "Bo", "items": []}})
    assert empty.messages[0].content == "Summarise this order for Bo.\nThe order is empty.\nNote: none"


async def test_emulator_expands_skills_and_snippets(orq: OrqClient) -> None:
    config = await orq.get_config({"key": "refund-assistant", "inputs": {"customer_name": "Bo", "question": "Q?"}})
    system, user = (m.content for m in config.messages)
    assert system == "\n".join(
        [
            SAMPLE_REFERENCES["skill.refund-policy"],
            "Sign off with: " + SAMPLE_REFERENCES["snippet.signature"],
            SAMPLE_REFERENCES["snippet:legal_footer"],
        ]
    )
    assert user == "Bo asks: Q? (store: webshop)"


# -- item 1 through a real server over stdio --------------------------------------------------------------


async def test_prompts_and_list_deployments_leave_skills_alone(emulator: EmulatorThread, emulator_state: Any) -> None:
    env = {"ORQ_API_KEY": API_KEY, "ORQ_BASE_URL": emulator.base_url}
    params = StdioServerParameters(command=sys.executable, args=["-m", "orq_mcp"], env=env)
    async with Client(stdio_client(params)) as client:
        listed = (await client.list_prompts()).prompts
        refund = next(p for p in listed if p.name == "refund-reply")
        assert [a.name for a in refund.arguments or []] == ["order_id"]
        got = await client.get_prompt("refund-reply", {"order_id": "NL-20391"})
        texts = [m.content.text for m in got.messages if m.content.type == "text"]
        assert texts == ["{{skill.refund-policy}}\n{{ snippet.signature }}", "Order NL-20391: draft a reply."]
        page = ok(await client.call_tool("list_deployments", {"limit": 50}))
        refund_assistant = next(d for d in page["deployments"] if d["key"] == "refund-assistant")
        assert names(refund_assistant["variables"]) == ["customer_name", "question", "store"]


async def test_a_whole_catalog_is_annotated_a_few_at_a_time(orq: OrqClient) -> None:
    deployments = (await orq.list_deployments(limit=50)).data
    found = await variables_by_key(orq, deployments)
    assert list(found) == [d.key for d in deployments]
    onboarding = next(d for d in deployments if d.key == "onboarding-email")
    assert found["onboarding-email"] == await variables_for(orq, onboarding)


async def test_a_key_refused_versions_is_not_asked_again_for_every_deployment(
    orq: OrqClient, emulator_state: EmulatorState
) -> None:
    deployments = (await orq.list_deployments(limit=50)).data
    emulator_state.add_fault(Fault("versions", "status", times=-1, status=403))
    found = await variables_by_key(orq, deployments)
    assert found == {d.key: placeholders(d) for d in deployments}
    assert len(emulator_state.requests_for("versions")) <= CONCURRENCY < len(deployments)
