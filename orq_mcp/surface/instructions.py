"""What the server tells a client in `initialize`: which tools to use for what, for the toolsets it offers."""

from __future__ import annotations

from orq_mcp.config.settings import Settings

# Each toolset's guide: as a whole, and when the server is read-only (None: the same; "": none, nothing is left).
_GUIDES: dict[str, tuple[str, str | None]] = {
    "deployments": (
        """\
orq.ai deployments (managed prompt + model configurations):
1. list_deployments: find a deployment and the {{variables}} its prompt needs.
2. get_deployment_config: inspect its model, messages and parameters (no model call).
3. invoke_deployment: run it with `inputs` for the variables (and optional chat `messages`).
The completion streams back as progress notifications while it is generated.
list_prompts browses the prompt library.""",
        """\
orq.ai deployments (managed prompt + model configurations):
1. list_deployments: find a deployment and the {{variables}} its prompt needs.
2. get_deployment_config: inspect its model, messages and parameters (no model call).
list_prompts browses the prompt library.""",
    ),
    "agents": (
        "orq agents: list_agents finds one and the {{variables}} it needs; invoke_agent runs it on a message (its "
        "text streams as progress); pass the result's task_id back to continue; get_agent_task reads a task.",
        "orq agents: list_agents finds one and what it needs; get_agent_task reads a task.",
    ),
    "knowledge": ("Knowledge: list_knowledge_bases, then search_knowledge for passages to cite (file, page).", None),
    "feedback": ("Feedback: submit_feedback rates an answer by the trace_id its invocation returned.", ""),
    "traces": ("Traces: get_trace summarises an invocation's trace_id (spans, durations, tokens, errors).", None),
}
READ_ONLY = "Read-only: this server invokes nothing and writes nothing."
DYNAMIC = "More toolsets: list_toolsets shows them, enable_toolset adds one (tools/list then changes)."


def instructions(settings: Settings) -> str:
    """The guide for the toolsets every caller starts with, and how to find the rest."""
    guides = []
    for name in settings.offered_toolsets:
        whole, read_only = _GUIDES[name]
        guide = read_only if settings.read_only and read_only is not None else whole
        if guide:
            guides.append(guide)
    if settings.dynamic_toolsets:
        guides.append(DYNAMIC)
    if settings.read_only:
        guides.insert(0, READ_ONLY)
    return "\n".join(guides) or DYNAMIC
