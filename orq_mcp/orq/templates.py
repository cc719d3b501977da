"""Placeholders in orq prompt messages: which are inputs, and how the plain `text` engine fills them.

orq expands `{{skill.<key>}}`, `{{snippet.<name>}}` and the older `{{snippet:<key>}}` itself
(docs.orq.ai, "Skills"): they are references, never variables an agent must supply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from orq_mcp.orq.engines import jinja_readings, mustache_readings
from orq_mcp.orq.models import Message, TemplateVariable
from orq_mcp.orq.readings import Reading, VariableType, merge

# Spaces inside the braces and dotted names are undocumented; accept them rather than miss a variable.
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}")
# A Skill or snippet reference, whatever the engine: orq replaces these before the template runs.
REFERENCE = re.compile(r"\{\{\s*(?:skill\.|snippet[.:])[^{}]*\}\}")
_REFERENCE_NAME = re.compile(r"(?:skill\.|snippet[.:])")


@dataclass(frozen=True)
class Place:
    """A message that reads a variable: its position in the prompt (from 1) and its role."""

    message: int
    role: str

    def __str__(self) -> str:
        return f"message {self.message}, {self.role}"


@dataclass(frozen=True)
class Variable:
    """One input of a deployment's template, as an agent should be told about it."""

    name: str
    required: bool = True
    default: Any = None
    description: str | None = None
    type: VariableType = "string"
    # Where the prompt reads it: what an error about a missing value points to (not part of its identity).
    used_in: tuple[Place, ...] = field(default=(), compare=False)


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

    The engine says which names are inputs, which of them the template needs, and of what type
    (docs/orq-api.md, Template variables); a declared default makes any of them optional. Declared
    variables the template does not visibly read (used in a section, or elsewhere in orq) follow as
    optional, except names the template binds itself (a jinja loop variable is never an input).
    """
    readings: list[Reading] = []
    uses: dict[str, list[Place]] = {}
    bound: set[str] = set()
    for position, message in enumerate(messages, start=1):
        for text in message_texts([message]):
            found, scoped = _engine_readings(text, engine)
            readings += found
            bound |= scoped
            for reading in found:
                where = uses.setdefault(reading.name, [])
                if Place(position, message.role) not in where:
                    where.append(Place(position, message.role))
    by_name = {v.key: v for v in declared if v.key and not is_reference(v.key)}
    inputs = [_variable(r, by_name.get(r.name), tuple(uses[r.name])) for r in merge(readings)]
    unread = [k for k in by_name if k not in uses and k not in bound]
    return inputs + [_variable(Reading(k, required=False), by_name[k], ()) for k in unread]


def _engine_readings(text: str, engine: str | None) -> tuple[list[Reading], set[str]]:
    """(the inputs' readings, names the template binds itself); an unparsable template falls back to the `text` view.

    In the `text` engine every placeholder is a required string, dotted ones included: orq documents it
    as plain `{{variable}}` substitution with no logic, and dot notation as a jinja feature.
    """
    try:
        if engine == "jinja":
            return jinja_readings(REFERENCE.sub("", text))
        if engine == "mustache":
            return mustache_readings(REFERENCE.sub("", text)), set()
    except ValueError:
        pass
    return [Reading(name) for name in text_names(text)], set()


def _variable(reading: Reading, declared: TemplateVariable | None, used_in: tuple[Place, ...]) -> Variable:
    default = declared.value if declared is not None and has_default(declared.value) else None
    return Variable(
        reading.name,
        required=reading.required and default is None,
        default=default,
        description=(declared.description or None) if declared is not None else None,
        type=reading.type,
        used_in=used_in,
    )


def missing_variables(variables: Iterable[Variable], inputs: Mapping[str, Any]) -> list[Variable]:
    """The variables the prompt needs that `inputs` lack: no default, and absent or null (an explicit "" is a value)."""
    return [v for v in variables if v.required and inputs.get(v.name) is None]


def has_default(value: Any) -> bool:
    """orq stores an unset default as null or an empty string."""
    return value is not None and value != ""
