"""The generated parts of the README and docs/, each computed from the code, a recorded benchmark or the running
sandbox; tests/project/test_readme_figures.py fails when one is stale and rewrites them all with
ORQ_MCP_UPDATE_SNAPSHOTS=1.

A generated part sits between `<!-- generated: NAME -->` and `<!-- /generated: NAME -->`, and is never edited by
hand: the map is the modules' docstrings, the sizes and examples are what `orq-mcp --sandbox` answers over stdio,
the benchmark tables are bench/RESULTS.md and bench/workers.json.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_types import CallToolResult, TextContent

from orq_mcp.config.settings import DEFAULT_TOOLSETS
from orq_mcp.surface.toolsets import FIXED_TOOL_NAMES as STATIC_TOOL_NAMES
from orq_mcp.surface.toolsets import TOOLSET_OF, TOOLSETS
from tests.processes import server_env

ROOT = Path(__file__).parent.parent
GENERATED = re.compile(r"<!-- generated: (?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- /generated: (?P=name) -->\n", re.S)


def blocks_in(text: str) -> dict[str, str]:
    return {match["name"]: match["body"] for match in GENERATED.finditer(text)}


def with_blocks(text: str, blocks: dict[str, str]) -> str:
    """`text` with each generated part it holds replaced by the one in `blocks`."""

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        return f"<!-- generated: {name} -->\n{blocks.get(name, match['body'])}<!-- /generated: {name} -->\n"

    return GENERATED.sub(fill, text)


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# The map (docs/development.md) ---------------------------------------------------------------------------------------

MAP_ROOTS = ("orq_mcp", "tests", "bench", "examples", "clients", ".ci")
# Folders that hold data, dependencies or environments rather than code.
SKIPPED_DIRS = re.compile(r"__pycache__|node_modules|data|snapshots|profiles|venv.*|node|\..*")
LIST_ITEM = re.compile(r"^\s*(\d+\.|[-*])\s")


def module_map(root: Path = ROOT) -> str:
    """Each code folder, headed by its `__init__.py` docstring, and each file with the first paragraph of its
    docstring (Python) or leading comment (scripts)."""
    sections = []
    for folder in _folders(root):
        lines = []
        for path in sorted(p for p in folder.iterdir() if p.is_file() and p.name != "__init__.py"):
            about = summary(path)
            if about:
                lines.append(f"- `{path.name}`: {about}")
        init = folder / "__init__.py"
        intro = summary(init) if init.exists() else ""
        if not lines and not intro:
            continue
        parts = [f"### `{folder.relative_to(root).as_posix()}/`", intro, "\n".join(lines)]
        sections.append("\n\n".join(part for part in parts if part) + "\n")
    return "\n".join(sections)


def _folders(root: Path) -> Iterator[Path]:
    for name in MAP_ROOTS:
        yield from _walk(root / name)


def _walk(folder: Path) -> Iterator[Path]:
    yield folder
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not SKIPPED_DIRS.fullmatch(p.name)):
        yield from _walk(sub)


def summary(path: Path) -> str:
    """The first paragraph of a module's docstring or a script's leading comment, on one line ("" if none)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".py":
        doc = ast.get_docstring(ast.parse(text)) or ""
    elif path.suffix in (".mjs", ".js"):
        doc = _leading_comment(text, "//")
    elif path.suffix == ".sh" or text.startswith("#!"):
        doc = _leading_comment(text, "#")
    else:
        return ""
    first = []
    for line in doc.strip().splitlines():
        if not line.strip() or LIST_ITEM.match(line):
            break
        first.append(line.strip())
    return " ".join(first)


def _leading_comment(text: str, mark: str) -> str:
    lines = text.splitlines()
    if lines and lines[0].startswith("#!"):
        lines = lines[1:]
    comment = []
    for line in lines:
        if not line.startswith(mark):
            break
        comment.append(line[len(mark) :].removeprefix(" "))
    return "\n".join(comment)


# The sandbox, measured over stdio (README) ----------------------------------------------------------------------------

INVOKED = {"key": "faq-assistant", "messages": [{"role": "user", "content": "Do you ship to Norway?"}]}
CONFIGURED = {"key": "support-triage"}
MISSING = ("support_triage", {"company_name": "Acme Bikes", "language": "English"})
MISTYPED = {"key": "support-triag"}
RESOURCE = "orq://deployments/faq-assistant/prompt_config"


@dataclass
class Sandbox:
    """What `orq-mcp --sandbox --expose all` lists and answers over stdio."""

    tools: list[dict[str, Any]]
    deployments: dict[str, Any]  # list_deployments at its default page size
    all_deployments: list[dict[str, Any]]
    config: dict[str, Any]  # get_deployment_config of CONFIGURED
    invocation: CallToolResult  # invoke_deployment with INVOKED
    prompts: dict[str, Any]
    prompt_config: str = ""  # the RESOURCE as read
    errors: dict[str, str] = field(default_factory=dict)
    every_toolset: list[dict[str, Any]] = field(default_factory=list)  # tools/list of `--toolsets all`
    dynamic_start: list[dict[str, Any]] = field(default_factory=list)  # tools/list of `--dynamic-toolsets`

    @property
    def fixed_tools(self) -> list[dict[str, Any]]:
        return [tool for tool in self.tools if tool["name"] in STATIC_TOOL_NAMES]

    @property
    def exposed_tools(self) -> list[dict[str, Any]]:
        return [tool for tool in self.tools if tool["name"] not in STATIC_TOOL_NAMES]

    def tool(self, name: str) -> dict[str, Any]:
        return next(tool for tool in self.tools if tool["name"] == name)


@asynccontextmanager
async def sandbox_client(*args: str) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "orq_mcp", "--sandbox", *args], env=server_env(key=None)
    )
    async with Client(stdio_client(params)) as client:  # its log goes to stderr, which pytest shows on failure
        yield client


async def measure_sandbox() -> Sandbox:
    async with sandbox_client("--expose", "all") as client:
        tools = [t.model_dump(by_alias=True, mode="json", exclude_none=True) for t in (await client.list_tools()).tools]
        every = await client.call_tool("list_deployments", {"limit": 50})
        sandbox = Sandbox(
            tools=tools,
            deployments=_structured(await client.call_tool("list_deployments", {})),
            all_deployments=_structured(every)["deployments"],
            config=_structured(await client.call_tool("get_deployment_config", CONFIGURED)),
            invocation=await client.call_tool("invoke_deployment", INVOKED),
            prompts=_structured(await client.call_tool("list_prompts", {"limit": 200})),
        )
        read = await client.read_resource(RESOURCE)
        sandbox.prompt_config = "".join(getattr(content, "text", "") for content in read.contents)
        sandbox.errors["missing"] = _error(await client.call_tool(*MISSING))
        sandbox.errors["not-found"] = _error(await client.call_tool("invoke_deployment", MISTYPED))
    async with sandbox_client("--toolsets", "all") as client:
        sandbox.every_toolset = _listed(await client.list_tools())
    async with sandbox_client("--dynamic-toolsets") as client:
        sandbox.dynamic_start = _listed(await client.list_tools())
    return sandbox


def _listed(result: Any) -> list[dict[str, Any]]:
    return [tool.model_dump(by_alias=True, mode="json", exclude_none=True) for tool in result.tools]


def _structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result
    assert result.structured_content is not None, result
    return result.structured_content


def _error(result: CallToolResult) -> str:
    assert result.is_error, result
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def text_block(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


def sizes_table(sandbox: Sandbox, tools_budget: int, tool_budget: int) -> str:
    exposed = sorted(len(compact(tool)) for tool in sandbox.exposed_tools)
    invocation = sandbox.invocation
    rows = [
        (
            "`tools/list`, the four tools",
            f"{len(compact(sandbox.fixed_tools)):,} (budget {tools_budget:,}, enforced by a test)",
        ),
        (
            "each `--expose`d deployment tool",
            f"{exposed[0]:,}-{exposed[-1]:,} for the {len(exposed)} sample deployments (budget {tool_budget:,})",
        ),
        (
            f"`list_deployments`, a page of {len(sandbox.deployments['deployments'])} (the default)",
            f"{len(compact(sandbox.deployments)):,}",
        ),
        (f"`get_deployment_config`, {CONFIGURED['key']} (no inputs)", f"{len(compact(sandbox.config)):,}"),
        (
            f"`invoke_deployment`, {INVOKED['key']} answering {len(text_block(invocation))} characters",
            f"{len(text_block(invocation)):,} text + {len(compact(invocation.structured_content)):,} structured",
        ),
        (f"`list_prompts`, the {len(sandbox.prompts['prompts'])} sample prompts", f"{len(compact(sandbox.prompts)):,}"),
    ]
    return "| What | Characters |\n|---|---|\n" + "".join(f"| {what} | {size} |\n" for what, size in rows)


def toolsets_table(sandbox: Sandbox) -> str:
    """Each toolset's tools and what they add to `tools/list`, as `--toolsets all` lists them; then the default
    set and the dynamic start, in characters of compact JSON."""
    rows = []
    for toolset in TOOLSETS:
        tools = [tool for tool in sandbox.every_toolset if TOOLSET_OF.get(tool["name"]) == toolset.name]
        names = ", ".join(f"`{tool['name']}`" for tool in tools)
        default = " (default)" if toolset.name in DEFAULT_TOOLSETS else ""
        rows.append((f"`{toolset.name}`{default}", names, f"{len(compact(tools)):,}"))
    everything = sandbox.every_toolset
    rows.append(("`all`", f"the {len(everything)} above", f"{len(compact(everything)):,}"))
    start = sandbox.dynamic_start
    rows.append(
        ("`--dynamic-toolsets` at start", ", ".join(f"`{t['name']}`" for t in start), f"{len(compact(start)):,}")
    )
    head = "| Toolset | Tools | Characters in `tools/list` |\n|---|---|---|\n"
    return head + "".join(f"| {what} | {tools} | {size} |\n" for what, tools, size in rows)


def exposed_tool_example(sandbox: Sandbox, name: str = "support_triage") -> str:
    """The exposed tool as listed, one property per line; the chat turns' item schema elided."""
    tool = sandbox.tool(name)
    schema = tool["inputSchema"]
    properties = {
        key: {**value, "items": {"...": "..."}} if key == "messages" else value
        for key, value in schema["properties"].items()
    }
    lines = ",\n".join(f"      {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in properties.items())
    rest = {k: v for k, v in schema.items() if k not in ("properties", "$defs")}
    tail = ",\n".join(f"    {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in rest.items())
    head = ",\n".join(
        f"  {json.dumps(k)}: {json.dumps(tool[k], ensure_ascii=False)}" for k in ("name", "title", "description")
    )
    return f'```json\n{{\n{head},\n  "inputSchema": {{\n    "properties": {{\n{lines}\n    }},\n{tail}\n  }}\n}}\n```\n'


def prompt_config_example(text: str, keep: int = 40) -> str:
    """The resource as read, each message's text cut after `keep` characters (the rest is the prompt's own)."""
    config = json.loads(text)
    for message in config.get("messages", []):
        content = message.get("content")
        if isinstance(content, str) and len(content) > keep:
            message["content"] = content[:keep].rstrip() + " ..."
    return "```json\n" + json.dumps(config, ensure_ascii=False) + "\n```\n"


def error_example(text: str, width: int = 115) -> str:
    """An error text as the README prints it, wrapped at word boundaries."""
    lines, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "```text\n" + "\n".join([*lines, line]) + "\n```\n"


# `orq-mcp check`, as a user sees it (README) -------------------------------------------------------------------------

TIMING = re.compile(r"\(\d+ ms\)")


def check_example(output: str, base_url: str, shown_url: str) -> str:
    """`orq-mcp check` against the sample workspace, shown as against orq itself (its default base URL)."""
    return "```console\n$ ORQ_API_KEY=... orq-mcp check\n" + output.replace(base_url, shown_url) + "```\n"


def same_but_timing(a: str, b: str) -> bool:
    """The check's round trip takes what it takes: the example is current whatever milliseconds it shows."""
    return TIMING.sub("(ms)", a) == TIMING.sub("(ms)", b)


# The benchmarks' records (docs/performance.md) ----------------------------------------------------------------------


def bench_summary(results: str) -> str:
    """bench/RESULTS.md's `## Summary` block, as it is (it is written to be pasted)."""
    body = results.split("## Summary\n", 1)[1].split("\n## ", 1)[0]
    return body.strip() + "\n"


def workers_table(record: dict[str, Any]) -> str:
    rows = record["rows"]
    base = next(r for r in rows if r["configuration"] == "--workers 1")

    def cell(row: dict[str, Any], key: str, digits: int = 1) -> str:
        value = row.get(key)
        return "-" if value is None else f"{value:,.{digits}f}"

    lines = [
        f"`{record['command']}`, {record['date']}, orq-mcp {record['machine']['git']}, {record['machine']['cpu']}, "
        f"load {record['machine']['load']}.",
        "",
        "| configuration | calls/s | vs 1 worker | p50 ms | server CPU ms/call | client | emulator | HAProxy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "skipped" in row:
            lines.append(f"| {row['configuration']} | skipped: {row['skipped']} | | | | | | |")
            continue
        ratio = row["calls_per_s"] / base["calls_per_s"]
        lines.append(
            f"| {row['configuration']} | {row['calls_per_s']:,.0f} | {ratio:.2f} | {row['p50_ms']:,.0f} | "
            f"{cell(row, 'server_cpu_ms_per_call')} | {cell(row, 'client_cpu_ms_per_call')} | "
            f"{cell(row, 'emulator_cpu_ms_per_call')} | {cell(row, 'haproxy_cpu_ms_per_call')} |"
        )
    every = base["server_cpu_ms_per_call"] + base["client_cpu_ms_per_call"] + base["emulator_cpu_ms_per_call"]
    found = re.search(r"\((\d+) logical cores\)", record["machine"]["cpu"])
    cores = int(found[1]) if found else 1
    lines += [
        "",
        f"With `--workers 1` each call costs {every:.1f} ms of CPU in all (server, client and emulator), so "
        f"{cores} cores give out near {cores * 1000 / every:,.0f} calls/s whatever the server does.",
    ]
    return "\n".join(lines) + "\n"
