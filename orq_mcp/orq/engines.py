"""What a jinja or mustache template reads from its inputs: each input's uses, in order of first use.

Both raise ValueError for a template they cannot read, so the caller can fall back to the
plain `{{name}}` view rather than hide the variables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from typing import Any

from orq_mcp.orq.readings import Reading, VariableType, merge

# Mustache tags: `{{{name}}}`, or `{{` + optional sigil + name + `}}`.
_MUSTACHE_TAG = re.compile(r"\{\{\{\s*(.+?)\s*\}\}\}|\{\{\s*([#^/&!>=]?)\s*(.*?)\s*\}\}", re.S)


def jinja_readings(text: str) -> tuple[list[Reading], set[str]]:
    """(the inputs' readings, names the template binds itself: loop variables, `set` targets)."""
    readings, bound = _jinja_readings(text)
    return list(readings), set(bound)


# Parsing costs ~1 ms a message; the same templates come back on every catalog refresh.
@lru_cache(maxsize=512)
def _jinja_readings(text: str) -> tuple[tuple[Reading, ...], frozenset[str]]:
    from jinja2 import TemplateSyntaxError, meta, nodes

    from orq_mcp.orq.jinja_reads import read_jinja

    environment = _jinja()
    try:
        tree = environment.parse(text)
    except TemplateSyntaxError as exc:
        raise ValueError(f"not a jinja template: {exc.message}") from None
    undeclared = meta.find_undeclared_variables(tree) - set(environment.globals)
    every = {node.name for node in tree.find_all(nodes.Name)}
    return tuple(merge(read_jinja(tree, undeclared))), frozenset(every - undeclared)


@cache
def _jinja() -> Any:
    # Built on first use: most workspaces have no jinja deployment, and jinja2 takes ~35 ms to import.
    from jinja2 import Environment

    return Environment(autoescape=False)


@dataclass
class _Section:
    name: str
    opens: bool  # `{{#x}}` looks names up in x first; `{{^x}}` renders in the outer context
    reading: int | None  # the index of its own reading, when it is a top-level input
    reads: bool = False  # its body reads a name


def mustache_readings(text: str) -> list[Reading]:
    """Top-level inputs: outside sections, or inside inverted ones (which render in the outer context).

    A name inside `{{#section}}` is looked up in the section's item first, so it is not known to be
    an input; partials, comments and `.` are not inputs either. A dotted name reads into an object.
    A section renders only when its name is truthy (orq's templating docs), so it is optional unless
    its body reads from it (a list or an object to show) and no inverted section covers its absence.
    """
    readings: list[Reading] = []
    sections: list[_Section] = []
    shown: list[_Section] = []  # top-level sections whose body reads from them
    inverted: set[str] = set()
    for match in _MUSTACHE_TAG.finditer(text):
        triple, sigil, name = match.group(1), match.group(2) or "", match.group(3)
        if triple is not None:
            sigil, name = "&", triple
        if sigil == "=":
            raise ValueError("custom mustache delimiters are not supported")
        if sigil in ("!", ">") or not name:
            continue
        if sigil == "/":
            if not sections or sections[-1].name != name:
                raise ValueError(f"unbalanced mustache section '{name}'")
            closed = sections.pop()
            if closed.opens and closed.reading is not None and closed.reads:
                shown.append(closed)
            continue
        for section in sections:
            section.reads = True
        index = None
        if not any(section.opens for section in sections) and name != ".":
            index = len(readings)
            readings.append(_mustache_reading(name, sigil))
            if sigil == "^":
                inverted.add(name)
        if sigil in ("#", "^"):
            sections.append(_Section(name, opens=sigil == "#", reading=index))
    if sections:
        raise ValueError(f"unclosed mustache section '{sections[-1].name}'")
    for section in shown:
        if section.name not in inverted and section.reading is not None:
            readings[section.reading] = replace(readings[section.reading], required=True)
    return merge(readings)


def _mustache_reading(name: str, sigil: str) -> Reading:
    section = sigil in ("#", "^")
    shape: VariableType = "object" if "." in name else ("any" if section else "string")
    return Reading(name.split(".")[0], required=not section, type=shape)
