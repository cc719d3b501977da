"""Trimming pydantic's JSON Schemas: every byte of tools/list is read by the model on every turn.

Drops `title` (pydantic names every field twice), `default: null` and `additionalProperties: true`
(the defaults anyway). For arguments, an optional `anyOf: [X, null]` becomes plain `X`: leaving
the argument out already means null, and a bare type is what every client's function-calling
format understands (type arrays and nullable unions are not portable, e.g. to Gemini). Output
schemas keep their `anyOf` nullables: there a null is a real value. The result validates what
the tools accept and return.
"""

from __future__ import annotations

from typing import Any

# Keys whose value is a map of names to schemas, not a schema itself.
_SCHEMA_MAPS = frozenset({"properties", "$defs", "definitions", "patternProperties"})
_NULL = {"type": "null"}


def compact_schema(schema: Any, *, arguments: bool = False) -> Any:
    if isinstance(schema, list):
        return [compact_schema(item, arguments=arguments) for item in schema]
    if not isinstance(schema, dict):
        return schema
    optional = arguments and "default" in schema and schema["default"] is None
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" or (key == "default" and value is None) or (key == "additionalProperties" and value is True):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: compact_schema(sub, arguments=arguments) for name, sub in value.items()}
        else:
            out[key] = compact_schema(value, arguments=arguments)
    return _drop_null(out) if optional else out


def _drop_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if not isinstance(options, list) or _NULL not in options:
        return schema
    rest = [option for option in options if option != _NULL]
    folded = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**rest[0], **folded} if len(rest) == 1 else {**folded, "anyOf": rest}
