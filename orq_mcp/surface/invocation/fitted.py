"""An invocation's result within ORQ_MCP_MAX_RESULT_CHARS: its text cut to fit, then its sources, then its outputs."""

from __future__ import annotations

from mcp_types import CallToolResult, TextContent

from orq_mcp.surface.fit import compact_json, fit_text
from orq_mcp.surface.outputs import MediaBlock, shrunk
from orq_mcp.surface.results import MAX_CITATIONS, InvocationResult, tool_result

# Cutting converges in two or three rounds; the cap only guards against a pathological escape-heavy text.
_FIT_ROUNDS = 8
# Outputs lose half a list, or shrink their raw data by the excess, per round.
_OUTPUT_ROUNDS = 24


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
    full, budget = result.text, len(result.text)
    rounds = _FIT_ROUNDS + MAX_CITATIONS.bit_length() + _OUTPUT_ROUNDS
    while True:
        result.text = fit_text(full, budget, hint, announced=limit)
        fitted = tool_result(result, text=result.as_text())
        excess = result_size(fitted) - limit
        rounds -= 1
        if excess <= 0 or rounds == 0:
            break
        if len(result.text) <= budget > 0:  # the text can still give way (it is not down to its notice)
            budget = max(0, budget - (excess + 1) // 2 - 1)  # each character cut counts twice (or more, escaped)
        elif result.citations:  # the text is down to its notice: the sources give way next, half at a time
            result.citations = result.citations[: len(result.citations) // 2] or None
        elif result.outputs and (smaller := shrunk(result.outputs, excess)) is not None:
            result.outputs = smaller
        else:
            break
    if media:
        fitted.content = [*fitted.content, *media]
    return fitted
