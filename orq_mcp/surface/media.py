"""What a non-chat deployment produced, as it reaches the client: bounded inline images and safe links only.

Inline image data is bounded in bytes: the images of one result share ORQ_MCP_MAX_MEDIA_BYTES (decoded), in
order, and an image past it is left out. A link is passed on only when it is an absolute http(s) URL: a
`file:` or `javascript:` link from a hostile upstream must not reach a client that might open it. What is left
out is described by a note, in the structured result and in the text the model reads, saying what was dropped,
why, and how to get it; the dropped URL itself is never repeated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from mcp_types import ImageContent, ResourceLink

from orq_mcp.orq.outputs import Image, Invocation
from orq_mcp.surface.results import Output

LINK_SCHEMES = frozenset({"http", "https"})
MAX_LINK_CHARS = 8192  # longer than any real (signed) storage URL; past it, a link is a payload, not an address
EMBEDDING_PREVIEW = 8


@dataclass
class Media:
    """The structured description of each output, and the blocks that go with it (in the same order)."""

    outputs: list[Output] = field(default_factory=list)
    blocks: list[ImageContent | ResourceLink] = field(default_factory=list)


def media_of(invocation: Invocation, max_bytes: int) -> Media:
    """Each image as an image block (inline data within `max_bytes` in all) or a link (http(s) only; never
    fetched here), else a note; then each embedding, described by its size and first values."""
    media, used = Media(), 0
    where = _where(invocation.completion.trace_id)
    for number, image in enumerate(invocation.images, start=1):
        if image.data is not None:
            used += _inline(media, image, number, image.data, (used, max_bytes), where)
        elif image.url is not None:
            _link(media, image, number, image.url, where)
    for embedding in invocation.embeddings:
        preview = (embedding.vector or [])[:EMBEDDING_PREVIEW] or None
        media.outputs.append(Output(type="embedding", dimensions=embedding.dimensions, preview=preview))
    return media


def _inline(media: Media, image: Image, number: int, data: str, budget: tuple[int, int], where: str) -> int:
    """Attach the image if it fits the (used, limit) budget, returning its size; else note why not (returning 0)."""
    used, limit = budget
    mime = image.mime_type or "image/png"
    size = base64_size(data)
    if used + size <= limit:
        media.outputs.append(Output(type="image", mime_type=mime, size_bytes=size))
        media.blocks.append(ImageContent(type="image", data=data, mime_type=mime))
        return size
    taken = f", and the images before it took {used:,}" if used else ""
    note = (
        f"Image {number} ({mime}, {size:,} bytes) was not attached: the images of one result may take "
        f"{limit:,} bytes in all (ORQ_MCP_MAX_MEDIA_BYTES){taken}. Find it in orq's traces {where}, have the "
        "deployment return image links instead, or raise ORQ_MCP_MAX_MEDIA_BYTES."
    )
    media.outputs.append(Output(type="image", mime_type=mime, size_bytes=size, note=note))
    return 0


def _link(media: Media, image: Image, number: int, url: str, where: str) -> None:
    problem = link_problem(url)
    if problem is None:
        media.outputs.append(Output(type="image", url=url, mime_type=image.mime_type))
        media.blocks.append(
            ResourceLink(type="resource_link", uri=url, name=f"image-{number}", mime_type=image.mime_type)
        )
        return
    note = (
        f"Image {number} was not passed on: orq gave {problem}, and only http and https links are passed on. "
        f"Find it in orq's traces {where}."
    )
    media.outputs.append(Output(type="image", mime_type=image.mime_type, note=note))


def link_problem(url: str) -> str | None:
    """Why `url` must not reach a client (what orq gave instead of an http(s) link), or None when it may."""
    if len(url) > MAX_LINK_CHARS:
        return f"a link of {len(url):,} characters"
    if any(char.isspace() or not char.isprintable() for char in url):
        return "a link with spaces or control characters in it"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "a link that is not a valid URL"
    if parts.scheme not in LINK_SCHEMES:
        return f"a '{parts.scheme[:20]}:' link" if parts.scheme else "a link without a scheme"
    if not parts.hostname:
        return "a link without a host"
    return None


def base64_size(data: str) -> int:
    """The decoded size of base64 `data`, without decoding it."""
    return len(data.rstrip("=")) * 3 // 4


def _where(trace_id: str | None) -> str:
    return f"(trace_id {trace_id})" if trace_id else "for this call"
