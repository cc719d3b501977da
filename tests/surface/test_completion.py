"""Argument completion: deployment keys for the prompt_config template, ranked by what was typed."""

from __future__ import annotations

from mcp import Client
from mcp_types import PromptReference, ResourceTemplateReference

from orq_mcp.surface.completion import MAX_VALUES, ranked
from orq_mcp.surface.resources import URI_TEMPLATE

TEMPLATE = ResourceTemplateReference(type="ref/resource", uri=URI_TEMPLATE)


async def test_deployment_keys_complete_from_the_workspace(client: Client) -> None:
    assert client.server_capabilities is not None
    assert client.server_capabilities.completions is not None
    found = (await client.complete(TEMPLATE, {"name": "key", "value": "su"})).completion
    assert found.values[0] == "support-triage"
    assert all("su" in value for value in found.values)
    everything = (await client.complete(TEMPLATE, {"name": "key", "value": ""})).completion
    assert "faq-assistant" in everything.values
    assert everything.total == len(everything.values)


async def test_other_references_complete_to_nothing(client: Client) -> None:
    other = ResourceTemplateReference(type="ref/resource", uri="orq://elsewhere/{key}")
    assert (await client.complete(other, {"name": "key", "value": "f"})).completion.values == []
    assert (await client.complete(TEMPLATE, {"name": "uri", "value": "f"})).completion.values == []
    prompt = PromptReference(type="ref/prompt", name="ticket-summariser")
    assert (await client.complete(prompt, {"name": "ticket", "value": "a"})).completion.values == []


def test_ranking_puts_prefixes_first_and_caps_the_list() -> None:
    assert ranked(["b-faq", "faq", "FAQ-2", "other"], "fa").values == ["faq", "FAQ-2", "b-faq"]
    many = ranked([f"d{i}" for i in range(250)], "d")
    assert len(many.values) == MAX_VALUES
    assert many.total == 250
    assert many.has_more
