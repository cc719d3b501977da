"""The tools agents see, in toolsets: the deployments (and one tool per exposed deployment, exposed.py) and the
prompt library. A toolset is a module here with its TOOLS: (function, annotations, title) each, in the order
tools/list shows them; a new one is added to FIXED_TOOLS below."""

from orq_mcp.surface.toolsets import deployments, prompts

FIXED_TOOLS = (*deployments.TOOLS, *prompts.TOOLS)
FIXED_TOOL_NAMES = frozenset(fn.__name__ for fn, _, _ in FIXED_TOOLS)
