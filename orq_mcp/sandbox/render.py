"""Prompt rendering: ``{{variable}}`` substitution, message ordering and variant resolution."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from .error_bodies import variant_not_resolved

VARIABLE: Final = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")
_LEADING_ROLES: Final = frozenset({"system", "developer"})


def lookup(inputs: Mapping[str, Any], name: str) -> str:
    """The text for ``{{name}}``: strings as-is, other JSON values ``json.dumps``'ed, missing ones ``""``.

    The ``text`` engine is plain substitution (docs/orq-api.md, Template variables): ``{{customer.name}}``
    is the input named ``customer.name``, not a field of ``customer``.
    """
    if name not in inputs:
        return ""
    value = inputs[name]
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def render_text(text: str, inputs: Mapping[str, Any]) -> str:
    return VARIABLE.sub(lambda match: lookup(inputs, match.group(1)), text)


Fill = Callable[[str, Mapping[str, Any]], str]


def render_message(message: Mapping[str, Any], inputs: Mapping[str, Any], fill: Fill = render_text) -> dict[str, Any]:
    """A copy of ``message`` with variables replaced (by ``fill``) in string content and in ``text`` parts."""
    rendered = copy.deepcopy(dict(message))
    content = rendered.get("content")
    if isinstance(content, str):
        rendered["content"] = fill(content, inputs)
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                part["text"] = fill(part["text"], inputs)
    return rendered


def assemble_messages(
    configured: list[dict[str, Any]],
    inputs: Mapping[str, Any],
    prefix_messages: list[dict[str, Any]],
    messages: list[dict[str, Any]],
    fill: Fill = render_text,
) -> list[dict[str, Any]]:
    """Configured system/developer messages, then ``prefix_messages``, the other configured messages, then
    ``messages``. Only the configured (template) messages are rendered; request messages are sent verbatim."""
    rendered = [render_message(message, inputs, fill) for message in configured]
    leading = [m for m in rendered if m.get("role") in _LEADING_ROLES]
    rest = [m for m in rendered if m.get("role") not in _LEADING_ROLES]
    return [*leading, *copy.deepcopy(prefix_messages), *rest, *copy.deepcopy(messages)]


def message_text(message: Mapping[str, Any]) -> str:
    """The plain text of a message: string content, or its text parts joined by newlines."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def check_variant(deployment_key: str, rules: Mapping[str, list[str]], context: Mapping[str, Any]) -> None:
    """Raise 422 when a context attribute names a value no variant allows ([INFER] the status docs.orq.ai gives for
    "variant not resolved"; the SDK declares none).

    A list value matches when any of its items is allowed; attributes absent from the context are not checked.
    """
    for attribute, allowed in rules.items():
        if attribute not in context or context[attribute] is None:
            continue
        value = context[attribute]
        values = value if isinstance(value, list) else [value]
        if not any(isinstance(v, str) and v in allowed for v in values):
            raise variant_not_resolved(deployment_key)
