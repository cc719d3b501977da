"""Variables typed and required from how the template reads them (docs/orq-api.md, Template variables).

jinja: a name only tested in a condition (or given a `default`, or an `or` fallback) is optional, as orq's
templating docs use `{% if x %}` to test presence; a loop source is an array; an attribute or key base is an
object. mustache: sections render only when their name is truthy. text: `{{b.c}}` is a plain placeholder.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from orq_mcp.orq.client import OrqClient
from orq_mcp.orq.models import Message, TemplateVariable
from orq_mcp.orq.templates import Variable, template_variables
from orq_mcp.orq.variables import variables_for
from orq_mcp.sandbox import EmulatorState, EmulatorThread, Workspace
from orq_mcp.sandbox.data import SAMPLE_DEPLOYMENTS
from tests.helpers import ok
from tests.processes import server_env


def read(text: str, engine: str = "jinja", *declared: TemplateVariable) -> dict[str, tuple[bool, str]]:
    """{name: (required, type)} for a one-message template."""
    found = template_variables([Message(role="user", content=text)], engine, declared)
    return {v.name: (v.required, v.type) for v in found}


def test_orqs_own_templating_example() -> None:
    # docs.orq.ai, "Prompt templating": the support bot that branches on user_tier and tests open_tickets.
    example = (
        "You are a support assistant for {{company_name}}.\n"
        '{% if user_tier == "premium" %}\n{{customer_name}} is a premium customer.\n'
        "{% else %}\n{{customer_name}} is on the free plan.\n{% endif %}\n"
        "{% if open_tickets %}\nThey currently have {{open_tickets}} open ticket(s).\n{% endif %}"
    )
    assert read(example) == {
        "company_name": (True, "string"),
        "user_tier": (False, "string"),
        "customer_name": (True, "string"),
        "open_tickets": (False, "string"),
    }


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{% if vip %}VIP{% endif %}", (False, "any")),
        ("{% if not vip %}regular{% else %}VIP{% endif %}", (False, "any")),
        ("{{ 'VIP' if vip else 'regular' }}", (False, "any")),
        ("{% if vip is defined %}{{ vip }}{% endif %}", (False, "string")),
        ("{{ vip | default('no') }}", (False, "string")),
        ("{{ vip or 'no' }}", (False, "string")),
        ("{{ vip }}", (True, "string")),
        ("{% if vip > 3 %}many{% endif %}", (True, "any")),  # an ordering test fails on a missing value
    ],
)
def test_tested_names_are_optional(template: str, expected: tuple[bool, str]) -> None:
    assert read(template) == {"vip": expected}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{% for o in orders %}{{ o.id }}{% endfor %}", (True, "array")),
        ("{% for o in orders %}{{ o }}{% else %}none{% endfor %}", (False, "array")),
        ("{% if orders %}{% for o in orders %}{{ o }}{% endfor %}{% endif %}", (False, "array")),
        ("{{ orders | join(', ') }}", (True, "array")),
        ("{{ orders[0] }}", (True, "array")),
        ("{{ orders.count }}", (True, "object")),
        ("{{ orders['latest'] }}", (True, "object")),
        ("{% for key, value in orders.items() %}{{ key }}{% endfor %}", (True, "object")),
        ("{{ orders.id | default('none') }}", (True, "object")),  # jinja fails on the attribute before `default`
        ("{% if orders and orders.latest %}{{ orders.latest }}{% endif %}", (False, "object")),
        ("{% if orders.latest %}yes{% endif %}", (True, "object")),
    ],
)
def test_loops_make_arrays_and_fields_make_objects(template: str, expected: tuple[bool, str]) -> None:
    assert read(template) == {"orders": expected}


def test_names_the_template_binds_are_not_inputs() -> None:
    template = (
        "{% set greeting = 'Hi ' ~ name %}{{ greeting }}{% for item in items %}{{ item.title }}{{ loop.index }}"
        "{% endfor %}{{ item }}{% macro row(cell) %}{{ cell }}{% endmacro %}{{ row(total) }}"
    )
    assert read(template) == {
        "name": (True, "string"),
        "items": (True, "array"),
        "item": (True, "string"),  # outside the loop, `item` is an input again
        "total": (True, "any"),
    }


def test_a_declared_default_still_frees_a_required_name() -> None:
    declared = TemplateVariable(key="orders", value=[{"id": "A-1"}])
    assert read("{% for o in orders %}{{ o.id }}{% endfor %}", "jinja", declared) == {"orders": (False, "array")}


def test_mustache_sections_are_tests_and_dotted_names_objects() -> None:
    template = (
        "Hi {{name}} of {{company.name}}.{{#vip}} Thanks for being a VIP.{{/vip}}\n"
        "{{#items}}- {{title}}\n{{/items}}{{^items}}Nothing ordered.{{/items}}\n{{#lines}}* {{.}}\n{{/lines}}"
    )
    assert read(template, "mustache") == {
        "name": (True, "string"),
        "company": (True, "object"),
        "vip": (False, "any"),  # shown when truthy, left out when not
        "items": (False, "any"),  # its inverted section covers the empty case
        "lines": (True, "any"),  # a list (or object) the section reads from: nothing says what it shows without
    }


def test_text_engine_dotted_names_are_plain_placeholders() -> None:
    # orq's text engine is "simple {{variable}} substitution with no logic"; dot notation is a jinja feature.
    assert read("{{b.c}} and {{ d }}", "text") == {"b.c": (True, "string"), "d": (True, "string")}


async def test_the_emulators_text_engine_fills_dotted_names_as_they_are_listed(
    orq: OrqClient, emulator_state: EmulatorState
) -> None:
    dotted = copy.deepcopy(next(d for d in SAMPLE_DEPLOYMENTS if d["key"] == "faq-assistant"))
    dotted["prompt_config"]["messages"] = [{"role": "user", "content": "Hi {{customer.name}}."}]
    emulator_state.add_workspace("dotted", Workspace(deployments=[dotted]))
    client = orq.with_api_key("dotted")
    assert [v.name for v in await variables_for(client, (await client.list_deployments()).data[0])] == ["customer.name"]
    flat = await client.get_config({"key": "faq-assistant", "inputs": {"customer.name": "Priya"}})
    nested = await client.get_config({"key": "faq-assistant", "inputs": {"customer": {"name": "Priya"}}})
    assert (flat.messages[0].content, nested.messages[0].content) == ("Hi Priya.", "Hi .")


def test_where_each_variable_is_used() -> None:
    messages = [
        Message(role="system", content="For {{ company }}."),
        Message(role="user", content=[{"type": "text", "text": "{{ company }} asks about {{ topic }}"}]),
    ]
    found = {v.name: v.used_in for v in template_variables(messages, "jinja")}
    assert {name: [str(use) for use in uses] for name, uses in found.items()} == {
        "company": ["message 1, system", "message 2, user"],
        "topic": ["message 2, user"],
    }
    assert Variable("company") == next(v for v in template_variables(messages, "jinja") if v.name == "company")


# -- through the real server over stdio --------------------------------------------------------------------------

ACCOUNT_REVIEW = {
    "company": (True, None),
    "language": (False, None),
    "customer": (True, "object"),
    "vip": (False, "any"),
    "open_tickets": (False, None),
    "orders": (True, "array"),
}
SCHEMA_TYPES = {"customer": "object", "orders": "array", "company": "string", "language": "string"}


async def test_typed_variables_reach_listings_schemas_and_orq(
    emulator: EmulatorThread, emulator_state: EmulatorState, tmp_path: Path
) -> None:
    env = server_env(emulator.base_url)
    args = ["-m", "orq_mcp", "--expose", "account-review"]
    params = StdioServerParameters(command=sys.executable, args=args, env=env)
    with (tmp_path / "stderr.log").open("w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            listed = ok(await client.call_tool("list_deployments", {"limit": 50}))
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            arguments: dict[str, Any] = {
                "company": "Acme Bikes",
                "customer": {"name": "Priya", "tier": "gold"},
                "orders": [{"id": "A-1", "total": 20}],
            }
            answered = ok(await client.call_tool("account_review", arguments))
    review = next(d for d in listed["deployments"] if d["key"] == "account-review")
    assert {v["name"]: (v["required"], v.get("type")) for v in review["variables"]} == ACCOUNT_REVIEW
    schema = tools["account_review"].input_schema
    assert schema["required"] == ["company", "customer", "orders"]
    assert {name: schema["properties"][name].get("type") for name in SCHEMA_TYPES} == SCHEMA_TYPES
    assert "type" not in schema["properties"]["vip"]  # any JSON value: a flag may be true
    assert answered["text"]
    (sent,) = emulator_state.requests_for("stream")
    assert sent.body["inputs"] == arguments
