"""Trimming pydantic's JSON Schemas: every byte of tools/list is read by the model on every turn.

Drops `title` (pydantic names every field twice), `default: null`, `additionalProperties: true`
(the default anyway), and folds
`anyOf: [{type: T}, {type: null}]` into `type: [T, "null"]`. The result validates exactly
the same documents.
"""

from __future__ import annotations

from typing import Any

# Keys whose value is a map of names to schemas, not a schema itself.
_SCHEMA_MAPS = frozenset({"properties", "$defs", "definitions", "patternProperties"})


def compact_schema(schema: Any) -> Any:
    if isinstance(schema, list):
        return [compact_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" or (key == "default" and value is None) or (key == "additionalProperties" and value is True):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: compact_schema(sub) for name, sub in value.items()}
        else:
            out[key] = compact_schema(value)
    return _fold_nullable(out)


def _fold_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
        return schema
    (other,) = [option for option in options if option != {"type": "null"}]
    if not isinstance(other.get("type"), str):  # a $ref or a union: leave it as it is
        return schema
    folded = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**other, **folded, "type": [other["type"], "null"]}
