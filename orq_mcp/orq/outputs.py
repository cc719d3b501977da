"""What a non-streamed invocation returned: text and tool calls, images, speech, embeddings, rankings, labels,
or whatever else the provider answered.

`/v2/deployments/stream` serves chat and completion deployments only (SDK `deployments.stream`
docstring); every other model type is invoked through `/v2/deployments/invoke` and answered in one
body. The SDK's response model (`DeploymentInvokeResponseBody`, 4.17) types three messages:
`content`, `tool_calls` and `image` (`{type, role, url}`). An image may come as a link (never fetched
here) or inline as a `data:` URI. Everything else comes in `provider_response`, read by
`provider_answers`; what it cannot read is kept raw, so nothing orq sent is silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from orq_mcp.orq.models import CompletionChunk
from orq_mcp.orq.provider_answers import Embedding, Media, Scored, embeddings, media_of, read_provider_answer
from orq_mcp.orq.streaming import Completion, CompletionAccumulator

STREAMED_TYPES = frozenset({"chat", "completion"})


def invocation_mode(model_type: str | None) -> Literal["stream", "invoke"]:
    """How to call a deployment: stream chat and completion (and an unknown type, as before); invoke the rest."""
    return "stream" if model_type is None or model_type in STREAMED_TYPES else "invoke"


@dataclass
class Invocation:
    """A whole `/invoke` answer: `completion` holds text (a transcript or OCR'd pages included), tool calls, usage
    and ids as for a stream."""

    completion: Completion
    object: str | None = None  # orq's `object`: chat, completion, image (or newer)
    images: list[Media] = field(default_factory=list)
    audio: list[Media] = field(default_factory=list)
    embeddings: list[Embedding] = field(default_factory=list)
    ranking: list[Scored] = field(default_factory=list)
    labels: list[Scored] = field(default_factory=list)
    raw: Any = None  # `provider_response` when none of the above described it

    @property
    def kind(self) -> str:
        """What the answer mainly is: image, audio, embedding, ranking, labels, tool_calls, text, response (only
        the provider's raw answer) or empty."""
        for kind in ("images", "audio", "embeddings", "ranking", "labels"):
            if getattr(self, kind):
                return {"images": "image", "embeddings": "embedding"}.get(kind, kind)
        if self.completion.tool_calls:
            return "tool_calls"
        if self.completion.text:
            return "text"
        return "response" if self.raw is not None else "empty"


def describe_invocation(body: CompletionChunk, model_type: str | None = None) -> Invocation:
    """Read a non-streamed `/invoke` body; choices of every message type are kept."""
    pictured = [c.message.url for c in body.choices if c.message is not None and c.message.type == "image"]
    images = [media_of(url) for url in pictured if url]
    textual = [c for c in body.choices if c.message is None or c.message.type != "image"]
    accumulator = CompletionAccumulator()
    accumulator.feed(body.model_copy(update={"choices": textual, "is_final": True}))
    completion = accumulator.result()
    extra = body.model_extra or {}
    provider_response = extra.get("provider_response")
    answer = read_provider_answer(provider_response, model_type)
    if not completion.text:
        completion.text = answer.text
    vectors = answer.embeddings or embeddings(extra)  # some answers carry the embeddings' `data` at the top
    described = images or vectors or completion.text or completion.tool_calls or answer
    return Invocation(
        completion=completion,
        object=extra.get("object") if isinstance(extra.get("object"), str) else None,
        images=images,
        audio=answer.audio,
        embeddings=vectors,
        ranking=answer.ranking,
        labels=answer.labels,
        raw=None if described or provider_response in (None, {}, [], "") else provider_response,
    )
