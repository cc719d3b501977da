"""The arguments of an exposed tool (`--expose`): one per template variable, typed as the template reads it.

Shared by the per-deployment and per-agent tools. Every variable may be left out as far as the model goes: the
tool's schema lists the required ones, and the invocation refuses (or asks for) a missing one by the same rule as
the fixed tools'. Variables may be any name orq allows (dots, dashes, leading digits); a field needs an
identifier, so each is a field under its own alias.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from orq_mcp.orq.templates import Variable

# What each variable type takes (`any`: a flag or a section, which any JSON value can be).
_ARGUMENT_TYPES: dict[str, Any] = {"string": str, "array": list[Any], "object": dict[str, Any], "any": Any}


def variable_fields(variables: Iterable[Variable], taken: Iterable[str] = (), place: str = "prompt") -> dict[str, Any]:
    """A field per variable, of its type, under its name; a name in `taken` (an argument the tool has already)
    becomes `<name>_variable`. `place`: what reads the variables (a deployment's prompt, an agent's instructions)."""
    taken = set(taken)
    fields: dict[str, Any] = {}
    for v in variables:
        about = v.description or f"Fills {{{{{v.name}}}}} in the {place}."
        if v.default is not None:
            about += f" Optional: orq uses {json.dumps(v.default, ensure_ascii=False)} when omitted."
        elif not v.required:
            about += f" Optional: the {place} only tests it."
        alias = argument_name(v.name, taken)
        fields[field_name(v.name)] = (_ARGUMENT_TYPES[v.type] | None, Field(None, alias=alias, description=about))
    return fields


def argument_name(variable: str, taken: set[str]) -> str:
    return f"{variable}_variable" if variable in taken else variable


def arguments_model(name: str, fields: dict[str, Any]) -> type[BaseModel]:
    config = ConfigDict(extra="forbid", populate_by_name=False, defer_build=True)
    return create_model(f"{name}_arguments", __config__=config, **fields)


def given_values(parsed: BaseModel, variables: Iterable[Variable]) -> dict[str, Any]:
    """The variables' values the call gave (left-out ones are not sent)."""
    given = {v.name: getattr(parsed, field_name(v.name)) for v in variables}
    return {name: value for name, value in given.items() if value is not None}


def field_name(variable: str) -> str:
    return "v_" + "".join(c if c.isalnum() or c == "_" else f"_{ord(c):x}_" for c in variable)
