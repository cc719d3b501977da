"""Template variables: Skill/snippet references, the jinja and mustache engines, declared defaults."""

from __future__ import annotations

import pytest

from orq_mcp.orq.models import Message, TemplateVariable
from orq_mcp.orq.templates import Variable, find_variables, render, template_variables

SKILLED = "Follow {{skill.refund-policy}} and {{ snippet.tone }} ({{snippet:legal_footer}}). Customer: {{customer}}."


def user(text: str) -> list[Message]:
    return [Message(role="user", content=text)]


def names(variables: list[Variable]) -> list[str]:
    return [v.name for v in variables]


def test_skills_and_snippets_are_not_variables() -> None:
    assert find_variables(user(SKILLED)) == ["customer"]
    for engine in ("text", "jinja", "mustache", None):
        assert names(template_variables(user(SKILLED), engine)) == ["customer"], engine


def test_render_fills_values_and_leaves_references_and_unknowns() -> None:
    values = {"customer": "Priya", "skill.refund-policy": "OVERWRITTEN", "snippet.tone": "X"}
    rendered = render(SKILLED + " {{missing}}", values)
    assert rendered == (
        "Follow {{skill.refund-policy}} and {{ snippet.tone }} ({{snippet:legal_footer}}). Customer: Priya. {{missing}}"
    )


def test_render_turns_values_into_text() -> None:
    assert render("{{ n }} items", {"n": 3}) == "3 items"


JINJA = (
    "Hello {{ user.name }}! {% if vip %}Thanks for being VIP.{% endif %}\n"
    "{% for item in items %}- {{ item.title|upper }} x{{ item.qty }}{% endfor %}\n"
    "{% set greeting = 'hi' %}{{ greeting }} {{ tone | default('warm') }} {{ loop_free }}"
    "{% for i in range(count) %}{{ i }}{% endfor %}{# {{ commented }} #}"
)


def test_jinja_finds_inputs_not_loop_variables_or_filters() -> None:
    assert names(template_variables(user(JINJA), "jinja")) == ["user", "vip", "items", "tone", "loop_free", "count"]


def test_jinja_that_does_not_parse_falls_back_to_placeholders() -> None:
    broken = "Hi {{ name }} {% if %}"
    assert names(template_variables(user(broken), "jinja")) == ["name"]


MUSTACHE = (
    "Hi {{name}}! {{{html_bio}}} {{& raw_note }} {{! a comment with {{braces}} }}{{> footer_partial}}\n"
    "{{#items}}- {{title}} ({{.}}){{/items}}{{^items}}No items for {{customer.id}}.{{/items}}"
)


def test_mustache_finds_top_level_inputs() -> None:
    found = names(template_variables(user(MUSTACHE), "mustache"))
    assert found == ["name", "html_bio", "raw_note", "items", "customer"]


def test_unbalanced_mustache_falls_back_to_placeholders() -> None:
    assert names(template_variables(user("{{#a}}{{b}}"), "mustache")) == ["b"]


def test_declared_defaults_make_variables_optional_and_keep_descriptions() -> None:
    declared = [
        TemplateVariable(key="language", value="English", description="Reply language"),
        TemplateVariable(key="customer", value="", description="Who wrote in"),
        TemplateVariable(key="region", value="EU", description="Used by a routing rule"),
        TemplateVariable(key="skill.refund-policy", value="x"),
    ]
    messages = user("Answer in {{language}} to {{customer}}.")
    assert template_variables(messages, "text", declared) == [
        Variable("language", required=False, default="English", description="Reply language"),
        Variable("customer", required=True, default=None, description="Who wrote in"),
        Variable("region", required=False, default="EU", description="Used by a routing rule"),
    ]


def test_declared_loop_variables_are_not_inputs() -> None:
    declared = [TemplateVariable(key="item"), TemplateVariable(key="items")]
    found = template_variables(user("{% for item in items %}{{ item }}{% endfor %}"), "jinja", declared)
    assert found == [Variable("items", type="array")]


@pytest.mark.parametrize("engine", ["text", "future-engine", None])
def test_other_engines_use_the_placeholder_view(engine: str | None) -> None:
    parts = [Message(role="system", content=[{"type": "text", "text": "{{a}} {{ b.c }}"}]), *user("{{a}} {{d}}")]
    assert names(template_variables(parts, engine)) == ["a", "b.c", "d"]
