"""What a non-streamed invocation returned: text and tool calls, images, embeddings, or something else.

`/v2/deployments/stream` serves chat and completion deployments only (SDK `deployments.stream`
docstring); every other model type is invoked through `/v2/deployments/invoke` and answered in one
body. The SDK's response model (`DeploymentInvokeResponseBody`, 4.17) types three messages:
`content`, `tool_calls` and `image` (`{type, role, url}`). An image may come as a link (never fetched
here) or inline as a `data:` URI. Embeddings have no typed field: they are read from
`provider_response` (or the body itself) in orq's embeddings shape (`CreateEmbeddingResponseBody`:
`data[].embedding`, a list of floats or a base64 string). Anything else is kept raw, so nothing
orq sent is silently dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from orq_mcp.orq.models import ChoiceMessage, CompletionChunk
from orq_mcp.orq.streaming import Completion, CompletionAccumulator

STREAMED_TYPES = frozenset({"chat", "completion"})
_DATA_URI = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(?:;[^;,]*)*?);base64,(?P<data>.*)", re.S)


def invocation_mode(model_type: str | None) -> Literal["stream", "invoke"]:
    """How to call a deployment: stream chat and completion (and an unknown type, as before); invoke the rest."""
    return "stream" if model_type is None or model_type in STREAMED_TYPES else "invoke"


@dataclass(frozen=True)
class Image:
    """A generated image: a link the client may open, or base64 `data` with its MIME type."""

    url: str | None = None
    data: str | None = None
    mime_type: str | None = None


@dataclass(frozen=True)
class Embedding:
    index: int
    vector: list[float] | None = None  # floats, or
    base64: str | None = None  # the packed vector when the deployment asks for encoding_format=base64

    @property
    def dimensions(self) -> int | None:
        return len(self.vector) if self.vector is not None else None


@dataclass
class Invocation:
    """A whole `/invoke` answer: `completion` holds text, tool calls, usage and ids as for a stream."""

    completion: Completion
    object: str | None = None  # orq's `object`: chat, completion, image (or newer)
    images: list[Image] = field(default_factory=list)
    embeddings: list[Embedding] = field(default_factory=list)
    raw: Any = None  # `provider_response` when none of the above described it

    @property
    def kind(self) -> str:
        """image, embedding, tool_calls, text, or other (orq answered with nothing we could type)."""
        if self.images:
            return "image"
        if self.embeddings:
            return "embedding"
        if self.completion.tool_calls:
            return "tool_calls"
        if self.completion.text:
            return "text"
        return "other"


def describe_invocation(body: CompletionChunk) -> Invocation:
    """Read a non-streamed `/invoke` body; choices of every message type are kept."""
    pictured = [c.message for c in body.choices if c.message is not None and c.message.type == "image"]
    images = [image for image in map(image_of, pictured) if image is not None]
    textual = [c for c in body.choices if c.message is None or c.message.type != "image"]
    accumulator = CompletionAccumulator()
    accumulator.feed(body.model_copy(update={"choices": textual, "is_final": True}))
    extra = body.model_extra or {}
    provider_response = extra.get("provider_response")
    embeddings = _embeddings(provider_response) or _embeddings(extra)
    described = images or embeddings or textual
    return Invocation(
        completion=accumulator.result(),
        object=extra.get("object") if isinstance(extra.get("object"), str) else None,
        images=images,
        embeddings=embeddings,
        raw=None if described else provider_response,
    )


def image_of(message: ChoiceMessage) -> Image | None:
    url = message.url
    if not url:
        return None
    inline = _DATA_URI.fullmatch(url)
    if inline is None:
        return Image(url=url)
    return Image(data=inline.group("data"), mime_type=inline.group("mime") or "application/octet-stream")


def _embeddings(value: Any) -> list[Embedding]:
    items = value.get("data") if isinstance(value, dict) else None
    if not isinstance(items, list):
        return []
    found = []
    for position, item in enumerate(items):
        if not isinstance(item, dict) or "embedding" not in item:
            continue
        index = item.get("index") if isinstance(item.get("index"), int) else position
        vector = item["embedding"]
        if isinstance(vector, str):
            found.append(Embedding(index, base64=vector))
        elif isinstance(vector, list) and all(isinstance(x, int | float) for x in vector):
            found.append(Embedding(index, vector=[float(x) for x in vector]))
    return found
