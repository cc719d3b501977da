"""The vocabulary both template readers share: one use of an input (a `Reading`), and how uses combine."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

# What a template needs an input to be. "any": a flag or a mustache section, which any JSON value can be.
VariableType = Literal["string", "array", "object", "any"]
_CONTAINERS: frozenset[VariableType] = frozenset({"array", "object"})


@dataclass(frozen=True)
class Reading:
    """One use of an input: whether the template needs it there, and the shape that use needs."""

    name: str
    required: bool = True
    type: VariableType = "string"


def merge_types(first: VariableType, second: VariableType) -> VariableType:
    """Two uses' needs as one: a list or a mapping wins over text; asked to be both, it is left open."""
    if first == second:
        return first
    both: set[VariableType] = {first, second}
    shapes = both & _CONTAINERS
    if len(shapes) == 2:
        return "any"
    return shapes.pop() if shapes else "string"  # text and a flag: printing needs text


def merge(readings: Iterable[Reading]) -> list[Reading]:
    """One reading per name, in order of first use: required if any use needs it."""
    merged: dict[str, Reading] = {}
    for reading in readings:
        seen = merged.get(reading.name)
        merged[reading.name] = (
            reading
            if seen is None
            else replace(seen, required=seen.required or reading.required, type=merge_types(seen.type, reading.type))
        )
    return list(merged.values())
