"""The names a jinja or mustache template reads from its inputs, in order of first use.

Both raise ValueError for a template they cannot read, so the caller can fall back to the
plain `{{name}}` view rather than hide the variables.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

# Mustache tags: `{{{name}}}`, or `{{` + optional sigil + name + `}}`.
_MUSTACHE_TAG = re.compile(r"\{\{\{\s*(.+?)\s*\}\}\}|\{\{\s*([#^/&!>=]?)\s*(.*?)\s*\}\}", re.S)


def jinja_names(text: str) -> tuple[list[str], set[str]]:
    """(names read from the inputs, names the template binds itself: loop variables, `set` targets)."""
    inputs, bound = _jinja_names(text)
    return list(inputs), set(bound)


# Parsing costs ~1 ms a message; the same templates come back on every catalog refresh.
@lru_cache(maxsize=512)
def _jinja_names(text: str) -> tuple[tuple[str, ...], frozenset[str]]:
    from jinja2 import TemplateSyntaxError, meta, nodes

    environment = _jinja()
    try:
        tree = environment.parse(text)
    except TemplateSyntaxError as exc:
        raise ValueError(f"not a jinja template: {exc.message}") from None
    undeclared = meta.find_undeclared_variables(tree) - set(environment.globals)
    every = [node.name for node in tree.find_all(nodes.Name)]
    ordered = tuple(dict.fromkeys(name for name in every if name in undeclared))
    return ordered, frozenset(every) - undeclared


@cache
def _jinja() -> Any:
    # Built on first use: most workspaces have no jinja deployment, and jinja2 takes ~35 ms to import.
    from jinja2 import Environment

    return Environment(autoescape=False)


def mustache_names(text: str) -> list[str]:
    """Top-level names: outside sections, or inside inverted ones (which render in the outer context).

    A name inside `{{#section}}` is looked up in the section's item first, so it is not known to be
    an input; partials, comments and `.` are not inputs either.
    """
    names: dict[str, None] = {}
    sections: list[tuple[str, bool]] = []  # (name, opens a new context)
    for match in _MUSTACHE_TAG.finditer(text):
        triple, sigil, name = match.group(1), match.group(2) or "", match.group(3)
        if triple is not None:
            sigil, name = "&", triple
        if sigil == "=":
            raise ValueError("custom mustache delimiters are not supported")
        if sigil in ("!", ">") or not name:
            continue
        scoped = any(opens for _, opens in sections)
        if sigil == "/":
            if not sections or sections[-1][0] != name:
                raise ValueError(f"unbalanced mustache section '{name}'")
            sections.pop()
            continue
        if not scoped and name != ".":
            names.setdefault(name.split(".")[0], None)
        if sigil in ("#", "^"):
            sections.append((name, sigil == "#"))
    if sections:
        raise ValueError(f"unclosed mustache section '{sections[-1][0]}'")
    return list(names)
