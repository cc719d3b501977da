"""What a non-chat deployment produced, in MCP form: embeddings, rankings and labels described in the
structured result and in one line of text each, and an answer of any other shape as structured data. Images
and speech go out as their own blocks (surface/invocation/media.py), described here by an `Output` too.

Each output is kept within a budget by `shrunk` (a ranking or label list loses its tail, raw data its longest
strings and lists), so the whole result fits `ORQ_MCP_MAX_RESULT_CHARS`.
"""

from __future__ import annotations

from typing import Any, Literal

from mcp_types import AudioContent, ImageContent, ResourceLink
from pydantic import BaseModel

from orq_mcp.orq.outputs import Invocation
from orq_mcp.orq.provider_answers import Scored
from orq_mcp.surface.fit import compact_json, fit_json
from orq_mcp.surface.schema import left_out_when_none

EMBEDDING_PREVIEW = 8
DOCUMENT_CHARS = 600  # a ranked document's text is quoted up to this many characters, like a citation
MediaBlock = ImageContent | AudioContent | ResourceLink


class ScoredItem(BaseModel):
    """A ranked document (index: its place in those sent) or a label, best first."""

    label: str
    score: float | None = left_out_when_none()
    index: int | None = left_out_when_none()
    flagged: bool | None = left_out_when_none()

    @classmethod
    def of(cls, item: Scored) -> ScoredItem:
        label = item.label if len(item.label) <= DOCUMENT_CHARS else item.label[:DOCUMENT_CHARS] + "…"
        return cls(label=label, score=item.score, index=item.index, flagged=item.flagged)


class Output(BaseModel):
    """Images and audio also come as content blocks."""

    type: Literal["image", "audio", "embedding", "ranking", "labels", "response"]
    url: str | None = left_out_when_none()
    mime_type: str | None = left_out_when_none()
    size_bytes: int | None = left_out_when_none()  # inline media's, decoded
    note: str | None = left_out_when_none("Why an image or audio was left out.")
    dimensions: int | None = left_out_when_none()
    preview: list[float] | None = left_out_when_none("An embedding's first values.")
    items: list[ScoredItem] | None = left_out_when_none()
    data: Any = left_out_when_none("The provider's raw answer.")

    def describe(self) -> str:
        """The output in one line (or a short list) of text for the model."""
        if self.note is not None:
            return self.note
        if self.type in ("image", "audio"):
            noun = "image" if self.type == "image" else "audio"
            return f"Generated {noun}: {self.url}" if self.url else f"Generated {noun} ({self.mime_type}), attached."
        if self.type == "embedding":
            preview = ", ".join(f"{v:.4g}" for v in self.preview or [])
            return f"Embedding with {self.dimensions} dimensions: [{preview}, …]"
        items = self.items or []
        if self.type == "ranking":
            return "Ranking, best first:\n" + "\n".join(
                f"{rank}. [{item.index}] {_score(item)}{item.label}" for rank, item in enumerate(items, start=1)
            )
        if self.type == "labels":
            flagged = [item.label for item in items if item.flagged]
            scores = ", ".join(f"{item.label} {_score(item).strip()}".strip() for item in items)
            return (f"Flagged: {', '.join(flagged)}. " if flagged else "") + f"Labels: {scores}"
        return "Provider response: " + compact_json(self.data)


def _score(item: ScoredItem) -> str:
    return f"{item.score:.3g} " if item.score is not None else ""


def outputs_of(invocation: Invocation) -> list[Output]:
    """What a non-chat deployment produced besides images and speech (surface/invocation/media.py describes those)."""
    outputs = [
        Output(type="embedding", dimensions=e.dimensions, preview=(e.vector or [])[:EMBEDDING_PREVIEW] or None)
        for e in invocation.embeddings
    ]
    if invocation.ranking:
        outputs.append(Output(type="ranking", items=[ScoredItem.of(item) for item in invocation.ranking]))
    if invocation.labels:
        outputs.append(Output(type="labels", items=[ScoredItem.of(item) for item in invocation.labels]))
    if invocation.raw is not None:
        outputs.append(Output(type="response", data=invocation.raw))
    return outputs


def shrunk(outputs: list[Output], excess: int) -> list[Output] | None:
    """`outputs` about `excess` characters smaller (each is carried twice: as text and structured), or None when
    nothing is left to cut."""
    sizes = [len(compact_json(output.model_dump(mode="json"))) for output in outputs]
    largest = max(range(len(outputs)), key=sizes.__getitem__, default=None)
    if largest is None:
        return None
    output = outputs[largest]
    if output.items is not None and len(output.items) > 1:
        changed = output.model_copy(update={"items": output.items[: len(output.items) // 2]})
    elif output.data is not None:
        target = max(0, sizes[largest] - (excess + 1) // 2 - 1)
        data = fit_json(output.data, target)
        if data == output.data:
            return None
        changed = output.model_copy(update={"data": data})
    else:
        return None
    return [changed if i == largest else o for i, o in enumerate(outputs)]
