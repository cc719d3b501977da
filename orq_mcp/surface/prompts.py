"""The orq prompt library as MCP prompts: `prompts/list` and `prompts/get`.

Each prompt's {{variables}} are its required arguments; `prompts/get` returns its messages
with them filled in. MCP prompt messages are user or assistant turns, so system and
developer messages become user turns (in order) and tool messages are left out.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mcp.shared.exceptions import MCPError
from mcp_types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    GetPromptResult,
    ListPromptsResult,
    PromptArgument,
    PromptMessage,
    TextContent,
)
from mcp_types import Prompt as MCPPrompt

from orq_mcp.orq.errors import OrqError
from orq_mcp.orq.models import Prompt
from orq_mcp.orq.templates import find_variables, message_texts, render
from orq_mcp.surface.paging import InvalidCursor, page_after
from orq_mcp.surface.tenant import Caller, Tenant, Unresolved
from orq_mcp.surface.tool_errors import explain, quoted

PAGE_SIZE = 100


def prompt_names(prompts: list[Prompt]) -> dict[str, Prompt]:
    """Display names as prompt names; the rare duplicate gets the end of its id to tell it apart."""
    counts = Counter(p.display_name for p in prompts)
    return {
        (p.display_name if counts[p.display_name] == 1 and p.display_name else f"{p.display_name}-{p.id[-6:]}"): p
        for p in prompts
    }


async def list_prompts(caller: Caller, cursor: str | None) -> ListPromptsResult:
    if isinstance(caller, Unresolved):
        return ListPromptsResult(prompts=[])  # nothing to show until the caller can be served
    named = await _prompts(caller)
    try:
        page, next_cursor = page_after(list(named), cursor, PAGE_SIZE, lambda name: name)
    except InvalidCursor:
        raise MCPError(code=INVALID_PARAMS, message="Invalid cursor: list prompts again from the start.") from None
    return ListPromptsResult(prompts=[_describe(name, named[name]) for name in page], next_cursor=next_cursor)


async def get_prompt(caller: Caller, name: str, arguments: dict[str, str] | None) -> GetPromptResult:
    if isinstance(caller, Unresolved):
        raise MCPError(code=INVALID_PARAMS, message=caller.reason)
    named = await _prompts(caller)
    prompt = named.get(name)
    if prompt is None:
        message = f"Unknown prompt '{quoted(name)}': call prompts/list for the names."
        raise MCPError(code=INVALID_PARAMS, message=message)
    arguments = arguments or {}
    missing = [v for v in find_variables(prompt.messages) if v not in arguments]
    if missing:
        raise MCPError(
            code=INVALID_PARAMS, message=f"Prompt '{quoted(name)}' needs these arguments: {', '.join(missing)}."
        )
    return GetPromptResult(description=_description(name, prompt), messages=_render(prompt, arguments))


def describe_all(prompts: list[Prompt]) -> list[dict[str, Any]]:
    """What prompts/list shows for these prompts (for change detection)."""
    return [_describe(name, p).model_dump(mode="json") for name, p in prompt_names(prompts).items()]


def _describe(name: str, prompt: Prompt) -> MCPPrompt:
    arguments = [
        PromptArgument(name=v, description=f"Fills {{{{{v}}}}} in the prompt.", required=True)
        for v in find_variables(prompt.messages)
    ]
    return MCPPrompt(name=name, title=prompt.display_name, description=_description(name, prompt), arguments=arguments)


def _description(name: str, prompt: Prompt) -> str:
    # Hosts show this beside the name (a slash command's help); orq leaves it optional, so say what it is.
    return prompt.description or f"orq prompt '{name}'" + (f" for {prompt.model}" if prompt.model else "")


def _render(prompt: Prompt, arguments: dict[str, str]) -> list[PromptMessage]:
    rendered = []
    for message in prompt.messages:
        if message.role == "tool":
            continue
        text = "".join(message_texts([message]))
        text = render(text, arguments)
        role = "assistant" if message.role == "assistant" else "user"
        rendered.append(PromptMessage(role=role, content=TextContent(type="text", text=text)))
    return rendered


async def _prompts(tenant: Tenant) -> dict[str, Prompt]:
    try:
        return prompt_names(await tenant.prompts.all())
    except OrqError as exc:
        raise MCPError(code=INTERNAL_ERROR, message=explain(exc, tenant.subject("prompt"))) from None
