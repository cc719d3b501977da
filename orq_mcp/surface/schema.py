"""Trimming pydantic's JSON Schemas: tools/list goes out to every client, and hosts put the tools in front of the
model on every turn.

Drops `title` (pydantic names every field twice), `default: null` and `additionalProperties: true`
(the defaults anyway), and inlines each `$defs` entry used once (a `$ref` fewer for clients to follow,
and one name fewer to send). For arguments, an optional `anyOf: [X, null]` becomes plain `X`: leaving
the argument out already means null, and a bare type is what every client's function-calling format
understands (type arrays and nullable unions are not portable, e.g. to Gemini, and the MCP Inspector
warns about type arrays). Result schemas keep their `anyOf` nullables, since there a null is a real
value (only a field that is never null is listed as required), and lose their descriptions: clients read
an output schema to validate and type the structured result, while the model reads the tool's description
and the text of its result (hosts do not put output schemas in front of it). The result validates what
the tools accept and return.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

# Keys whose value is a map of names to schemas, not a schema itself.
_SCHEMA_MAPS = frozenset({"properties", "$defs", "definitions", "patternProperties"})
_NULL = {"type": "null"}
_DEFS = "#/$defs/"


def compact_schema(schema: Any, *, arguments: bool = False) -> Any:
    """A tool's input schema (`arguments`) or output schema, trimmed as the module says."""
    compact = _compact(schema, arguments=arguments)
    return _inline_single_use(compact) if isinstance(compact, dict) else compact


def _compact(schema: Any, *, arguments: bool) -> Any:
    if isinstance(schema, list):
        return [_compact(item, arguments=arguments) for item in schema]
    if not isinstance(schema, dict):
        return schema
    optional = arguments and "default" in schema and schema["default"] is None
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if _noise(key, value, arguments=arguments):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: _compact(sub, arguments=arguments) for name, sub in value.items()}
        else:
            out[key] = _compact(value, arguments=arguments)
    if not arguments:
        _require_values_only(out)
    return _drop_null(out) if optional else out


def _require_values_only(schema: dict[str, Any]) -> None:
    """A result's nullable field is not listed as required: to a reader, absent and null are the same nothing."""
    required, properties = schema.get("required"), schema.get("properties")
    if isinstance(required, list) and isinstance(properties, dict):
        kept = [name for name in required if _NULL not in properties.get(name, {}).get("anyOf", [])]
        if kept:
            schema["required"] = kept
        else:
            del schema["required"]


def _noise(key: str, value: Any, *, arguments: bool) -> bool:
    if key == "title" or (key == "default" and value is None) or (key == "additionalProperties" and value is True):
        return True
    return key == "description" and not arguments and isinstance(value, str)


def _drop_null(schema: dict[str, Any]) -> dict[str, Any]:
    options = schema.get("anyOf")
    if not isinstance(options, list) or _NULL not in options:
        return schema
    rest = [option for option in options if option != _NULL]
    folded = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**rest[0], **folded} if len(rest) == 1 else {**folded, "anyOf": rest}


def _inline_single_use(schema: dict[str, Any]) -> dict[str, Any]:
    """Each definition referenced once (and not by itself) in place of its `$ref`; shared ones stay in `$defs`."""
    defs = schema.get("$defs")
    if not isinstance(defs, dict):
        return schema
    uses: dict[str, int] = {}
    _count_refs(schema, uses)
    once = {name for name in defs if uses.get(name) == 1 and name not in _refs_within(defs[name])}

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.removeprefix(_DEFS) in once:
            beside = {k: v for k, v in node.items() if k != "$ref"}  # a description given where it is used
            return {**inline(defs[ref.removeprefix(_DEFS)]), **inline(beside)}
        return {key: inline(value) for key, value in node.items() if key != "$defs"}

    out = inline(schema)
    shared = {name: inline(definition) for name, definition in defs.items() if name not in once}
    return {**out, "$defs": shared} if shared else out


def _count_refs(node: Any, uses: dict[str, int]) -> None:
    if isinstance(node, list):
        for item in node:
            _count_refs(item, uses)
    elif isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS):
            name = ref.removeprefix(_DEFS)
            uses[name] = uses.get(name, 0) + 1
        for value in node.values():
            _count_refs(value, uses)


def _refs_within(node: Any) -> set[str]:
    uses: dict[str, int] = {}
    _count_refs(node, uses)
    return set(uses)


def never_null(schema: dict[str, Any]) -> None:
    """The JSON Schema of a result field left out when it is None (`exclude_if`): it is never null, so the
    value's own type alone; a field of any type is any value but null (an untyped schema says nothing)."""
    options = schema.pop("anyOf", None)
    if options is None:
        if "type" not in schema and "$ref" not in schema:
            schema["not"] = dict(_NULL)
        return
    rest = [option for option in options if option != _NULL]
    if len(rest) == 1:
        schema.update(rest[0])
    else:
        schema["anyOf"] = rest


def left_out_when_none(description: str | None = None) -> Any:
    """A result field's `Field`: left out of the result rather than sent as null, and its schema says so
    (`never_null`). Typed `Any` like pydantic's own `Field`, so a checker takes it as the field's default."""
    return Field(default=None, description=description, exclude_if=_is_none, json_schema_extra=never_null)


def _is_none(value: object) -> bool:
    return value is None
