"""The complete `tools/list` an agent reads, pinned: any change to it is a reviewed diff.

The snapshot holds every toolset's tools (with --dynamic-toolsets' two) plus one exposed deployment tool and
one exposed agent tool, exactly as a client receives them. After an intended change, regenerate it with
`ORQ_MCP_UPDATE_SNAPSHOTS=1 python -m pytest tests/surface/test_tools_list.py` and review the diff.

The rest holds what the compact listing must not lose: the schemas stay portable (the MCP Inspector's
schema lint finds nothing), the advertised `messages` schema keeps every constraint of the model that
validates them, `options` is described field by field, and a bad argument is refused as clearly as ever.
"""

from __future__ import annotations

import json
import os
from typing import Any, get_args

import pytest
from mcp import Client
from pydantic import BaseModel, TypeAdapter

from orq_mcp.config.settings import TOOLSET_NAMES, Settings
from orq_mcp.orq.requests import Message, RequestOptions
from orq_mcp.surface.schema import compact_schema
from orq_mcp.surface.toolsets import DYNAMIC_TOOL_NAMES, TOOLSETS
from tests.conftest import connected
from tests.helpers import text_of
from tests.paths import SNAPSHOTS

SNAPSHOT = SNAPSHOTS / "tools_list.json"


async def listed_tools(settings: Settings) -> list[dict[str, Any]]:
    """Every tool a server can offer: list_toolsets and enable_toolset, every toolset's, one exposed deployment
    and one exposed agent."""
    every = {"expose": ("support-triage", "order-assistant"), "toolsets": TOOLSET_NAMES, "dynamic_toolsets": True}
    async with connected(settings.model_copy(update=every)) as client:
        tools = (await client.list_tools()).tools
    return [tool.model_dump(by_alias=True, mode="json", exclude_none=True) for tool in tools]


async def test_the_snapshot_covers_every_toolset(settings: Settings) -> None:
    names = {tool["name"] for tool in await listed_tools(settings)}
    assert {name for toolset in TOOLSETS for name in toolset.tool_names} | set(DYNAMIC_TOOL_NAMES) <= names
    assert {"support_triage", "agent_order_assistant"} <= names


async def test_tools_list_matches_the_snapshot(settings: Settings) -> None:
    listed = await listed_tools(settings)
    text = json.dumps(listed, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("ORQ_MCP_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8"), (
        "tools/list changed; if intended, regenerate with ORQ_MCP_UPDATE_SNAPSHOTS=1 and review the diff"
    )


# The schema lint of the MCP Inspector (clients/inspector-check.mjs runs the real one; its rules are in the
# Inspector's core/json/schemaLint.ts), here so a warning fails at once rather than in the client checks.
# Keywords that constrain a value: a schema with none of them accepts anything and says nothing.
_CONSTRAINING = (
    "type enum const multipleOf maximum exclusiveMaximum minimum exclusiveMinimum maxLength minLength pattern "
    "format contentMediaType contentEncoding contentSchema maxItems minItems uniqueItems maxContains minContains "
    "maxProperties minProperties required dependentRequired allOf anyOf oneOf not items prefixItems contains "
    "additionalItems unevaluatedItems properties patternProperties additionalProperties unevaluatedProperties "
    "propertyNames dependentSchemas dependencies $ref $dynamicRef $recursiveRef"
)
CONSTRAINING = frozenset(_CONSTRAINING.split())
SUBSCHEMA = ("items", "contains", "not", "propertyNames", "additionalProperties", "unevaluatedProperties")
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SUBSCHEMA_MAPS = ("properties", "patternProperties", "dependentSchemas", "$defs", "definitions")


def lint(node: Any, path: str, keyword: str | None = None) -> list[str]:
    """The Inspector's findings for one schema: untyped schemas, type arrays, bare booleans, remote refs."""
    if isinstance(node, bool):
        return [] if keyword in ("additionalProperties", "unevaluatedProperties") else [f"{path}: a bare {node}"]
    if not isinstance(node, dict):
        return []
    found = []
    if isinstance(node.get("type"), list):
        found.append(f"{path}: type is an array {node['type']} (not portable: split it into anyOf)")
    if isinstance(node.get("$ref"), str) and not node["$ref"].startswith("#"):
        found.append(f"{path}: remote $ref {node['$ref']}")
    if keyword != "not" and not CONSTRAINING & set(node) and not ("if" in node and {"then", "else"} & set(node)):
        found.append(f"{path}: untyped (accepts any value)")
    for key in SUBSCHEMA:
        if key in node:
            found += lint(node[key], f"{path}.{key}", key)
    for key in SUBSCHEMA_LISTS:
        for i, sub in enumerate(node.get(key) or []):
            found += lint(sub, f"{path}.{key}[{i}]", key)
    for key in SUBSCHEMA_MAPS:
        for name, sub in (node.get(key) or {}).items():
            found += lint(sub, f"{path}.{key}.{name}", key)
    return found


async def test_every_schema_passes_the_inspectors_lint(settings: Settings) -> None:
    findings = [
        finding
        for tool in await listed_tools(settings)
        for part in ("inputSchema", "outputSchema")
        if part in tool
        for finding in lint(tool[part], f"{tool['name']}.{part}")
    ]
    assert findings == []


def accepted(schema: Any, defs: dict[str, Any]) -> Any:
    """What a schema accepts, written one way: local $refs replaced by their definitions; titles, descriptions,
    null defaults and `additionalProperties: true` left out; an optional argument's `anyOf: [X, null]` as X
    (leaving it out means null)."""
    if isinstance(schema, list):
        return [accepted(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        return accepted({**target, **{k: v for k, v in schema.items() if k != "$ref"}}, defs)
    if schema.get("default", 0) is None and {"type": "null"} in schema.get("anyOf", []):
        rest = [option for option in schema["anyOf"] if option != {"type": "null"}]
        folded = {k: v for k, v in schema.items() if k != "anyOf"}
        return accepted({**rest[0], **folded} if len(rest) == 1 else {**folded, "anyOf": rest}, defs)
    noise = {"$defs", "title", "description"} | ({"default"} if schema.get("default", 0) is None else set())
    noise |= {"additionalProperties"} if schema.get("additionalProperties") is True else set()  # the default
    return {k: accepted(v, defs) for k, v in schema.items() if k not in noise}


async def test_the_advertised_messages_keep_every_constraint_of_the_model(settings: Settings) -> None:
    """Compact, not loose: the messages an agent is shown accept exactly what the server's model describes."""
    invoke = next(tool for tool in await listed_tools(settings) if tool["name"] == "invoke_deployment")
    model = TypeAdapter(list[Message]).json_schema()
    expected = accepted(model, model.get("$defs", {}))
    shown = accepted(invoke["inputSchema"]["properties"]["messages"], invoke["inputSchema"].get("$defs", {}))
    assert shown == expected


class Leaf(BaseModel):
    text: str


class Tree(BaseModel):
    label: Leaf
    children: list[Tree] = []


class Pair(BaseModel):
    left: Leaf
    right: Leaf
    tree: Tree | None = None


def test_definitions_used_once_are_inlined_and_the_rest_kept() -> None:
    compact = compact_schema(Pair.model_json_schema(), arguments=True)
    assert compact["properties"]["tree"] == {"$ref": "#/$defs/Tree"}  # it refers to itself: stays a definition
    assert set(compact["$defs"]) == {"Leaf", "Tree"}  # Leaf is used three times
    assert compact["properties"]["left"] == {"$ref": "#/$defs/Leaf"}
    assert compact["$defs"]["Tree"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Tree"}
    single = compact_schema(Tree.model_json_schema())  # Leaf used once: inlined into Tree, which refers to itself
    leaf = {"properties": {"text": {"type": "string"}}, "required": ["text"], "type": "object"}
    assert list(single["$defs"]) == ["Tree"]
    assert single["$defs"]["Tree"]["properties"]["label"] == leaf


def models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in models_in(arg)]


def field_names(model: type[BaseModel]) -> set[str]:
    """Every field of a request model and of the models inside it (messages aside: they have their own schema)."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        names.add(field.alias or name)
        for inner in models_in(field.annotation):
            names |= field_names(inner) if inner is not Message else set()
    return names


async def test_options_are_described_field_by_field(settings: Settings) -> None:
    """`options` is advertised as a described object (the server's model still validates it): every field the
    model takes is named in the description, so an agent can write any of them."""
    invoke = next(tool for tool in await listed_tools(settings) if tool["name"] == "invoke_deployment")
    options = invoke["inputSchema"]["properties"]["options"]
    missing = sorted(name for name in field_names(RequestOptions) if name not in options["description"])
    assert missing == []
    assert options["type"] == "object"


# Refused arguments, worded as before the schema was made compact: the server's models still decide.
REFUSED = [
    ({"options": {"temperature": 2}}, "options.temperature: Extra inputs are not permitted"),
    ({"options": "fast"}, "options: Input should be a valid dictionary or instance of RequestOptions"),
    ({"options": {"thread": {"tags": ["a"]}}}, "options.thread.id: Field required"),
    ({"options": {"identity": {"id": ""}}}, "options.identity.id: String should have at least 1 character"),
    ({"options": {"invoke_options": {"mock": "x"}}}, "options.invoke_options.mock: Extra inputs are not permitted"),
    (
        {"options": {"documents": [{"txt": "x"}]}},
        "options.documents.0.text: Field required; options.documents.0.txt: Extra inputs are not permitted",
    ),
    (
        {"options": {"knowledge_filter": {"year": {"gtee": 1}}}},
        'options.knowledge_filter: \'year\' needs one operator object, e.g. {"eq": "x"} '
        "(eq, gt, gte, in, lt, lte, ne, nin)",
    ),
    (
        {"options": {"prefix_messages": [{"role": "tool", "content": "x"}]}},
        "options.prefix_messages.0.tool_call_id: required for a tool turn",
    ),
    ({"messages": [{"role": "tool", "content": "42"}]}, "messages.0.tool_call_id: required for a tool turn"),
    (
        {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
        "messages.0.content.parts.0.image_url: required when type is image_url",
    ),
    (
        {"messages": [{"role": "robot", "content": "x"}]},
        "messages.0.role: Input should be 'system', 'developer', 'user', 'assistant' or 'tool'",
    ),
    ({"messages": "hello"}, "messages: Input should be a valid list"),
    ({"inputs": [1]}, "inputs: Input should be a valid dictionary"),
]


@pytest.mark.parametrize(("arguments", "error"), REFUSED, ids=lambda v: str(v)[:40])
async def test_a_bad_argument_is_refused_naming_it(client: Client, arguments: dict[str, Any], error: str) -> None:
    result = await client.call_tool("invoke_deployment", {"key": "faq-assistant", **arguments})
    assert result.is_error
    assert text_of(result) == f"Invalid arguments for invoke_deployment: {error}. Fix them and call again."
