"""An invocation's result within ORQ_MCP_MAX_RESULT_CHARS: its text cut to fit, then what rides along with it gives
way (a deployment's sources, then its outputs; an agent's tool calls)."""

from __future__ import annotations

from collections.abc import Callable

from mcp_types import CallToolResult, TextContent

from orq_mcp.surface.fit import compact_json, fit_text, shrink_strings
from orq_mcp.surface.outputs import MediaBlock, shrunk
from orq_mcp.surface.results import MAX_CITATIONS, InvocationResult, tool_result
from orq_mcp.surface.runtime_results import AgentRunResult, AgentToolUse

# Cutting converges in two or three rounds; the cap only guards against a pathological escape-heavy text.
_FIT_ROUNDS = 8
# Outputs lose half a list, or shrink their raw data by the excess, per round.
_OUTPUT_ROUNDS = 24
# An agent's tool calls: their values shrink, then half of the calls go, per round (at most 100 calls: 7 halvings).
_TOOL_CALL_ROUNDS = 16


# A result whose `text` is the generation, carried twice: in the structured result and in `as_text()`.
Generated = InvocationResult | AgentRunResult


def result_size(result: CallToolResult) -> int:
    """Characters a host may forward to the model: every text block and the structured content (compact)."""
    blocks = sum(len(block.text) for block in result.content if isinstance(block, TextContent))
    return blocks + (len(compact_json(result.structured_content)) if result.structured_content is not None else 0)


def fitted_invocation(
    result: InvocationResult, limit: int, hint: str, media: list[MediaBlock] | None = None
) -> CallToolResult:
    """The invocation's tool result within `limit` characters of text in all: its text is carried twice, so cut
    to fit; then the sources give way, then the outputs. `media` (images, speech, bounded in bytes by
    surface/invocation/media.py) ride along as their own blocks, which hosts show rather than read as text."""

    def give_way(excess: int) -> bool:
        if result.citations:  # the sources give way first, half at a time
            result.citations = result.citations[: len(result.citations) // 2] or None
            return True
        if result.outputs and (smaller := shrunk(result.outputs, excess)) is not None:
            result.outputs = smaller
            return True
        return False

    fitted = _fitted(result, limit, hint, give_way, MAX_CITATIONS.bit_length() + _OUTPUT_ROUNDS)
    if media:
        fitted.content = [*fitted.content, *media]
    return fitted


def fitted_agent_run(result: AgentRunResult, limit: int, hint: str) -> CallToolResult:
    """An agent's result within `limit`: its text cut to fit, then its tool calls' arguments and results
    shortened, then the later half of its calls left out (and counted), round by round."""

    def give_way(excess: int) -> bool:
        calls = result.tool_calls
        if not calls:
            return False
        values = [call.model_dump(mode="json") for call in calls]
        size = len(compact_json(values))
        smaller = shrink_strings(values, max(0, size - excess))
        if len(compact_json(smaller)) < size:
            result.tool_calls = [AgentToolUse.model_validate(value) for value in smaller]
            return True
        kept = calls[: len(calls) // 2]
        result.tool_calls = kept or None
        result.tool_calls_left_out = (result.tool_calls_left_out or 0) + len(calls) - len(kept)
        return True

    return _fitted(result, limit, hint, give_way, _TOOL_CALL_ROUNDS)


def _fitted(result: Generated, limit: int, hint: str, give_way: Callable[[int], bool], rounds: int) -> CallToolResult:
    """Cut the text until the whole result fits, and once the text is down to its notice, let `give_way(excess)`
    shrink the rest, for at most `rounds` more rounds; the result as it stands when it fits or nothing gives."""
    full, budget = result.text, len(result.text)
    rounds += _FIT_ROUNDS
    while True:
        result.text = fit_text(full, budget, hint, announced=limit)
        fitted = tool_result(result, text=result.as_text())
        excess = result_size(fitted) - limit
        rounds -= 1
        if excess <= 0 or rounds == 0:
            return fitted
        if len(result.text) <= budget > 0:  # the text can still give way (it is not down to its notice)
            budget = max(0, budget - (excess + 1) // 2 - 1)  # each character cut counts twice (or more, escaped)
        elif not give_way(excess):
            return fitted
