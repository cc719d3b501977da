"""Rendering a deployment's messages the way orq does: references first, then the version's engine.

orq expands Skill and snippet references itself and fills a missing variable from its declared default.
Whether orq's mustache HTML-escapes ``{{x}}`` is not documented; the emulator does not (prompts are not HTML).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

from .render import render_text

REFERENCE: Final = re.compile(r"\{\{\s*((?:skill\.|snippet[.:])[^{}\s]*)\s*\}\}")
_TAG: Final = re.compile(r"\{\{\{\s*(.+?)\s*\}\}\}|\{\{\s*([#^/&!>]?)\s*(.*?)\s*\}\}", re.S)

Fill = Callable[[str, Mapping[str, Any]], str]


@dataclass(frozen=True)
class TemplateSettings:
    """How a deployment's messages are rendered: the engine and the defaults of missing variables."""

    engine: str = "text"
    defaults: Mapping[str, Any] = field(default_factory=dict)


def template_filler(settings: TemplateSettings, references: Mapping[str, str]) -> Fill:
    """A ``fill(text, inputs)`` for this deployment's templates."""

    def fill(text: str, inputs: Mapping[str, Any]) -> str:
        text = REFERENCE.sub(lambda m: references.get(m.group(1), m.group(0)), text)
        values = {**settings.defaults, **inputs}
        if settings.engine == "jinja":
            return _render_jinja(text, values)
        if settings.engine == "mustache":
            return _render_mustache(_parse_mustache(text), [values])
        return render_text(text, values)

    return fill


def _render_jinja(text: str, values: Mapping[str, Any]) -> str:
    from jinja2 import TemplateError

    try:
        return _jinja().from_string(text).render(**values)
    except TemplateError:
        return render_text(text, values)  # a template orq's editor would have refused; keep serving


@cache
def _jinja() -> Any:
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(autoescape=False)


Node = tuple[str, str, list[Any]]  # (kind, name, children): kind is text, var, section or inverted


def _parse_mustache(text: str) -> list[Node]:
    root: list[Node] = []
    stack: list[list[Node]] = [root]
    position = 0
    for match in _TAG.finditer(text):
        stack[-1].append(("text", text[position : match.start()], []))
        position = match.end()
        triple, sigil, name = match.group(1), match.group(2) or "", match.group(3)
        if triple is not None:
            stack[-1].append(("var", triple, []))
        elif sigil in ("#", "^"):
            node: Node = ("section" if sigil == "#" else "inverted", name, [])
            stack[-1].append(node)
            stack.append(node[2])
        elif sigil == "/" and len(stack) > 1:
            stack.pop()
        elif sigil in ("", "&"):
            stack[-1].append(("var", name, []))
    stack[-1].append(("text", text[position:], []))
    return root


def _render_mustache(nodes: list[Node], contexts: list[Any]) -> str:
    out: list[str] = []
    for kind, name, children in nodes:
        if kind == "text":
            out.append(name)
            continue
        value = _lookup(contexts, name)
        if kind == "var":
            out.append("" if value is None else value if isinstance(value, str) else json.dumps(value))
        elif kind == "inverted":
            out.append("" if value else _render_mustache(children, contexts))
        elif isinstance(value, list):
            out.extend(_render_mustache(children, [*contexts, item]) for item in value)
        elif value:
            out.append(_render_mustache(children, [*contexts, value]))
    return "".join(out)


def _lookup(contexts: list[Any], name: str) -> Any:
    if name == ".":
        return contexts[-1]
    first, *rest = name.split(".")
    for context in reversed(contexts):
        if isinstance(context, Mapping) and first in context:
            value = context[first]
            for part in rest:
                value = value.get(part) if isinstance(value, Mapping) else None
            return value
    return None
