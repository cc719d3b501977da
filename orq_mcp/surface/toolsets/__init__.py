"""The tools agents see, in toolsets: deployments (with the prompt library), agents, knowledge, feedback and traces
(their names are config/settings.py's TOOLSET_NAMES), one tool per exposed deployment or agent (exposed.py), and
with --dynamic-toolsets the two tools that enable the rest (dynamic.py). A toolset is a module here with its TOOLS:
(function, annotations, title) each, in the order tools/list shows them; a new one is added to TOOLSETS below."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mcp_types import ToolAnnotations

from orq_mcp.surface.toolsets import agents, deployments, feedback, knowledge, prompts, traces

ToolSpec = tuple[Callable[..., Awaitable[Any]], ToolAnnotations, str]
# The tools of --dynamic-toolsets (dynamic.py), named here so that no exposed tool takes their names.
DYNAMIC_TOOL_NAMES = ("list_toolsets", "enable_toolset")


@dataclass(frozen=True)
class Toolset:
    name: str
    about: str  # what list_toolsets says it is for
    tools: tuple[ToolSpec, ...]

    @property
    def tool_names(self) -> tuple[str, ...]:
        return tuple(fn.__name__ for fn, _, _ in self.tools)


TOOLSETS = (
    Toolset(
        "deployments",
        "Run orq deployments (managed prompt + model configurations), streamed; read their configuration; browse "
        "the prompt library.",
        (*deployments.TOOLS, *prompts.TOOLS),
    ),
    Toolset(
        "agents",
        "Run orq agents, streamed, and continue their tasks; see what each needs and which tools it uses.",
        agents.TOOLS,
    ),
    Toolset("knowledge", "Search orq knowledge bases for passages to cite, with file, page, score.", knowledge.TOOLS),
    Toolset("feedback", "Rate what a deployment or an agent answered, on its trace.", feedback.TOOLS),
    Toolset("traces", "Summarise the trace of an invocation: spans, durations, models, tokens, errors.", traces.TOOLS),
)
BY_NAME = {toolset.name: toolset for toolset in TOOLSETS}
# Which toolset each fixed tool belongs to.
TOOLSET_OF = {name: toolset.name for toolset in TOOLSETS for name in toolset.tool_names}
FIXED_TOOLS = tuple(spec for toolset in TOOLSETS for spec in toolset.tools)
# Every name a fixed tool has or may have: no tool of a deployment or an agent may take one.
FIXED_TOOL_NAMES = frozenset(TOOLSET_OF) | frozenset(DYNAMIC_TOOL_NAMES)
