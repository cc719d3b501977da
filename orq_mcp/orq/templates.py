"""Placeholders in orq prompt messages: which are inputs, and how the plain `text` engine fills them.

orq expands `{{skill.<key>}}`, `{{snippet.<name>}}` and the older `{{snippet:<key>}}` itself
(docs.orq.ai, "Skills"): they are references, never variables an agent must supply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from orq_mcp.orq.engines import jinja_names, mustache_names
from orq_mcp.orq.models import Message, TemplateVariable

# Spaces inside the braces and dotted names are undocumented; accept them rather than miss a variable.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")
# A Skill or snippet reference, whatever the engine: orq replaces these before the template runs.
REFERENCE = re.compile(r"\{\{\s*(?:skill\.|snippet[.:])[^{}]*\}\}")
_REFERENCE_NAME = re.compile(r"(?:skill\.|snippet[.:])")


@dataclass(frozen=True)
class Variable:
    """One input of a deployment's template, as an agent should be told about it."""

    name: str
    required: bool = True
    default: Any = None
    description: str | None = None


def is_reference(name: str) -> bool:
    """`skill.x`, `snippet.x` or `snippet:x`: expanded by orq, not an input."""
    return _REFERENCE_NAME.match(name) is not None


def message_texts(messages: Iterable[Message]) -> Iterator[str]:
    """Every piece of text in the messages: string contents and `text` parts."""
    for message in messages:
        content = message.content
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            for part in content:
                text = part.get("text") if isinstance(part, dict) else None
                if isinstance(text, str):
                    yield text


def text_names(text: str) -> list[str]:
    """The `text` engine's placeholders in `text`, in order, references left out."""
    return [name for name in PLACEHOLDER.findall(text) if not is_reference(name)]


def find_variables(messages: Iterable[Message]) -> list[str]:
    """Placeholder names in order of first appearance, without duplicates (the `text` engine's view)."""
    seen: dict[str, None] = {}
    for text in message_texts(messages):
        for name in text_names(text):
            seen.setdefault(name, None)
    return list(seen)


def render(text: str, values: Mapping[str, Any]) -> str:
    """Fill the `text` engine's placeholders that have a value; leave the rest (and references) as written."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if is_reference(name) or name not in values:
            return match.group(0)
        return str(values[name])

    return PLACEHOLDER.sub(fill, text)


def template_variables(
    messages: Iterable[Message], engine: str | None, declared: Iterable[TemplateVariable] = ()
) -> list[Variable]:
    """The inputs of a template, in order of first use, annotated with orq's declared defaults and descriptions.

    Names the engine reads are inputs (required unless orq declares a default). Declared variables
    the template does not visibly read (used in a section, or elsewhere in orq) follow as optional,
    except names the template binds itself (a jinja loop variable is never an input).
    """
    inputs: dict[str, None] = {}
    bound: set[str] = set()
    for text in message_texts(messages):
        names, scoped = _engine_names(text, engine)
        for name in names:
            inputs.setdefault(name, None)
        bound |= scoped
    by_name = {v.key: v for v in declared if v.key and not is_reference(v.key)}
    found = [_variable(name, by_name.get(name), required=True) for name in inputs]
    extra = [_variable(k, v, required=False) for k, v in by_name.items() if k not in inputs and k not in bound]
    return found + extra


def _engine_names(text: str, engine: str | None) -> tuple[list[str], set[str]]:
    """(inputs, names the template binds itself); an unparsable template falls back to the `text` view."""
    try:
        if engine == "jinja":
            return jinja_names(REFERENCE.sub("", text))
        if engine == "mustache":
            return mustache_names(REFERENCE.sub("", text)), set()
    except ValueError:
        pass
    return text_names(text), set()


def _variable(name: str, declared: TemplateVariable | None, *, required: bool) -> Variable:
    if declared is None:
        return Variable(name, required=required)
    default = declared.value if has_default(declared.value) else None
    return Variable(
        name, required=required and default is None, default=default, description=declared.description or None
    )


def has_default(value: Any) -> bool:
    """orq stores an unset default as null or an empty string."""
    return value is not None and value != ""
